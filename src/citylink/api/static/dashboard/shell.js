// The dashboard's shell: language, who is signed in, the navigation, the API, and the page.
//
// Each page is one module (<page>.js) exporting start(main, params), where params are the data-* attributes the
// server put on <body> (a service's id, a device's); the server names the module in <body data-page>.  A page
// adds its own texts with addStrings({ko: {...}, en: {...}}) (ids prefixed with its name) and builds its DOM
// with el(); every text shown goes through t() or label() so that the language switch can say it again.
//
// A signed-in browser holds its session in a cookie the scripts cannot read; fetch() sends it (same origin).
// A change (send()) carries the session's CSRF token, which GET /api/session gives.
import { LANGUAGES, STRINGS } from "./i18n.js";

// The pages in the navigation, in its order; staff: shown to signed-in readers only.
const NAV = [
  { page: "overview", href: "/", label: "nav.overview" },
  { page: "alarms", href: "/alarms", label: "nav.alarms", staff: true },
  { page: "quality", href: "/quality", label: "nav.quality", staff: true },
  { page: "guideline", href: "/guideline", label: "nav.guideline" },
];

const LANG_KEY = "citylink.lang";       // localStorage: remembered across visits

let current = LANGUAGES.includes(localStorage.getItem(LANG_KEY)) ? localStorage.getItem(LANG_KEY) : "ko";
let who = { signedIn: false };          // GET /api/session
const languageListeners = [];

export function lang() { return current; }

/** Add a page's texts: {ko: {id: text}, en: {id: text}}. */
export function addStrings(more) {
  for (const l of LANGUAGES) Object.assign(STRINGS[l], more[l] ?? {});
}

export function t(id, vars = {}) {
  const text = STRINGS[current][id] ?? STRINGS.ko[id] ?? id;
  return text.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : ""));
}

/** A {ko, en} label from the API in the current language. */
export function label(both) { return both ? (both[current] ?? both.ko ?? "") : ""; }

export function number(n, options) {
  return new Intl.NumberFormat(current === "ko" ? "ko-KR" : "en-GB", options).format(n);
}

const LOCALE = () => (current === "ko" ? "ko-KR" : "en-GB");

/** A time of day in Seoul's time (the district's), as 09:30:05. */
export function time(iso) {
  return new Date(iso).toLocaleTimeString(LOCALE(),
    { timeZone: "Asia/Seoul", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
}

/** A date and time in Seoul's time, as 2026-11-26 09:30. */
export function dateTime(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(LOCALE(), { timeZone: "Asia/Seoul", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

const DURATIONS = [[86400, "duration.d"], [3600, "duration.h"], [60, "duration.min"], [1, "duration.s"]];

/** A length of time (s) in the reader's language: 15 s, 5 min, 10.1 min, 1 h, 2 d. */
export function duration(s) {
  const [size, id] = DURATIONS.find(([u]) => Math.abs(s) >= u) ?? DURATIONS.at(-1);
  return t(id, { n: number(s / size, { maximumFractionDigits: 1 }) });
}

/** A time (ms) as a datetime-local field takes it, in Seoul's time: 2026-11-26T15:30. */
export function seoulField(ms) {
  return new Date(ms).toLocaleString("sv-SE", { timeZone: "Asia/Seoul", hourCycle: "h23" }).replace(" ", "T")
    .slice(0, 16);
}

/** A datetime-local field's value (2026-11-26T15:30, seconds optional), Seoul's time → ms (NaN if empty). */
export function fromSeoulField(value) {
  return Date.parse(`${value.length === 16 ? `${value}:00` : value}+09:00`);   // Seoul keeps no summer time
}

export function onLanguage(fn) { languageListeners.push(fn); }

/** Who is signed in: {signedIn, login, name, department, scopes} (a copy). */
export function account() { const { csrf, ...rest } = who; return rest; }

/** An element: el("a", {href: "/", class: "x", "data-id": 1, onclick: fn}, "text", child, [more]). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else if (k in e && !k.includes("-") && typeof v !== "string") e[k] = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

export class ApiError extends Error {
  constructor(status, detail) { super(detail || `HTTP ${status}`); this.status = status; }
}

// Raw message ids are 63-bit integers, beyond what a JavaScript number holds exactly (2^53): an integer that a
// number cannot hold is kept as the digits it was sent as (a string), which the API takes back where it takes an id.
function exact(key, value, context) {
  return typeof value === "number" && !Number.isSafeInteger(value) && /^-?\d+$/.test(context?.source ?? "")
    ? context.source : value;
}

async function answer(r) {
  if (!r.ok) {
    let detail = "";
    try { detail = (await r.json()).detail; } catch { /* not JSON */ }
    throw new ApiError(r.status, detail);
  }
  return r.status === 204 ? null : JSON.parse(await r.text(), exact);
}

/** GET a JSON document of the API. */
export async function api(path, { signal } = {}) {
  return answer(await fetch(path, { headers: { Accept: "application/json" }, signal, cache: "no-store" }));
}

/** A change: POST (or another method) a JSON body — or ``text`` as it is (text/plain) — with the session's CSRF
 *  token. */
export async function send(path, { method = "POST", body, text, signal } = {}) {
  const headers = { Accept: "application/json", "X-CSRF-Token": who.csrf ?? "" };
  if (text !== undefined) headers["Content-Type"] = "text/plain; charset=utf-8";
  else if (body !== undefined) headers["Content-Type"] = "application/json";
  return answer(await fetch(path, { method, headers, signal, cache: "no-store",
    body: text ?? (body === undefined ? undefined : JSON.stringify(body)) }));
}

/** Read a Server-Sent Events stream until it ends or ``signal`` aborts: onEvent(kind, data) per event, data
 *  parsed as JSON where it is.  (EventSource would do, but cannot be told the stream failed with a 401.) */
export async function readStream(path, onEvent, signal) {
  const r = await fetch(path, { headers: { Accept: "text/event-stream" }, signal, cache: "no-store" });
  if (!r.ok) throw new ApiError(r.status);
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.search(/\r\n\r\n|\n\n|\r\r/)) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut).replace(/^(\r\n\r\n|\n\n|\r\r)/, "");
      let kind = "message";
      const data = [];
      for (const line of block.split(/\r\n|\n|\r/)) {
        if (!line || line.startsWith(":")) continue;   // a comment: the server's keep-alive
        const at = line.indexOf(":");
        const field = at < 0 ? line : line.slice(0, at);
        const v = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
        if (field === "event") kind = v; else if (field === "data") data.push(v);
      }
      let parsed = data.join("\n");
      try { parsed = JSON.parse(parsed); } catch { /* not JSON: as it came */ }
      onEvent(kind, parsed);
    }
  }
}

