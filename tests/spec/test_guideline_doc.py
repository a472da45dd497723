"""``citylink spec doc``: the linkage guideline rendered from the specs (citylink.spec.doc)."""
from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import citylink
from citylink.cli import app
from citylink.config import BUNDLED_SPECS
from citylink.spec.doc import QUARANTINE_REASONS, check_example, guideline_version, render_guideline
from citylink.spec.loader import load_paths

ROOT = Path(__file__).resolve().parents[2]
REAL_DATA_SPECS = ROOT / "examples" / "real-data" / "specs"


def _escaped(text: str) -> str:
    """Text as markdown-it writes it into HTML."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


@pytest.fixture(scope="module", params=[BUNDLED_SPECS, REAL_DATA_SPECS], ids=["bundled", "real-data"])
def rendered(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("guideline")
    result = CliRunner().invoke(app, ["spec", "doc", "--specs", str(request.param), "--out", str(out),
                                      "--base-url", "https://data.dobong.example"])
    assert result.exit_code == 0, result.output
    md = (out / "guideline.md").read_text(encoding="utf-8")
    page = (out / "guideline.html").read_text(encoding="utf-8")
    return load_paths([request.param]), md, page


def test_doc_writes_markdown_and_standalone_html(rendered):
    specs, md, page = rendered
    assert md.startswith("# CityLink")
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page and page.rstrip().endswith("</html>")
    assert not re.search(r"<(script|link|img)\b", page), "the page must not load external assets"
    version = guideline_version(specs)["id"]
    assert version in md and version in page
    assert "https://data.dobong.example/ingest/" in md  # {base} substituted in the transport profiles
    assert "[[toc]]" not in md


def test_doc_names_every_service_source_and_korean_label(rendered):
    specs, md, page = rendered
    for sid, svc in specs.services.items():
        assert f"`{sid}`" in md and sid in page
        assert svc.name.ko in md and _escaped(svc.name.ko) in page
        for et in svc.entity_types.values():
            for a in et.attributes.values():
                assert a.label.ko in md, a.name
                assert _escaped(a.label.ko) in page, a.name
                for code in (a.codes or {}).values():
                    assert code.ko in md and code.en in md
    for sid in specs.sources:
        assert f"`{sid}`" in md and sid in page


def test_doc_shows_each_example_and_its_normalized_values(rendered):
    specs, md, page = rendered
    for sid in specs.sources:
        ex = check_example(specs, sid)
        assert ex.ok
        first_line = ex.text.strip().splitlines()[0]
        assert first_line in md
        for r in ex.reports:
            for v in r["values"]:
                shown = json.dumps(v["value"], ensure_ascii=False)
                row = f"| {r['message']} | {r['outcome']} | `{v['entity']}` | `{v['attribute']}`"
                assert row in md and f"| {shown} |" in md
                assert _escaped(v["entity"]) in page and _escaped(shown) in page


def test_doc_sections_units_changelog_schemas_and_reasons(rendered):
    specs, md, page = rendered
    for heading in ("전송 방식 / Transport profiles", "메시지 봉투와 형식 / Payload envelope and formats",
                    "식별자 / Identifiers", "시각 / Timestamps", "단위 / Units", "변경 이력 / Change log",
                    "JSON 스키마 / JSON Schemas", "격리 사유 / Outcomes and quarantine reasons"):
        assert heading in md
    assert "| `GQ` | µg/m³ | 마이크로그램/세제곱미터 | microgram per cubic metre |" in md
    assert "schema_text" in md and "https://w3id.org/citylink/schema/source-1.json" in md
    for slug in QUARANTINE_REASONS:
        assert f"| `{slug}` |" in md
    for spec in [*specs.services.values(), *specs.sources.values()]:
        for c in spec.changelog:
            changes = c["changes"] if isinstance(c["changes"], list) else [c["changes"]]
            assert changes[0] in md


def test_heading_anchors_match_the_table_of_contents(rendered):
    _, md, page = rendered
    ids = set(re.findall(r' id="([^"]+)"', page))
    links = {html.unescape(x) for x in re.findall(r'href="#([^"]+)"', page)}
    from urllib.parse import unquote
    assert links and {unquote(x) for x in links} <= ids


def test_rendering_does_not_depend_on_the_day():
    specs = load_paths([BUNDLED_SPECS])
    assert render_guideline(specs, "https://x.example") == render_guideline(specs, "https://x.example")


def test_a_broken_example_is_shown_with_its_problems(tmp_path):
    shutil.copytree(BUNDLED_SPECS / "indoor-air", tmp_path / "indoor-air")
    src = tmp_path / "indoor-air" / "sources" / "indoor-air-bora-file.yaml"
    src.write_text(src.read_text(encoding="utf-8").replace("2026-11-25 24:00,CO2", "2026-11-25 25:00,CO2"),
                   encoding="utf-8")
    specs = load_paths([tmp_path])
    assert guideline_version(specs) != guideline_version(load_paths([BUNDLED_SPECS / "indoor-air"]))
    md, page = render_guideline(specs, "https://x.example")
    assert "⚠ 예시가 정규화되지 않는 소스 / Sources whose example does not normalize:** `indoor-air-bora-file`" in md
    assert "| 3 | `bad_timestamp` | `measured_at` |" in md
    assert "<blockquote>" in page and "bad_timestamp" in page


def test_every_quarantine_reason_the_code_can_produce_is_documented():
    pkg = Path(citylink.__file__).parent
    produced = set()
    for folder in ("normalize", "payload"):
        for f in (pkg / folder).glob("*.py"):
            produced |= set(re.findall(r'(?<![A-Za-z])(?:Payload)?Problem\(\s*"([a-z_]+)"', f.read_text()))
    assert produced, "the scan found no problem slugs: has the code moved?"
    assert produced <= set(QUARANTINE_REASONS), produced - set(QUARANTINE_REASONS)


def test_spec_text_cannot_inject_html_or_break_tables(tmp_path):
    shutil.copytree(BUNDLED_SPECS / "indoor-air", tmp_path / "indoor-air")
    src = tmp_path / "indoor-air" / "sources" / "indoor-air-alpha-http.yaml"
    text = src.read_text(encoding="utf-8").replace("vendor: Alpha AirCare (example vendor)",
                                                   'vendor: "<script>alert(1)</script> A|B"')
    src.write_text(text, encoding="utf-8")
    md, page = render_guideline(load_paths([tmp_path]), "https://x.example")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; A|B" in page
    assert "A\\|B" in md
