#!/usr/bin/env bash
# Install the npm packages of the real-client tests (tests/clients/js): matrix-js-sdk and
# matrix-bot-sdk at exactly the versions package-lock.json pins. Safe to run again; it
# reinstalls from the lock.
#
# matrix-bot-sdk's encryption dependency, @matrix-org/matrix-sdk-crypto-nodejs, downloads a
# native library from GitHub releases in its install script, which the test machines cannot
# reach. package.json replaces it ("overrides") with an empty local package,
# tests/clients/js/matrix-sdk-crypto-nodejs-stand-in, which has no install script: the bot in
# the tests runs without encryption and never calls into it. That is chosen over
# `npm ci --ignore-scripts` (which would also work today, as matrix-js-sdk has no install
# scripts) because the lock then says what is installed, and a bot that did use encryption
# fails at once instead of finding a half-installed package.
#
# matrix-bot-sdk 0.8.0 declares Node.js >= 22; npm only warns (EBADENGINE, silenced below), and
# it runs on Node.js 20, which matrix-js-sdk 37.5.0 needs, so 20 stays the requirement.
#
# Without Node.js >= 20 and npm there is nothing to install. Outside CI that is allowed: this
# prints one line saying what is missing, exits 0, and tests/clients/test_js_sdk.py and
# test_bot_sdk.py skip.
# Under CI=true it is an error (exit 1): CI must run every test, so a machine without Node.js
# must fail loudly instead of passing with the JavaScript client untested.
set -euo pipefail

js_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/clients/js"
required_node_major=20

cannot_install() {
    if [ "${CI:-}" = "true" ]; then
        echo "install_js_clients: error: $1; CI=true needs Node.js >= $required_node_major and npm for the matrix-js-sdk and matrix-bot-sdk tests" >&2
        exit 1
    fi
    echo "install_js_clients: $1; the matrix-js-sdk and matrix-bot-sdk tests will be skipped" >&2
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
installed_version() { node -p "require('./node_modules/$1/package.json').version"; }
echo "install_js_clients: matrix-js-sdk $(installed_version matrix-js-sdk), matrix-bot-sdk $(installed_version matrix-bot-sdk) installed in $js_dir"
