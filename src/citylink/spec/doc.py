"""The linkage guideline: the specs in force, written out for vendors as Markdown and HTML.

``citylink spec doc`` calls :func:`render_guideline`.  Everything in the document is
derived from what the platform itself runs — the spec files, the registered transports
and payload formats, the UN/CEFACT unit table, the JSON Schemas — so the guideline can
never say something the platform does not do.  Each source's ``payload.example`` is run
through the normalizer (:func:`check_example`) and the values it becomes are printed next
to it: an example that does not normalize is shown with its problems, prominently.

The Markdown comes from Jinja2 templates in ``templates/``; the HTML page is that
Markdown rendered by markdown-it-py inside a standalone HTML5 page (inline CSS, no
external assets).
"""
from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jinja2
from markdown_it import MarkdownIt

from .. import __version__, payload
from ..adapters import transports
from ..clock import ManualClock, to_us
from ..config import Settings
from ..errors import SpecError
from ..ids import entity_urn, local_id_part
from ..normalize.records import FLAG_NAMES, OUTCOME_NAMES
from . import units
from .devices import load_registry
from .loader import schema_text
from .model import NUMERIC, AttributeSpec, ServiceSpec, SourceSpec, SpecSet

# What a vendor can read in a quarantined message's problems: slug → (Korean, English).
# tests/spec/test_guideline_doc.py checks that every slug the normalizer and the payload
# formats can produce is listed here.
QUARANTINE_REASONS: dict[str, tuple[str, str]] = {
    "unknown_source": ("적용 중인 소스 사양이 없는 소스", "no source spec with this id is in force"),
    "undecodable_text": ("payload.encoding으로 읽을 수 없는 바이트", "bytes that are not valid text in payload.encoding"),
    "malformed_json": ("JSON 문법 오류 (위치 표시)", "not valid JSON (with the line and column)"),
    "malformed_csv": ("CSV 형식 오류 (열 개수 불일치 등)", "not valid CSV (e.g. a row with more or fewer cells than the header)"),
    "no_records": ("레코드가 없는 메시지", "the message holds no records"),
    "bad_lorawan_envelope": ("네트워크 서버 업링크 형식이 아님", "not an uplink of the declared LoRaWAN network server"),
    "undecodable_payload": ("바이너리 페이로드를 디코더로 읽을 수 없음", "the binary payload does not fit the declared decoder"),
    "no_values": ("측정값이 하나도 없는 메시지 (모든 필드가 비어 있음)", "the message carries no reading: every mapped field is empty"),
    "wrong_type": ("값의 형식이 속성 유형과 다름", "a value of the wrong type for its attribute"),
    "missing_entity_id": ("엔터티 ID 템플릿의 값이 없음", "no value for the entity id template"),
    "missing_timestamp": ("시각 필드가 없음", "no value in the timestamp field"),
    "bad_timestamp": ("시각 형식이 사양과 다름", "the timestamp does not match timestamp.format"),
    "timestamp_in_future": ("허용 한도보다 미래의 시각", "the timestamp is further ahead of the platform clock than allowed"),
    "missing_required": ("필수 속성 값이 없음", "a required attribute has no value"),
    "out_of_range": ("범위를 벗어난 값 (on_out_of_range: reject)", "a value outside its range (on_out_of_range: reject)"),
    "unknown_code": ("코드표에 없는 값 (on_out_of_range: reject)", "a value not in the code table (on_out_of_range: reject)"),
    "unknown_quantity": ("long.attributes에 없는 측정 항목", "a long-format quantity not listed in long.attributes"),
    "unknown_unit": ("변환할 수 없는 행 단위", "a per-row unit that cannot be converted"),
    "expression_error": ("계산식이 이 데이터에서 실패", "a computed field's expression failed on this data"),
    "bad_position": ("좌표가 선언한 좌표계의 위치가 아님", "the coordinates are not a position in the declared CRS"),
    # the platform's own source ngsi-ld-api: an archived NGSI-LD API write that cannot be applied (edited by
    # hand, or from another version); vendors never see these
    "unknown_write_format": ("NGSI-LD API 쓰기 기록의 형식 버전이 다름 (플랫폼 내부)",
                             "an NGSI-LD API write of another format version (the platform's own source)"),
    "bad_write": ("NGSI-LD API 쓰기 기록이 손상됨 (플랫폼 내부)",
                  "a damaged NGSI-LD API write record (the platform's own source)"),
}

