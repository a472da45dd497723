// A service's page: its devices with their latest values (and health), a chart per numeric attribute over a
// chosen range, and — for a reader who may see the service's operations — its open alarms and its sources'
// message and rejection rates.
//
// The table is paged by the server (GET /api/services/{id}/devices, 50 rows, a filter on the id); a chart is
// one attribute over the service's devices per time bucket (GET /api/services/{id}/series): the mean as a
// line, min–max as a band, and the observations per bucket as bars on their own axis.  Ranges end at the
// server's now (the API says it), not the browser's; times are Seoul's.  The range picker and what the charts
// share with the device page's: charts.js.
import {
  Plots, caption, figure, plotOptions, plotValue, rangePicker, unitSymbol,
} from "./charts.js";
import {
  account, addStrings, api, dateTime, duration, el, failed, label, number, onLanguage, status, t, time,
} from "./shell.js";

addStrings({
  ko: {
    "service.back": "← 개요",
    "service.department": "담당 부서: {name}",
    "service.devices": "기기",
    "service.filter": "ID로 찾기",
    "service.id": "기기 ID",
    "service.health": "기기 상태",
    "service.observed": "마지막 관측",
    "service.none": "해당하는 기기가 없습니다.",
    "service.shown": "{total}대 중 {first}–{last}",
    "service.prev": "이전",
    "service.next": "다음",
    "service.charts": "시계열",
    "service.buckets": "구간 {bucket}",
    "service.noCharts": "볼 수 있는 수치 속성이 없습니다.",
    "service.count": "관측 수",
    "service.alarms": "진행 중 경보",
    "service.allAlarms": "이 서비스의 경보 모두 보기",
    "service.noAlarms": "진행 중인 경보가 없습니다.",
    "service.sources": "소스(업체 연계)",
    "service.source": "소스",
    "service.status": "운영 상태",
    "service.sourceState": "수신 상태",
    "service.lastMessage": "마지막 메시지",
    "service.hourMessages": "최근 1시간 메시지",
    "service.hourRejected": "최근 1시간 거부율",
    "service.totalMessages": "전체 메시지",
    "service.totalRejected": "전체 거부율",
    "service.live": "운영",
    "service.testing": "시험",
    "service.source.active": "수신 중",
    "service.source.silent": "끊김",
    "service.source.never_received": "수신 없음",
    "service.updated": "{time} 기준",
  },
  en: {
    "service.back": "← Overview",
    "service.department": "Department: {name}",
    "service.devices": "Devices",
    "service.filter": "Find by id",
    "service.id": "Device id",
    "service.health": "Health",
    "service.observed": "Last observed",
    "service.none": "No device matches.",
    "service.shown": "{first}–{last} of {total}",
    "service.prev": "Previous",
    "service.next": "Next",
    "service.charts": "Time series",
    "service.buckets": "buckets of {bucket}",
    "service.noCharts": "No numeric attribute that you may see.",
    "service.count": "observations",
    "service.alarms": "Open alarms",
    "service.allAlarms": "All of this service's alarms",
    "service.noAlarms": "No open alarms.",
    "service.sources": "Sources (vendor feeds)",
    "service.source": "Source",
    "service.status": "Status",
    "service.sourceState": "Receiving",
    "service.lastMessage": "Last message",
    "service.hourMessages": "Messages, last hour",
    "service.hourRejected": "Rejected, last hour",
    "service.totalMessages": "Messages, in all",
    "service.totalRejected": "Rejected, in all",
    "service.live": "live",
    "service.testing": "testing",
    "service.source.active": "active",
    "service.source.silent": "silent",
    "service.source.never_received": "never received",
    "service.updated": "As of {time}",
  },
});

const PAGE = 50;
const CHART_HEIGHT = 220;

const view = {
  id: "",
  doc: null,            // GET /api/services/{id}
  now: 0,               // the server's now (ms), from its latest answer
  table: null,          // the last page of devices
  q: "",
  offset: 0,
  series: new Map(),    // attribute → its last series (or an Error)
  alarms: null,         // the open alarms (operations readers)
  sources: null,        // the sources' health (operations readers)
};
const picker = rangePicker({ onChange: () => loadSeries() });
let plots = null;          // the charts' Plots
const asked = { table: 0, series: 0 };   // the newest request of each: an older answer is not shown

