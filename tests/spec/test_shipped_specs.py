"""The specs CityLink ships (the bundled services and the real-data examples) are valid, and every
source's ``payload.example`` normalizes without quarantine."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from citylink.cli import app
from citylink.config import BUNDLED_SPECS
from citylink.spec.devices import load_registry
from citylink.spec.doc import check_example
from citylink.spec.loader import load_paths

ROOT = Path(__file__).resolve().parents[2]
REAL_DATA_SPECS = ROOT / "examples" / "real-data" / "specs"
SPEC_DIRS = {"bundled": BUNDLED_SPECS, "real-data": REAL_DATA_SPECS}
DOBONG = {"lon": (127.0076, 127.0558), "lat": (37.6305, 37.7013)}


def _all_sources():
    for name, d in SPEC_DIRS.items():
        specs = load_paths([d])
        for sid in sorted(specs.sources):
            yield pytest.param(d, sid, id=f"{name}:{sid}")


@pytest.mark.parametrize("spec_dir", SPEC_DIRS.values(), ids=SPEC_DIRS.keys())
def test_spec_check_passes(spec_dir):
    result = CliRunner().invoke(app, ["spec", "check", str(spec_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok:")


@pytest.mark.parametrize("spec_dir, source", list(_all_sources()))
def test_payload_example_normalizes(spec_dir, source):
    specs = load_paths([spec_dir])
    ex = check_example(specs, source)
    assert ex.text is not None, f"{source} has no payload.example"
    assert ex.error is None
    assert ex.reports and all(r["outcome"] in ("stored", "stored_flagged") for r in ex.reports), ex.problems
    assert all(r["values"] for r in ex.reports)


def test_indoor_air_has_two_genuinely_different_vendors():
    specs = load_paths([BUNDLED_SPECS])
    vendors = [s for s in specs.sources.values() if s.service == "indoor-air"]
    assert {s.transport["type"] for s in vendors} == {"http_push", "file"}
    assert {s.payload["format"] for s in vendors} == {"json", "csv"}
    assert sum(1 for s in vendors if s.long) == 1
    svc = specs.services["indoor-air"]
    assert svc.department == "environment" and svc.visibility == "public"
    for a in svc.entity_types["AirQualityObserved"].attributes.values():
        assert a.label.ko != a.name and a.label.en != a.name, f"{a.name} needs Korean and English names"


def _values(specs, source):
    ex = check_example(specs, source)
    return {v["attribute"]: v for r in ex.reports for v in r["values"]}


def test_vendor_a_flat_json_local_time_and_percent():
    v = _values(load_paths([BUNDLED_SPECS]), "indoor-air-alpha-http")
    assert v["relativeHumidity"]["value"] == pytest.approx(0.385) and v["relativeHumidity"]["unitCode"] == "C62"
    assert v["hcho"]["value"] == 41.5 and v["hcho"]["unitCode"] == "GQ"
    assert v["pm25"]["observedAt"] == "2026-11-26T00:10:00.000Z"  # 09:10 KST, written without an offset
    assert v["facilityType"]["value"] == "public-office"  # from the device registry
    assert v["pm25"]["entity"] == "urn:ngsi-ld:AirQualityObserved:dobong:alpha:AQ-0101"


def test_vendor_b_long_rows_fahrenheit_ppb_and_24h():
    v = _values(load_paths([BUNDLED_SPECS]), "indoor-air-bora-file")
    assert v["temperature"]["value"] == pytest.approx(21.5)            # 70.7 °F
    assert v["hcho"]["value"] == pytest.approx(22 * 30.03 / 24.45)     # 22 ppb at 25 °C, 1 atm
    assert v["co2"]["unitCode"] == "59"
    assert v["pm10"]["observedAt"] == "2026-11-25T15:00:00.000Z"       # 2026-11-25 24:00 KST
    assert v["facilityType"]["value"] == "daycare"


def test_indoor_air_registries_are_inside_dobong():
    specs = load_paths([BUNDLED_SPECS])
    for src in specs.sources.values():
        if src.service != "indoor-air":
            continue
        devices = load_registry(Path(src.origin.file).parent / src.devices)
        assert devices
        for d in devices:
            assert DOBONG["lon"][0] <= d.lon <= DOBONG["lon"][1] and DOBONG["lat"][0] <= d.lat <= DOBONG["lat"][1]
            assert d.attrs["facility_type"] in specs.services["indoor-air"].attribute(
                "AirQualityObserved", "facilityType").codes


def test_personal_values_of_the_shipped_examples_are_pseudonymised():
    """Plates and household numbers never reach a stored value in clear."""
    import orjson

    from citylink.config import BUNDLED_SPECS
    from citylink.normalize.check import check_feed
    from citylink.spec.doc import example_payload
    from citylink.spec.loader import load_paths

    specs = load_paths([BUNDLED_SPECS])
    seen = 0
    for sid, src in specs.sources.items():
        et = specs.services[src.service].entity_types[src.entity_type]
        personal = {a.name for a in et.attributes.values() if a.personal}
        if not personal:
            continue
        text, _, data = example_payload(src)
        for report in check_feed(specs, sid, data):
            for v in report["values"]:
                if v["attribute"] in personal:
                    seen += 1
                    node = orjson.loads(data)  # the vendor's field holding it in clear
                    for part in src.fields[v["attribute"]]["from"].split("."):
                        node = node[part]
                    assert str(v["value"]).startswith("pz:") and str(node) not in str(v["value"])
    assert seen >= 3  # the two plate feeds and Safety Keeper's household