# Refused at the transport, before anything is archived (HTTP status in brackets).
TRANSPORT_REFUSALS: dict[str, tuple[str, str]] = {
    "bad_token": ("토큰이 없거나 틀림 (401)", "missing or wrong token (401)"),
    "unknown_source": ("알 수 없는 소스 (404)", "unknown source (404)"),
    "too_large": ("본문이 크기 한도를 넘음 (413)", "body over the size limit (413)"),
    "unsupported_media_type": ("payload.format과 맞지 않는 Content-Type (415)",
                               "a Content-Type that does not fit payload.format (415)"),
    "empty_body": ("빈 본문 (400)", "empty body (400)"),
}

OUTCOME_TEXT: dict[str, tuple[str, str]] = {
    "stored": ("저장됨", "stored"),
    "stored_flagged": ("품질 표시와 함께 저장됨", "stored with quality flags"),
    "duplicate": ("중복 (이미 받은 메시지)", "duplicate of a message already received"),
    "quarantined": ("격리됨 (사유 포함, 사양 수정 후 재처리 가능)",
                    "quarantined, with its problems; replayed once the spec is fixed"),
}

FLAG_TEXT: dict[str, tuple[str, str]] = {
    "out_of_range": ("범위를 벗어남 (on_out_of_range: flag)", "outside the attribute's range (on_out_of_range: flag)"),
    "clock_skew": ("기기 시계가 플랫폼보다 앞섬", "the device clock is ahead of the platform's"),
    "late": ("늦게 도착함 (파일 일괄 적재 제외)", "arrived late (not for file backfills)"),
    "nonexistent_local_time": ("일광절약시간 전환으로 존재하지 않는 현지 시각",
                               "a local time skipped by a daylight saving change"),
    "ambiguous_local_time": ("일광절약시간 전환으로 두 번 있었던 현지 시각 (앞의 것으로 해석)",
                             "a local time that happened twice at a daylight saving change (read as the first)"),
    "unknown_code": ("코드표에 없는 값 (on_out_of_range: flag)", "a value not in the code table (on_out_of_range: flag)"),
}

# Notes on the built-in payload formats; a plug-in format is described by its docstring.
FORMAT_NOTES: dict[str, tuple[str, str]] = {
    "json": ("JSON 객체 하나가 메시지 하나. 최상위 JSON 배열은 요소마다 메시지 하나로 나뉩니다(일괄 전송). "
             "payload.records를 주면 그 경로의 목록이 레코드이며, 각 레코드에서 `$.`로 메시지 최상위를 참조합니다.",
             "One JSON object is one message. A top-level JSON array is cut into one message per element "
             "(a batch). With payload.records, the list at that path holds the records, and `$.` reaches the "
             "message root from each record."),
    "jsonl": ("JSON Lines: 한 줄이 메시지 하나. 빈 줄은 무시합니다.",
              "JSON lines: one line is one message; blank lines are skipped."),
    "csv": ("머리글 행이 있는 CSV. 데이터 행 하나가 메시지 하나이며 머리글 행과 함께 원본 바이트 그대로 보관됩니다. "
            "구분자와 따옴표는 payload.csv에서 바꿀 수 있습니다.",
            "CSV with a header row. Each data row is one message, archived with the header line in its "
            "original bytes. The delimiter and quote character can be set in payload.csv."),
}

VISIBILITY_TEXT = {"public": "공개 / public", "internal": "내부 / internal", "restricted": "제한 / restricted"}
FAR_FUTURE = datetime(2200, 1, 1, tzinfo=timezone.utc)
TOC_MARK = "[[toc]]"
# in place of an example a page does not show its reader (guideline_body)
EXAMPLE_WITHHELD = (
    "*예시 비공개 / Example withheld.* 이 소스의 예시에는 이 화면에 공개하지 않는 값(내부·제한 정보 또는 개인정보)이 "
    "들어 있습니다. 전체 가이드라인은 구청에 요청하십시오(`citylink spec doc`). / This source's example holds values "
    "that are not shown here (internal or restricted data, or personal data); ask the district for the full "
    "guideline (`citylink spec doc`).")


