// The alarms page (signed-in staff): the alarms the reader may see, newest first, filtered — the filters are the
// URL's query, so that other pages can link to /alarms?service=waste-bins — and kept live by the alarm stream
// (/api/alarms/stream): a new alarm appears, a changed one changes, without a reload.  Where the reader may act
// (the API's mayAct: the responsible department, or an admin), an alarm can be acknowledged or cleared with a
// comment; selecting one shows its history.
import {
  ApiError, addStrings, api, dateTime, el, failed, follow, fromSeoulField, label, number, onLanguage, seoulField, send,
  status, t, time,
} from "./shell.js";

addStrings({
  ko: {
    "alarms.title": "경보",
    "alarms.filter.state": "상태",
    "alarms.filter.service": "서비스",
    "alarms.filter.severity": "심각도",
    "alarms.filter.since": "발생 시작",
    "alarms.filter.until": "발생 끝",
    "alarms.filter.any": "전체",
    "alarms.filter.reset": "필터 초기화",
    "alarms.states.open": "진행 중 (미확인·확인)",
    "alarms.states.all": "모두",
    "alarms.state.active": "미확인",
    "alarms.state.acknowledged": "확인됨",
    "alarms.state.cleared": "해제됨",
    "alarms.col.severity": "심각도",
    "alarms.col.state": "상태",
    "alarms.col.service": "서비스",
    "alarms.col.entity": "기기",
    "alarms.col.message": "내용",
    "alarms.col.raised": "발생",
    "alarms.col.changed": "마지막 변경",
    "alarms.col.actions": "처리",
    "alarms.count": "{n}건 표시",
    "alarms.none": "조건에 맞는 경보가 없습니다.",
    "alarms.more": "더 보기",
    "alarms.outside": "필터 조건에서 벗어남 (다시 불러오면 사라집니다)",
    "alarms.live.connecting": "실시간 연결 중…",
    "alarms.live.on": "실시간 연결됨",
    "alarms.live.off": "실시간 연결 끊김, 다시 연결하는 중…",
    "alarms.listed": "{time} 기준 목록",
    "alarms.acknowledge": "확인",
    "alarms.clear": "해제",
    "alarms.history": "기록 보기",
    "alarms.dialog.acknowledge": "경보 확인",
    "alarms.dialog.clear": "경보 해제",
    "alarms.dialog.comment": "코멘트 (선택)",
    "alarms.dialog.placeholder": "예: 수거 차량 출동",
    "alarms.dialog.cancel": "취소",
    "alarms.done.acknowledge": "경보를 확인했습니다.",
    "alarms.done.clear": "경보를 해제했습니다.",
    "alarms.refused.conflict": "처리할 수 없습니다: 이미 확인되었거나 해제된 경보입니다. ({detail})",
    "alarms.refused.forbidden": "처리할 수 없습니다: 담당 부서나 관리자만 이 경보를 처리할 수 있습니다.",
    "alarms.refused.missing": "처리할 수 없습니다: 경보를 찾을 수 없습니다.",
    "alarms.detail.title": "경보 기록",
    "alarms.detail.close": "닫기",
    "alarms.detail.rule": "규칙",
    "alarms.detail.department": "담당 부서",
    "alarms.detail.recipients": "통보 부서",
    "alarms.detail.count": "발생 횟수",
    "alarms.detail.lastSeen": "마지막 감지",
    "alarms.detail.events": "처리 기록",
    "alarms.event.repeated": "반복",
    "alarms.by.platform": "플랫폼",
  },
  en: {
    "alarms.title": "Alarms",
    "alarms.filter.state": "State",
    "alarms.filter.service": "Service",
    "alarms.filter.severity": "Severity",
    "alarms.filter.since": "Raised from",
    "alarms.filter.until": "Raised before",
    "alarms.filter.any": "Any",
    "alarms.filter.reset": "Reset the filters",
    "alarms.states.open": "Open (active, acknowledged)",
    "alarms.states.all": "All",
    "alarms.state.active": "Active",
    "alarms.state.acknowledged": "Acknowledged",
    "alarms.state.cleared": "Cleared",
    "alarms.col.severity": "Severity",
    "alarms.col.state": "State",
    "alarms.col.service": "Service",
    "alarms.col.entity": "Device",
    "alarms.col.message": "Message",
    "alarms.col.raised": "Raised",
    "alarms.col.changed": "Last change",
    "alarms.col.actions": "Actions",
    "alarms.count": "{n} shown",
    "alarms.none": "No alarm matches the filters.",
    "alarms.more": "More",
    "alarms.outside": "No longer matches the filters (gone when the list is loaded again)",
    "alarms.live.connecting": "Connecting…",
    "alarms.live.on": "Live",
    "alarms.live.off": "Live connection lost; reconnecting…",
    "alarms.listed": "List as of {time}",
    "alarms.acknowledge": "Acknowledge",
    "alarms.clear": "Clear",
    "alarms.history": "History",
    "alarms.dialog.acknowledge": "Acknowledge the alarm",
    "alarms.dialog.clear": "Clear the alarm",
    "alarms.dialog.comment": "Comment (optional)",
    "alarms.dialog.placeholder": "e.g. collection truck sent",
    "alarms.dialog.cancel": "Cancel",
    "alarms.done.acknowledge": "The alarm is acknowledged.",
    "alarms.done.clear": "The alarm is cleared.",
    "alarms.refused.conflict": "Refused: the alarm was acknowledged or cleared already. ({detail})",
    "alarms.refused.forbidden": "Refused: only the responsible department or an admin may act on this alarm.",
    "alarms.refused.missing": "Refused: there is no such alarm.",
    "alarms.detail.title": "Alarm history",
    "alarms.detail.close": "Close",
    "alarms.detail.rule": "Rule",
    "alarms.detail.department": "Responsible",
    "alarms.detail.recipients": "Told",
    "alarms.detail.count": "Occurrences",
    "alarms.detail.lastSeen": "Last seen",
    "alarms.detail.events": "Events",
    "alarms.event.repeated": "repeated",
    "alarms.by.platform": "the platform",
  },
});

