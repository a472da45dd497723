// The overview page: a tile per service, the district's map with every device, live.
//
// Live: the figures are fetched again every few seconds (the server says how often: refreshSeconds) and the
// devices every 15 s, while the tab is visible.  Signed in, the alarm stream (/api/alarms/stream, Server-Sent
// Events) shows a new alarm at once and brings the figures and the map up to date.
import { account, api, el, failed, follow, label, lang, number, onLanguage, status, t, time } from "./shell.js";

const DEVICES_EVERY_MS = 15000;
const LIVE_EVENTS = ["raised", "escalated", "acknowledged", "cleared"];
const SEVERITIES = ["critical", "high", "medium", "low", "informational"];
const STATES = ["online", "stale", "offline", "never_reported"];
// marker colours: an open alarm's severity first, else the health state; grey-blue where neither is visible
const COLOURS = {
  critical: "#8e0000", high: "#e53935", medium: "#fb8c00", low: "#fdd835", informational: "#1e88e5",
  online: "#2e7d32", stale: "#a1887f", offline: "#37474f", never_reported: "#ffffff", reporting: "#5c6bc0",
};

const view = {
  overview: null,             // the last /api/overview
  devices: null,              // the last /api/overview/devices
  filter: "",                 // the service shown on the map ("" all)
  events: [],                 // the newest live alarm events, newest first
  live: "off",
};
let map, districtLayer, dongLayer;
const groups = new Map();     // service → Leaflet layer group
const markers = new Map();    // device id → {marker, row}
let timers = {};
let ready = false;