# -- the payload examples, normalized ---------------------------------------------------------------
@dataclass
class ExampleCheck:
    """A source's ``payload.example`` and what the normalizer makes of it."""

    source: str
    text: str | None = None        # the example as printed in the guideline
    lang: str = "text"             # code-fence language: json, csv, text
    reports: list[dict] = field(default_factory=list)  # check_feed's reports
    error: str | None = None       # the example could not even be turned into bytes

    @property
    def problems(self) -> list[dict]:
        return [dict(p, message=r["message"]) for r in self.reports for p in r["problems"]]

    @property
    def ok(self) -> bool:
        return (self.text is not None and self.error is None and bool(self.reports)
                and all(r["outcome"] != "quarantined" for r in self.reports))


def example_payload(src: SourceSpec) -> tuple[str, str, bytes] | None:
    """The example as text (to print), its code-fence language, and the bytes a vendor would send.

    Raises ``UnicodeEncodeError`` / ``LookupError`` when the text does not fit ``payload.encoding``.
    """
    ex = src.payload.get("example")
    if ex is None:
        return None
    fmt = src.payload["format"]
    if isinstance(ex, str):
        text = ex
    elif fmt == "jsonl":
        items = ex if isinstance(ex, list) else [ex]
        text = "\n".join(json.dumps(i, ensure_ascii=False, default=str) for i in items) + "\n"
    else:
        text = json.dumps(ex, ensure_ascii=False, indent=2, default=str) + "\n"
    lang = {"json": "json", "jsonl": "json", "csv": "csv"}.get(fmt, "text")
    return text, lang, text.encode(src.payload.get("encoding", "utf-8"))


def check_example(specs: SpecSet, source_id: str) -> ExampleCheck:
    """Normalize a source's example offline, as if it arrived a minute after its newest reading.

    The platform clock is set from the example itself, so the result (and the guideline) does
    not change with the day it is rendered: an example is not ``late`` because it is old.
    """
    from ..normalize.check import check_feed

    src = specs.sources[source_id]
    try:
        got = example_payload(src)
    except (UnicodeEncodeError, LookupError) as e:
        return ExampleCheck(source_id, str(src.payload.get("example")), "text",
                            error=f"the example cannot be written in payload.encoding "
                                  f"{src.payload.get('encoding', 'utf-8')!r}: {e}")
    if got is None:
        return ExampleCheck(source_id)
    text, lang, data = got
    first = check_feed(specs, source_id, data, clock=ManualClock(FAR_FUTURE))
    seen = [datetime.fromisoformat(v["observedAt"]) for r in first for v in r["values"]]
    if not seen:
        return ExampleCheck(source_id, text, lang, first)
    arrival = ManualClock(to_us(max(seen) + timedelta(minutes=1)))
    return ExampleCheck(source_id, text, lang, check_feed(specs, source_id, data, clock=arrival))


# -- guideline version ----------------------------------------------------------------------------------
def _registry_path(src: SourceSpec) -> Path | None:
    if not src.devices:
        return None
    return Path(src.origin.file).parent / src.devices


def guideline_version(specs: SpecSet) -> dict[str, str]:
    """Derived from the specs: the newest changelog date plus a digest of every spec file,
    device registry and JSON Schema, so the same specs always give the same version."""
    h = hashlib.sha256()
    dates = []
    for kind, items in (("service", specs.services), ("source", specs.sources)):
        for sid in sorted(items):
            spec = items[sid]
            h.update(f"{kind}\x1f{sid}\x1f{spec.version}\x1f{spec.origin.sha256}\n".encode())
            dates += [str(c["date"]) for c in spec.changelog if c.get("date")]
            reg = _registry_path(spec) if kind == "source" else None
            if reg is not None and reg.exists():
                h.update(hashlib.sha256(reg.read_bytes()).digest())
    for kind in ("service", "source"):
        h.update(schema_text(kind).encode())
    date = max(dates) if dates else "undated"
    digest = h.hexdigest()
    return {"id": f"{date}+{digest[:10]}", "date": date, "digest": digest}


