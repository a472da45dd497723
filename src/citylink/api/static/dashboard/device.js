// The device page: one device (an entity) as its reader may see it — its current values, each attribute's
// history over a chosen range (a chart per number, the changes of the other values), its location on the map,
// and for readers who may see them its health and registry entries, its alarms and its recent raw messages.
//
// The ranges (hour, day, week) end at the server's now (its answers say it), not the browser's; a custom range
// is typed in Seoul's time.  Times are shown in Seoul's time.  The range picker and what the charts share with
// the service page's: charts.js.
import { Plots, caption, figure, plotOptions, rangePicker, unitSymbol } from "./charts.js";
import {
  account, addStrings, api, dateTime, duration, el, failed, label, number, onLanguage, status, t,
} from "./shell.js";

addStrings({
  ko: {
    "device.service": "서비스",
    "device.department": "담당 부서",
    "device.source": "연계 소스",
    "device.health": "상태",
    "device.lastSeen": "마지막 수신",
    "device.healthUnknown": "상태를 판단하지 않는 서비스입니다.",
    "device.registry": "기기 등록 정보",
    "device.values": "현재 값",
    "device.attribute": "속성",
    "device.value": "값",
    "device.unit": "단위",
    "device.observed": "관측 시각",
    "device.noValues": "볼 수 있는 값이 없습니다.",
    "device.true": "예",
    "device.false": "아니오",
    "device.history": "이력",
    "device.averaged": "관측 {count}건을 {period} 구간 평균으로 표시 (음영: 최소~최대)",
    "device.raw": "관측 {count}건",
    "device.noData": "이 기간에 관측값이 없습니다.",
    "device.changes": "값이 바뀐 시각",
    "device.more": "이전 변경은 생략했습니다 (최근 {n}건).",
    "device.alarms": "경보",
    "device.allAlarms": "경보 화면으로",
    "device.noAlarms": "이 기기의 경보가 없습니다.",
    "device.alarm.active": "미확인",
    "device.alarm.acknowledged": "확인됨",
    "device.alarm.cleared": "해제됨",
    "device.col.severity": "심각도",
    "device.col.state": "상태",
    "device.col.message": "내용",
    "device.col.raised": "발생",
    "device.col.cleared": "해제",
    "device.messages": "최근 원본 메시지",
    "device.messagesNote": "이 기기의 값을 만든 최근 메시지 {n}건. 개인 정보 필드는 가명으로 표시합니다.",
    "device.noMessages": "이 기기의 원본 메시지가 없습니다.",
    "device.redacted": "가명 처리된 필드: {fields}",
    "device.withheld": "표시하지 않음: {why}",
    "device.outcome.stored": "저장",
    "device.outcome.stored_flagged": "저장 (품질 표시)",
    "device.outcome.duplicate": "중복",
    "device.outcome.quarantined": "격리",
    "device.outcome.pending": "처리 중",
    "device.location": "위치",
    "device.flag.out_of_range": "범위 밖",
    "device.flag.clock_skew": "기기 시각 오차",
    "device.flag.late": "늦게 도착",
    "device.flag.nonexistent_local_time": "없는 현지 시각",
    "device.flag.ambiguous_local_time": "모호한 현지 시각",
    "device.flag.unknown_code": "모르는 코드",
  },
  en: {
    "device.service": "Service",
    "device.department": "Department",
    "device.source": "Source",
    "device.health": "State",
    "device.lastSeen": "Last heard",
    "device.healthUnknown": "The service's devices are not monitored.",
    "device.registry": "Device registry",
    "device.values": "Current values",
    "device.attribute": "Attribute",
    "device.value": "Value",
    "device.unit": "Unit",
    "device.observed": "Observed",
    "device.noValues": "No values you may see.",
    "device.true": "yes",
    "device.false": "no",
    "device.history": "History",
    "device.averaged": "{count} observations shown as averages of {period} (shaded: min to max)",
    "device.raw": "{count} observations",
    "device.noData": "No observations in this range.",
    "device.changes": "When the value changed",
    "device.more": "Older changes are left out (the newest {n}).",
    "device.alarms": "Alarms",
    "device.allAlarms": "To the alarms page",
    "device.noAlarms": "No alarms of this device.",
    "device.alarm.active": "Active",
    "device.alarm.acknowledged": "Acknowledged",
    "device.alarm.cleared": "Cleared",
    "device.col.severity": "Severity",
    "device.col.state": "State",
    "device.col.message": "Message",
    "device.col.raised": "Raised",
    "device.col.cleared": "Cleared",
    "device.messages": "Recent raw messages",
    "device.messagesNote":
      "The newest {n} messages that gave this device its values. Personal fields are shown as pseudonyms.",
    "device.noMessages": "No raw messages of this device.",
    "device.redacted": "Pseudonymised fields: {fields}",
    "device.withheld": "Not shown: {why}",
    "device.outcome.stored": "stored",
    "device.outcome.stored_flagged": "stored, flagged",
    "device.outcome.duplicate": "duplicate",
    "device.outcome.quarantined": "quarantined",
    "device.outcome.pending": "pending",
    "device.location": "Location",
    "device.flag.out_of_range": "out of range",
    "device.flag.clock_skew": "device clock off",
    "device.flag.late": "arrived late",
    "device.flag.nonexistent_local_time": "nonexistent local time",
    "device.flag.ambiguous_local_time": "ambiguous local time",
    "device.flag.unknown_code": "unknown code",
  },
});

