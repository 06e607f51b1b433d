// The minihs inspector's entry module (index.html loads it; it imports the rest): the polling
// loop that keeps every panel live, and the page's start.
//
// Live updates are polling: twice a second GET /status (cheap: counts, positions, the clock,
// the request log's mark); when something in it moved, the lists on screen fetch their
// current page again. Every list is one page (limit + next_batch): the page never asks for
// everything, whatever the size of the server.

import { $, api, setAfterAction, showError } from "./common.js";
import { refreshFaults, refreshSnapshots, showClock, wireControls } from "./controls.js";
import { log, wireLog } from "./log.js";
import { openRoomId, refreshRoom, rooms, wireRooms } from "./rooms.js";
import { mutual, users, wireUsers } from "./users.js";

const POLL_MS = 500;

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

setAfterAction(() => poll(true));

document.addEventListener("DOMContentLoaded", () => {
  wireUsers();
  wireRooms();
  wireLog();
  wireControls();
  poll(true);
  setInterval(() => {
    if (!document.hidden) poll(false);
  }, POLL_MS);
});
