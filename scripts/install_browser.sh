#!/usr/bin/env bash
# Install the browser of the inspector's browser test (tests/browser/test_inspector.py): Debian's
# `chromium` package, which Playwright's Python package (in the test extra) drives by its
# executable path. Playwright's own browser download is never used: this machine, the
# developers' and CI's reach package registries only. Safe to run again; with Chromium already
# there it only says which one.
#
# Without Chromium and without a way to install it (not root, no apt-get, apt-get failing),
# outside CI this prints one line saying what to run, exits 0, and the browser test skips.
# Under CI=true it is an error (exit 1): CI must run every test, so a machine without the
# browser must fail loudly instead of passing with the inspector untested.
#
# MINIHS_CHROMIUM names another Chromium executable, for this script and for the test.
set -euo pipefail

cannot_install() {
    if [ "${CI:-}" = "true" ]; then
        echo "install_browser: error: $1; CI=true needs Chromium for the browser test" >&2
        exit 1
    fi
    echo "install_browser: $1; the inspector's browser test will be skipped" >&2
    exit 0
}

find_chromium() {
    if [ -n "${MINIHS_CHROMIUM:-}" ]; then
        [ -x "$MINIHS_CHROMIUM" ] && echo "$MINIHS_CHROMIUM"
        return 0
    fi
    command -v chromium 2>/dev/null || true
}

report() {
    # Debian's /usr/bin/chromium is a wrapper script whose own checks print noise on stderr.
    echo "install_browser: $("$1" --version 2>/dev/null | head -n 1) at $1"
}

chromium="$(find_chromium)"
if [ -n "$chromium" ]; then
    report "$chromium"
    exit 0
fi
if [ -n "${MINIHS_CHROMIUM:-}" ]; then
    cannot_install "MINIHS_CHROMIUM=$MINIHS_CHROMIUM is not an executable"
fi
if ! command -v apt-get >/dev/null 2>&1; then
    cannot_install "chromium not found, and no apt-get to install it (or set MINIHS_CHROMIUM)"
fi
if [ "$(id -u)" != "0" ]; then
    cannot_install "no chromium; run: sudo apt-get update && sudo apt-get install -y chromium"
fi

export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -qq \
    || ! apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
    cannot_install "apt-get install chromium failed"
fi
chromium="$(find_chromium)"
if [ -z "$chromium" ]; then
    cannot_install "apt-get installed chromium, but no chromium command is on the PATH"
fi
report "$chromium"
