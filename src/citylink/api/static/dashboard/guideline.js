// The linkage guideline page: the guideline for the specs in force (GET /api/guideline: the body `citylink spec doc`
// writes, Korean and English side by side) and a form that checks a sample payload against a source
// (POST /api/check-feed: what `citylink check-feed` reports; nothing is stored).  Public: vendors have no account.
//
// The guideline's HTML comes from markdown-it with raw HTML off (no script, no handler can be in it).
import { ApiError, addStrings, api, el, failed, label, number, onLanguage, send, status, t } from "./shell.js";

addStrings({
  ko: {
    "guideline.version": "연계 표준 버전 {version}",
    "guideline.check.title": "샘플 페이로드 검사",
    "guideline.check.intro": "업체 시스템이 보낼 메시지를 붙여 넣으면, 플랫폼이 무엇을 저장할지 또는 왜 격리할지 보여 줍니다. "
      + "아무것도 저장하지 않으며, citylink check-feed와 같은 검사입니다.",
    "guideline.check.source": "소스",
    "guideline.check.payload": "페이로드",
    "guideline.check.example": "예시로 채우기",
    "guideline.check.noExample": "이 소스의 예시는 이 화면에서 볼 수 없습니다.",
    "guideline.check.about": "형식 {format} · 인코딩 {encoding} · Content-Type {type}",
    "guideline.check.anyType": "제한 없음",
    "guideline.check.testing": "시험 중",
    "guideline.check.submit": "검사",
    "guideline.check.checking": "검사 중…",
    "guideline.check.empty": "검사할 페이로드를 붙여 넣으십시오.",
    "guideline.check.summary": "메시지 {n}개: {stored}개 저장 예정, {quarantined}개 격리",
    "guideline.check.summaryOne": "메시지 1개: {stored}개 저장 예정, {quarantined}개 격리",
    "guideline.check.message": "메시지 {n}",
    "guideline.check.values": "저장할 값",
    "guideline.check.problems": "문제",
    "guideline.check.withheld": "비공개",
    "guideline.check.withheldNote": "‘비공개’ 값은 이 화면에서 볼 수 없는 속성입니다. 담당 부서 직원은 로그인하면 볼 수 있습니다.",
    "guideline.col.entity": "엔터티",
    "guideline.col.attribute": "속성",
    "guideline.col.value": "값",
    "guideline.col.unit": "단위",
    "guideline.col.observedAt": "관측 시각 (UTC)",
    "guideline.col.flags": "표시",
    "guideline.col.type": "사유",
    "guideline.col.field": "필드",
    "guideline.col.detail": "설명",
    "guideline.outcome.stored": "저장 예정",
    "guideline.outcome.stored_flagged": "품질 표시와 함께 저장 예정",
    "guideline.outcome.duplicate": "중복",
    "guideline.outcome.quarantined": "격리",
  },
  en: {
    "guideline.version": "Guideline version {version}",
    "guideline.check.title": "Check a sample payload",
    "guideline.check.intro": "Paste a message as your system would send it: see what the platform would store, or "
      + "why it would quarantine it. Nothing is stored; this is the check citylink check-feed makes.",
    "guideline.check.source": "Source",
    "guideline.check.payload": "Payload",
    "guideline.check.example": "Fill with the example",
    "guideline.check.noExample": "This source's example cannot be shown here.",
    "guideline.check.about": "Format {format} · encoding {encoding} · Content-Type {type}",
    "guideline.check.anyType": "any",
    "guideline.check.testing": "testing",
    "guideline.check.submit": "Check",
    "guideline.check.checking": "Checking…",
    "guideline.check.empty": "Paste a payload to check.",
    "guideline.check.summary": "{n} messages: {stored} would be stored, {quarantined} quarantined",
    "guideline.check.summaryOne": "1 message: {stored} would be stored, {quarantined} quarantined",
    "guideline.check.message": "Message {n}",
    "guideline.check.values": "Values it would store",
    "guideline.check.problems": "Problems",
    "guideline.check.withheld": "withheld",
    "guideline.check.withheldNote": "Withheld values are of attributes not shown here; the owning department's "
      + "staff see them when signed in.",
    "guideline.col.entity": "Entity",
    "guideline.col.attribute": "Attribute",
    "guideline.col.value": "Value",
    "guideline.col.unit": "Unit",
    "guideline.col.observedAt": "observedAt (UTC)",
    "guideline.col.flags": "Flags",
    "guideline.col.type": "Type",
    "guideline.col.field": "Field",
    "guideline.col.detail": "Detail",
    "guideline.outcome.stored": "would be stored",
    "guideline.outcome.stored_flagged": "would be stored, with quality flags",
    "guideline.outcome.duplicate": "duplicate",
    "guideline.outcome.quarantined": "quarantined",
  },
});

