// The minihs inspector. Everything it shows or does goes through the documented admin API
// (/_minihs/admin/..., described in /_minihs/openapi.json): no private endpoint, no build step.
//
// Live updates are polling: twice a second GET /status (cheap: counts, positions, the clock,
// the request log's mark); when something in it moved, the lists on screen fetch their
// current page again. Every list is one page (limit + next_batch): the page never asks for
// everything, whatever the size of the server.
"use strict";

const ADMIN = "/_minihs/admin";
const POLL_MS = 500;
const PAGE_SIZE = 50;

// --- small helpers ----------------------------------------------------------------------

function $(id) {
  return document.getElementById(id);
}

// An element with properties and children; strings become text nodes (never HTML), so what
// the server holds (room names, message bodies) cannot inject markup.
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function query(params) {
  const kept = Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== "");
  return kept.length ? "?" + new URLSearchParams(kept).toString() : "";
}

function segment(id) {
  return encodeURIComponent(id);
}

function showError(error) {
  $("error").textContent = error ? String(error.message || error) : "";
}

// Calls the admin API; resolves with the JSON answer, rejects with "METHOD path: status
// errcode: error" for anything but a 2xx.
async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(ADMIN + path, init);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (_) {
    data = null;
  }
  if (!response.ok) {
    const detail = data && data.errcode ? `${data.errcode}: ${data.error}` : text;
    throw new Error(`${method} ${path}: ${response.status} ${detail}`);
  }
  return data;
}

// Runs an action started by a click; its error goes to the header instead of the console.
function action(fn) {
  return async (event) => {
    if (event) event.preventDefault();
    try {
      showError(null);
      await fn(event);
      await poll(true);
    } catch (error) {
      showError(error);
    }
  };
}

function time(ms) {
  return ms === null || ms === undefined ? "" : new Date(ms).toISOString().slice(11, 23);
}

function pretty(value) {
  return JSON.stringify(value, null, 2);
}

// A body from the request log, pretty-printed when it is JSON.
function bodyText(part) {
  if (!part) return "(not kept)";
  if (part.body === null || part.body === undefined) return "(no body)";
  let text = part.body;
  try {
    text = pretty(JSON.parse(part.body));
  } catch (_) {
    // not JSON: shown as it is
  }
  return part.truncated ? text + "\n… (truncated)" : text;
}

// --- paged lists ------------------------------------------------------------------------

// One list on screen: the page shown, the tokens of the pages before it (to go back), and
// Newer/Older buttons. `load(token)` fetches a page and gives {items, next}; `render(items)`
// fills the list.
class Pager {
  constructor(navId, load, render) {
    this.nav = $(navId);
    this.load = load;
    this.render = render;
    this.tokens = [null];
    this.next = null;
    this.latest = 0; // the newest refresh started: an older answer arriving late is dropped
    this.back = el("button", { type: "button", onclick: () => this.move(-1) }, "‹ newer");
    this.forward = el("button", { type: "button", onclick: () => this.move(1) }, "older ›");
    this.where = el("span");
    this.nav.append(this.back, this.where, this.forward);
  }

  async refresh() {
    const ticket = ++this.latest;
    let page;
    try {
      page = await this.load(this.tokens[this.tokens.length - 1]);
    } catch (error) {
      // A token from before a reset or a restore may be refused: start again from the top.
      if (this.tokens.length === 1) throw error;
      this.tokens = [null];
      page = await this.load(null);
    }
    if (ticket !== this.latest) return;
    this.next = page.next;
    this.render(page.items);
    this.back.disabled = this.tokens.length === 1;
    this.forward.disabled = !this.next;
    this.where.textContent = ` page ${this.tokens.length} `;
  }

  async restart() {
    this.tokens = [null];
    await this.refresh();
  }