const CHART_HEIGHT = 200;
const MESSAGES = 20;

const view = {
  id: "",
  device: null,          // GET /api/devices/{id}
  series: null,          // GET …/series
  alarms: null,          // GET /api/alarms?entity=…  (operations readers)
  messages: null,        // GET …/messages  (readers of raw messages)
};
const picker = rangePicker({ onChange: () => loadSeries() });
let plots = null;         // the charts' Plots
let asked = 0;            // the newest series request: an older answer is not shown
let map = null;

const path = (tail = "") => `/api/devices/${encodeURIComponent(view.id)}${tail}`;

export async function start(main, { device }) {
  view.id = device;
  main.replaceChildren(
    el("section", { id: "device-head", class: "card head" }),
    el("section", { id: "values", class: "card", "aria-labelledby": "values-title" }),
    el("section", { id: "location", class: "card", hidden: true, "aria-labelledby": "location-title" },
      el("h2", { id: "location-title", "data-t": "device.location" }, t("device.location")),
      el("div", { id: "device-map", role: "region", "aria-label": "map" })),
    historySection(),
    el("section", { id: "alarms", class: "card", hidden: true, "aria-labelledby": "alarms-title" }),
    el("section", { id: "messages", class: "card", hidden: true, "aria-labelledby": "messages-title" }));
  onLanguage(renderAll);
  plots = new Plots(document.getElementById("charts"));
  try {
    const d = await api(path());
    view.device = d;
    picker.setNow(d.now);
    renderHead();
    renderValues();
    await loadSeries();
    if (d.location) drawMap();
    if (d.operations) loadAlarms();
    if (d.rawMessages) loadMessages();
  } catch (e) {
    failed(e);
  }
  document.body.dataset.ready = "true";
}

function renderAll() {
  if (!view.device) return;
  renderHead();
  renderValues();
  renderHistory();
  renderAlarms();
  renderMessages();
  renderStatus();
}

function renderStatus() {
  if (!view.series) return;
  const who = account();
  status(() => `${t("status.updated", { time: dateTime(view.series.now) })} · `
    + (who.signedIn ? t("reader.signedIn", { name: who.name }) : t("reader.public")));
}

// -- the device --------------------------------------------------------------------------------------

