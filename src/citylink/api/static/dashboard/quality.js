// The data quality page (signed-in staff): per source, over the last hour, day or week — messages received and
// what became of them, completeness, latency and rejection reasons (GET /api/quality) — and the quarantine of
// the sources the reader may read (GET /api/quarantine), each message with a Replay button that runs it again
// through the specs in force (POST /api/quarantine/{id}/replay; "replay all": POST /api/quarantine/replay).
//
// Asked again every refreshSeconds (the server says) while the tab is visible, and at once after a replay.
import {
  ApiError, addStrings, api, dateTime, duration, el, failed, label, number, onLanguage, send, status, t, time,
} from "./shell.js";

const WINDOWS = ["PT1H", "P1D", "P7D"];
const SHOWN = 50;                 // quarantined messages listed per source (the oldest first)
// Raw ids are 63-bit integers: shell.js api() gives them as strings (exact), and the replay routes take strings.

addStrings({
  ko: {
    "quality.title": "출처별 데이터 품질",
    "quality.window": "기간",
    "quality.window.PT1H": "최근 1시간",
    "quality.window.P1D": "최근 1일",
    "quality.window.P7D": "최근 1주",
    "quality.range": "{from} – {to} (서울 시각)",
    "quality.none": "운영 정보를 볼 수 있는 출처가 없습니다.",
    "quality.testing": "시험 중",
    "quality.received": "받은 메시지",
    "quality.stored": "저장",
    "quality.flagged": "그중 품질 표시",
    "quality.duplicate": "중복",
    "quality.pending": "처리 대기",
    "quality.quarantined": "격리",
    "quality.rejectionRate": "거부율",
    "quality.completeness": "완전성",
    "quality.completeness.detail": "기기 {devices}대 중 {reporting}대 보고 · 기기마다 {expected}회 기대 ({interval}마다)",
    "quality.completeness.no_reporting_interval": "보고 주기가 정해지지 않아 알 수 없음",
    "quality.completeness.no_devices": "기기가 없음",
    "quality.latency": "지연 (관측 → 수신)",
    "quality.latency.values": "중앙값 {p50} · 95% {p95} · 최대 {max}",
    "quality.latency.none": "기간 안에 받은 관측값 없음",
    "quality.reasons": "거부 사유",
    "quality.reasons.none": "없음",
    "quality.basis": "완전성: 기기마다 기간 안에 받은 관측 수 ÷ 서비스의 보고 주기로 기대한 수(최대 100%)의 평균이며, "
      + "등록되었으나 보고한 적 없는 기기는 0%입니다. 지연: 값의 관측 시각부터 그 메시지를 받은 때까지. "
      + "메시지는 지금의 처리 결과로 셉니다(다시 처리해 저장된 메시지는 저장).",
    "quality.quarantine": "격리된 메시지",
    "quality.quarantine.note": "격리된 메시지는 소관 부서와 관리자만 봅니다. 연계 명세를 고친 뒤 '다시 처리'하면 "
      + "지금의 명세로 다시 검사합니다.",
    "quality.quarantine.empty": "격리된 메시지가 없습니다.",
    "quality.quarantine.none": "격리된 메시지를 볼 수 있는 출처가 없습니다.",
    "quality.quarantine.shown": "{total}건 중 오래된 {n}건 표시",
    "quality.replay": "다시 처리",
    "quality.replayAll": "모두 다시 처리 ({n}건)",
    "quality.field": "필드",
    "quality.message": "메시지",
    "quality.withheld": "비공개",
    "quality.replayed.stored": "메시지 {id}: 저장되었습니다.",
    "quality.replayed.quarantined": "메시지 {id}: 다시 격리되었습니다 — {reason}",
    "quality.replayed.pending": "메시지 {id}: 아직 처리 중입니다.",
    "quality.replayed.all": "{n}건 다시 처리: 저장 {stored}건, 격리 {quarantined}건",
  },
  en: {
    "quality.title": "Data quality per source",
    "quality.window": "Window",
    "quality.window.PT1H": "Last hour",
    "quality.window.P1D": "Last day",
    "quality.window.P7D": "Last week",
    "quality.range": "{from} – {to} (Seoul time)",
    "quality.none": "No source whose operations you may see.",
    "quality.testing": "testing",
    "quality.received": "Messages received",
    "quality.stored": "Stored",
    "quality.flagged": "of them flagged",
    "quality.duplicate": "Duplicates",
    "quality.pending": "Pending",
    "quality.quarantined": "Quarantined",
    "quality.rejectionRate": "Rejection rate",
    "quality.completeness": "Completeness",
    "quality.completeness.detail": "{reporting} of {devices} devices reported · {expected} readings expected of "
      + "each (every {interval})",
    "quality.completeness.no_reporting_interval": "Not known: the service declares no reporting interval",
    "quality.completeness.no_devices": "No devices",
    "quality.latency": "Latency (observed → received)",
    "quality.latency.values": "median {p50} · 95 % {p95} · max {max}",
    "quality.latency.none": "No reading received in the window",
    "quality.reasons": "Rejection reasons",
    "quality.reasons.none": "none",
    "quality.basis": "Completeness: per device, the readings received in the window ÷ the readings its service's "
      + "reporting interval expects (at most 100 %), averaged over the source's devices; registered devices never "
      + "heard from count as 0 %. Latency: from a value's observed time to the arrival of its message. Messages "
      + "count by what became of them (a message replayed and stored counts as stored).",
    "quality.quarantine": "Quarantined messages",
    "quality.quarantine.note": "Quarantined messages are shown to the owning department and admins only. After a "
      + "spec fix, Replay checks a message again against the specs in force.",
    "quality.quarantine.empty": "No message in quarantine.",
    "quality.quarantine.none": "No source whose quarantined messages you may read.",
    "quality.quarantine.shown": "the oldest {n} of {total} shown",
    "quality.replay": "Replay",
    "quality.replayAll": "Replay all ({n})",
    "quality.field": "Field",
    "quality.message": "Message",
    "quality.withheld": "Withheld",
    "quality.replayed.stored": "Message {id}: stored.",
    "quality.replayed.quarantined": "Message {id}: quarantined again — {reason}",
    "quality.replayed.pending": "Message {id}: still being processed.",
    "quality.replayed.all": "{n} replayed: {stored} stored, {quarantined} quarantined",
  },
});