  async move(step) {
    if (step > 0 && this.next) this.tokens.push(this.next);
    if (step < 0 && this.tokens.length > 1) this.tokens.pop();
    try {
      await this.refresh();
    } catch (error) {
      showError(error);
    }
  }
}

function fillTable(tableId, rows) {
  $(tableId).tBodies[0].replaceChildren(...rows);
}

// --- users and mutual rooms -------------------------------------------------------------

function deviceList(user) {
  const devices = user.devices.map((device) =>
    el("span", {
      className: device.live_token ? "device live" : "device",
      title: device.live_token ? "live access token" : "no live token",
    }, device.device_id));
  if (user.device_count > user.devices.length) {
    devices.push(el("span", {}, ` +${user.device_count - user.devices.length}`));
  }
  return devices;
}

function pickMutual(slot, userId) {
  $(slot === "a" ? "mutual-a" : "mutual-b").value = userId;
  if ($("mutual-a").value && $("mutual-b").value) mutual.restart().catch(showError);
}

const users = new Pager("users-pager", async (token) => {
  const page = await api("GET", "/users" + query({
    search: $("users-search").value, from: token, limit: PAGE_SIZE,
  }));
  return { items: page.users, next: page.next_batch };
}, (items) => fillTable("users", items.map((user) =>
  el("tr", { dataset: { userId: user.user_id } },
    el("td", { className: "id" }, user.user_id, user.admin ? el("b", {}, " admin") : null),
    el("td", {}, user.displayname || ""),
    el("td", {}, ...deviceList(user)),
    el("td", {},
      el("button", { type: "button", className: "pick-a",
        onclick: () => pickMutual("a", user.user_id) }, "A"),
      el("button", { type: "button", className: "pick-b",
        onclick: () => pickMutual("b", user.user_id) }, "B"))))));

const mutual = new Pager("mutual-pager", async (token) => {
  const a = $("mutual-a").value.trim();
  const b = $("mutual-b").value.trim();
  if (!a || !b) return { items: null, next: null };
  const page = await api("GET", "/mutual_rooms" + query({ user_a: a, user_b: b, from: token }));
  return { items: page, next: page.next_batch };
}, (page) => {
  $("mutual-count").textContent = page ? `${page.count} mutual room(s)` : "";
  $("mutual-rooms").replaceChildren(...(page ? page.joined : []).map((roomId) =>
    el("li", { className: "link", onclick: () => openRoom(roomId) }, roomId)));
});

// --- rooms ------------------------------------------------------------------------------

let openRoomId = null; // the room whose panel is open

function memberCounts(members) {
  return `${members.join} / ${members.invite} / ${members.leave} / ${members.ban}`;
}

const rooms = new Pager("rooms-pager", async (token) => {
  const page = await api("GET", "/rooms" + query({
    search: $("rooms-search").value, from: token, limit: PAGE_SIZE,
  }));
  return { items: page.rooms, next: page.next_batch };
}, (items) => fillTable("rooms", items.map((room) =>
  el("tr", {
    className: room.room_id === openRoomId ? "link selected" : "link",
    dataset: { roomId: room.room_id },
    onclick: () => openRoom(room.room_id),
  },
  el("td", {}, room.name || "", room.alias ? el("div", { className: "id" }, room.alias) : null),
  el("td", { className: "id" }, room.room_id),
  el("td", {}, room.version),
  el("td", {}, room.join_rule || ""),
  el("td", {}, memberCounts(room.members))))));

// --- one room ---------------------------------------------------------------------------

function roomPath(suffix) {
  return `/rooms/${segment(openRoomId)}${suffix}`;
}

const members = new Pager("members-pager", async (token) => {
  const page = await api("GET", roomPath("/members") + query({
    membership: $("members-filter").value, from: token, limit: PAGE_SIZE,
  }));
  return { items: page.members, next: page.next_batch };
}, (items) => $("members").replaceChildren(...items.map((member) =>
  el("li", { className: "member " + member.membership },
    member.user_id, el("small", {}, ` ${member.membership}`)))));

