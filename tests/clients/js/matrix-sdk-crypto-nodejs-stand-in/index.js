// Empty stand-in for @matrix-org/matrix-sdk-crypto-nodejs, installed as a local package
// (../package.json: a "file:" dependency, and an "overrides" entry that makes matrix-bot-sdk use it).
//
// Why: the real package's install script downloads a native library (a .node binary) from
// GitHub releases, which the test machines cannot reach, so `npm ci` would fail. matrix-bot-sdk
// 0.8.0 depends on it for end-to-end encryption only; tests/clients/js/bot_flow.cjs drives a bot
// without encryption (no crypto store given to MatrixClient), which never calls into it.
// matrix-bot-sdk 0.8.0 requires the module when it is loaded (lib/e2ee/*.js) but reads from it
// only inside its encryption code, so an empty object is enough; a bot with encryption would get
// `undefined is not a constructor` at once instead of silently not encrypting.
"use strict";

module.exports = {};