const VALUE_COLUMNS = ["entity", "attribute", "value", "unit", "observedAt", "flags"];
const PROBLEM_COLUMNS = ["type", "field", "detail"];

const view = {
  version: null,      // GET /api/guideline's version
  sources: null,      // GET /api/guideline/sources
  result: null,       // the last check's answer
  error: null,        // or what went wrong with it: a function giving the text (said again in a new language)
};

/** A heading or label whose text the language switch says again (the shell re-reads data-t). */
function said(tag, id, attrs = {}) { return el(tag, { ...attrs, "data-t": id }, t(id)); }

export async function start(main) {
  const form = el("form", { id: "check-form", class: "check-form" },
    el("label", { for: "check-source" }, said("span", "guideline.check.source")),
    el("select", { id: "check-source", name: "source", required: true }),
    el("p", { id: "check-about", class: "note" }),
    el("div", { class: "payload-head" },
      el("label", { for: "check-payload" }, said("span", "guideline.check.payload")),
      said("button", "guideline.check.example", { type: "button", id: "check-example" })),
    el("textarea", { id: "check-payload", name: "payload", rows: 12, spellcheck: "false", autocapitalize: "none",
      autocomplete: "off", wrap: "off" }),
    said("button", "guideline.check.submit", { type: "submit", id: "check-submit" }));
  main.replaceChildren(
    el("section", { id: "check", class: "card check", "aria-labelledby": "check-title" },
      said("h2", "guideline.check.title", { id: "check-title" }),
      said("p", "guideline.check.intro", { class: "note" }),
      form,
      el("div", { id: "check-result", "aria-live": "polite" })),
    el("article", { id: "guideline", class: "card guideline" }));
  form.addEventListener("submit", (e) => { e.preventDefault(); check(); });
  form.source.addEventListener("change", renderAbout);
  document.getElementById("check-example").addEventListener("click", fillExample);
  onLanguage(() => { renderSources(); renderAbout(); renderResult(); renderVersion(); });
  try {
    const [doc, sources] = await Promise.all([api("/api/guideline"), api("/api/guideline/sources")]);
    view.version = doc.version;
    view.sources = sources;
    // markdown-it's rendering with raw HTML off: text is escaped, links checked; the page's policy runs no script
    document.getElementById("guideline").innerHTML = doc.html;
    renderSources();
    renderAbout();
    renderVersion();
    document.body.dataset.ready = "true";
  } catch (e) {
    failed(e);
  }
}

function renderVersion() {
  if (view.version) status(() => t("guideline.version", { version: view.version.id }));
}

// -- the form ------------------------------------------------------------------------------------------

function source() {
  const id = document.getElementById("check-source").value;
  return view.sources?.sources.find((s) => s.id === id) ?? null;
}

/** The sources grouped by service, the service's name in the current language (kept selected across a switch). */
function renderSources() {
  if (!view.sources) return;
  const select = document.getElementById("check-source");
  const chosen = select.value;
  select.replaceChildren(...view.sources.services.map((svc) => el("optgroup", { label: label(svc.name) },
    view.sources.sources.filter((s) => s.service === svc.id).map((s) => el("option", { value: s.id },
      `${s.id} — ${s.vendor ?? ""}${s.status === "testing" ? ` (${t("guideline.check.testing")})` : ""}`)))));
  if (chosen) select.value = chosen;
}

