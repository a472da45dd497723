"""``guideline_body``: the guideline's HTML body alone, for the dashboard's guideline page — the same body as the
standalone page ``citylink spec doc`` writes, with the examples a page does not show its reader cut down to a note."""
from __future__ import annotations

import re
import shutil

from citylink.config import BUNDLED_SPECS
from citylink.spec.doc import EXAMPLE_WITHHELD, guideline_body, guideline_version, render_guideline
from citylink.spec.loader import load_paths

SPECS = load_paths([BUNDLED_SPECS])
BASE = "https://x.example"


def example_heading(sid: str) -> str:
    return f'<h5 id="예시--example--{sid}">'


def test_the_body_is_the_standalone_pages_body():
    version, body = guideline_body(SPECS, BASE)
    _, page = render_guideline(SPECS, BASE)
    assert version == guideline_version(SPECS)
    assert f"<main>\n{body}\n</main>" in page
    assert not re.search(r"<(html|head|style|script)\b", body)


def test_withheld_examples_become_a_note_and_nothing_else_changes():
    camera, homes = "dparking-vision-http", "safety-keeper-carelink-http"
    _, full = guideline_body(SPECS, BASE)
    _, cut = guideline_body(SPECS, BASE, frozenset({camera, homes}))
    note = "<em>예시 비공개 / Example withheld.</em>"
    assert EXAMPLE_WITHHELD.startswith("*예시 비공개 / Example withheld.*") and cut.count(note) == 2
    for sid, secret in ((camera, "12가3456"), (homes, "DB-WF-2210")):
        assert secret in full and secret not in cut
        assert example_heading(sid) in cut                       # the heading stays: the contents are the same
        section = cut.split(example_heading(sid), 1)[1].split("<h", 1)[0]
        assert note in section and "<pre>" not in section and "<table>" not in section
    # outside the two sections, the body is the same
    def outside(body):
        parts = re.split(r'(<h\d id="[^"]+">)', body)
        keep, skipping = [], False
        for part in parts:
            if part.startswith("<h"):
                skipping = part in (example_heading(camera), example_heading(homes))
            if not skipping:
                keep.append(part)
        return "".join(keep)
    assert outside(full) == outside(cut)                       # every other example among it


def test_a_heading_like_line_inside_an_example_does_not_end_its_cut(tmp_path):
    shutil.copytree(BUNDLED_SPECS / "indoor-air", tmp_path / "indoor-air")
    src = tmp_path / "indoor-air" / "sources" / "indoor-air-bora-file.yaml"
    row = "    DB-IAQ-201,2026-11-25 24:00,PM10,38\n"
    src.write_text(src.read_text(encoding="utf-8").replace(row, "    ## not a heading,,,\n" + row), encoding="utf-8")
    specs = load_paths([tmp_path])
    _, full = guideline_body(specs, BASE)
    _, cut = guideline_body(specs, BASE, frozenset({"indoor-air-bora-file"}))
    assert "## not a heading" in full and "not a heading" not in cut
    assert "DB-IAQ-201,2026-11-25 24:00,PM10,38" not in cut
    assert example_heading("indoor-air-alpha-http") in cut and '<h2 id="7-변경-이력--change-log">' in cut