const PAGE = 100;
const SEVERITIES = ["critical", "high", "medium", "low", "informational"];
// the state filter, as the API's (api/alarms.py STATE_FILTERS): the states each one lists
const STATE_FILTERS = { open: ["active", "acknowledged"], active: ["active"], acknowledged: ["acknowledged"],
  cleared: ["cleared"], all: null };
const DEFAULTS = { state: "open", service: "", severity: "", since: "", until: "" };   // the URL's query
const NOTED = ["raised", "escalated", "acknowledged", "cleared"];   // a live event that highlights its row
const VERBS = ["acknowledge", "clear"];

const view = {
  filters: { ...DEFAULTS },
  rows: [],          // the alarms listed, newest raised first
  loaded: 0,         // how many came from the server's pages: the next page's offset …
  shift: 0,          // … moved by live changes since (+1 an alarm came into the filters, -1 one left them)
  more: false,
  selected: null,    // the alarm whose history is shown (?alarm=)
  detail: null,      // its /api/alarms/{id}
  live: "connecting",   // the stream: connecting, on, off (lost: reconnecting)
  services: new Map(),   // id → {ko, en}: the services whose alarms the reader may see (/api/overview)
  listedAt: null,
};
let asked = 0;           // the newest list request: an older answer is not shown
let pending = null;      // live events that came while a list was on its way: applied after it
let acting = null;       // {verb, id, message} of the alarm in the open dialog

export async function start(main) {
  readQuery();
  main.replaceChildren(listSection(), el("section", { id: "detail", class: "card detail", hidden: true,
    "aria-live": "polite" }), actDialog());
  renderFilters();
  renderLive();
  onLanguage(() => { renderFilters(); renderList(); renderDetail(); renderLive(); });
  api("/api/overview").then((o) => {
    view.services = new Map(o.services.filter((s) => s.alarms).map((s) => [s.id, s.name]));
    renderFilters();
    renderList();
  }).catch(() => { /* the ids stand in for the names; the list's own request says what is wrong */ });
  if (view.selected) select(view.selected);
  // the first list is asked for once the stream is on (nothing is missed in between), or without it after a while
  const fallback = setTimeout(() => { if (!asked) load(); }, 1500);
  follow("/api/alarms/stream", (kind, data) => {
    if (kind === "hello") { clearTimeout(fallback); load({ keep: asked > 0 }); return; }
    if (kind === "lagged") { load({ keep: true }); return; }
    if (data && data.alarm) live(kind, data);
  }, (state) => { view.live = state; renderLive(); });
}

