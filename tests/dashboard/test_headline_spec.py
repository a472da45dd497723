"""A service's ``dashboard.headline`` is checked with the specs: each mistake is refused as ``file:line:
dashboard.headline.<key>: message`` with a stable type, by the loader (so by ``citylink spec check`` too)."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cltest import air_service, line_of, spec_dir
from citylink.cli import app
from citylink.config import BUNDLED_SPECS
from citylink.errors import SpecError
from citylink.spec.loader import load_paths, load_texts

FILE = "specs/air/service.yaml"
SERVICE = air_service(attributes="""\
      co2: {type: Number, unit: "59"}
      state: {type: Text}
      visitors: {type: Integer}
      location: {type: GeoProperty}
""") + """\
rules:
  co2-high:
    when: co2 > qty(1000, 'ppm')
    for: PT10M
    severity: medium
    message: {ko: 환기, en: ventilate}
  co2-rising:
    when: delta(co2, 'PT10M') > qty(200, 'ppm')
    severity: low
    message: {ko: 상승, en: rising}
"""
NAME = "    name: {ko: 기준 초과, en: Above the standard}\n"


def text(headline: str, extra_type: bool = False) -> str:
    types = "  Station:\n    attributes:\n      battery: {type: Number, unit: C62}\n" if extra_type else ""
    body = SERVICE.replace("rules:\n", types + "rules:\n", 1)
    if extra_type:   # the rules say which type they judge
        body = body.replace("    severity: ", "    type: AirQualityObserved\n    severity: ")
    return body + "dashboard:\n  headline:\n" + NAME + headline


def accepted(t: str):
    return load_texts([(FILE, t)], compile_sources=False)


def refused(t: str, needle: str, path: str, type: str, fragment: str):
    with pytest.raises(SpecError) as ei:
        load_texts([(FILE, t)], compile_sources=False)
    ps = ei.value.problems
    assert len(ps) == 1, [str(p) for p in ps]
    p = ps[0]
    assert (p.type, p.file, p.line, p.path) == (type, FILE, line_of(t, needle), path), str(p)
    assert fragment in p.msg, str(p)


@pytest.mark.parametrize("body, kind", [
    ("    rules: [co2-high]\n", "rules"),
    ("    when: co2 > qty(1000, 'ppm') and state != 'fault'\n", "when"),
    ("    sum: visitors\n    over: PT1H\n", "sum"),
    ("    sum: visitors\n", "sum"),
    ("    entities: AirQualityObserved\n", "entities"),
])
def test_each_kind_of_headline_is_accepted_and_compiled(body, kind):
    h = accepted(text(body)).headlines["air"]
    assert h.kind == kind and h.name.en == "Above the standard" and h.types == ("AirQualityObserved",)


def test_a_rule_of_change_counts_from_alarms_only():
    h = accepted(text("    rules: [co2-high, co2-rising]\n")).headlines["air"]
    assert h.rules == ("air/co2-high", "air/co2-rising") and h.tests is None
    h = accepted(text("    rules: [co2-high]\n")).headlines["air"]
    assert len(h.tests) == 1 and h.tests[0].attrs == {"co2"}
    assert h.tests[0].holds({"co2": 1200.0}, 0, None, None) and not h.tests[0].holds({"co2": 900.0}, 0, None, None)
    assert not h.tests[0].holds({}, 0, None, None)                    # not seen yet: not counted


def test_a_sum_without_a_window_adds_up_the_current_values():
    assert accepted(text("    sum: visitors\n")).headlines["air"].window_s is None
    assert accepted(text("    sum: visitors\n    over: PT2H\n")).headlines["air"].window_s == 7200


def test_a_service_without_a_headline_has_none():
    assert "air" not in accepted(SERVICE).headlines


@pytest.mark.parametrize("body, needle, path, type, fragment", [
    ("    rules: [co2-high]\n    entities: AirQualityObserved\n", "headline:", "dashboard.headline",
     "headline_kind", "found: rules, entities"),
    ("", "headline:", "dashboard.headline", "headline_kind", "exactly one of"),
    ("    rules: [co2-low]\n", "co2-low", "dashboard.headline.rules.0", "headline_unknown_rule",
     "co2-high, co2-rising"),
    ("    when: co3 > 1\n", "co3 >", "dashboard.headline.when", "rule_unknown_attribute", "'co3'"),
    ("    when: co2 > qty(1, 'kg')\n", "qty(1, 'kg')", "dashboard.headline.when", "rule_unit_mismatch", "[mass]"),
    ("    when: delta(co2, 'PT10M') > 5\n", "> 5", "dashboard.headline.when", "headline_delta", "history"),
    ("    sum: state\n    over: PT1H\n", "sum:", "dashboard.headline.sum", "headline_not_numeric", "co2, visitors"),
    ("    when: co2 > 1\n    over: PT1H\n", "headline:", "dashboard.headline", "schema_dependentRequired", "sum"),
    ("    entities: Kiosk\n", "entities:", "dashboard.headline.entities", "headline_unknown_type",
     "AirQualityObserved"),
    ("    rules: [co2-high]\n    type: AirQualityObserved\n", "type: AirQualityObserved", "dashboard.headline.type",
     "headline_type_unused", "'rules'"),
    ("    when: co2 > 1\n    color: red\n", "color:", "dashboard.headline.color", "schema_additionalProperties",
     "unknown key 'color'"),
])
def test_a_bad_headline_is_refused_at_its_line(body, needle, path, type, fragment):
    refused(text(body), needle, path, type, fragment)


def test_a_service_of_several_types_says_which_one_the_headline_reads():
    refused(text("    sum: visitors\n    over: PT1H\n", extra_type=True), "headline:", "dashboard.headline",
            "headline_type_needed", "AirQualityObserved, Station")
    h = accepted(text("    sum: battery\n    over: PT1H\n    type: Station\n", extra_type=True)).headlines["air"]
    assert h.types == ("Station",) and h.attribute == "battery"


def test_spec_check_reports_a_bad_headline_with_file_and_line(tmp_path):
    t = text("    rules: [co2-low]\n")
    d = spec_dir(tmp_path / "specs", {"air/service.yaml": t})
    result = CliRunner().invoke(app, ["spec", "check", str(d)])
    assert result.exit_code != 0
    assert f"air/service.yaml:{line_of(t, 'co2-low')}: dashboard.headline.rules.0: 'co2-low' is not a rule" \
        in result.output


def test_every_shipped_service_has_a_headline():
    specs = load_paths([BUNDLED_SPECS])
    assert set(specs.headlines) == set(specs.services)
    kinds = {sid: h.kind for sid, h in specs.headlines.items()}
    assert kinds["waste-bins"] == "rules" and specs.headlines["waste-bins"].tests   # the public can have it