const roomState = new Pager("state-pager", async (token) => {
  const page = await api("GET", roomPath("/state") + query({ from: token, limit: PAGE_SIZE }));
  return { items: page.state, next: page.next_batch };
}, (items) => fillTable("state", items.map((event) =>
  el("tr", { className: "link", onclick: () => showEventJson(event) },
    el("td", {}, event.type),
    el("td", { className: "id" }, event.state_key),
    el("td", { className: "preview" }, JSON.stringify(event.content))))));

const roomEvents = new Pager("events-pager", async (token) => {
  const page = await api("GET", roomPath("/events") + query({ from: token, limit: PAGE_SIZE }));
  return { items: page.events, next: page.next_batch };
}, (items) => fillTable("events", items.map((event) =>
  el("tr", {
    className: "link",
    dataset: { eventId: event.event_id },
    onclick: () => showEvent(event.event_id).catch(showError),
  },
  el("td", {}, event.position),
  el("td", {}, event.type, event.state_key ? el("div", { className: "id" }, event.state_key) : ""),
  el("td", { className: "id" }, event.sender),
  el("td", { className: "preview" }, event.preview)))));

async function showEvent(eventId) {
  const found = await api("GET", `/events/${segment(eventId)}`);
  showEventJson(found.event);
}

function showEventJson(event) {
  $("event-json").hidden = false;
  $("event-json").textContent = pretty(event);
}

function summaryRow(term, value) {
  return [el("dt", {}, term), el("dd", {}, value === null || value === undefined ? "—" : value)];
}

function closeRoom() {
  openRoomId = null;
  $("room-panel").hidden = true;
}

async function refreshRoom() {
  let room;
  try {
    room = await api("GET", roomPath(""));
  } catch (error) {
    if (!String(error.message).includes("M_NOT_FOUND")) throw error;
    closeRoom(); // gone with a reset or a restore
    return;
  }
  $("room-title").textContent = room.name || room.alias || room.room_id;
  $("room-summary").replaceChildren(
    ...summaryRow("room ID", room.room_id),
    ...summaryRow("alias", room.alias),
    ...summaryRow("local aliases", room.aliases.join(", ")),
    ...summaryRow("version", room.version),
    ...summaryRow("join rule", room.join_rule),
    ...summaryRow("history", room.history_visibility),
    ...summaryRow("topic", room.topic),
    ...summaryRow("creator", room.creator),
    ...summaryRow("members", Object.entries(room.members).map(([m, n]) => `${m} ${n}`).join(", ")),
    ...summaryRow("size", `${room.state_count} state entries, ${room.event_count} events`),
  );
  $("room-power-levels").textContent = pretty(room.power_levels);
  await Promise.all([members.refresh(), roomState.refresh(), roomEvents.refresh()]);
}

async function openRoom(roomId) {
  openRoomId = roomId;
  $("room-panel").hidden = false;
  $("event-json").hidden = true;
  for (const row of $("rooms").tBodies[0].rows) {
    row.classList.toggle("selected", row.dataset.roomId === roomId);
  }
  members.tokens = [null];
  roomState.tokens = [null];
  roomEvents.tokens = [null];
  try {
    await refreshRoom();
  } catch (error) {
    showError(error);
  }
}

// --- the request log --------------------------------------------------------------------

let shownRequestId = null;