# -- view model ---------------------------------------------------------------------------------------------
def label(lbl) -> dict[str, str]:
    return {"ko": lbl.ko, "en": lbl.en} if lbl else {"ko": "", "en": ""}


def _duration(text: str | None, seconds: float | None) -> str:
    if not text:
        return "—"
    s = int(seconds or 0)
    for unit_s, ko, en in ((86400, "일", "d"), (3600, "시간", "h"), (60, "분", "min")):
        if s >= unit_s and s % unit_s == 0:
            return f"{text} ({s // unit_s}{ko} / {s // unit_s} {en})"
    return f"{text} ({s}초 / {s} s)"


def _unit(code: str | None) -> str:
    return f"{code} ({units.symbol(code)})" if code in units.UNITS else (code or "")


def _num(x: float) -> str:
    return f"{x:.6g}"


def _conversion(vendor: str | None, canonical: str | None, molar_mass=None) -> dict[str, str]:
    """Vendor unit → canonical unit, and the arithmetic the platform applies."""
    if not vendor or not canonical:
        return {"units": _unit(canonical or vendor), "formula": ""}
    try:
        c = units.conversion(vendor, canonical, molar_mass)
    except units.UnitProblem as e:
        return {"units": f"{_unit(vendor)} → {_unit(canonical)}", "formula": str(e)}
    if c.identity:
        return {"units": _unit(canonical), "formula": ""}
    formula = f"v × {_num(c.factor)}" + (f" {'+' if c.offset > 0 else '−'} {_num(abs(c.offset))}" if c.offset else "")
    return {"units": f"{_unit(vendor)} → {_unit(canonical)}", "formula": formula}


def _range(attr: AttributeSpec) -> str:
    if not attr.range:
        return ""
    lo, hi = attr.range
    return f"[{'−∞' if lo is None else _num(lo)}, {'∞' if hi is None else _num(hi)}]"


def _attribute_view(a: AttributeSpec) -> dict[str, Any]:
    checked = bool(a.range) or bool(a.codes)
    return {
        "name": a.name, "label": label(a.label), "description": label(a.description) if a.description else None,
        "type": a.type, "kind": a.kind, "unit": _unit(a.unit), "unit_label": unit_label(a.unit),
        "range": _range(a), "on_out_of_range": a.on_out_of_range if checked else "",
        "required": a.required, "personal": a.personal, "visibility": VISIBILITY_TEXT.get(a.visibility, a.visibility),
        "iri": a.iri, "codes": [{"code": k, "ko": v.ko, "en": v.en} for k, v in (a.codes or {}).items()],
    }


def unit_label(code: str | None) -> dict[str, str] | None:
    return {"ko": units.label(code, "ko"), "en": units.label(code, "en")} if code in units.UNITS else None


def _mapping_view(name: str, m: dict, attr: AttributeSpec | None, to_unit: str | None = None) -> dict[str, Any]:
    if "from" in m:
        source = ("from", m["from"])
    elif "expr" in m:
        source = ("expr", m["expr"])
    else:
        source = ("value", json.dumps(m["value"], ensure_ascii=False, default=str))
    canonical = to_unit if to_unit is not None else (attr.unit if attr else None)
    conv = _conversion(m.get("unit"), canonical, m.get("molar_mass")) if (attr is None or attr.type in NUMERIC) \
        else {"units": "", "formula": ""}
    notes = []
    if m.get("scale") is not None:
        notes.append(f"scale × {_num(m['scale'])}")
    if m.get("molar_mass") is not None:
        notes.append(f"molar mass {_num(m['molar_mass'])} g/mol (25 °C, 1 atm)")
    if m.get("map"):
        notes.append("map " + ", ".join(f"{k} → {v}" for k, v in m["map"].items()))
    if m.get("optional"):
        notes.append("optional")
    return {"name": name, "label": label(attr.label) if attr else None, "how": source[0], "source": source[1],
            "units": conv["units"], "formula": conv["formula"], "notes": "; ".join(notes)}