function renderHead() {
  const d = view.device;
  const s = d.service;
  const rows = [
    el("p", { class: "note" }, `${t("device.service")}: `,
      el("a", { href: `/services/${encodeURIComponent(s.id)}`, id: "service-link" }, label(s.name)),
      s.department ? ` · ${t("device.department")}: ${label(s.department.name)}` : ""),
    el("h1", {}, label(d.typeName), " ", el("code", { class: "id" }, d.id)),
  ];
  if (d.operations) {
    const h = d.health;
    rows.push(h
      ? el("p", { id: "health", "data-state": h.state },
        el("i", { class: `dot ${h.state}`, "aria-hidden": "true" }), `${t("device.health")}: ${t(`state.${h.state}`)}`,
        ` · ${t("device.lastSeen")}: ${dateTime(h.lastSeen)}`)
      : el("p", { id: "health", class: "note" }, t("device.healthUnknown")));
    rows.push(el("p", { class: "note" }, `${t("device.source")}: `, el("code", {}, d.source)));
    if (d.registry.length) {
      rows.push(el("details", { id: "registry" }, el("summary", {}, t("device.registry")),
        el("ul", {}, d.registry.map((r) => el("li", {}, r.name ? `${r.name} · ` : "", el("code", {}, r.source),
          ` ${r.localId}`, Object.keys(r.attributes).length ? ` · ${JSON.stringify(r.attributes)}` : "")))));
    }
  }
  document.getElementById("device-head").replaceChildren(...rows);
}

/** A value as the reader reads it: a number in its language, a code with its label, yes/no. */
function shown(a, v) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return number(v, { maximumFractionDigits: 3 });
  if (typeof v === "boolean") return t(v ? "device.true" : "device.false");
  if (a.codes && typeof v === "string" && a.codes[v]) return `${label(a.codes[v])} (${v})`;
  return typeof v === "string" ? v : JSON.stringify(v);
}

const key = (a) => (a.datasetId ? `${a.name}#${a.datasetId}` : a.name);

function renderValues() {
  const attrs = view.device.attributes;
  const box = document.getElementById("values");
  const title = el("h2", { id: "values-title" }, t("device.values"));
  if (!attrs.length) { box.replaceChildren(title, el("p", { class: "note" }, t("device.noValues"))); return; }
  box.replaceChildren(title, el("div", { class: "scroll" }, el("table", { class: "data", id: "values-table" },
    el("thead", {}, el("tr", {}, ["attribute", "value", "unit", "observed"]
      .map((c) => el("th", {}, t(`device.${c}`))))),
    el("tbody", {}, attrs.map((a) => el("tr", { "data-attribute": key(a) },
      el("th", { scope: "row" }, label(a.label), a.datasetId ? el("small", {}, ` ${a.datasetId}`) : ""),
      el("td", { class: a.numeric ? "num" : "" }, el("span", { class: "value" }, shown(a, a.value)),
        (a.flags ?? []).map((f) => el("span", { class: "chip flag", "data-flag": f }, t(`device.flag.${f}`)))),
      el("td", { class: "unit", title: a.unit ? label(a.unit) : "" },
        a.unit ? unitSymbol(a.unit.symbol) || label(a.unit) : ""),
      el("td", { class: "time" }, dateTime(a.observedAt))))))));
}

// -- the history -------------------------------------------------------------------------------------

function historySection() {
  return el("section", { id: "history", class: "card", "aria-labelledby": "history-title" },
    el("div", { class: "section-head" },
      el("h2", { id: "history-title", "data-t": "device.history" }, t("device.history")), picker.group),
    picker.form,
    picker.note,
    el("div", { id: "charts", class: "charts" }),
    el("div", { id: "changes", class: "changes" }));
}

