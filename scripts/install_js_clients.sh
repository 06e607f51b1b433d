#!/usr/bin/env bash
# Install the npm packages of the real-client tests (tests/clients/js): matrix-js-sdk at
# exactly the version package-lock.json pins. Safe to run again; it reinstalls from the lock.
# Without Node.js >= 20 there is nothing to install: tests/clients/test_js_sdk.py then skips.
set -euo pipefail

js_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/clients/js"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "install_js_clients: node/npm not found; the matrix-js-sdk tests will be skipped" >&2
    exit 0
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
    echo "install_js_clients: node $(node --version) is older than 20; the matrix-js-sdk tests will be skipped" >&2
    exit 0
fi

cd "$js_dir"
npm ci --no-audit --no-fund --loglevel=error
echo "install_js_clients: matrix-js-sdk $(node -p 'require("./node_modules/matrix-js-sdk/package.json").version') installed in $js_dir"