def _devices_view(src: SourceSpec) -> dict[str, Any] | None:
    path = _registry_path(src)
    if path is None:
        return None
    try:
        devs = load_registry(path)
    except SpecError as e:  # shown in the guideline; `citylink spec check` names the line
        return {"file": src.devices, "count": None, "columns": [], "error": str(e)}
    return {"file": src.devices, "count": len(devs), "columns": sorted({k for d in devs for k in d.attrs}),
            "error": None}


def _source_view(src: SourceSpec, svc: ServiceSpec, deployment: str, specs: SpecSet) -> dict[str, Any]:
    et = svc.entity_types[src.entity_type]
    reg = transports()
    t = reg.get(src.transport["type"])
    lets = [_mapping_view(n, m, None, m.get("to")) for n, m in src.let.items()]
    fields = [_mapping_view(n, m, et.attributes[n]) for n, m in src.fields.items()]
    long = None
    if src.long:
        rows = []
        for code, target in src.long["attributes"].items():
            target = {"attribute": target} if isinstance(target, str) else target
            attr = et.attributes[target["attribute"]]
            conv = _conversion(target.get("unit"), attr.unit, target.get("molar_mass")) if attr.type in NUMERIC \
                else {"units": "", "formula": ""}
            rows.append({"code": code, "attribute": attr.name, "label": label(attr.label), **conv,
                         "molar_mass": _num(target["molar_mass"]) if target.get("molar_mass") else ""})
        long = {"quantity": src.long["quantity"], "value": src.long["value"], "unit": src.long.get("unit"),
                "units": src.long.get("units") or {}, "rows": rows}
    example = check_example(specs, src.id)
    labels = {a.name: label(a.label) for a in et.attributes.values()}
    values = []
    for r in example.reports:
        for v in r["values"]:
            values.append(dict(v, message=r["message"], outcome=r["outcome"],
                               label=labels.get(v["attribute"], {"ko": "", "en": ""}),
                               shown=json.dumps(v["value"], ensure_ascii=False)))
    p = src.payload
    return {
        "id": src.id, "version": src.version, "vendor": src.vendor or "", "description": src.description or "",
        "status": src.status, "namespace": src.namespace,
        "transport": {"type": src.transport["type"], "title": t.title if t else {"ko": "?", "en": "?"},
                      "keys": {k: v for k, v in src.transport.items() if k != "type"}},
        "payload": {"format": p["format"], "encoding": p.get("encoding", "utf-8"),
                    "missing": [json.dumps(m, ensure_ascii=False) for m in p.get("missing", [])],
                    "records": p.get("records"), "csv": p.get("csv"), "max_bytes": p.get("max_bytes")},
        "entity_type": src.entity_type, "id_template": src.id_template,
        "urn": entity_urn(src.entity_type, deployment, src.id_template, src.namespace),
        "timestamp": {"field": src.timestamp["field"], "format": src.timestamp["format"],
                      "timezone": src.timestamp.get("timezone", "Asia/Seoul")},
        "position": src.position, "lets": lets, "fields": fields, "long": long,
        "dedupe": src.dedupe, "devices": _devices_view(src), "example": example, "values": values,
        "changelog": src.changelog,
    }


def _service_view(svc: ServiceSpec, specs: SpecSet, deployment: str) -> dict[str, Any]:
    d = svc.origin.data
    types = []
    for et in svc.entity_types.values():
        attrs = [_attribute_view(a) for a in et.attributes.values()]
        types.append({"name": et.name, "label": label(et.label), "sdm": et.sdm, "namespace": et.namespace,
                      "iri": et.iri, "attributes": attrs})
    srcs = [_source_view(s, svc, deployment, specs) for sid, s in sorted(specs.sources.items()) if s.service == svc.id]
    return {"id": svc.id, "version": svc.version, "name": label(svc.name),
            "description": label(svc.description) if svc.description else None,
            "department": svc.department, "visibility": VISIBILITY_TEXT.get(svc.visibility, svc.visibility),
            "reporting_interval": _duration(d.get("reporting_interval"), svc.reporting_interval_s),
            "offline_grace": _duration(d.get("offline_grace"), svc.offline_grace_s),
            "types": types, "sources": srcs}


