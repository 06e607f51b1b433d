// The users panel (users with their devices, and which have a live token) and the mutual
// rooms of two users picked there, as GET /_matrix/client/v1/mutual_rooms answers them.

import { $, PAGE_SIZE, Pager, action, api, debounced, el, fillTable, query, showError }
  from "./common.js";
import { openRoom } from "./rooms.js";

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

export const users = new Pager("users-pager", async (token) => {
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

export const mutual = new Pager("mutual-pager", async (token) => {
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

export function wireUsers() {
  $("users-search").addEventListener("input", debounced(() => users.restart().catch(showError)));
  $("mutual-form").addEventListener("submit", action(() => mutual.restart()));
}
