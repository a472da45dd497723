"""A service's ``rules:`` are checked with the specs: every mistake is refused as ``file:line: rules.<name>.<key>:
message`` with a stable type, by the loader (so ``citylink spec check`` and ``Platform.apply_specs``)."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cltest import air_service, line_of, spec_dir
from citylink.cli import app
from citylink.config import BUNDLED_SPECS
from citylink.errors import SpecError, SpecProblem
from citylink.spec.loader import load_paths, load_texts

FILE = "specs/air/service.yaml"
SERVICE = air_service(attributes="""\
      co2: {type: Number, unit: "59"}
      pm25: {type: Number, unit: GQ}
      temperature: {type: Number, unit: CEL}
      quietLimit: {type: Number, unit: MIN}
      aqi: {type: Integer}
      state: {type: Text}
      plate: {type: Text, personal: true}
      location: {type: GeoProperty}
""")
SECOND_TYPE = """\
  Device:
    attributes:
      battery: {type: Number, unit: C62}
"""
DEPARTMENTS = """\
citylink: departments/1
id: test-district
version: 1.0.0
departments:
  environment: {name: {ko: 환경과, en: Environment}}
  parks: {name: {ko: 공원과, en: Parks}}
"""
MESSAGE = "    message: {ko: 알림, en: alarm}\n"


def rule_text(body: str, name: str = "co2-high") -> str:
    return SERVICE + f"rules:\n  {name}:\n" + body


def refused(text: str, *, departments: bool = False) -> list[SpecProblem]:
    docs = [(FILE, text)] + ([("specs/departments.yaml", DEPARTMENTS)] if departments else [])
    with pytest.raises(SpecError) as ei:
        load_texts(docs, compile_sources=False)
    return ei.value.problems


def only(text: str, **kw) -> SpecProblem:
    ps = refused(text, **kw)
    assert len(ps) == 1, [str(p) for p in ps]
    return ps[0]


def accepted(text: str, *, departments: bool = False):
    docs = [(FILE, text)] + ([("specs/departments.yaml", DEPARTMENTS)] if departments else [])
    return load_texts(docs, compile_sources=False)


def assert_refused(text: str, needle: str, path: str, type: str, *fragments: str, nth: int = 1, **kw):
    p = only(text, **kw)
    line = line_of(text, needle, nth)
    assert (p.type, p.file, p.line, p.path) == (type, FILE, line, path), str(p)
    assert str(p).startswith(f"{FILE}:{line}: {path}: ")
    for f in fragments:
        assert f in p.msg, str(p)


def test_a_good_rule_is_accepted_and_kept_with_the_service():
    text = rule_text("    when: co2 > qty(1000, 'ppm')\n    for: PT10M\n    severity: medium\n" + MESSAGE)
    svc = accepted(text).services["air"]
    assert list(svc.rules) == ["co2-high"] and svc.rules["co2-high"].path == ("rules", "co2-high")
    assert svc.rules["co2-high"].raw["when"] == "co2 > qty(1000, 'ppm')"


# -- the condition --------------------------------------------------------------------------------------

@pytest.mark.parametrize("when, type, fragment", [
    ("co3 > 1000", "rule_unknown_attribute", "unknown attribute 'co3'"),
    ("location == 1", "rule_unknown_attribute", "GeoProperty"),
    ("co2 >", "rule_syntax", "syntax error"),
    ("co2 > 1000 if aqi else 0", "rule_syntax", "if … else"),
    ("co2.real > 1000", "rule_syntax", "attribute access"),
    ("max(co2, pm25) > 1000", "rule_unknown_function", "unknown function 'max'"),
    ("co2 > qty(1000, 'blargs')", "rule_unknown_unit", "unknown unit 'blargs'"),
    ("co2 > qty(1000, 'kg')", "rule_unit_mismatch", "[mass]"),
    ("pm25 > qty(35, 'ppm')", "rule_unit_mismatch", "pm25"),
    ("aqi > qty(100, 'ppm')", "rule_unit_mismatch", "aqi has no unit"),
    ("state == qty(1, 'ppm')", "rule_unit_mismatch", "state has no unit"),
    ("co2 + qty(100, 'ppm') > 1000", "rule_qty_placement", "compared directly"),
    ("qty(1, 'ppm') in [co2]", "rule_qty_placement", "compared directly"),
    ("hour > qty(9, 'h')", "rule_qty_placement", "compared directly"),
    ("co2 > qty('1000', 'ppm')", "rule_qty_args", "qty(number, 'unit')"),
    ("delta(co2, 'ten minutes') > 100", "rule_delta_args", "delta(attribute, 'PT10M')"),
    ("delta(state, 'PT10M') > 100", "rule_delta_args", "not a numeric attribute"),
])
def test_a_bad_condition_is_refused_at_its_when_line(when, type, fragment):
    text = rule_text(f"    severity: low\n    when: \"{when}\"\n" + MESSAGE)
    assert_refused(text, "when:", "rules.co2-high.when", type, fragment)


def test_exactly_one_of_when_and_absent():
    both = rule_text("    when: co2 > 1\n    absent: [co2]\n    for: PT1H\n    severity: low\n" + MESSAGE)
    assert_refused(both, "co2-high:", "rules.co2-high", "rule_when_or_absent", "exactly one")
    neither = rule_text("    severity: low\n" + MESSAGE)
    assert_refused(neither, "co2-high:", "rules.co2-high", "rule_when_or_absent")


def test_an_unknown_absent_attribute_is_refused_at_its_item():
    text = rule_text("    absent:\n      - co2\n      - co3\n    for: PT3H\n    severity: low\n" + MESSAGE)
    assert_refused(text, "- co3", "rules.co2-high.absent.1", "rule_unknown_attribute", "'co3'")


def test_absent_needs_a_positive_for():
    missing = rule_text("    absent: [co2]\n    severity: low\n" + MESSAGE)
    assert_refused(missing, "co2-high:", "rules.co2-high", "rule_absent_needs_for", "positive for:")
    zero = rule_text("    absent: [co2]\n    for: PT0S\n    severity: low\n" + MESSAGE)
    assert_refused(zero, "for: PT0S", "rules.co2-high.for", "rule_absent_needs_for")


# -- how long --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("attr, fragment", [
    ("quietness", "no such attribute"),
    ("co2", "a Number in 59"),
    ("aqi", "an Integer without a unit"),
    ("state", "a Text"),
])
def test_for_attribute_must_be_a_number_with_a_time_unit(attr, fragment):
    text = rule_text(f"    when: co2 > 1\n    for:\n      attribute: {attr}\n      default: PT12H\n"
                     "    severity: low\n" + MESSAGE)
    assert_refused(text, f"attribute: {attr}", "rules.co2-high.for.attribute", "rule_hold_attribute", fragment,
                   "(SEC, MIN, HUR, DAY)")


def test_for_must_be_an_iso_duration():
    text = rule_text("    when: co2 > 1\n    for: 10 minutes\n    severity: low\n" + MESSAGE)
    p = only(text)
    assert (p.path, p.line) == ("rules.co2-high.for", line_of(text, "for: 10 minutes")) and p.type.startswith("schema_")


# -- the entity type -------------------------------------------------------------------------------------

def test_an_entity_type_not_in_the_service_is_refused():
    text = rule_text("    type: WaterQualityObserved\n    when: co2 > 1\n    severity: low\n" + MESSAGE)
    assert_refused(text, "type: WaterQualityObserved", "rules.co2-high.type", "rule_unknown_entity_type",
                   "no entity type 'WaterQualityObserved'", "AirQualityObserved")


def test_the_type_is_needed_when_the_service_has_several():
    two = SERVICE + SECOND_TYPE
    text = two + "rules:\n  co2-high:\n    when: co2 > 1\n    severity: low\n" + MESSAGE
    assert_refused(text, "co2-high:", "rules.co2-high", "rule_type_missing", "type:")
    fixed = text.replace("    when: co2 > 1\n", "    type: AirQualityObserved\n    when: co2 > 1\n")
    assert accepted(fixed).services["air"].rules
    wrong = text.replace("    when: co2 > 1\n", "    type: Device\n    when: co2 > 1\n")
    assert_refused(wrong, "when:", "rules.co2-high.when", "rule_unknown_attribute", "'co2'")


# -- where -----------------------------------------------------------------------------------------------

def test_an_unknown_dong_is_refused_at_its_item():
    text = rule_text("    when: co2 > 1\n    where:\n      dong:\n        - 창5동\n        - 강남동\n"
                     "    severity: low\n" + MESSAGE)
    assert_refused(text, "- 강남동", "rules.co2-high.where.dong.1", "rule_unknown_dong", "'강남동'", "창5동")


@pytest.mark.parametrize("ring, fragment", [
    ("[[127.0, 37.6], [127.1, 37.6], [127.1, 37.7], [127.0, 37.7]]", "not closed"),
    ("[[127.0, 37.6], [127.1, 37.7], [127.1, 37.6], [127.0, 37.7], [127.0, 37.6]]", "Self-intersection"),
    ("[[127.0, 37.6], [127.1, 37.6], [127.2, 37.6], [127.0, 37.6]]", "not a valid polygon"),
    ("[[37.6, 127.0], [37.7, 127.0], [37.7, 127.1], [37.6, 127.0]]", "not a [lon, lat]"),
])
def test_a_polygon_must_be_a_valid_closed_ring(ring, fragment):
    text = rule_text(f"    when: co2 > 1\n    where:\n      polygon: {ring}\n    severity: low\n" + MESSAGE)
    p = only(text)
    assert p.type == "rule_bad_polygon" and p.line == line_of(text, "polygon:") and fragment in p.msg, str(p)
    assert p.path.startswith("rules.co2-high.where.polygon")


def test_where_takes_one_of_dong_and_polygon():
    text = rule_text("    when: co2 > 1\n    where: {dong: [창5동], polygon: [[0, 0], [1, 0], [1, 1], [0, 0]]}\n"
                     "    severity: low\n" + MESSAGE)
    p = only(text)
    assert p.path == "rules.co2-high.where" and p.line == line_of(text, "where:") and p.type == "schema_maxProperties"


# -- severity, departments, escalation ----------------------------------------------------------------

def test_an_unknown_severity_is_refused():
    text = rule_text("    when: co2 > 1\n    severity: urgent\n" + MESSAGE)
    assert_refused(text, "severity: urgent", "rules.co2-high.severity", "schema_enum", "'urgent'", "'critical'")


def test_an_unknown_department_is_refused_once_departments_are_declared():
    text = rule_text("    when: co2 > 1\n    severity: low\n    department: sanitation\n" + MESSAGE)
    assert_refused(text, "department: sanitation", "rules.co2-high.department", "rule_unknown_department",
                   "'sanitation'", "environment, parks", departments=True)
    assert accepted(text).services["air"].rules          # no departments written down: not checked
    assert accepted(text.replace("sanitation", "parks"), departments=True)


def test_an_unknown_escalation_department_is_refused():
    text = rule_text("    when: co2 > 1\n    severity: low\n    escalate: {after: PT1H, department: police}\n" + MESSAGE)
    assert_refused(text, "escalate:", "rules.co2-high.escalate.department", "rule_unknown_department", "'police'",
                   departments=True)


@pytest.mark.parametrize("severity, to", [("high", "high"), ("high", "medium"), ("critical", "critical")])
def test_an_escalation_must_raise_the_severity(severity, to):
    text = rule_text(f"    when: co2 > 1\n    severity: {severity}\n    escalate:\n      after: PT30M\n"
                     f"      severity: {to}\n" + MESSAGE)
    assert_refused(text, f"      severity: {to}", "rules.co2-high.escalate.severity", "rule_escalation_severity",
                   "not above")


def test_an_escalation_needs_a_positive_delay():
    text = rule_text("    when: co2 > 1\n    severity: low\n    escalate:\n      after: PT0S\n" + MESSAGE)
    assert_refused(text, "after: PT0S", "rules.co2-high.escalate.after", "rule_escalation_after")


def test_an_unknown_time_zone_is_refused():
    text = rule_text("    when: hour > 8\n    severity: low\n    timezone: Asia/Dobong\n" + MESSAGE)
    assert_refused(text, "timezone:", "rules.co2-high.timezone", "rule_unknown_timezone", "'Asia/Dobong'")


# -- messages ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("en, type, fragment", [
    ("CO2 {co3}", "rule_unknown_attribute", "unknown placeholder {co3}"),
    ("at {location}", "rule_unknown_attribute", "{location}"),
    ("plate {plate}", "rule_personal_in_message", "personal"),
    ("CO2 {co2", "rule_message_syntax", "literal braces"),
    ("CO2 {co2!r}", "rule_message_syntax", "!r"),
    ("state {state:.0f}", "rule_message_format", "{state:.0f}"),
    ("CO2 {co2:d}", "rule_message_format", "{co2:d}"),
])
def test_a_bad_message_template_is_refused_at_its_line(en, type, fragment):
    text = rule_text("    when: co2 > 1\n    severity: low\n    message:\n      ko: 알림\n"
                     f"      en: \"{en}\"\n")
    assert_refused(text, "      en: \"", "rules.co2-high.message.en", type, fragment)


def test_every_problem_of_every_rule_is_reported_together():
    text = SERVICE + ("rules:\n"
                      "  co2-high:\n    when: co3 > 1\n    severity: low\n    message: {ko: 알림, en: '{pm26}'}\n"
                      "  silent:\n    absent: [pm25]\n    severity: low\n" + MESSAGE)
    ps = refused(text)
    assert [(p.type, p.path, p.line) for p in ps] == [
        ("rule_unknown_attribute", "rules.co2-high.when", line_of(text, "when: co3")),
        ("rule_unknown_attribute", "rules.co2-high.message.en", line_of(text, "{pm26}")),
        ("rule_absent_needs_for", "rules.silent", line_of(text, "silent:")),
    ]


# -- citylink spec check ---------------------------------------------------------------------------------

def test_spec_check_prints_a_bad_rule_with_file_and_line(tmp_path):
    text = rule_text("    when: co2 > qty(1000, 'kg')\n    severity: low\n" + MESSAGE)
    d = spec_dir(tmp_path / "specs", {"air/service.yaml": text})
    r = CliRunner().invoke(app, ["spec", "check", str(d)])
    assert r.exit_code == 1
    line = line_of(text, "when:")
    assert f"{d / 'air' / 'service.yaml'}:{line}: rules.co2-high.when: qty(1000, 'kg') is a [mass]" in r.output


def test_spec_check_passes_on_the_bundled_specs_with_their_rules():
    r = CliRunner().invoke(app, ["spec", "check", str(BUNDLED_SPECS)])
    assert r.exit_code == 0, r.output
    specs = load_paths([BUNDLED_SPECS])
    assert all(svc.rules for svc in specs.services.values())
