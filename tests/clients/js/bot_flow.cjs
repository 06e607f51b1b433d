// Drives minihs with matrix-bot-sdk's normal loop, as a bot author's program would: a
// MatrixClient with a SimpleFsStorageProvider, AutojoinRoomsMixin, an on("room.message")
// handler, start(); another user invites the bot and talks to it; the bot answers with
// sendText(); stop().
//
// Usage: MINIHS_BOT_TOKEN=... MINIHS_OTHER_TOKEN=... node bot_flow.cjs BASE_URL
// The two users are registered by tests/clients/test_bot_sdk.py, which passes their access
// tokens in the environment (not on the command line, where `ps` would show them).
//
// matrix-bot-sdk 0.8.0 is CommonJS, hence .cjs. Its encryption dependency,
// @matrix-org/matrix-sdk-crypto-nodejs, is an empty local stand-in here
// (matrix-sdk-crypto-nodejs-stand-in/index.js says why); this bot does not use encryption.
//
// Prints ONE line of JSON on stdout, as flow.mjs does:
//   {"ok": true, "results": {...}} or {"ok": false, "step": "...", "error": "...", "results": {...}}
// Exit status: 0 when every step ran, 1 otherwise.
"use strict";

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const {
    AutojoinRoomsMixin,
    LogService,
    MatrixClient,
    SimpleFsStorageProvider,
} = require("matrix-bot-sdk");
const stepsModule = require("./steps.cjs");

const baseUrl = process.argv[2];
const botToken = process.env.MINIHS_BOT_TOKEN;
const otherToken = process.env.MINIHS_OTHER_TOKEN;
if (!baseUrl || !botToken || !otherToken) {
    console.error("usage: MINIHS_BOT_TOKEN=... MINIHS_OTHER_TOKEN=... node bot_flow.cjs BASE_URL");
    process.exit(2);
}
const run = stepsModule.newRun();
const { results, step, within } = run;

// bot-sdk logs through LogService; its default ConsoleLogger writes info lines to stdout, which
// would mix with the JSON report. Warnings and errors are kept for the report instead (a failed
// sync, for one, is only logged: the loop backs off and retries).
const logged = [];
const keep = (level) => (module, ...messages) =>
    logged.push({ level, module, message: messages.map(describe).join(" ") });
const describe = (m) => (typeof m === "object" && m !== null && !(m instanceof Error) ? JSON.stringify(m) : String(m?.message ?? m));
LogService.setLogger({
    trace() {}, debug() {}, info() {},
    warn: keep("warn"),
    error: keep("error"),
});



const storageDir = fs.mkdtempSync(path.join(os.tmpdir(), "minihs-bot-sdk-"));
const storage = new SimpleFsStorageProvider(path.join(storageDir, "bot.json"));
const bot = new MatrixClient(baseUrl, botToken, storage);
// The other user never syncs: plain REST calls through the same SDK.
const other = new MatrixClient(baseUrl, otherToken);

function firstEvent(emitter, name, matches) {
    return new Promise((resolve) => {
        const listener = (...args) => {
            if (matches(...args)) {
                emitter.removeListener(name, listener);
                resolve(args);
            }
        };
        emitter.on(name, listener);
    });
}

async function main() {
    const botId = await step("bot_user_id", () => bot.getUserId());
    const otherId = await step("other_user_id", () => other.getUserId());

    AutojoinRoomsMixin.setupOnClient(bot);
    const joined = firstEvent(bot, "room.join", () => true);
    const heard = firstEvent(bot, "room.message", (_roomId, event) => event.sender === otherId);
    await step("bot_starts", () => bot.start());

    const roomId = await step("other_creates_room_inviting_bot", () =>
        other.createRoom({ preset: "private_chat", name: "Bot room", invite: [botId] }));
    await step("bot_joins_on_invite", async () => {
        const [joinedRoomId] = await within(joined, "room.join after the invite");
        return joinedRoomId;
    });
    await step("other_sends", () => other.sendText(roomId, "hello bot"));
    await step("bot_hears", async () => {
        const [heardRoomId, event] = await within(heard, "room.message from the other user");
        return {
            roomId: heardRoomId, sender: event.sender, body: event.content?.body,
            eventId: event.event_id,
        };
    });
    await step("bot_sends_text", () => bot.sendText(roomId, "hello human"));
    await step("bot_joined_rooms", async () => (await bot.getJoinedRooms()).sort());
    await step("sync_token_stored", () => Boolean(storage.getSyncToken()));
    bot.stop();
    results.logged = logged;
}

main().then(
    () => {
        fs.rmSync(storageDir, { recursive: true, force: true });
        console.log(JSON.stringify({ ok: true, results }));
        // stop() lets the /sync request in flight run to its timeout; no need to wait for it.
        process.exit(0);
    },
    (e) => {
        bot.stop();
        fs.rmSync(storageDir, { recursive: true, force: true });
        results.logged = logged;
        console.log(JSON.stringify({
            ok: false, step: run.currentStep, error: String(e?.message ?? e),
            errcode: e?.body?.errcode ?? null, httpStatus: e?.statusCode ?? null, results,
        }));
        process.exit(1);
    },
);