const log = new Pager("log-pager", async (token) => {
  const limit = PAGE_SIZE;
  const page = await api("GET", "/requests" + query({
    order: "desc",
    limit,
    before: token,
    method: $("log-method").value,
    path: $("log-path").value.trim(),
    user: $("log-user").value.trim(),
    status: $("log-status").value.trim(),
  }));
  const entries = page.requests;
  const oldest = entries.length === limit ? entries[entries.length - 1].id : null;
  return { items: entries, next: oldest };
}, (entries) => fillTable("log", entries.map((entry) =>
  el("tr", {
    className: "link" + (entry.status === null || entry.status >= 400 ? " failed" : "")
      + (entry.id === shownRequestId ? " selected" : ""),
    dataset: { requestId: entry.id },
    onclick: () => showRequest(entry.id).catch(showError),
  },
  el("td", {}, entry.id),
  el("td", {}, time(entry.ts)),
  el("td", {}, entry.method),
  el("td", { className: "id", title: entry.path }, entry.path_template || entry.path),
  el("td", { className: "id" }, entry.user || ""),
  el("td", {}, entry.status === null ? "dropped" : entry.status),
  el("td", {}, entry.errcode || ""),
  el("td", {}, entry.duration_ms.toFixed(1),
    entry.fault ? el("b", {}, ` fault ${entry.fault}`) : null)))));

async function showRequest(id) {
  const entry = await api("GET", `/requests/${id}`);
  shownRequestId = id;
  for (const row of $("log").tBodies[0].rows) {
    row.classList.toggle("selected", row.dataset.requestId === String(id));
  }
  $("log-detail").hidden = false;
  const answer = entry.status === null ? "dropped" : entry.status;
  $("log-detail-title").textContent = `#${entry.id} ${entry.method} ${entry.path} → ${answer}`;
  const request = entry.request;
  $("log-request").textContent = request
    ? [request.query ? `?${request.query}` : "",
      Object.entries(request.headers).map(([k, v]) => `${k}: ${v}`).join("\n"),
      "",
      bodyText(request)].join("\n").trim()
    : "(not kept)";
  $("log-response").textContent = bodyText(entry.response);
}

// --- clock, faults, snapshots, reset ----------------------------------------------------

function showClock(clock) {
  $("clock-now").textContent = `${new Date(clock.now_ms).toISOString()} (${clock.now_ms} ms)`;
  $("clock-frozen").textContent = clock.frozen ? "frozen" : "running";
  $("clock-freeze").textContent = clock.frozen ? "Unfreeze" : "Freeze";
  $("clock-freeze").dataset.frozen = clock.frozen ? "1" : "";
}

function faultRule(fault) {
  return `${fault.method} ${fault.path}` + (fault.user ? ` as ${fault.user}` : "");
}

function faultAnswer(fault) {
  const parts = [];
  if (fault.delay_ms) parts.push(`wait ${fault.delay_ms} ms`);
  if (fault.drop) parts.push("drop");
  if (fault.status) parts.push(`${fault.status} ${fault.errcode || ""}`.trim());
  return parts.join(", then ");
}

async function refreshFaults() {
  const { faults } = await api("GET", "/faults");
  fillTable("faults", faults.map((fault) =>
    el("tr", { dataset: { faultId: fault.id } },
      el("td", {}, fault.id),
      el("td", { className: "id" }, faultRule(fault)),
      el("td", {}, faultAnswer(fault)),
      el("td", {}, fault.remaining === null ? "∞" : fault.remaining),
      el("td", {}, fault.matched),
      el("td", {}, el("button", {
        type: "button",
        onclick: action(() => api("DELETE", `/faults/${segment(fault.id)}`)),
      }, "remove")))));
}

async function refreshSnapshots() {
  const { snapshots } = await api("GET", "/snapshots");
  $("snapshots").replaceChildren(...snapshots.map((snapshot) =>
    el("li", { dataset: { snapshot: snapshot.name } },
      el("b", {}, snapshot.name),
      ` ${new Date(snapshot.taken_at_ms).toISOString()}, ${snapshot.events} events `,
      el("button", {
        type: "button",
        onclick: action(() => api("POST", `/snapshots/${segment(snapshot.name)}/restore`)),
      }, "restore"),
      el("button", {
        type: "button",
        onclick: action(async () => {
          await api("DELETE", `/snapshots/${segment(snapshot.name)}`);
          await refreshSnapshots();
        }),
      }, "delete"))));
}