function renderAbout() {
  const s = source();
  const about = document.getElementById("check-about");
  if (!s) { about.textContent = ""; return; }
  about.textContent = t("guideline.check.about", { format: s.format, encoding: s.encoding,
    type: s.contentType ?? t("guideline.check.anyType") });
  const button = document.getElementById("check-example");
  button.disabled = s.example === null;
  button.title = s.example === null ? t("guideline.check.noExample") : "";
}

function fillExample() {
  const s = source();
  if (s?.example != null) document.getElementById("check-payload").value = s.example;
}

// -- the check -------------------------------------------------------------------------------------------

let asked = 0;     // the newest check: an older answer is not shown

async function check() {
  const s = source();
  const text = document.getElementById("check-payload").value;
  if (!s) return;
  if (!text.trim()) { view.result = null; view.error = () => t("guideline.check.empty"); renderResult(); return; }
  const n = ++asked;
  const submit = document.getElementById("check-submit");
  submit.disabled = true;
  submit.textContent = t("guideline.check.checking");
  try {
    const got = await send(`/api/check-feed?source=${encodeURIComponent(s.id)}&text=true`, { text });
    if (n !== asked) return;
    view.result = got;
    view.error = null;
  } catch (e) {
    if (n !== asked) return;
    view.result = null;
    view.error = e instanceof ApiError ? () => e.message : null;   // the API's detail names what is wrong
    if (view.error === null) failed(e);
  } finally {
    if (n === asked) {
      submit.disabled = false;
      submit.textContent = t("guideline.check.submit");
    }
  }
  renderResult();
}

function renderResult() {
  const box = document.getElementById("check-result");
  if (view.error) {
    box.replaceChildren(el("p", { id: "check-error", class: "error", role: "alert" }, view.error()));
    return;
  }
  const got = view.result;
  if (!got) { box.replaceChildren(); return; }
  const withheld = got.reports.some((r) => r.values.some((v) => v.withheld));
  box.replaceChildren(
    el("p", { id: "check-summary", class: "summary", "data-messages": got.messages, "data-stored": got.stored,
      "data-quarantined": got.quarantined },
    t(got.messages === 1 ? "guideline.check.summaryOne" : "guideline.check.summary",
      { n: number(got.messages), stored: number(got.stored), quarantined: number(got.quarantined) })),
    ...(withheld ? [el("p", { class: "note" }, t("guideline.check.withheldNote"))] : []),
    ...got.reports.map(report));
}

function report(r) {
  const where = Object.entries(r.meta).map(([k, v]) => `${k} ${v}`).join(", ");
  return el("section", { class: "report", "data-message": r.message, "data-outcome": r.outcome },
    el("h3", {}, t("guideline.check.message", { n: r.message }),
      where ? el("span", { class: "where" }, ` (${where})`) : null,
      ": ", el("span", { class: `outcome ${r.outcome}` }, t(`guideline.outcome.${r.outcome}`))),
    r.values.length ? table("values", t("guideline.check.values"), VALUE_COLUMNS, r.values.map(valueRow)) : null,
    r.problems.length ? table("problems", t("guideline.check.problems"), PROBLEM_COLUMNS, r.problems.map(problemRow))
      : null);
}

function table(kind, caption, columns, rows) {
  return el("div", { class: "scroll" }, el("table", { class: `data ${kind}` },
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col" }, t(`guideline.col.${c}`))))),
    el("tbody", {}, rows)));
}

const withheldMark = () => el("span", { class: "withheld" }, t("guideline.check.withheld"));

function valueRow(v) {
  return el("tr", { "data-attribute": v.attribute },
    el("td", { class: "entity" }, v.entity ? el("code", {}, v.entity) : withheldMark()),
    el("td", {}, el("code", {}, v.attribute)),
    el("td", { class: "value" }, v.withheld ? withheldMark() : el("code", {}, JSON.stringify(v.value))),
    el("td", {}, v.unitCode ?? ""),
    el("td", {}, v.observedAt),
    el("td", {}, v.flags.join(", ")));
}

function problemRow(p) {
  return el("tr", { "data-type": p.type, "data-field": p.field ?? "" },
    el("td", {}, el("code", {}, p.type)), el("td", {}, p.field ? el("code", {}, p.field) : ""),
    el("td", { class: "detail" }, p.detail));
}
