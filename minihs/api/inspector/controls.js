// The controls panel: the server's clock (advance, freeze), fault rules (add, remove, clear),
// snapshots (take, restore, delete) and reset.

import { $, action, api, el, fillTable, numberOrNull, segment } from "./common.js";

export function showClock(clock) {
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

export async function refreshFaults() {
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

export async function refreshSnapshots() {
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

export function wireControls() {
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
