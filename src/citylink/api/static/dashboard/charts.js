// What the service and device pages' charts share: the range picker (the hour, day or week before the server's
// now, or a range typed in Seoul's time) and their uPlot charts' figure, options (time axis in Seoul's time and
// the reader's language, values in its number format) and fitting to their boxes.  Their look: dashboard.css,
// section "charts".
//
// The ranges end at the server's now — the `now` of its latest answer, which the page passes on (setNow) — not
// at the browser's, whose clock may be off.
import { addStrings, dateTime, el, fromSeoulField, lang, number, onLanguage, seoulField, status, t } from "./shell.js";

addStrings({
  ko: {
    "charts.range": "기간",
    "charts.range.hour": "1시간",
    "charts.range.day": "1일",
    "charts.range.week": "1주",
    "charts.range.custom": "직접 지정",
    "charts.from": "시작",
    "charts.to": "끝",
    "charts.apply": "적용",
    "charts.badRange": "시작이 끝보다 앞서야 합니다.",
    "charts.rangeNote": "{from} ~ {to} (서울 시각)",
    "charts.noData": "이 기간에 관측값이 없습니다.",
    "charts.time": "시각",
    "charts.min": "최소",
    "charts.mean": "평균",
    "charts.max": "최대",
  },
  en: {
    "charts.range": "Range",
    "charts.range.hour": "Hour",
    "charts.range.day": "Day",
    "charts.range.week": "Week",
    "charts.range.custom": "Custom",
    "charts.from": "From",
    "charts.to": "To",
    "charts.apply": "Apply",
    "charts.badRange": "The start must come before the end.",
    "charts.rangeNote": "{from} to {to} (Seoul time)",
    "charts.noData": "No observations in this range.",
    "charts.time": "Time",
    "charts.min": "Min",
    "charts.mean": "Mean",
    "charts.max": "Max",
  },
});

const SEOUL = "Asia/Seoul";
const RANGES = { hour: 3600e3, day: 86400e3, week: 7 * 86400e3 };   // ms before the server's now
const KINDS = [...Object.keys(RANGES), "custom"];
const MIN_WIDTH = 200;             // px: a plot is drawn at least this wide (its box may not be laid out yet)

/** The range picker: buttons for the hour, day or week before the server's now, or a custom range typed in
 *  Seoul's time; onChange() when the reader picks another range (query() gives it).  The page places its
 *  elements: group (#ranges, the buttons), form (#custom, the custom range's) and note (#range-note, the range an
 *  answer covers, said by shown()); it passes on the server's now of each answer (setNow) before asking query(). */
export function rangePicker({ onChange, range = "day" }) {
  let kind = range;
  let now = NaN;                     // the server's (ms)
  let custom = { from: NaN, to: NaN };
  let said = null;                   // what shown() was told: {from, to, more}
  const value = () => (kind in RANGES ? { from: now - RANGES[kind], to: now } : custom);   // ms

  const group = el("div", { class: "ranges", role: "group", id: "ranges" }, KINDS.map((k) => el("button",
    { type: "button", "data-range": k, "data-t": `charts.range.${k}`, onclick: () => pick(k) },
    t(`charts.range.${k}`))));
  const from = el("input", { type: "datetime-local", id: "from", required: true });
  const to = el("input", { type: "datetime-local", id: "to", required: true });
  const form = el("form", { id: "custom", class: "custom", hidden: true },
    el("label", {}, el("span", { "data-t": "charts.from" }, t("charts.from")), " ", from),
    el("label", {}, el("span", { "data-t": "charts.to" }, t("charts.to")), " ", to),
    el("button", { type: "submit", "data-t": "charts.apply" }, t("charts.apply")));
  const note = el("p", { id: "range-note", class: "note" });

  function pick(k) {
    if (k === "custom") {            // from the range shown until now, to be changed
      custom = value();
      from.value = seoulField(custom.from);
      to.value = seoulField(custom.to);
    }
    kind = k;
    render();
    if (k !== "custom") onChange();
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const a = fromSeoulField(from.value);
    const b = fromSeoulField(to.value);
    if (!(a < b)) { status(() => t("charts.badRange"), "error"); return; }
    custom = { from: a, to: b };
    onChange();
  });

  function render() {
    group.setAttribute("aria-label", t("charts.range"));
    for (const b of group.children) b.setAttribute("aria-pressed", String(b.dataset.range === kind));
    form.hidden = kind !== "custom";
    note.textContent = said ? [t("charts.rangeNote", { from: dateTime(said.from), to: dateTime(said.to) }),
      said.more?.()].filter(Boolean).join(", ") : "";
  }

  render();
  onLanguage(render);
  return {
    group, form, note,
    /** The server's now (ISO 8601), from its latest answer: where the hour, day and week end. */
    setNow(iso) { now = Date.parse(iso); },
    /** The range picked as the APIs take it: {from, to} (ISO 8601). */
    query() {
      const v = value();
      return { from: new Date(v.from).toISOString(), to: new Date(v.to).toISOString() };
    },
    /** Say the range an answer covers (ISO 8601; none: say nothing), and more(), a function giving more to say
     *  (said again in a new language). */
    shown(a, b, more = null) {
      said = a ? { from: a, to: b, more } : null;
      render();
    },
  };
}