export async function start(main, { service }) {
  view.id = service;
  try {
    view.doc = await api(`/api/services/${encodeURIComponent(service)}`);
  } catch (e) {
    failed(e);
    document.body.dataset.ready = "true";
    return;
  }
  heard(view.doc.now);
  main.replaceChildren(header(), devicesSection(), chartsSection(), ...(view.doc.operations
    ? [alarmsSection(), sourcesSection()] : []));
  renderHeader();
  onLanguage(renderAll);
  plots = new Plots(document.getElementById("charts"));
  await Promise.all([loadTable(), loadSeries(), view.doc.operations ? loadOperations() : null]);
  document.body.dataset.ready = "true";
}

function renderAll() {
  renderHeader();
  renderTable();
  renderCharts();
  renderAlarms();
  renderSources();
}

/** The server's now (ISO 8601) from its latest answer: the status line's, and where the charts' ranges end. */
function heard(now) {
  view.now = Date.parse(now);
  picker.setNow(now);
}

/** The status line: as of when, and for whom (a function: the shell says it again in a new language). */
function renderStatus() {
  status(() => `${t("service.updated", { time: time(new Date(view.now).toISOString()) })} · `
    + (account().signedIn ? t("reader.signedIn", { name: account().name }) : t("reader.public")));
}

// -- header ---------------------------------------------------------------------------------------

function header() {
  return el("section", { class: "card service-head", id: "head" });
}

function renderHeader() {
  const d = view.doc;
  document.getElementById("head").replaceChildren(
    el("a", { href: "/", class: "back", id: "back" }, t("service.back")),
    el("h1", { id: "service-name" }, label(d.name)),
    el("p", { class: "department", id: "department", "data-department": d.department.id },
      t("service.department", { name: label(d.department.name) })),
    d.description ? el("p", { class: "note" }, label(d.description)) : null);
  document.title = `CityLink — ${label(d.name)}`;
}

// -- the devices table ----------------------------------------------------------------------------

/** The attributes the reader may see, by name (the first entity type that has it describes it). */
function attributes() {
  const out = new Map();
  for (const et of view.doc.entityTypes) for (const a of et.attributes) if (!out.has(a.name)) out.set(a.name, a);
  return out;
}

function devicesSection() {
  let typing = null;
  const filter = el("input", { type: "search", id: "device-filter", autocomplete: "off",
    "aria-label": t("service.filter"), placeholder: t("service.filter") });
  filter.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => { view.q = filter.value.trim(); view.offset = 0; loadTable(); }, 250);
  });
  return el("section", { class: "card", "aria-labelledby": "devices-title" },
    el("div", { class: "section-head" },
      el("h2", { id: "devices-title", "data-t": "service.devices" }, t("service.devices")), filter),
    el("div", { class: "scroll" }, el("table", { class: "data", id: "devices" })),
    el("div", { class: "pager" },
      el("button", { type: "button", id: "prev", "data-t": "service.prev",
        onclick: () => { view.offset = Math.max(0, view.offset - PAGE); loadTable(); } }, t("service.prev")),
      el("span", { id: "page-info", class: "note" }),
      el("button", { type: "button", id: "next", "data-t": "service.next",
        onclick: () => { view.offset += PAGE; loadTable(); } }, t("service.next"))));
}

async function loadTable() {
  const n = ++asked.table;
  const query = new URLSearchParams({ q: view.q, limit: PAGE, offset: view.offset });
  try {
    const page = await api(`/api/services/${encodeURIComponent(view.id)}/devices?${query}`);
    if (n !== asked.table) return;
    view.table = page;
    heard(page.now);
    renderTable();
    renderStatus();
  } catch (e) {
    if (n === asked.table) failed(e);
  }
}

function renderTable() {
  const page = view.table;
  if (!page) return;
  const attrs = attributes();
  const names = page.fields.slice(4);
  const ops = view.doc.operations;
  const heads = [el("th", { scope: "col" }, t("service.id")), ops ? el("th", { scope: "col", "data-col": "state" },
    t("service.health")) : null, el("th", { scope: "col" }, t("service.observed")),
  ...names.map((name) => {
    const a = attrs.get(name);
    const unit = a && unitSymbol(a.unitSymbol);
    return el("th", { scope: "col", "data-col": name, class: a?.numeric ? "num" : null,
      title: a?.unitLabel ? label(a.unitLabel) : null }, a ? label(a.label) : name, unit ? ` (${unit})` : "");
  })].filter(Boolean);
  const rows = page.devices.map(([id, type, observed, state, ...values]) => el("tr", { "data-id": id },
    el("td", {}, el("a", { href: `/devices/${encodeURIComponent(id)}`, title: id },
      el("code", {}, shortId(id, type)))),
    ops ? el("td", { "data-col": "state", "data-state": state ?? "" },
      state ? [el("i", { class: `dot ${state}`, "aria-hidden": "true" }), t(`state.${state}`)] : "—") : null,
    el("td", { class: "when" }, dateTime(observed)),
    ...values.map((v, i) => el("td", { "data-col": names[i], class: typeof v === "number" ? "num" : null },
      shown(attrs.get(names[i]), v)))));
  const table = document.getElementById("devices");
  table.replaceChildren(el("thead", {}, el("tr", {}, heads)),
    el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: heads.length, class: "note" },
      t("service.none")))));
  table.dataset.total = page.total;
  const info = document.getElementById("page-info");
  info.textContent = page.total ? t("service.shown", { first: number(page.offset + 1),
    last: number(page.offset + page.devices.length), total: number(page.total) }) : "";
  document.getElementById("prev").disabled = page.offset === 0;
  document.getElementById("next").disabled = page.offset + page.devices.length >= page.total;
  const filter = document.getElementById("device-filter");
  filter.placeholder = t("service.filter");
  filter.setAttribute("aria-label", t("service.filter"));
}