def _changelog(specs: SpecSet) -> list[dict[str, str]]:
    rows = []
    for kind, items in (("service", specs.services), ("source", specs.sources)):
        for sid, spec in items.items():
            for c in spec.changelog:
                changes = c["changes"] if isinstance(c["changes"], list) else [c["changes"]]
                rows.append({"date": str(c.get("date", "")), "kind": kind, "id": sid, "version": c["version"],
                             "changes": changes})
    rows.sort(key=lambda r: (r["kind"] == "source", r["id"], r["version"]))
    rows.sort(key=lambda r: r["date"], reverse=True)  # newest first; services before sources on a day
    return rows


def _schemas() -> list[dict[str, str]]:
    out = []
    for kind in ("service", "source"):
        text = schema_text(kind)
        doc = json.loads(text)
        out.append({"kind": kind, "format": f"{kind}/1", "id": doc.get("$id", ""), "title": doc.get("title", ""),
                    "resource": f"citylink/spec/schema/{kind}.schema.json", "text": text.rstrip()})
    return out


def _formats() -> list[dict[str, str]]:
    out = []
    for name in payload.names():
        ko, en = FORMAT_NOTES.get(name, ("", ""))
        if not en:
            fmt = payload.get(name)
            en = (type(fmt).__doc__ or sys.modules[type(fmt).__module__].__doc__ or name).strip().splitlines()[0]
            ko = en
        out.append({"name": name, "ko": ko, "en": en})
    return out


def _limits() -> dict[str, float]:
    f = Settings.model_fields
    return {k: f[k].default for k in ("max_clock_skew_seconds", "max_future_seconds", "late_after_seconds",
                                      "max_body_bytes")}


def build_context(specs: SpecSet, base_url: str) -> dict[str, Any]:
    base = base_url.rstrip("/")
    deployment = Settings.model_fields["deployment"].default
    services = [_service_view(svc, specs, deployment) for _, svc in sorted(specs.services.items())]
    return {
        "title": {"ko": "CityLink 데이터 연계 표준 가이드라인", "en": "CityLink data linkage guideline"},
        "version": guideline_version(specs), "platform_version": __version__, "base_url": base,
        "deployment": deployment,
        "specs": [{"kind": k, "id": i, "version": s.version, "sha": s.origin.sha256[:12]}
                  for k, items in (("service", specs.services), ("source", specs.sources))
                  for i, s in sorted(items.items())],
        "transports": [{"name": t.name, "title": t.title, "profile": t.profile.replace("{base}", base), "keys": t.keys}
                       for _, t in sorted(transports().items())],
        "formats": _formats(), "limits": _limits(), "services": services,
        "sources": [s for svc in services for s in svc["sources"]],
        "broken": [s["id"] for svc in services for s in svc["sources"] if not s["example"].ok],
        "urn_example": entity_urn("AirQualityObserved", deployment, local_id_part("도봉구"), "seoul"),
        "units": [{"code": c, "symbol": u[3], "ko": u[1], "en": u[2]} for c, u in units.UNITS.items()],
        "changelog": _changelog(specs), "schemas": _schemas(),
        "reasons": QUARANTINE_REASONS, "refusals": TRANSPORT_REFUSALS,
        "outcomes": [(n, *OUTCOME_TEXT[n]) for n in OUTCOME_NAMES.values() if n in OUTCOME_TEXT],
        "flags": [(n, *FLAG_TEXT.get(n, (n, n))) for n in FLAG_NAMES.values()],
    }


# -- rendering ------------------------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    text = "" if value is None else str(value)
    return re.sub(r"\s*\n\s*", " ", text).replace("|", "\\|").strip()


def _code(value: Any) -> str:
    """An inline code span that survives backticks in the value."""
    text = "" if value is None else str(value)
    if text == "":
        return ""
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * (max(runs) + 1 if runs else 1)
    pad = " " if runs or text.startswith(" ") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _fence(text: str, lang: str = "") -> str:
    runs = [len(r) for r in re.findall(r"`{3,}", text)]
    fence = "`" * (max(runs) + 1 if runs else 3)
    return f"{fence}{lang}\n{text.rstrip(chr(10))}\n{fence}"