/** Follow a stream for as long as the page lives, reconnecting after a break (1 s, doubling to 30 s);
 *  onState("on" | "off") says when it is connected.  Returns the AbortController that stops it. */
export function follow(path, onEvent, onState = () => {}) {
  const ctl = new AbortController();
  (async () => {
    let wait = 1000;
    while (!ctl.signal.aborted) {
      try {
        await readStream(path, (kind, data) => {
          if (kind === "hello") { onState("on"); wait = 1000; }
          onEvent(kind, data);
        }, ctl.signal);
      } catch (e) {
        if (ctl.signal.aborted || (e instanceof ApiError && (e.status === 401 || e.status === 403))) return;
      }
      onState("off");
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 30000);
    }
  })();
  return ctl;
}

let statusText = () => "";
let statusKind = "";

/** The status line: ``text`` a string, or a function of nothing giving it (said again in a new language). */
export function status(text, kind = "") {
  statusText = typeof text === "function" ? text : () => text;
  statusKind = kind;
  renderStatus();
}

/** Say what went wrong with a request in the status line. */
export function failed(e) {
  if (e instanceof ApiError) status(e.message, "error"); else status(() => t("status.failed"), "error");
}

function renderStatus() {
  const line = document.getElementById("status");
  line.textContent = statusText();
  line.dataset.kind = statusKind;
}

function setLanguage(value) {
  current = value;
  localStorage.setItem(LANG_KEY, value);
  document.documentElement.lang = value;
  for (const e of document.querySelectorAll("[data-t]")) e.textContent = t(e.dataset.t);
  for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === value));
  renderNav();
  renderAccount();
  renderStatus();
  for (const fn of languageListeners) fn(value);
}

function renderNav() {
  const nav = document.getElementById("nav");
  nav.replaceChildren(...NAV.filter((p) => !p.staff || who.signedIn).map((p) => el("a", { href: p.href,
    "aria-current": p.page === document.body.dataset.page ? "page" : null }, t(p.label))));
}

function renderAccount() {
  const box = document.getElementById("account");
  if (!who.signedIn) {
    const here = location.pathname + location.search;
    box.replaceChildren(document.body.dataset.page === "signin" ? ""
      : el("a", { href: `/signin?next=${encodeURIComponent(here)}`, id: "signin-link" }, t("account.signIn")));
    return;
  }
  box.replaceChildren(el("span", { class: "who", title: who.login, "data-login": who.login }, who.name),
    el("button", { type: "button", id: "signout", onclick: signOut }, t("account.signOut")));
}

async function signOut() {
  try { await send("/api/session", { method: "DELETE" }); } catch (e) { failed(e); return; }
  location.href = "/";
}

async function main() {
  for (const b of document.querySelectorAll("[data-lang]")) b.addEventListener("click", () => setLanguage(b.dataset.lang));
  try { who = await api("/api/session"); } catch { who = { signedIn: false }; }
  document.body.dataset.signedIn = String(who.signedIn);
  setLanguage(current);
  const name = document.body.dataset.page;
  const page = await import(`./${name}.js`);
  await page.start(document.getElementById("main"), { ...document.body.dataset });
}

main();