/** An entity id without its "urn:ngsi-ld:<Type>:" (the same in every row): the deployment and the device. */
function shortId(id, type) {
  const prefix = `urn:ngsi-ld:${type}:`;
  return id.startsWith(prefix) ? id.slice(prefix.length) : id;
}

/** A value as the table shows it: a code's label, a number in the reader's format, anything else as is. */
function shown(a, v) {
  if (v === null || v === undefined) return "—";
  if (a?.codes && typeof v === "string" && a.codes[v]) return el("span", { title: v }, label(a.codes[v]));
  if (typeof v === "number") return number(v, { maximumFractionDigits: 3 });
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

// -- charts ----------------------------------------------------------------------------------------

function chartsSection() {
  return el("section", { class: "card", "aria-labelledby": "charts-title" },
    el("div", { class: "section-head" },
      el("h2", { id: "charts-title", "data-t": "service.charts" }, t("service.charts")), picker.group),
    picker.form,
    picker.note,
    el("div", { id: "charts", class: "charts" }));
}

/** Say the range the charts cover and their buckets' width (any answer says them: they are the same). */
function renderRange() {
  const any = [...view.series.values()].find((s) => !(s instanceof Error));
  picker.shown(any?.from, any?.to, any ? () => t("service.buckets", { bucket: duration(any.bucketSeconds) }) : null);
}

function numericAttributes() {
  return [...attributes().values()].filter((a) => a.numeric);
}

async function loadSeries() {
  const n = ++asked.series;
  const range = picker.query();
  const got = await Promise.all(numericAttributes().map(async (a) => {
    const query = new URLSearchParams({ attribute: a.name, ...range });
    try {
      return [a.name, await api(`/api/services/${encodeURIComponent(view.id)}/series?${query}`)];
    } catch (e) {
      return [a.name, e];
    }
  }));
  if (n !== asked.series) return;
  view.series = new Map(got);
  const error = got.find(([, s]) => s instanceof Error);
  if (error) failed(error[1]); else renderStatus();
  renderRange();
  renderCharts();
}

function renderCharts() {
  const box = document.getElementById("charts");
  plots.clear();
  const attrs = numericAttributes();
  if (!attrs.length) {
    box.replaceChildren(el("p", { class: "note" }, t("service.noCharts")));
    return;
  }
  const figures = attrs.map((a) => chart(a, view.series.get(a.name)));
  box.replaceChildren(...figures);
  for (const [i, fig] of figures.entries()) {   // once in the page: uPlot draws at its box's width
    const s = view.series.get(attrs[i].name);
    plots.draw(fig, (width) => [options(s, width), columns(s)]);
  }
}

/** A chart's figure: its caption, and a box for the plot or a note saying why there is none. */
function chart(a, s) {
  const head = caption(label(a.label), { symbol: a.unitSymbol, unit: a.unitLabel ? label(a.unitLabel) : "" });
  if (!s || s instanceof Error) {
    return figure({ attribute: a.name, points: 0, caption: head, empty: s ? s.message : "…" });
  }
  return figure({ attribute: a.name, points: s.buckets.length, caption: head,
    data: { "data-from": s.from, "data-to": s.to, "data-bucket": s.bucketSeconds } });
}

/** The buckets as uPlot's columns (x in seconds, mean, min, max, count), with an empty row after each gap so
 *  that lines break. */
function columns(s) {
  const step = s.bucketSeconds;
  const cols = [[], [], [], [], []];
  let last = null;
  for (const [ms, lo, mean, hi, count] of s.buckets) {
    const x = ms / 1000;
    if (last !== null && x - last > step) {
      cols[0].push(last + step);
      for (let i = 1; i < 5; i++) cols[i].push(null);
    }
    cols[0].push(x); cols[1].push(mean); cols[2].push(lo); cols[3].push(hi); cols[4].push(count);
    last = x;
  }
  return cols;
}

function options(s, width) {
  return plotOptions({
    from: s.from, to: s.to, width, height: CHART_HEIGHT, spread: true,
    series: [{ label: t("service.count"), scale: "n", stroke: "#b0bec5", fill: "rgba(176, 190, 197, .35)", width: 1,
      paths: uPlot.paths.bars({ size: [0.6, 12] }), points: { show: false }, value: plotValue }],
    scales: { n: { range: (u, lo, hi) => [0, Math.max(1, hi) * 3] } },   // the bars in the lower third
    axes: [{ scale: "n", side: 1, grid: { show: false }, size: 40 }],
  });
}

// -- alarms and sources (operations readers) ---------------------------------------------------------

function alarmsSection() {
  return el("section", { class: "card", id: "alarms", "aria-labelledby": "alarms-title" },
    el("div", { class: "section-head" },
      el("h2", { id: "alarms-title", "data-t": "service.alarms" }, t("service.alarms")),
      el("a", { href: `/alarms?service=${encodeURIComponent(view.id)}`, id: "all-alarms",
        "data-t": "service.allAlarms" }, t("service.allAlarms"))),
    el("ul", { id: "alarm-list", class: "alarm-list" }));
}

function sourcesSection() {
  return el("section", { class: "card", id: "sources", "aria-labelledby": "sources-title" },
    el("h2", { id: "sources-title", "data-t": "service.sources" }, t("service.sources")),
    el("div", { class: "scroll" }, el("table", { class: "data", id: "source-table" })));
}

async function loadOperations() {
  const service = encodeURIComponent(view.id);
  const [alarms, sources] = await Promise.allSettled([
    api(`/api/alarms?service=${service}&state=open&limit=100`), api(`/api/health/sources?service=${service}`)]);
  for (const r of [alarms, sources]) if (r.status === "rejected") failed(r.reason);
  view.alarms = alarms.status === "fulfilled" ? alarms.value.alarms : null;
  view.sources = sources.status === "fulfilled" ? sources.value : null;
  renderAlarms();
  renderSources();
}

function renderAlarms() {
  const list = document.getElementById("alarm-list");
  if (!list || !view.alarms) return;
  list.dataset.count = view.alarms.length;
  list.replaceChildren(...(view.alarms.length ? view.alarms.map((a) => el("li", { "data-alarm": a.id,
    "data-severity": a.severity },
  el("span", { class: `chip ${a.severity}` }, t(`severity.${a.severity}`)), " ",
  el("span", { class: "message" }, label(a.message)), " ",
  el("a", { href: `/devices/${encodeURIComponent(a.entity)}`, class: "entity", title: a.entity },
    el("code", {}, shortId(a.entity, a.entityType))), " ",
  el("time", { datetime: a.raisedAt }, dateTime(a.raisedAt))))
    : [el("li", { class: "note" }, t("service.noAlarms"))]));
}

function rate(r) {
  return r === null || r === undefined ? "—" : number(r, { style: "percent", maximumFractionDigits: 1 });
}

function renderSources() {
  const table = document.getElementById("source-table");
  if (!table || !view.sources) return;
  const cols = ["service.source", "service.status", "service.sourceState", "service.lastMessage",
    "service.hourMessages", "service.hourRejected", "service.totalMessages", "service.totalRejected"];
  table.replaceChildren(
    el("thead", {}, el("tr", {}, cols.map((c, i) => el("th", { scope: "col", class: i >= 4 ? "num" : null }, t(c))))),
    el("tbody", {}, view.sources.map((s) => el("tr", { "data-source": s.source, "data-state": s.state },
      el("td", {}, el("code", {}, s.source)),
      el("td", {}, t(`service.${s.status}`)),
      el("td", {}, t(`service.source.${s.state}`)),
      el("td", { class: "when" }, dateTime(s.lastMessage)),
      el("td", { class: "num", "data-figure": "hour-received" }, number(s.lastHour.received)),
      el("td", { class: "num", "data-figure": "hour-rejected" }, rate(s.lastHour.rejectionRate)),
      el("td", { class: "num", "data-figure": "total-received" }, number(s.total.received)),
      el("td", { class: "num", "data-figure": "total-rejected" }, rate(s.total.rejectionRate))))));
}