async function loadSeries() {
  const n = ++asked;
  const query = new URLSearchParams(picker.query());
  try {
    const s = await api(`${path("/series")}?${query}`);
    if (n !== asked) return;
    view.series = s;
    picker.setNow(s.now);
    renderStatus();
  } catch (e) {
    if (n !== asked) return;
    failed(e);
    return;
  }
  picker.shown(view.series.from, view.series.to);
  renderHistory();
}

function renderHistory() {
  plots.clear();
  if (!view.series) return;
  const labels = new Map(view.device.attributes.map((a) => [key(a), a]));
  const numbers = view.series.attributes.filter((s) => s.numeric);
  const figures = numbers.map((s) => chart(labels.get(key(s)), s));
  document.getElementById("charts").replaceChildren(...figures);
  document.getElementById("changes").replaceChildren(...view.series.attributes.filter((s) => !s.numeric)
    .map((s) => changes(labels.get(key(s)), s)));
  for (const [i, fig] of figures.entries()) {   // once in the page: uPlot draws at its box's width
    plots.draw(fig, (width) => [options(numbers[i], width), columns(numbers[i])]);
  }
}

/** A number's chart: its caption, the plot and how many observations it draws — or a note saying there is
 *  nothing in the range. */
function chart(a, s) {
  const head = caption(label(a.label),
    { detail: a.datasetId, symbol: a.unit?.symbol, unit: a.unit ? label(a.unit) : "" });
  return figure({ attribute: key(s), points: s.points.length, caption: head },
    el("p", { class: "count note" }, s.periodMs
      ? t("device.averaged", { count: number(s.count), period: duration(s.periodMs / 1000) })
      : t("device.raw", { count: number(s.count) })));
}

/** The points as uPlot's columns (x in seconds); averaged periods with their min and max. */
function columns(s) {
  const cols = [s.points.map(([ms]) => ms / 1000), s.points.map(([, v]) => v)];
  if (s.spread) cols.push(s.spread.map(([lo]) => lo), s.spread.map(([, hi]) => hi));
  return cols;
}

function options(s, width) {
  return plotOptions({ from: view.series.from, to: view.series.to, width, height: CHART_HEIGHT,
    label: s.periodMs ? null : t("device.value"), spread: Boolean(s.spread), points: s.points.length <= 60 });
}

/** A value that is not a number: when it changed in the range, newest first. */
function changes(a, s) {
  const box = el("article", { class: "change-list", "data-attribute": key(s), "data-changes": s.changes.length },
    el("h3", {}, label(a.label), a.datasetId ? ` ${a.datasetId}` : ""));
  if (!s.changes.length) {
    box.append(el("p", { class: "empty note" }, t("device.noData")));
    return box;
  }
  box.append(el("div", { class: "scroll" }, el("table", { class: "data" },
    el("thead", {}, el("tr", {}, el("th", {}, t("device.changes")), el("th", {}, t("device.value")))),
    el("tbody", {}, [...s.changes].reverse().map(([ms, v]) => el("tr", {},
      el("td", { class: "time" }, dateTime(new Date(ms).toISOString())), el("td", {}, shown(a, v))))))));
  if (s.more) box.append(el("p", { class: "note" }, t("device.more", { n: number(s.changes.length) })));
  return box;
}

// -- the map -------------------------------------------------------------------------------------------

async function drawMap() {
  const section = document.getElementById("location");
  section.hidden = false;
  const { lon, lat } = view.device.location;
  // no tile layer: no tile server is reachable; the base is the district's outline (/api/district)
  map = L.map("device-map", { zoomSnap: 0.25, attributionControl: false, minZoom: 11, maxZoom: 18 });
  map.setView([lat, lon], 13.5);
  new ResizeObserver(() => map.invalidateSize()).observe(map.getContainer());
  try {
    const doc = await api("/api/district");
    L.geoJSON(doc.dongs, { style: { color: "#7a8a99", weight: 1, dashArray: "3 3", fill: true, fillColor: "#ffffff",
      fillOpacity: 0.5 }, interactive: false }).addTo(map);
    L.geoJSON(doc.district, { style: { color: "#14213d", weight: 2.5, fill: false }, interactive: false }).addTo(map);
  } catch (e) {
    failed(e);
  }
  L.circleMarker([lat, lon], { radius: 8, color: "#ffffff", weight: 2, fillColor: "#1f5fbf", fillOpacity: 0.95,
    className: "device-marker" }).addTo(map);
}