export async function start(main) {
  main.replaceChildren(
    el("section", { class: "tiles-wrap", "aria-labelledby": "tiles-title" },
      el("aside", { id: "live", class: "live", hidden: true, "aria-live": "polite" },
        el("h2", { "data-t": "live.title" }, t("live.title")), el("p", { id: "live-state", class: "note" }),
        el("ol", { id: "live-events" })),
      el("h2", { id: "tiles-title", "data-t": "tiles.title" }, t("tiles.title")),
      el("div", { id: "tiles", class: "tiles" })),
    el("section", { class: "map-wrap", "aria-labelledby": "map-title" },
      el("div", { class: "map-head" },
        el("h2", { id: "map-title", "data-t": "map.title" }, t("map.title")),
        el("label", {}, el("span", { "data-t": "map.service" }, t("map.service")), " ",
          el("select", { id: "filter" })),
        el("span", { id: "shown", class: "note" })),
      el("div", { id: "map", role: "region", "aria-label": "map" }),
      el("div", { id: "legend", class: "legend" })));
  document.getElementById("filter").addEventListener("change", (e) => setFilter(e.target.value));
  makeMap();
  onLanguage(() => { renderTiles(); renderFilter(); renderLegend(); renderLive(); drawDongLabels(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshAll(); });
  const district = api("/api/district").then(drawDistrict);
  await Promise.all([district, refreshOverview(), refreshDevices()]);
  if (account().signedIn) {
    document.getElementById("live").hidden = false;
    follow("/api/alarms/stream", liveEvent, (state) => { view.live = state; renderLive(); });
  }
}

// -- figures ---------------------------------------------------------------------------------------

const asked = { overview: 0, devices: 0 };   // the newest request of each: an older answer is not shown

async function refreshOverview() {
  clearTimeout(timers.overview);
  const n = ++asked.overview;
  let every = 5000;
  try {
    const o = await api("/api/overview");
    if (n !== asked.overview) return;      // a newer request is under way: it shows, and goes on
    view.overview = o;
    every = (o.refreshSeconds || 5) * 1000;
    renderTiles();
    renderFilter();
    status(() => `${t("status.updated", { time: time(o.at) })} · `
      + (o.reader.public ? t("reader.public") : t("reader.signedIn", { name: account().name })));
  } catch (e) {
    if (n !== asked.overview) return;
    failed(e);
  }
  markReady();
  timers.overview = setTimeout(() => { if (!document.hidden) refreshOverview(); else timers.overview = null; }, every);
}

async function refreshDevices() {
  clearTimeout(timers.devices);
  const n = ++asked.devices;
  try {
    const d = await api("/api/overview/devices");
    if (n !== asked.devices) return;
    view.devices = d;
    drawDevices();
  } catch {
    if (n !== asked.devices) return;       // (the overview's status line says what went wrong)
  }
  markReady();
  timers.devices = setTimeout(() => { if (!document.hidden) refreshDevices(); else timers.devices = null; },
    DEVICES_EVERY_MS);
}

function refreshAll() { refreshOverview(); refreshDevices(); }

let soon = null;
function refreshSoon() {   // after a live event: once, shortly (events come in bursts)
  clearTimeout(soon);
  soon = setTimeout(refreshAll, 300);
}

function markReady() {
  if (ready || !view.overview || !view.devices || !districtLayer) return;
  ready = true;
  performance.mark("citylink:overview-ready");
  document.body.dataset.ready = "true";
}

function renderTiles() {
  const box = document.getElementById("tiles");
  if (!view.overview) return;
  box.replaceChildren(...view.overview.services.map(tile));
}

function tile(s) {
  const h = s.headline;
  const headline = h
    ? el("div", { class: "headline", "data-figure": "headline", "data-value": h.value, title: t(`basis.${h.basis}`) },
      el("span", { class: "value" }, number(h.value)),
      h.of !== undefined ? el("span", { class: "of" }, " ", t("tile.of", { n: number(h.of) })) : null,
      el("span", { class: "label" }, label(h.name)))
    : el("div", { class: "headline none", "data-figure": "headline" },
      el("span", { class: "value" }, "—"), el("span", { class: "label" }, t("tile.noHeadline")));
  const d = s.devices;
  const states = STATES.filter((st) => st in d).map((st) => el("li", { "data-state": st },
    el("i", { class: `dot ${st}`, "aria-hidden": "true" }), `${t(`state.${st}`)} `, el("b", {}, number(d[st]))));
  const rows = [
    el("div", { class: "row", "data-figure": "devices", "data-value": d.total },
      el("dt", {}, t("tile.devices")), el("dd", {}, number(d.total))),
    states.length ? el("ul", { class: "states" }, states) : null,
    el("div", { class: "row", "data-figure": "messages", "data-value": s.messages.lastHour },
      el("dt", {}, t("tile.messages")), el("dd", {}, number(s.messages.lastHour))),
  ];
  if ("rejectionRate" in s.messages) {
    const rate = s.messages.rejectionRate;
    rows.push(el("div", { class: "row", "data-figure": "rejected", "data-value": rate ?? "" },
      el("dt", {}, t("tile.rejected")),
      el("dd", {}, rate === null ? "—" : number(rate, { style: "percent", maximumFractionDigits: 1 }))));
  }
  if (s.alarms) {
    const open = SEVERITIES.filter((sev) => s.alarms.bySeverity[sev] > 0);
    rows.push(el("div", { class: "row alarms", "data-figure": "alarms", "data-value": s.alarms.open },
      el("dt", {}, t("tile.alarms")),
      el("dd", {}, open.length ? open.map((sev) => el("span", { class: `chip ${sev}`, "data-severity": sev },
        `${t(`severity.${sev}`)} ${number(s.alarms.bySeverity[sev])}`)) : t("tile.noAlarms"))));
  }
  const shown = view.filter === s.id;
  return el("article", { class: `tile${shown ? " selected" : ""}`, "data-service": s.id },
    el("header", {},
      el("h3", {}, el("a", { href: `/services/${encodeURIComponent(s.id)}` }, label(s.name))),
      el("p", { class: "department" }, label(s.department.name))),
    headline,
    el("dl", {}, rows),
    el("button", { type: "button", class: "show", "aria-pressed": String(shown),
      onclick: () => setFilter(shown ? "" : s.id) }, t("tile.show")));
}

// -- the map ---------------------------------------------------------------------------------------

let moved = false;   // the reader has moved or zoomed the map: a new size keeps the view

function makeMap() {
  // no tile layer: no tile server is reachable; the base is the district's outline (/api/district)
  map = L.map("map", { preferCanvas: true, zoomSnap: 0.25, attributionControl: false, minZoom: 11, maxZoom: 18 });
  map.setView([37.665, 127.032], 13);
  const box = map.getContainer();
  for (const kind of ["pointerdown", "wheel", "keydown"]) box.addEventListener(kind, () => { moved = true; });
  // the layout settles after the map is made (tiles arrive, the page is turned): Leaflet must be told
  new ResizeObserver(() => {
    map.invalidateSize();
    if (!moved && districtLayer) fit();
  }).observe(box);
}

function fit() { map.fitBounds(districtLayer.getBounds(), { padding: [8, 8], animate: false }); }

function drawDistrict(doc) {
  dongLayer = L.geoJSON(doc.dongs, { style: { color: "#7a8a99", weight: 1, dashArray: "3 3", fill: true,
    fillColor: "#ffffff", fillOpacity: 0.5 }, interactive: false }).addTo(map);
  districtLayer = L.geoJSON(doc.district, { style: { color: "#14213d", weight: 2.5, fill: false },
    interactive: false }).addTo(map);
  fit();
  drawDongLabels();
  markReady();
}

function drawDongLabels() {
  if (!dongLayer) return;
  dongLayer.eachLayer((layer) => {
    const p = layer.feature.properties;
    layer.unbindTooltip();
    // 도봉1동 / "Dobong 1(il)-dong" → "Dobong 1": the map is small, the dongs many
    layer.bindTooltip(lang() === "ko" ? p.name : p.name_eng.replace(/\s*\(\w+\)-dong$|-dong$/, ""),
      { permanent: true, direction: "center", className: "dong-label", interactive: false });
  });
}

function markerColour(row) {
  const [, , , , state, alarm] = row;
  return alarm ? COLOURS[alarm] : state ? COLOURS[state] : COLOURS.reporting;
}

function drawDevices() {
  const rows = view.devices.devices;
  const seen = new Set();
  for (const row of rows) {
    const [id, service, lon, lat, state] = row;
    seen.add(id);
    const colour = markerColour(row);
    const style = { radius: row[5] ? 6.5 : 5, color: state === "never_reported" ? "#616161" : "#ffffff",
      weight: 1, fillColor: colour, fillOpacity: 0.9 };
    const had = markers.get(id);
    if (had) {
      had.row = row;
      had.marker.setLatLng([lat, lon]);
      had.marker.setStyle(style);
      had.marker.setRadius(style.radius);
      continue;
    }
    const m = L.circleMarker([lat, lon], style);
    const entry = { marker: m, row };
    m.bindPopup(() => popup(entry.row));
    markers.set(id, entry);
    group(service).addLayer(m);
  }
  for (const [id, entry] of markers) {
    if (!seen.has(id)) { group(entry.row[1]).removeLayer(entry.marker); markers.delete(id); }
  }
  applyFilter();
  renderLegend();
}

function group(service) {
  let g = groups.get(service);
  if (!g) { g = L.layerGroup(); groups.set(service, g); }
  return g;
}

function popup(row) {
  const [id, service, , , state, alarm] = row;
  const s = view.overview?.services.find((x) => x.id === service);
  return el("div", { class: "popup" },
    el("strong", {}, s ? label(s.name) : service), el("br"),
    el("a", { href: `/devices/${encodeURIComponent(id)}` }, el("code", {}, id)),
    state ? el("div", {}, `${t("popup.state")}: ${t(`state.${state}`)}`) : null,
    alarm ? el("div", {}, `${t("popup.alarm")}: ${t(`severity.${alarm}`)}`) : null);
}

function setFilter(service) {
  view.filter = service;
  document.getElementById("filter").value = service;
  applyFilter();
  renderTiles();
}

function applyFilter() {
  let shown = 0;
  for (const [service, g] of groups) {
    const on = !view.filter || view.filter === service;
    if (on && !map.hasLayer(g)) g.addTo(map);
    if (!on && map.hasLayer(g)) map.removeLayer(g);
    if (on) shown += g.getLayers().length;
  }
  const el_ = document.getElementById("shown");
  el_.textContent = t("map.shown", { n: number(shown) });
  el_.dataset.value = shown;
}

function renderFilter() {
  const select = document.getElementById("filter");
  if (!view.overview) return;
  const services = view.overview.services;
  if (view.filter && !services.some((s) => s.id === view.filter)) view.filter = "";
  select.replaceChildren(el("option", { value: "" }, t("map.all")),
    ...services.map((s) => el("option", { value: s.id }, label(s.name))));
  select.value = view.filter;
  applyFilter();
}

function renderLegend() {
  const rows = view.devices?.devices ?? [];
  const used = new Set(rows.map((r) => r[5] || r[4] || "reporting"));
  const keys = [...SEVERITIES, ...STATES, "reporting"].filter((k) => used.has(k));
  const box = document.getElementById("legend");
  box.replaceChildren(...keys.map((k) => el("span", { class: "legend-item" },
    el("i", { class: `dot ${k}`, "aria-hidden": "true" }),
    k === "reporting" ? `${t("state.reporting")} (${t("map.legend.public")})`
      : SEVERITIES.includes(k) ? `${t("popup.alarm")}: ${t(`severity.${k}`)}` : t(`state.${k}`))));
}

// -- live alarm events -----------------------------------------------------------------------------

function liveEvent(kind, e) {
  if (kind === "hello") return;
  if (kind === "lagged") { refreshSoon(); return; }
  if (LIVE_EVENTS.includes(kind) && e && e.alarm) {
    view.events.unshift(e);
    view.events.length = Math.min(view.events.length, 8);
    renderLive();
  }
  refreshSoon();
}

function renderLive() {
  const list = document.getElementById("live-events");
  if (!list) return;
  document.getElementById("live-state").textContent = view.live === "on"
    ? (view.events.length ? "" : t("live.none")) : t("live.off");
  list.replaceChildren(...view.events.map((e) => el("li", { "data-kind": e.kind, "data-alarm": e.alarm.id },
    el("time", {}, time(e.at)), " ",
    el("span", { class: `chip ${e.alarm.severity}` }, t(`severity.${e.alarm.severity}`)), " ",
    el("span", { class: "event" }, t(`event.${e.kind}`)), " ",
    el("span", {}, label(e.alarm.message)))));
}
