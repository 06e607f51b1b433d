// Node's own test runner (node --test) against a real homeserver: minihs, as a subprocess.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

let minihs; // { url, ids, child }

// Start `python -m minihs --testing --port 0 --scenario scenario.yaml` and read its two lines:
// "minihs listening on http://127.0.0.1:PORT", then the scenario's IDs as one line of JSON.
function startMinihs() {
  const python = process.env.MINIHS_PYTHON || "python3";
  const child = spawn(
    python,
    ["-m", "minihs", "--testing", "--port", "0", "--scenario", "scenario.yaml"],
    { cwd: fileURLToPath(new URL(".", import.meta.url)), stdio: ["ignore", "pipe", "inherit"] },
  );
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`minihs exited (${code}) before it was ready`)));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    (async () => {
      const ready = (await lines.next()).value;
      const ids = JSON.parse((await lines.next()).value);
      resolve({ url: ready.slice(ready.lastIndexOf(" ") + 1), ids, child });
    })().catch(reject);
  });
}

async function call(method, path, { token, body } = {}) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const reply = await fetch(minihs.url + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: reply.status, body: await reply.json() };
}

before(async () => {
  minihs = await startMinihs();
});

after(async () => {
  const exited = new Promise((resolve) => minihs.child.once("exit", resolve));
  minihs.child.kill("SIGTERM");
  await exited;
});

test("the scenario's users, rooms and messages are there", async () => {
  const bob = minihs.ids.users.bob;
  const lobby = minihs.ids.rooms.lobby.room_id;
  const joined = await call("GET", "/_matrix/client/v3/joined_rooms", { token: bob.access_token });
  assert.deepEqual(joined.body.joined_rooms, [lobby]);
  const hello = minihs.ids.messages.hello.event_id;
  const event = await call("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(lobby)}/event/${encodeURIComponent(hello)}`,
    { token: bob.access_token });
  assert.equal(event.body.content.body, "Hello, Bob");
});

test("a send rate limited by a fault is answered 429, and the request log shows it", async () => {
  const bob = minihs.ids.users.bob;
  const lobby = encodeURIComponent(minihs.ids.rooms.lobby.room_id);
  const { body: rule } = await call("POST", "/_minihs/admin/faults", {
    body: { method: "PUT", path: "/rooms/{roomId}/send/*", status: 429, retry_after_ms: 100, times: 1 },
  });
  const { body: { mark } } = await call("GET", "/_minihs/admin/requests?limit=1");

  const send = `/_matrix/client/v3/rooms/${lobby}/send/m.room.message/txn1`;
  const message = { msgtype: "m.text", body: "Hi Alice" };
  const limited = await call("PUT", send, { token: bob.access_token, body: message });
  assert.equal(limited.status, 429);
  assert.equal(limited.body.errcode, "M_LIMIT_EXCEEDED");
  const sent = await call("PUT", send, { token: bob.access_token, body: message }); // the retry
  assert.equal(sent.status, 200);

  const pattern = encodeURIComponent("/rooms/{roomId}/send/*");
  const { body: log } = await call("GET", `/_minihs/admin/requests?since=${mark}&path=${pattern}`);
  assert.deepEqual(
    log.requests.map((r) => [r.status, r.user, r.fault]),
    [[429, bob.user_id, rule.id], [200, bob.user_id, null]],
  );
});