// -- alarms (operations readers) -----------------------------------------------------------------------

async function loadAlarms() {
  try {
    const query = new URLSearchParams({ entity: view.id, state: "all", limit: "50" });
    view.alarms = (await api(`/api/alarms?${query}`)).alarms;
  } catch (e) {
    failed(e);
    return;
  }
  renderAlarms();
}

function renderAlarms() {
  if (!view.alarms) return;
  const box = document.getElementById("alarms");
  box.hidden = false;
  const head = el("div", { class: "section-head" },
    el("h2", { id: "alarms-title" }, t("device.alarms")),
    el("a", { href: "/alarms", id: "all-alarms" }, t("device.allAlarms")));
  if (!view.alarms.length) { box.replaceChildren(head, el("p", { class: "note" }, t("device.noAlarms"))); return; }
  box.replaceChildren(head, el("div", { class: "scroll" }, el("table", { class: "data", id: "alarms-table" },
    el("thead", {}, el("tr", {}, ["severity", "state", "message", "raised", "cleared"]
      .map((c) => el("th", {}, t(`device.col.${c}`))))),
    el("tbody", {}, view.alarms.map((a) => el("tr", { "data-alarm": a.id, "data-rule": a.rule, "data-state": a.state },
      el("td", {}, el("span", { class: `chip ${a.severity}` }, t(`severity.${a.severity}`))),
      el("td", {}, t(`device.alarm.${a.state}`)),
      el("td", {}, label(a.message)),
      el("td", { class: "time" }, dateTime(a.raisedAt)),
      el("td", { class: "time" }, a.cleared ? dateTime(a.cleared.at) : "—")))))));
}

// -- raw messages (the owning department, admins) ---------------------------------------------------------

async function loadMessages() {
  try {
    view.messages = (await api(`${path("/messages")}?limit=${MESSAGES}`)).messages;
  } catch (e) {
    failed(e);
    return;
  }
  renderMessages();
}

/** A message's content as the archive shows it: its records (personal fields pseudonymised) or its body,
 *  pretty-printed when it is JSON. */
function content(m) {
  if (m.records) return JSON.stringify(m.records, null, 2);
  if (m.body === undefined) return m.body_base64 ?? "";
  try { return JSON.stringify(JSON.parse(m.body), null, 2); } catch { return m.body; }
}

function renderMessages() {
  if (!view.messages) return;
  const box = document.getElementById("messages");
  box.hidden = false;
  const title = el("h2", { id: "messages-title" }, t("device.messages"));
  if (!view.messages.length) { box.replaceChildren(title, el("p", { class: "note" }, t("device.noMessages"))); return; }
  box.replaceChildren(title, el("p", { class: "note" }, t("device.messagesNote", { n: number(view.messages.length) })),
    el("ol", { class: "raw-list" }, view.messages.map((m) => el("li", {}, message(m)))));
}

function message(m) {
  return el("details", { class: "raw", "data-raw-id": m.id },
    el("summary", {}, el("time", {}, dateTime(m.receivedAt)), " ", el("code", {}, m.source), " ",
      el("span", { class: `outcome ${m.outcome}` }, t(`device.outcome.${m.outcome}`))),
    m.redacted ? el("p", { class: "note" }, t("device.redacted", { fields: m.redacted.join(", ") })) : null,
    m.withheld ? el("p", { class: "note" }, t("device.withheld", { why: m.withheld }))
      : el("pre", { lang: "zxx" }, content(m)));
}
