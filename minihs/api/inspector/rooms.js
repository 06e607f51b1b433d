// The rooms panel (rooms, newest first) and the panel of the room opened there: its summary,
// power levels, members, current state and events, and one event's JSON.

import {
  $, PAGE_SIZE, Pager, api, debounced, el, fillTable, pretty, query, segment, showError,
} from "./common.js";

// The room whose panel is open (read by the polling loop to refresh it).
export let openRoomId = null;

function memberCounts(members) {
  return `${members.join} / ${members.invite} / ${members.leave} / ${members.ban}`;
}

export const rooms = new Pager("rooms-pager", async (token) => {
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

export async function refreshRoom() {
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

export async function openRoom(roomId) {
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

export function wireRooms() {
  $("rooms-search").addEventListener("input", debounced(() => rooms.restart().catch(showError)));
  $("members-filter").addEventListener("change", () => members.restart().catch(showError));
}
