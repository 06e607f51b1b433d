// What every part of the inspector shares: calls to the admin API, building the page's
// elements, and paged lists. Everything the page shows or does goes through the documented
// admin API (/_minihs/admin/..., described in /_minihs/openapi.json): no private endpoint.
//
// The page is native ES modules, no build step: inspector.js (the polling loop) imports the
// panels (users.js, rooms.js, log.js, controls.js), which import this file. The server serves
// only the files named in minihs/api/admin_inspect.py (ASSET_TYPES): a new one goes there too.

export const ADMIN = "/_minihs/admin";
export const PAGE_SIZE = 50;

// --- small helpers ----------------------------------------------------------------------

export function $(id) {
  return document.getElementById(id);
}

// An element with properties and children; strings become text nodes (never HTML), so what
// the server holds (room names, message bodies) cannot inject markup.
export function el(tag, props, ...children) {
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

export function query(params) {
  const kept = Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== "");
  return kept.length ? "?" + new URLSearchParams(kept).toString() : "";
}

export function segment(id) {
  return encodeURIComponent(id);
}

export function showError(error) {
  $("error").textContent = error ? String(error.message || error) : "";
}

// Calls the admin API; resolves with the JSON answer, rejects with "METHOD path: status
// errcode: error" for anything but a 2xx.
export async function api(method, path, body) {
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

// What follows every action of the page: a forced poll, which the polling loop (inspector.js)
// registers here, so that the panels need not import the loop that imports them.
let afterAction = async () => {};

export function setAfterAction(fn) {
  afterAction = fn;
}

// Runs an action started by a click; its error goes to the header instead of the console.
export function action(fn) {
  return async (event) => {
    if (event) event.preventDefault();
    try {
      showError(null);
      await fn(event);
      await afterAction();
    } catch (error) {
      showError(error);
    }
  };
}

export function time(ms) {
  return ms === null || ms === undefined ? "" : new Date(ms).toISOString().slice(11, 23);
}

export function pretty(value) {
  return JSON.stringify(value, null, 2);
}

// Calls `fn` once typing has paused, not on every key.
export function debounced(fn, ms = 250) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

export function numberOrNull(id) {
  const text = $(id).value.trim();
  return text === "" ? null : Number(text);
}

// --- paged lists ------------------------------------------------------------------------

// One list on screen: the page shown, the tokens of the pages before it (to go back), and
// Newer/Older buttons. `load(token)` fetches a page and gives {items, next}; `render(items)`
// fills the list.
export class Pager {
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

export function fillTable(tableId, rows) {
  $(tableId).tBodies[0].replaceChildren(...rows);
}