// -- the filters and the URL ---------------------------------------------------------------------------------

function readQuery() {
  const q = new URLSearchParams(location.search);
  const f = { ...DEFAULTS };
  if (Object.hasOwn(STATE_FILTERS, q.get("state") ?? "")) f.state = q.get("state");
  if (SEVERITIES.includes(q.get("severity"))) f.severity = q.get("severity");
  f.service = q.get("service") ?? "";
  for (const k of ["since", "until"]) if (q.get(k) && !Number.isNaN(Date.parse(q.get(k)))) f[k] = q.get(k);
  view.filters = f;
  view.selected = q.get("alarm");
}

function writeQuery() {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(view.filters)) if (v && v !== DEFAULTS[k]) q.set(k, v);
  if (view.selected) q.set("alarm", view.selected);
  const search = q.toString();
  history.replaceState(null, "", location.pathname + (search ? `?${search}` : ""));
}

/** A datetime-local field's value (Seoul's time, as the times are shown) → ISO 8601, or "" when empty. */
function isoOf(value) { return value ? new Date(fromSeoulField(value)).toISOString() : ""; }

function listSection() {
  const field = (name, control) => el("label", { class: "field" },
    el("span", { "data-t": `alarms.filter.${name}` }, t(`alarms.filter.${name}`)), control);
  const form = el("form", { id: "filters", class: "filters", role: "search" },
    field("state", el("select", { id: "f-state", name: "state" })),
    field("service", el("select", { id: "f-service", name: "service" })),
    field("severity", el("select", { id: "f-severity", name: "severity" })),
    field("since", el("input", { id: "f-since", name: "since", type: "datetime-local" })),
    field("until", el("input", { id: "f-until", name: "until", type: "datetime-local" })),
    el("button", { type: "reset", id: "f-reset", "data-t": "alarms.filter.reset" }, t("alarms.filter.reset")));
  form.addEventListener("change", () => {
    view.filters = { state: form.state.value, service: form.service.value, severity: form.severity.value,
      since: isoOf(form.since.value), until: isoOf(form.until.value) };
    changed();
  });
  form.addEventListener("reset", (e) => {
    e.preventDefault();
    view.filters = { ...DEFAULTS };
    renderFilters();
    changed();
  });
  form.addEventListener("submit", (e) => e.preventDefault());
  const head = (key) => el("th", { scope: "col", "data-t": `alarms.col.${key}` }, t(`alarms.col.${key}`));
  return el("section", { class: "card list", "aria-labelledby": "alarms-title" },
    el("div", { class: "list-head" },
      el("h2", { id: "alarms-title", "data-t": "alarms.title" }, t("alarms.title")),
      el("span", { id: "count", class: "note" }),
      el("span", { id: "live-state", class: "live-state" })),
    form,
    el("div", { class: "scroll" },
      el("table", { id: "alarms", class: "data alarms" },
        el("thead", {}, el("tr", {}, ["severity", "state", "service", "entity", "message", "raised", "changed",
          "actions"].map(head))),
        el("tbody", { id: "rows" }))),
    el("p", { id: "empty", class: "note", hidden: true, "data-t": "alarms.none" }, t("alarms.none")),
    el("button", { type: "button", id: "more", class: "more", hidden: true, onclick: more, "data-t": "alarms.more" },
      t("alarms.more")));
}

function renderFilters() {
  const form = document.getElementById("filters");
  const f = view.filters;
  const option = (value, text) => el("option", { value }, text);
  form.state.replaceChildren(...Object.keys(STATE_FILTERS).map((s) => option(s,
    ["open", "all"].includes(s) ? t(`alarms.states.${s}`) : t(`alarms.state.${s}`))));
  const services = [...view.services].map(([id, name]) => [id, label(name)]);
  if (f.service && !view.services.has(f.service)) services.push([f.service, f.service]);   // from a link
  form.service.replaceChildren(option("", t("alarms.filter.any")), ...services.map(([id, name]) => option(id, name)));
  form.severity.replaceChildren(option("", t("alarms.filter.any")),
    ...SEVERITIES.map((s) => option(s, t(`severity.${s}`))));
  form.state.value = f.state;
  form.service.value = f.service;
  form.severity.value = f.severity;
  form.since.value = f.since ? seoulField(Date.parse(f.since)) : "";
  form.until.value = f.until ? seoulField(Date.parse(f.until)) : "";
}

