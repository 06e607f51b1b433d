// Drives minihs with matrix-js-sdk (pinned in package.json), without a sync loop.
//
// Usage: node flow.mjs BASE_URL
//
// Runs the whole slice once -- register, log in, whoami, rooms, membership, shared rooms,
// log out -- and prints ONE line of JSON on stdout:
//   {"ok": true,  "results": {<step>: <what the SDK returned>, ...}}
//   {"ok": false, "step": "<failed step>", "error": "...", "errcode": ..., "httpStatus": ...,
//    "results": {<the steps that passed>}}
// tests/clients/test_js_sdk.py checks the results; this script only records them.
// Exit status: 0 when every step ran, 1 otherwise, 2 on bad usage.
//
// The script lives in the npm project so that the ESM import below finds node_modules.
import { createClient, MatrixError } from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";
import stepsModule from "./steps.cjs";

logger.disableAll(); // the SDK logs to the console; stdout carries our JSON only

const baseUrl = process.argv[2];
if (!baseUrl) {
    console.error("usage: node flow.mjs BASE_URL");
    process.exit(2);
}

const run = stepsModule.newRun();
const { results, step } = run;


// The Matrix error a promise rejects with, as [errcode, HTTP status]; anything else is a failure.
async function matrixError(promise) {
    try {
        await promise;
    } catch (e) {
        if (e instanceof MatrixError) return [e.errcode, e.httpStatus];
        throw e;
    }
    throw new Error("expected the request to fail with a Matrix error");
}

const anonymous = () => createClient({ baseUrl });
const loggedIn = (session) =>
    createClient({
        baseUrl,
        accessToken: session.access_token,
        userId: session.user_id,
        deviceId: session.device_id,
    });
const sorted = (list) => [...list].sort();

// Registration through User-Interactive Authentication: the first request carries no `auth`
// and gets the 401 that lists the flows; the second completes m.login.dummy in that session.
async function registerInteractive(username, password) {
    const client = anonymous();
    let challenge;
    try {
        await client.registerRequest({ username, password, initial_device_display_name: "js-sdk" });
        throw new Error("registration without auth did not ask for authentication");
    } catch (e) {
        if (!(e instanceof MatrixError) || e.httpStatus !== 401) throw e;
        challenge = e.data;
    }
    const session = await client.registerRequest({
        username,
        password,
        initial_device_display_name: "js-sdk",
        auth: { type: "m.login.dummy", session: challenge.session },
    });
    return { challenge, session };
}

async function main() {
    // MatrixClient.register sends {auth: {type: m.login.dummy}, refresh_token: true, ...}: one request.
    const aliceRegistered = await step("register_dummy", () =>
        anonymous().register("alice", "alice-password", null, { type: "m.login.dummy" }),
    );
    const bobUia = await step("register_interactive_bob", () => registerInteractive("bob", "bob-password"));
    const carolUia = await step("register_interactive_carol", () =>
        registerInteractive("carol", "carol-password"),
    );
    const bobId = bobUia.session.user_id;
    const carolId = carolUia.session.user_id;
    const bob = loggedIn(bobUia.session);
    const carol = loggedIn(carolUia.session);

    // loginRequest sends exactly this body (user identifier); loginWithPassword sends the
    // deprecated top-level `user` field.
    const aliceSession = await step("login_identifier", () =>
        anonymous().loginRequest({
            type: "m.login.password",
            identifier: { type: "m.id.user", user: "alice" },
            password: "alice-password",
            initial_device_display_name: "js-sdk login",
        }),
    );
    const alice = loggedIn(aliceSession);
    const legacySession = await step("login_legacy_user", () =>
        anonymous().loginWithPassword("alice", "alice-password"),
    );
    const legacy = loggedIn(legacySession);

    await step("whoami", () => alice.whoami());
    const server = aliceSession.user_id.slice(aliceSession.user_id.indexOf(":") + 1);
    const alias = `#lobby:${server}`;

    const publicRoom = await step("create_public_room", async () =>
        (await alice.createRoom({ visibility: "public", preset: "public_chat", room_alias_name: "lobby", name: "Lobby" }))
            .room_id,
    );
    await step("resolve_alias", async () => (await alice.getRoomIdForAlias(alias)).room_id);
    const privateRoom = await step("create_private_room", async () =>
        (await alice.createRoom({ visibility: "private", preset: "private_chat", invite: [bobId] })).room_id,
    );
    await step("invite", () => alice.invite(privateRoom, carolId));

    await step("join_by_alias", async () => (await bob.joinRoom(alias)).roomId);
    await step("join_by_id", async () => (await bob.joinRoom(privateRoom)).roomId);

    // Rejecting an invite is leaving the room; after it, the private room stays closed.
    await step("reject_invite", () => carol.leave(privateRoom));
    await step("join_after_reject", () => matrixError(carol.joinRoom(privateRoom)));
    await step("joined_rooms_after_reject", async () => sorted((await carol.getJoinedRooms()).joined_rooms));

    await step("joined_rooms", async () => sorted((await bob.getJoinedRooms()).joined_rooms));
    await step("joined_members", async () => (await alice.getJoinedRoomMembers(privateRoom)).joined);

    // First an authenticated GET /_matrix/client/versions looking for the MSC2666 flag, then the
    // unstable mutual_rooms path, following next_batch_token while there is one.
    await step("shared_rooms", async () => sorted(await alice._unstable_getSharedRooms(bobId)));

    await step("leave", () => bob.leave(publicRoom));
    await step("joined_rooms_after_leave", async () => sorted((await bob.getJoinedRooms()).joined_rooms));
    await step("shared_rooms_after_leave", async () => sorted(await alice._unstable_getSharedRooms(bobId)));

    // Logging out kills this device's token only: the legacy login's token keeps working.
    await step("logout", () => alice.logout());
    await step("whoami_after_logout", () => matrixError(alice.whoami()));
    await step("whoami_other_device_after_logout", async () => (await legacy.whoami()).user_id);
    await step("ids", () => ({ alice: aliceRegistered.user_id, bob: bobId, carol: carolId, publicRoom, privateRoom }));
}

main().then(
    () => {
        console.log(JSON.stringify({ ok: true, results }));
        process.exit(0); // exit now: never wait for the SDK's timers to drain
    },
    (e) => {
        console.log(
            JSON.stringify({
                ok: false,
                step: run.currentStep,
                error: String(e && e.stack ? e.stack : e),
                errcode: e?.errcode ?? null,
                httpStatus: e?.httpStatus ?? null,
                results,
            }),
        );
        process.exit(1);
    },
);