const view = {
  window: WINDOWS.includes(new URLSearchParams(location.search).get("window"))
    ? new URLSearchParams(location.search).get("window") : "PT1H",
  quality: null,            // the last /api/quality
  quarantine: new Map(),    // source → its quarantined messages (the oldest SHOWN)
  busy: false,              // a replay is under way: its buttons wait
  result: null,             // what the last replay came to: {text: () => string, kind}
};
let timer = null;
let asked = 0;               // the newest refresh: an older answer is not shown

export async function start(main) {
  main.replaceChildren(
    el("section", { class: "q-sources", "aria-labelledby": "q-title" },
      el("div", { class: "q-head" },
        el("h2", { id: "q-title", "data-t": "quality.title" }, t("quality.title")),
        el("div", { id: "q-windows", class: "q-windows", role: "group", "aria-label": t("quality.window") }),
        el("p", { id: "q-range", class: "note" })),
      el("div", { id: "q-cards", class: "q-cards" }),
      el("p", { class: "note q-basis", "data-t": "quality.basis" }, t("quality.basis"))),
    el("section", { class: "q-quarantine", "aria-labelledby": "q-quarantine-title" },
      el("h2", { id: "q-quarantine-title", "data-t": "quality.quarantine" }, t("quality.quarantine")),
      el("p", { class: "note", "data-t": "quality.quarantine.note" }, t("quality.quarantine.note")),
      el("p", { id: "q-result", class: "q-result", role: "status", "aria-live": "polite" }),
      el("div", { id: "q-messages", class: "q-messages" })));
  renderWindows();
  onLanguage(render);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
  await refresh();
}

async function refresh() {
  clearTimeout(timer);
  const n = ++asked;
  let every = 30000;
  try {
    const q = await api(`/api/quality?window=${view.window}`);
    const lists = await Promise.all(q.sources.filter((s) => s.quarantine.readable && s.quarantine.open > 0)
      .map(async (s) => [s.source, await api(`/api/quarantine?source=${encodeURIComponent(s.source)}&limit=${SHOWN}`)]));
    if (n !== asked) return;          // a newer refresh is under way: it shows
    view.quality = q;
    view.quarantine = new Map(lists);
    every = (q.refreshSeconds || 30) * 1000;
    render();
    status(() => t("status.updated", { time: time(q.now) }));
  } catch (e) {
    if (n !== asked) return;
    failed(e);
  }
  document.body.dataset.ready = "true";
  timer = setTimeout(() => { if (!document.hidden) refresh(); }, every);
}

