// Drives minihs with matrix-js-sdk's normal loop: startClient() until PREPARED, the rooms it
// knows, and a message from another user arriving through RoomEvent.Timeline.
//
// Usage: node sync_flow.mjs BASE_URL
//
// Prints ONE line of JSON on stdout, as flow.mjs does:
//   {"ok": true, "results": {...}} or {"ok": false, "step": "...", "error": "...", "results": {...}}
// tests/clients/test_js_sdk.py checks the results. Exit status: 0 when every step ran, 1 otherwise.
import { ClientEvent, createClient, RoomEvent, SyncState } from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";
import stepsModule from "./steps.cjs";

logger.disableAll();

const baseUrl = process.argv[2];
if (!baseUrl) {
    console.error("usage: node sync_flow.mjs BASE_URL");
    process.exit(2);
}
const run = stepsModule.newRun();
const { results, step, within } = run;



async function register(username) {
    const session = await createClient({ baseUrl }).registerRequest({
        username,
        password: `${username}-password`,
        auth: { type: "m.login.dummy" },
    });
    return createClient({
        baseUrl,
        accessToken: session.access_token,
        userId: session.user_id,
        deviceId: session.device_id,
    });
}

let alice;
try {
    alice = await step("register_alice", () => register("alice"));
    const bob = await step("register_bob", () => register("bob"));
    results.register_alice = alice.getUserId();
    results.register_bob = bob.getUserId();
    const roomId = await step("create_room", async () =>
        (await alice.createRoom({ preset: "public_chat", name: "Lobby" })).room_id);
    await step("bob_joins", async () => (await bob.joinRoom(roomId)).roomId);

    await step("prepared", () =>
        within(
            new Promise((resolve, reject) => {
                alice.on(ClientEvent.Sync, (state, _prev, data) => {
                    if (state === SyncState.Prepared) resolve(state);
                    if (state === SyncState.Error) reject(data?.error ?? new Error("sync error"));
                });
                alice.startClient({ initialSyncLimit: 10 });
            }),
            "PREPARED",
        ));
    await step("rooms", () =>
        alice.getRooms().map((room) => ({
            roomId: room.roomId,
            name: room.name,
            members: room.getJoinedMembers().map((m) => m.userId).sort(),
        })));

    const arrived = new Promise((resolve) => {
        alice.on(RoomEvent.Timeline, (event, room, toStartOfTimeline) => {
            if (!toStartOfTimeline && event.getType() === "m.room.message" && event.getSender() === bob.getUserId()) {
                resolve({ roomId: room?.roomId, body: event.getContent().body });
            }
        });
    });
    await step("bob_sends", async () =>
        (await bob.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: "hello alice" })).event_id);
    await step("timeline_event", () => within(arrived, "bob's message in alice's timeline"));
    alice.stopClient();
    console.log(JSON.stringify({ ok: true, results }));
    process.exit(0);
} catch (e) {
    alice?.stopClient();
    console.log(JSON.stringify({
        ok: false, step: run.currentStep, error: String(e?.message ?? e),
        errcode: e?.errcode ?? null, httpStatus: e?.httpStatus ?? null, results,
    }));
    process.exit(1);
}