function changed() {
  writeQuery();
  load();
}

// -- the list ------------------------------------------------------------------------------------------------

function query(limit, offset) {
  const q = new URLSearchParams({ state: view.filters.state, limit, offset });
  for (const k of ["service", "severity", "since", "until"]) if (view.filters[k]) q.set(k, view.filters[k]);
  return `/api/alarms?${q}`;
}

/** The first page again (``keep``: as many as are listed now, after a reconnection). */
async function load({ keep = false } = {}) {
  const n = ++asked;
  pending = [];
  const limit = keep ? Math.min(Math.max(PAGE, view.rows.length), 1000) : PAGE;
  try {
    const doc = await api(query(limit, 0));
    if (n !== asked) return;
    Object.assign(view, { rows: doc.alarms, loaded: doc.alarms.length, shift: 0, more: doc.alarms.length === limit,
      listedAt: new Date().toISOString() });
    const queued = pending;
    pending = null;
    renderList();
    for (const [kind, e] of queued) live(kind, e);
    status(() => t("alarms.listed", { time: time(view.listedAt) }));
  } catch (e) {
    if (n !== asked) return;
    pending = null;
    failed(e);
  }
  if (!document.body.dataset.ready) document.body.dataset.ready = "true";
}

async function more() {
  const n = asked;
  const button = document.getElementById("more");
  if (button.disabled) return;
  button.disabled = true;
  try {
    const doc = await api(query(PAGE, view.loaded + view.shift));
    if (n !== asked) return;   // the filters changed meanwhile
    const have = new Set(view.rows.map((a) => a.id));
    view.rows.push(...doc.alarms.filter((a) => !have.has(a.id)));
    view.loaded += doc.alarms.length;
    view.more = doc.alarms.length === PAGE;
    renderList();
  } catch (e) {
    failed(e);
  } finally {
    button.disabled = false;
  }
}

function matches(a) {
  const f = view.filters;
  const raised = Date.parse(a.raisedAt);
  return (!STATE_FILTERS[f.state] || STATE_FILTERS[f.state].includes(a.state))
    && (!f.service || a.service === f.service) && (!f.severity || a.severity === f.severity)
    && (!f.since || raised >= Date.parse(f.since)) && (!f.until || raised < Date.parse(f.until));
}

/** Newer raised first, as the API lists them. */
function before(a, b) {
  const d = Date.parse(b.raisedAt) - Date.parse(a.raisedAt);
  return d !== 0 ? d < 0 : a.id < b.id;
}

/** A live event: its alarm's row changes (or appears, where it belongs), and its history if shown. */
function live(kind, e) {
  if (pending) { pending.push([kind, e]); return; }
  const a = e.alarm;
  if (view.selected === a.id) select(a.id);
  const at = view.rows.findIndex((r) => r.id === a.id);
  if (at >= 0) {
    view.shift += Number(matches(a)) - Number(matches(view.rows[at]));
    view.rows[at] = a;
  } else if (matches(a)) {
    const i = view.rows.findIndex((r) => before(a, r));
    if (i < 0 && view.more) return;          // older than the page listed: it comes with "more"
    view.rows.splice(i < 0 ? view.rows.length : i, 0, a);
    view.shift += 1;
  } else {
    return;
  }
  renderList();
  if (NOTED.includes(kind)) flash(a.id);
}

function flash(id) {
  const row = document.querySelector(`#rows tr[data-alarm="${CSS.escape(id)}"]`);
  if (!row) return;
  row.classList.remove("flash");
  void row.offsetWidth;   // restart the animation
  row.classList.add("flash");
}

function lastChange(a) {
  const times = [a.lastSeenAt, a.escalatedAt, a.acknowledged?.at, a.cleared?.at].filter(Boolean);
  return times.reduce((x, y) => (Date.parse(y) > Date.parse(x) ? y : x));
}

function serviceName(id) { return view.services.has(id) ? label(view.services.get(id)) : id; }