function setWindow(w) {
  view.window = w;
  const url = new URL(location.href);
  url.searchParams.set("window", w);
  history.replaceState(null, "", url);
  renderWindows();
  refresh();
}

function render() {
  renderWindows();
  if (!view.quality) return;
  const q = view.quality;
  document.getElementById("q-range").textContent = t("quality.range", { from: dateTime(q.since), to: dateTime(q.now) });
  const cards = document.getElementById("q-cards");
  cards.replaceChildren(...(q.sources.length ? q.sources.map(card)
    : [el("p", { class: "card note", id: "q-none" }, t("quality.none"))]));
  renderQuarantine();
  renderResult();
}

function renderResult() {
  const p = document.getElementById("q-result");
  p.textContent = view.result ? view.result.text() : "";
  p.dataset.kind = view.result?.kind ?? "";
}

function said(text, kind = "") {
  view.result = { text, kind };
  renderResult();
}

function renderWindows() {
  const box = document.getElementById("q-windows");
  box.setAttribute("aria-label", t("quality.window"));
  box.replaceChildren(...WINDOWS.map((w) => el("button", { type: "button", "data-window": w,
    "aria-pressed": String(w === view.window), onclick: () => setWindow(w) }, t(`quality.window.${w}`))));
}

// -- the figures of a source -------------------------------------------------------------------------------

function percent(x) { return number(x, { style: "percent", maximumFractionDigits: 1 }); }

function figure(name, value, shown, extra = null) {
  return el("div", { class: "row", "data-figure": name, "data-value": value ?? "" },
    el("dt", {}, t(`quality.${name}`)), el("dd", {}, shown, extra));
}

function card(s) {
  const m = s.messages;
  const c = s.completeness;
  const lat = s.latency;
  const rows = [
    figure("received", m.received, number(m.received)),
    figure("stored", m.stored + m.storedFlagged, number(m.stored + m.storedFlagged)),
    m.storedFlagged ? figure("flagged", m.storedFlagged, number(m.storedFlagged)) : null,
    m.duplicate ? figure("duplicate", m.duplicate, number(m.duplicate)) : null,
    m.pending ? figure("pending", m.pending, number(m.pending)) : null,
    figure("quarantined", m.quarantined, number(m.quarantined)),
    figure("rejectionRate", m.rejectionRate, m.rejectionRate === null ? "—" : percent(m.rejectionRate)),
  ];
  const complete = c.value === null
    ? el("p", { class: "note" }, t(`quality.completeness.${c.basis}`))
    : el("div", {},
      el("div", { class: "q-bar", role: "img", "aria-label": percent(c.value) },
        el("span", { style: `width: ${Math.round(c.value * 100)}%` })),
      el("p", { class: "note" }, t("quality.completeness.detail", { devices: number(c.devices),
        reporting: number(c.reporting), expected: number(c.expectedPerDevice, { maximumFractionDigits: 1 }),
        interval: duration(c.reportingIntervalSeconds) })));
  const reasons = s.rejections.length
    ? el("ul", { class: "q-reasons" }, s.rejections.map((r) => el("li", { "data-reason": r.reason },
      el("code", {}, r.reason), r.field ? el("span", { class: "note" }, ` ${r.field}`) : null, " ",
      el("b", {}, `× ${number(r.count)}`))))
    : el("p", { class: "note" }, t("quality.reasons.none"));
  return el("article", { class: "card q-card", "data-source": s.source, "data-service": s.service.id },
    el("header", {},
      el("h3", {}, s.source, s.status !== "live" ? el("span", { class: "chip" }, t("quality.testing")) : null),
      el("p", { class: "note" }, label(s.service.name), s.vendor ? ` · ${s.vendor}` : "")),
    el("dl", {}, rows),
    el("div", { class: "q-part", "data-figure": "completeness", "data-value": c.value ?? "" },
      el("h4", {}, t("quality.completeness"), " ", el("b", {}, c.value === null ? "—" : percent(c.value))),
      complete),
    el("div", { class: "q-part", "data-figure": "latency", "data-value": lat ? lat.p50 : "" },
      el("h4", {}, t("quality.latency")),
      el("p", {}, lat
        ? t("quality.latency.values", { p50: duration(lat.p50), p95: duration(lat.p95), max: duration(lat.max) })
        : el("span", { class: "note" }, t("quality.latency.none")))),
    el("div", { class: "q-part", "data-figure": "reasons" }, el("h4", {}, t("quality.reasons")), reasons));
}