// Calls `fn` once typing has paused, not on every key.
function debounced(fn, ms = 250) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

function numberOrNull(id) {
  const text = $(id).value.trim();
  return text === "" ? null : Number(text);
}

function wireControls() {
  $("users-search").addEventListener("input", debounced(() => users.restart().catch(showError)));
  $("rooms-search").addEventListener("input", debounced(() => rooms.restart().catch(showError)));
  $("members-filter").addEventListener("change", () => members.restart().catch(showError));
  $("mutual-form").addEventListener("submit", action(() => mutual.restart()));
  $("log-filter").addEventListener("submit", action(() => log.restart()));

  $("clock-form").addEventListener("submit", action(async () => {
    showClock(await api("POST", "/clock", { advance_ms: numberOrNull("clock-advance") || 0 }));
  }));
  $("clock-freeze").addEventListener("click", action(async () => {
    const frozen = $("clock-freeze").dataset.frozen === "1";
    showClock(await api("POST", "/clock", { frozen: !frozen }));
  }));

  $("fault-form").addEventListener("submit", action(async () => {
    const rule = { method: $("fault-method").value, path: $("fault-path").value.trim() };
    const status = numberOrNull("fault-status");
    const times = numberOrNull("fault-times");
    const errcode = $("fault-errcode").value.trim();
    if (status !== null) rule.status = status;
    if (times !== null) rule.times = times;
    if (errcode) rule.errcode = errcode;
    await api("POST", "/faults", rule);
    await refreshFaults();
  }));
  $("faults-clear").addEventListener("click", action(async () => {
    await api("DELETE", "/faults");
    await refreshFaults();
  }));

  $("snapshot-form").addEventListener("submit", action(async () => {
    await api("PUT", `/snapshots/${segment($("snapshot-name").value.trim())}`);
    await refreshSnapshots();
  }));
  $("reset").addEventListener("click", action(async () => {
    if (!window.confirm("Forget every user, room and token on this server?")) return;
    await api("POST", "/reset");
  }));
}

// --- polling ----------------------------------------------------------------------------

let lastStatus = null;
let polling = false;

function changed(status, keys) {
  return lastStatus === null || keys.some((key) => status[key] !== lastStatus[key]);
}

// One round: the status, then every list whose inputs moved. `force`: all of them (after an
// action of this page, whose effect the status may not show).
async function poll(force) {
  if (polling) return;
  polling = true;
  try {
    const status = await api("GET", "/status");
    $("server-name").textContent = status.server_name;
    $("status-line").textContent = `stream ${status.stream_position} · ${status.users} users · `
      + `${status.live_tokens} live tokens · ${status.rooms} rooms · `
      + `${status.requests.total} logged requests`;
    showClock(status.clock);
    const all = force || lastStatus === null || status.stream_position < lastStatus.stream_position;
    const work = [];
    if (all || changed(status, ["faults"]) || status.requests.mark !== lastStatus.requests.mark) {
      work.push(refreshFaults()); // a matching request changes a rule's counts
    }
    if (all || changed(status, ["users", "live_tokens", "stream_position"])) {
      work.push(users.refresh());
    }
    if (all || changed(status, ["rooms", "stream_position"])) {
      work.push(rooms.refresh());
      if (openRoomId) work.push(refreshRoom());
      if ($("mutual-a").value && $("mutual-b").value) work.push(mutual.refresh());
    }
    if (all || status.requests.mark !== lastStatus.requests.mark) work.push(log.refresh());
    if (all) work.push(refreshSnapshots());
    await Promise.all(work);
    lastStatus = status;
    $("live").className = "on";
  } catch (error) {
    $("live").className = "off";
    showError(error);
  } finally {
    polling = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  wireControls();
  poll(true);
  setInterval(() => {
    if (!document.hidden) poll(false);
  }, POLL_MS);
});
