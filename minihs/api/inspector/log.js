// The request log panel: the server's requests, newest first, filtered by method, path
// pattern, user and status; a click shows one request's headers and bodies as kept.

import { $, PAGE_SIZE, Pager, action, api, el, fillTable, pretty, query, showError, time }
  from "./common.js";

let shownRequestId = null;

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

export const log = new Pager("log-pager", async (token) => {
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

export function wireLog() {
  $("log-filter").addEventListener("submit", action(() => log.restart()));
}