/** A unit's symbol as a chart or a table says it: "1" (dimensionless) by nothing. */
export function unitSymbol(symbol) {
  return symbol && symbol !== "1" ? symbol : "";
}

/** A chart's caption: the attribute's name, `detail` (a datasetId), its unit's symbol and name. */
export function caption(name, { detail = "", symbol = "", unit = "" } = {}) {
  const shown = unitSymbol(symbol);
  return el("figcaption", {}, el("b", {}, name), detail ? ` ${detail}` : "", shown ? ` (${shown})` : "",
    unit ? el("span", { class: "note" }, ` ${unit}`) : null);
}

/** A chart's figure (.chart with data-attribute, data-points and the data-* of `data`): its caption, then the
 *  box a plot is drawn into (Plots.draw) and `below` — or, with no points, `empty` (a note, by default that the
 *  range has none). */
export function figure({ attribute, points, caption: head, data = {}, empty = t("charts.noData") }, ...below) {
  const fig = el("figure", { class: "chart", "data-attribute": attribute, "data-points": points, ...data }, head);
  if (points) fig.append(el("div", { class: "plot" }), ...below);
  else fig.append(el("p", { class: "empty note" }, empty));
  return fig;
}

/** A value as a chart's legend says it, in the reader's number format (uPlot's series.value). */
export function plotValue(u, v) {
  return v === null || v === undefined ? "—" : number(v, { maximumFractionDigits: 3 });
}

/** uPlot's options for a chart of [from, to) (ISO 8601), `width` px wide (at least MIN_WIDTH): the time (x, in
 *  Seoul's time), a line (`label`, by default the mean) — with `spread`, its min and max, shaded between — then
 *  the page's `series` on their own `scales` and `axes`.  The data: [x (s), line, (min, max,) the page's…]. */
export function plotOptions({ from, to, width, height, label = null, spread = false, points = true, series = [],
  scales = {}, axes = [] }) {
  const range = [Date.parse(from) / 1000, Date.parse(to) / 1000];
  const bound = (id) => ({ label: t(id), stroke: "#7f9cc7", width: 1, value: plotValue });
  return {
    width: Math.max(width, MIN_WIDTH),
    height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), SEOUL),
    scales: { x: { time: true, range: () => range }, ...scales },
    series: [
      { label: t("charts.time"), value: (u, ts) => (ts === null ? "—" : dateTime(new Date(ts * 1000).toISOString())) },
      { label: label ?? t("charts.mean"), stroke: "#1f5fbf", width: 2, value: plotValue,
        points: { show: points, size: 5 } },
      ...(spread ? [bound("charts.min"), bound("charts.max")] : []),
      ...series,
    ],
    bands: spread ? [{ series: [3, 2], fill: "rgba(31, 95, 191, .12)" }] : [],
    axes: [{ values: timeTicks, size: 44 }, { size: 56 }, ...axes],
    legend: { live: true },
  };
}

/** The time axis' labels (uPlot's axis.values) in the reader's language and Seoul's time: the hour, with the
 *  date under the first and wherever it changes — the date alone when the ticks are days apart. */
function timeTicks(u, splits, axis, space, increment) {
  const locale = lang() === "ko" ? "ko-KR" : "en-GB";
  const day = new Intl.DateTimeFormat(locale, { timeZone: SEOUL, month: "numeric", day: "numeric" });
  const hour = new Intl.DateTimeFormat(locale,
    { timeZone: SEOUL, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  let shownDay = "";
  return splits.map((ts) => {
    const at = new Date(ts * 1000);
    const d = day.format(at);
    if (increment >= 86400) return d;
    const text = d === shownDay ? hour.format(at) : `${hour.format(at)}\n${d}`;
    shownDay = d;
    return text;
  });
}

/** A page's plots: each drawn into its figure's box at the box's width, and fitted to it again when `box` (the
 *  charts' grid) changes size — a window resized, a phone turned. */
export class Plots {
  #all = [];

  constructor(box) {
    new ResizeObserver(() => this.#fit()).observe(box);
  }

  /** Take the plots drawn away (before drawing the next ones). */
  clear() {
    for (const p of this.#all) p.destroy();
    this.#all = [];
  }

  /** Draw a figure's plot, if it has a box for one (already in the page: uPlot draws at the box's width):
   *  make(width) gives [options, data]. */
  draw(fig, make) {
    const box = fig.querySelector(".plot");
    if (!box) return;
    const [options, data] = make(box.clientWidth);
    this.#all.push(new uPlot(options, data, box));
  }

  #fit() {
    for (const p of this.#all) {
      const width = p.root.parentElement.clientWidth;
      if (width && Math.abs(width - p.width) > 1) p.setSize({ width, height: p.height });
    }
  }
}
