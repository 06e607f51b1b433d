#!/usr/bin/env bash
# Regenerate requirements/test.lock, the exact versions (transitive ones included) that the
# README's test command and .ci/run install with `pip install -c requirements/test.lock`.
#
#   bash scripts/refresh_lock.sh            after a dependency was added to or removed from
#                                            setup.py: keeps every pin that still fits
#   bash scripts/refresh_lock.sh --upgrade  moves every pin to the newest release that fits
#                                            setup.py and requirements/test-caps.txt
#   bash scripts/refresh_lock.sh --upgrade-package NAME   moves one pin
#
# Then run the README's test command in a new virtual environment before committing the lock:
# the lock records a combination the whole suite passed with.
#
# The resolver is uv, at the version below, installed into a cache folder of its own on first
# use; nothing else needs it (installing from the lock is plain pip). It resolves for Linux
# x86_64 and CPython 3.11 (the machines CI and the developers use), whatever machine runs this.
set -euo pipefail

UV_VERSION=0.13.9
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tool_dir="${XDG_CACHE_HOME:-$HOME/.cache}/minihs-refresh-lock/uv-$UV_VERSION"
if [ ! -x "$tool_dir/bin/uv" ]; then
    echo "refresh_lock: installing uv $UV_VERSION into $tool_dir" >&2
    python3 -m venv "$tool_dir"
    "$tool_dir/bin/python" -m pip install --quiet "uv==$UV_VERSION"
fi

"$tool_dir/bin/uv" pip compile setup.py \
    --extra test \
    --constraint requirements/test-caps.txt \
    --python-version 3.11 \
    --python-platform x86_64-unknown-linux-gnu \
    --custom-compile-command "bash scripts/refresh_lock.sh" \
    --output-file requirements/test.lock \
    --quiet \
    "$@"
echo "refresh_lock: requirements/test.lock pins $(grep -c '==' requirements/test.lock) packages" >&2
