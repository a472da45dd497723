"""The expansion service, smart snow-removal boxes, is onboarded by spec files alone."""
from __future__ import annotations

import shutil
from pathlib import Path

import orjson

from cltest import make_platform, submit_and_wait
from citylink.config import BUNDLED_SPECS
from citylink.normalize.records import STORED, FLAGGED
from citylink.spec.loader import load_paths

SRC = Path(__file__).resolve().parents[2] / "src" / "citylink"


# what only this service's code would name: its id, its source, its entity type, its attributes.  (The
# simulators' weather may snow: snowfall is the world's, and the footfall model uses it too.)
SERVICE_NAMES = ("snow-boxes", "snowbox", "snowremovalbox", "deicer", "snow_box", "snow box")


def test_no_python_names_the_service():
    assert (SRC / "data" / "specs" / "snow-boxes" / "service.yaml").is_file()
    assert (SRC / "data" / "simulation" / "snowbox-lora-chirpstack.yaml").is_file()  # simulated by data too
    hits = [(p.name, n) for p in SRC.rglob("*.py") for n in SERVICE_NAMES if n in p.read_text(encoding="utf-8").lower()]
    assert hits == []


def test_a_spec_directory_with_only_the_snow_boxes_runs(tmp_path):
    only = tmp_path / "specs"
    shutil.copytree(BUNDLED_SPECS / "snow-boxes", only / "snow-boxes")
    specs = load_paths([only])
    assert list(specs.services) == ["snow-boxes"] and list(specs.sources) == ["snowbox-lora-chirpstack"]
    p = make_platform(tmp_path / "data", late_after_seconds=10 ** 9)
    p.start(specs_dir=only, watch=False)
    try:
        example = specs.sources["snowbox-lora-chirpstack"].payload["example"]
        got = submit_and_wait(p, "snowbox-lora-chirpstack", [orjson.dumps(example)])
        assert set(got.values()) <= {STORED, FLAGGED}
        e = p.store.entity("urn:ngsi-ld:SnowRemovalBox:dobong:hanul:a84041000181c061")
        vals = {a.name: a.value_num for a in e.attrs}
        assert vals["deicerRemaining"] == 18.5 and vals["deicerLevel"] == 0.74 and vals["lidOpen"] == 0.0
        assert (e.lon, e.lat) == (127.0447, 37.6732)  # from the registry the spec names
    finally:
        p.stop()
