// The dashboard's shell: language, the reader's key, the navigation, fetching from the API, and the page.
// Each page is one module (<page>.js) exporting start(main); the server names it in <body data-page>.
import { LANGUAGES, STRINGS } from "./i18n.js";

// The pages of the dashboard, in the navigation's order; a later page adds itself here.
const PAGES = [{ page: "overview", href: "/", label: "nav.overview" }];

const LANG_KEY = "citylink.lang";       // localStorage: remembered across visits
const KEY_KEY = "citylink.key";         // sessionStorage: this tab only, gone when it closes

let current = LANGUAGES.includes(localStorage.getItem(LANG_KEY)) ? localStorage.getItem(LANG_KEY) : "ko";
const languageListeners = [];
const keyListeners = [];

export function lang() { return current; }

export function t(id, vars = {}) {
  const text = STRINGS[current][id] ?? STRINGS.ko[id] ?? id;
  return text.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : ""));
}

/** A {ko, en} label from the API in the current language. */
export function label(both) { return both ? (both[current] ?? both.ko) : ""; }

export function number(n, options) {
  return new Intl.NumberFormat(current === "ko" ? "ko-KR" : "en-GB", options).format(n);
}

/** A time of day in Seoul's time (the district's), as 09:30:05. */
export function time(iso) {
  return new Date(iso).toLocaleTimeString(current === "ko" ? "ko-KR" : "en-GB",
    { timeZone: "Asia/Seoul", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
}

export function onLanguage(fn) { languageListeners.push(fn); }
export function onKey(fn) { keyListeners.push(fn); }
export function key() { return sessionStorage.getItem(KEY_KEY); }

export class ApiError extends Error {
  constructor(status, detail) { super(detail || `HTTP ${status}`); this.status = status; }
}

/** The headers of a request to the API: the reader's key, if one was given. */
export function headers(extra = {}) {
  const k = key();
  return k ? { ...extra, Authorization: `Bearer ${k}` } : extra;
}

/** GET a JSON document of the API.  A key that is not valid (401) is forgotten: the page goes on as the public. */
export async function api(path, { signal } = {}) {
  const r = await fetch(path, { headers: headers({ Accept: "application/json" }), signal, cache: "no-store" });
  if (r.status === 401 && key()) {
    setKey(null);
    notice = "key.invalid";
    renderStatus();
    return api(path, { signal });
  }
  if (!r.ok) {
    let detail = "";
    try { detail = (await r.json()).detail; } catch { /* not JSON */ }
    throw new ApiError(r.status, detail);
  }
  return r.json();
}

let statusText = () => "";
let statusKind = "";
let notice = null;      // a text id said after the status until the key changes (a key that was refused)

/** The status line: ``text`` a string, or a function of nothing giving it (said again in a new language). */
export function status(text, kind = "") {
  statusText = typeof text === "function" ? text : () => text;
  statusKind = kind;
  renderStatus();
}

function renderStatus() {
  const el = document.getElementById("status");
  el.textContent = [statusText(), notice && t(notice)].filter(Boolean).join(" — ");
  el.dataset.kind = notice ? "error" : statusKind;
}

function setKey(value) {
  notice = null;
  if (value) sessionStorage.setItem(KEY_KEY, value); else sessionStorage.removeItem(KEY_KEY);
  document.body.dataset.keyed = value ? "true" : "false";
  for (const fn of keyListeners) fn(value);
}

function setLanguage(value) {
  current = value;
  localStorage.setItem(LANG_KEY, value);
  document.documentElement.lang = value;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === value));
  renderNav();
  renderStatus();
  for (const fn of languageListeners) fn(value);
}

function renderNav() {
  const nav = document.getElementById("nav");
  nav.replaceChildren(...PAGES.map((p) => {
    const a = document.createElement("a");
    a.href = p.href;
    a.textContent = t(p.label);
    if (p.page === document.body.dataset.page) a.setAttribute("aria-current", "page");
    return a;
  }));
}

function wireControls() {
  for (const b of document.querySelectorAll("[data-lang]")) b.addEventListener("click", () => setLanguage(b.dataset.lang));
  const form = document.getElementById("key-form");
  const input = document.getElementById("key-input");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const v = input.value.trim();
    input.value = "";
    setKey(v || null);
    document.getElementById("key").open = false;
  });
  document.getElementById("key-forget").addEventListener("click", () => {
    input.value = "";
    setKey(null);
    document.getElementById("key").open = false;
  });
}

async function main() {
  wireControls();
  setLanguage(current);
  document.body.dataset.keyed = key() ? "true" : "false";
  const name = document.body.dataset.page;
  if (!PAGES.some((p) => p.page === name)) return;
  const page = await import(`./${name}.js`);
  await page.start(document.getElementById("main"));
}

main();