/** The device's short name (the id's last part), linked to its page; a source (a silent feed) has none. */
function entityLink(a) {
  const short = a.entity.split(":").pop();
  return a.entityType === "Source" ? el("code", { title: a.entity }, a.entity)
    : el("a", { href: `/devices/${encodeURIComponent(a.entity)}`, title: a.entity }, short);
}

function actions(a) {
  if (!a.mayAct || a.state === "cleared") return [];
  return VERBS.filter((v) => v === "clear" || a.state === "active").map((verb) => el("button", { type: "button",
    class: `act ${verb}`, "data-action": verb, onclick: () => openDialog(verb, a) }, t(`alarms.${verb}`)));
}

function stateChip(a) {
  return el("span", { class: `alarm-state ${a.state}` }, t(`alarms.state.${a.state}`));
}

function row(a) {
  const cell = (key, ...children) => el("td", { class: key, "data-label": t(`alarms.col.${key}`) }, ...children);
  const outside = !matches(a);
  return el("tr", { "data-alarm": a.id, "data-state": a.state, "data-severity": a.severity, "data-service": a.service,
    "data-entity": a.entity,
    class: [outside ? "outside" : "", a.id === view.selected ? "selected" : ""].join(" ").trim() || null,
    title: outside ? t("alarms.outside") : null },
  cell("severity", el("span", { class: `chip ${a.severity}` }, t(`severity.${a.severity}`))),
  cell("state", stateChip(a)),
  cell("service", serviceName(a.service)),
  cell("entity", entityLink(a)),
  cell("message", el("button", { type: "button", class: "link", "data-action": "history", title: t("alarms.history"),
    onclick: () => select(a.id) }, label(a.message))),
  cell("raised", el("time", { datetime: a.raisedAt }, dateTime(a.raisedAt))),
  cell("changed", el("time", { datetime: lastChange(a) }, dateTime(lastChange(a)))),
  cell("actions", ...actions(a)));
}

function renderList() {
  const body = document.getElementById("rows");
  if (!body) return;
  body.replaceChildren(...view.rows.map(row));
  document.getElementById("empty").hidden = view.rows.length > 0 || !view.listedAt;
  document.getElementById("more").hidden = !view.more;
  const count = document.getElementById("count");
  count.textContent = view.listedAt ? t("alarms.count", { n: number(view.rows.length) }) : "";
  count.dataset.value = view.rows.length;
}

function renderLive() {
  const box = document.getElementById("live-state");
  box.dataset.state = view.live;
  box.replaceChildren(el("i", { class: "dot", "aria-hidden": "true" }), t(`alarms.live.${view.live}`));
}

// -- acknowledge / clear -------------------------------------------------------------------------------------

function actDialog() {
  const d = el("dialog", { id: "act-dialog", class: "act-dialog", "aria-labelledby": "act-title" },
    el("form", { id: "act-form", method: "dialog" },
      el("h2", { id: "act-title" }),
      el("p", { id: "act-alarm", class: "note" }),
      el("label", { class: "field" }, el("span", { "data-t": "alarms.dialog.comment" }, t("alarms.dialog.comment")),
        el("textarea", { id: "act-comment", name: "comment", rows: 3, maxlength: 2000 })),
      el("div", { class: "buttons" },
        el("button", { type: "button", id: "act-cancel", "data-t": "alarms.dialog.cancel", onclick: () => d.close() },
          t("alarms.dialog.cancel")),
        el("button", { type: "submit", id: "act-confirm", class: "primary" }))));
  d.querySelector("form").addEventListener("submit", (e) => { e.preventDefault(); act(); });
  d.addEventListener("close", () => { acting = null; });
  return d;
}

function openDialog(verb, a) {
  acting = { verb, id: a.id, message: a.message };
  const d = document.getElementById("act-dialog");
  d.querySelector("#act-comment").value = "";
  renderDialog();
  d.showModal();
  d.querySelector("#act-comment").focus();
}

function renderDialog() {
  if (!acting) return;
  document.getElementById("act-title").textContent = t(`alarms.dialog.${acting.verb}`);
  document.getElementById("act-alarm").textContent = label(acting.message);
  document.getElementById("act-comment").placeholder = t("alarms.dialog.placeholder");
  document.getElementById("act-confirm").textContent = t(`alarms.${acting.verb}`);
}