// -- the quarantine --------------------------------------------------------------------------------------

function renderQuarantine() {
  const box = document.getElementById("q-messages");
  const readable = view.quality.sources.filter((s) => s.quarantine.readable);
  if (!readable.length) {
    box.replaceChildren(el("p", { class: "card note" }, t("quality.quarantine.none")));
    return;
  }
  const waiting = readable.filter((s) => s.quarantine.open > 0 && view.quarantine.has(s.source));
  if (!waiting.length) {
    box.replaceChildren(el("p", { class: "card note", id: "q-empty" }, t("quality.quarantine.empty")));
    return;
  }
  box.replaceChildren(...waiting.map((s) => {
    const list = view.quarantine.get(s.source);
    return el("article", { class: "card q-group", "data-source": s.source },
      el("header", {},
        el("h3", {}, s.source),
        el("button", { type: "button", class: "q-replay-all", disabled: view.busy,
          onclick: () => replayAll(s.source) }, t("quality.replayAll", { n: number(s.quarantine.open) }))),
      list.length < s.quarantine.open
        ? el("p", { class: "note" },
          t("quality.quarantine.shown", { n: number(list.length), total: number(s.quarantine.open) }))
        : null,
      el("ol", { class: "q-list" }, list.map(message)));
  }));
}

function message(q) {
  const shown = q.records ? JSON.stringify(q.records, null, 1) : q.body ?? q.body_base64 ?? null;
  return el("li", { class: "q-msg", "data-raw-id": q.rawId },
    el("div", { class: "q-msg-head" },
      el("time", { datetime: q.receivedAt }, dateTime(q.receivedAt)),
      el("code", { class: "reason" }, q.reason),
      q.field ? el("span", { class: "field" }, `${t("quality.field")}: `, el("code", {}, q.field)) : null,
      el("button", { type: "button", class: "q-replay", disabled: view.busy, onclick: () => replayOne(q.rawId) },
        t("quality.replay"))),
    q.detail ? el("p", { class: "detail" }, q.detail) : null,
    el("details", {},
      el("summary", {}, `${t("quality.message")} ${q.rawId}`),
      shown !== null ? el("pre", {}, shown) : el("p", { class: "note" }, `${t("quality.withheld")}: ${q.withheld}`)));
}

function setBusy(busy) {
  view.busy = busy;
  for (const b of document.querySelectorAll(".q-replay, .q-replay-all")) b.disabled = busy;
}

async function replayOne(id) {
  setBusy(true);
  try {
    const done = await send(`/api/quarantine/${id}/replay`);
    const m = done.messages[0];
    const kind = m.outcome === "quarantined" || m.outcome === "pending" ? m.outcome : "stored";
    said(() => t(`quality.replayed.${kind}`, { id, reason: [m.reason, m.field].filter(Boolean).join(" · ") }),
      kind === "stored" ? "ok" : "error");
  } catch (e) {
    said(() => (e instanceof ApiError ? e.message : t("status.failed")), "error");
  }
  setBusy(false);
  await refresh();
}

async function replayAll(source) {
  setBusy(true);
  const sum = { n: 0, stored: 0, quarantined: 0 };
  try {
    let after = 0;
    do {
      const done = await send("/api/quarantine/replay", { body: { source, after } });
      sum.n += done.replayed;
      sum.quarantined += done.outcomes.quarantined ?? 0;
      sum.stored += (done.outcomes.stored ?? 0) + (done.outcomes.stored_flagged ?? 0);
      after = done.next;
    } while (after);
    said(() => t("quality.replayed.all", { n: number(sum.n), stored: number(sum.stored),
      quarantined: number(sum.quarantined) }), sum.quarantined ? "error" : "ok");
  } catch (e) {
    said(() => (e instanceof ApiError ? e.message : t("status.failed")), "error");
  }
  setBusy(false);
  await refresh();
}
