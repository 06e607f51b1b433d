#!/usr/bin/env bash
# Install the npm packages of the real-client tests (tests/clients/js): matrix-js-sdk at
# exactly the version package-lock.json pins. Safe to run again; it reinstalls from the lock.
#
# Without Node.js >= 20 and npm there is nothing to install. Outside CI that is allowed: this
# prints one line saying what is missing, exits 0, and tests/clients/test_js_sdk.py skips.
# Under CI=true it is an error (exit 1): CI must run every test, so a machine without Node.js
# must fail loudly instead of passing with the JavaScript client untested.
set -euo pipefail

js_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/clients/js"
required_node_major=20

cannot_install() {
    if [ "${CI:-}" = "true" ]; then
        echo "install_js_clients: error: $1; CI=true needs Node.js >= $required_node_major and npm for the matrix-js-sdk tests" >&2
        exit 1
    fi
    echo "install_js_clients: $1; the matrix-js-sdk tests will be skipped" >&2
    exit 0
}

if ! command -v node >/dev/null 2>&1; then
    cannot_install "node not found"
fi
if ! command -v npm >/dev/null 2>&1; then
    cannot_install "npm not found"
fi
node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || true)"
if ! [[ "$node_major" =~ ^[0-9]+$ ]] || [ "$node_major" -lt "$required_node_major" ]; then
    cannot_install "node $(node --version 2>/dev/null || echo '(version unknown)') is older than $required_node_major"
fi

cd "$js_dir"
npm ci --no-audit --no-fund --loglevel=error
echo "install_js_clients: matrix-js-sdk $(node -p 'require("./node_modules/matrix-js-sdk/package.json").version') installed in $js_dir"