async function act() {
  const { verb, id } = acting;
  const d = document.getElementById("act-dialog");
  const button = document.getElementById("act-confirm");
  button.disabled = true;
  try {
    const a = await send(`/api/alarms/${encodeURIComponent(id)}/${verb}`,
      { body: { comment: d.querySelector("#act-comment").value } });
    d.close();
    live(verb === "clear" ? "cleared" : "acknowledged", { alarm: a });
    status(() => t(`alarms.done.${verb}`), "done");
  } catch (e) {
    d.close();
    refused(e);
    refresh(id);
  } finally {
    button.disabled = false;
  }
}

function refused(e) {
  if (!(e instanceof ApiError)) { failed(e); return; }
  const why = { 409: "conflict", 403: "forbidden", 404: "missing" }[e.status];
  if (why) status(() => t(`alarms.refused.${why}`, { detail: e.message }), "error"); else failed(e);
}

/** One alarm as it now stands, into its row (after a refusal: someone else was first). */
async function refresh(id) {
  try {
    const a = await api(`/api/alarms/${encodeURIComponent(id)}`);
    live("refreshed", { alarm: a });
  } catch {
    // gone from this reader's sight: the row stays as it was, the status line has said why
  }
}

// -- one alarm's history -------------------------------------------------------------------------------------

let askedDetail = 0;

async function select(id) {
  const n = ++askedDetail;
  if (view.selected !== id) {
    view.selected = id;
    writeQuery();
    renderList();
  }
  try {
    const a = await api(`/api/alarms/${encodeURIComponent(id)}`);
    if (n !== askedDetail) return;
    view.detail = a;
  } catch (e) {
    if (n !== askedDetail) return;
    view.detail = null;
    failed(e);
  }
  renderDetail();
}

function closeDetail() {
  askedDetail += 1;
  view.selected = null;
  view.detail = null;
  writeQuery();
  renderList();
  renderDetail();
}

function byWhom(by) {
  return by ? el("span", { class: "by" }, by.replace(/^user /, "")) : el("span", { class: "by platform" },
    t("alarms.by.platform"));
}

function eventName(kind) { return kind === "repeated" ? t("alarms.event.repeated") : t(`event.${kind}`); }

function renderDetail() {
  const box = document.getElementById("detail");
  const a = view.detail;
  box.hidden = !a;
  document.getElementById("main").classList.toggle("with-detail", Boolean(a));
  renderDialog();
  if (!a) { box.replaceChildren(); return; }
  const item = (key, ...value) => el("div", { class: "row" }, el("dt", {}, t(key)), el("dd", {}, ...value));
  box.dataset.alarm = a.id;
  box.replaceChildren(
    el("header", { class: "detail-head" },
      el("h2", {}, t("alarms.detail.title")),
      el("button", { type: "button", id: "detail-close", onclick: closeDetail }, t("alarms.detail.close"))),
    el("p", { class: "message" }, el("span", { class: `chip ${a.severity}` }, t(`severity.${a.severity}`)), " ",
      label(a.message)),
    el("dl", {},
      item("alarms.col.state", stateChip(a)),
      item("alarms.col.service", serviceName(a.service)),
      item("alarms.col.entity", entityLink(a)),
      item("alarms.detail.rule", el("code", {}, a.rule)),
      item("alarms.detail.department", a.department),
      item("alarms.detail.recipients", a.recipients.join(", ")),
      item("alarms.detail.count", number(a.count)),
      item("alarms.col.raised", dateTime(a.raisedAt)),
      item("alarms.detail.lastSeen", dateTime(a.lastSeenAt))),
    el("div", { class: "actions" }, actions(a)),
    el("h3", {}, t("alarms.detail.events")),
    el("ol", { id: "history", class: "history" }, a.history.map((h) => el("li", { "data-kind": h.kind,
      "data-by": h.by ?? "" },
    el("time", { datetime: h.at }, dateTime(h.at)), " ",
    el("span", { class: "event" }, eventName(h.kind)), " ",
    el("span", { class: `chip ${h.severity}` }, t(`severity.${h.severity}`)), " ",
    byWhom(h.by),
    h.comment ? el("q", { class: "comment" }, h.comment) : null))));
}