def _environment(*, html: bool) -> jinja2.Environment:
    """Templates in ``templates/``; the Markdown one writes text as it is (markdown-it escapes it for
    the page), the HTML one escapes everything but the rendered body."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("citylink.spec", "templates"), autoescape=html,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters.update(cell=_cell, code=_code, fence=_fence)
    return env


def slug(text: str) -> str:
    """A heading's anchor, as GitHub makes it (lower case, punctuation dropped, spaces → '-')."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


class _Anchors:
    """GitHub-style unique anchors: the second 'x' is 'x-1'."""

    def __init__(self):
        self.seen: dict[str, int] = {}

    def __call__(self, text: str) -> str:
        s = slug(text)
        n = self.seen.get(s)
        self.seen[s] = 0 if n is None else n + 1
        return s if n is None else f"{s}-{n + 1}"


def _toc(md: str) -> str:
    """Replace the TOC mark with links to the level-2 to level-4 headings."""
    anchors, lines, fenced = _Anchors(), [], None
    for line in md.splitlines():
        m = re.match(r"^(`{3,}|~{3,})", line)
        if m:
            fenced = None if fenced and line.startswith(fenced) else (fenced or m.group(1))
            continue
        h = re.match(r"^(#{1,6}) (.+?)\s*#*$", line) if fenced is None else None
        if h:
            plain = h.group(2).replace("`", "")
            anchor = anchors(plain)
            if len(h.group(1)) in (2, 3, 4) and plain.strip() != "목차 / Contents":
                indent = "  " * (len(h.group(1)) - 2)
                lines.append(f"{indent}- [{plain}](#{anchor})")
    return md.replace(TOC_MARK, "\n".join(lines), 1)


def _html_body(md: str) -> str:
    mdit = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = mdit.parse(md)
    anchors = _Anchors()
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open":
            inline = tokens[i + 1]
            plain = "".join(c.content for c in (inline.children or []) if c.type in ("text", "code_inline"))
            tok.attrSet("id", anchors(plain))
    return mdit.renderer.render(tokens, mdit.options, {})


def _markdown(specs: SpecSet, base_url: str) -> tuple[dict[str, Any], str]:
    ctx = build_context(specs, base_url)
    return ctx, _toc(_environment(html=False).get_template("guideline.md.j2").render(**ctx))


def render_guideline(specs: SpecSet, base_url: str) -> tuple[str, str]:
    """The linkage guideline for ``specs``: (Markdown, standalone HTML page)."""
    ctx, md = _markdown(specs, base_url)
    html = _environment(html=True).get_template("guideline.html.j2").render(
        title=f"{ctx['title']['ko']} / {ctx['title']['en']}", version=ctx["version"], body=_html_body(md))
    return md, html


def _withhold_examples(md: str, sources: frozenset[str]) -> str:
    """Cut the example sections of ``sources`` (the payload, what it becomes, its problems) down to a note."""
    heads = {f"##### 예시 / Example — {_code(s)}" for s in sources}
    out, skipping, fenced = [], False, None
    for line in md.splitlines(keepends=True):
        fence = re.match(r"^(`{3,}|~{3,})", line)
        if fence:
            fenced = None if fenced and line.startswith(fenced) else (fenced or fence.group(1))
        elif fenced is None and re.match(r"^#{1,6} ", line):
            skipping = line.rstrip("\n") in heads
            if skipping:
                out += [line, "\n", EXAMPLE_WITHHELD, "\n\n"]
                continue
        if not skipping:
            out.append(line)
    return "".join(out)


def guideline_body(specs: SpecSet, base_url: str,
                   withheld: frozenset[str] = frozenset()) -> tuple[dict[str, str], str]:
    """The guideline's version and its HTML body alone (headings with their anchors, the table of contents,
    the tables; no page, no style): for a page that shows it inside its own, the dashboard's.  The examples
    of the sources in ``withheld`` are replaced by a note: that page is public, and an example is data."""
    ctx, md = _markdown(specs, base_url)
    return ctx["version"], _html_body(_withhold_examples(md, withheld) if withheld else md)
