"""Compiled rules (``citylink.rules.compile``): what each kind of rule says about an entity's values."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

import pytest

from cltest import air_service
from citylink.clock import to_us
from citylink.config import BUNDLED_SPECS
from citylink.rules import CompiledRule, Escalation, compile_rules
from citylink.district import dongs
from citylink.spec.loader import load_paths, load_texts

UTC = timezone.utc
T0 = to_us(datetime(2026, 11, 26, 0, 30, tzinfo=UTC))    # Thursday 09:30 in Seoul
MIN = 60 * 1_000_000

SERVICE = air_service(visibility="public", attributes="""\
      co2: {type: Number, unit: "59"}
      pm25: {type: Number, unit: GQ}
      temperature: {type: Number, unit: CEL}
      fillingLevel: {type: Number, unit: C62}
      parkedMinutes: {type: Number, unit: MIN}
      quietLimit: {type: Number, unit: MIN}
      aqi: {type: Integer}
      state:
        type: Text
        codes:
          ok: {ko: 정상, en: OK}
          fault: {ko: 고장, en: Fault}
      facilityType: {type: Text}
      active: {type: Boolean}
      location: {type: GeoProperty}
""")


def rules_of(block: str, service: str = SERVICE) -> dict[str, CompiledRule]:
    specs = load_texts([("service.yaml", service + "rules:\n" + block)], compile_sources=False)
    return {r.name: r for r in compile_rules(specs.services["air"])}


def rule(when: str, **extra) -> CompiledRule:
    lines = [f"    when: {json.dumps(when, ensure_ascii=False)}", "    severity: low",
             "    message: {ko: 알림, en: alarm}"]
    lines += [f"    {k}: {json.dumps(v, ensure_ascii=False)}" for k, v in extra.items()]
    return rules_of("  the-rule:\n" + "\n".join(lines) + "\n")["the-rule"]


# -- thresholds and missing values ----------------------------------------------------------------

def test_a_threshold_holds_above_and_not_below():
    r = rule("fillingLevel >= 0.8")
    assert r.holds({"fillingLevel": 0.8}, T0) and r.holds({"fillingLevel": 0.93}, T0)
    assert not r.holds({"fillingLevel": 0.79}, T0)
    assert r.attrs == frozenset({"fillingLevel"}) and r.expression == "fillingLevel >= 0.8"


def test_a_comparison_with_a_value_not_observed_does_not_hold_and_does_not_raise():
    r = rule("fillingLevel >= 0.8")
    assert not r.holds({}, T0) and not r.holds({"fillingLevel": None}, T0)
    assert not rule("state != 'ok'").holds({}, T0)            # unknown, not "different from ok"
    assert not rule("aqi * 2 > 10").holds({}, T0)              # arithmetic with None is unknown too
    assert rule("state != 'ok'").holds({"state": "fault"}, T0)


def test_not_leaves_an_unknown_unknown():
    r = rule("state == 'fault' and not active")
    assert not r.holds({"state": "fault"}, T0)                 # active not read yet: no alarm
    assert r.holds({"state": "fault", "active": False}, T0)
    assert not r.holds({"state": "fault", "active": True}, T0)
    assert not rule("not (aqi > 100)").holds({}, T0)


def test_or_holds_when_one_side_holds_though_the_other_is_unknown():
    r = rule("temperature > 60 or state == 'fault'")
    assert r.holds({"state": "fault"}, T0) and r.holds({"temperature": 61.0}, T0)
    assert not r.holds({"state": "ok"}, T0) and not r.holds({}, T0)
    a = rule("temperature > 60 and state == 'fault'")
    assert not a.holds({"state": "fault"}, T0) and a.holds({"temperature": 61.0, "state": "fault"}, T0)
    assert not a.holds({"temperature": 59.0}, T0)              # false and unknown is false


def test_an_explicit_test_against_none_sees_the_missing_value():
    r = rule("facilityType == None or facilityType not in ['daycare', 'medical']")
    assert r.holds({}, T0) and r.holds({"facilityType": "library"}, T0)
    assert not r.holds({"facilityType": "daycare"}, T0)
    assert rule("facilityType != None").holds({"facilityType": "x"}, T0)
    assert not rule("facilityType != None").holds({}, T0)


def test_in_with_a_list_literal_and_true_false_names():
    r = rule("facilityType in ['daycare', 'medical'] and active == true")
    assert r.holds({"facilityType": "medical", "active": True}, T0)
    assert not r.holds({"facilityType": "library", "active": True}, T0)
    assert not r.holds({"facilityType": None, "active": True}, T0)


def test_text_compared_with_a_number_is_unknown_not_an_error():
    assert not rule("state > 5").holds({"state": "fault"}, T0)


# -- qty(): units converted once, at load time ------------------------------------------------------

@pytest.mark.parametrize("when, expression, below, above", [
    ("co2 > qty(1000, 'ppm')", "co2 > 1000.0", 1000.0, 1000.5),
    ("co2 > qty(0.1, '%')", "co2 > 1000.0", 999.0, 1001.0),                  # percent → ppm
    ("co2 > qty(1000, '59')", "co2 > 1000.0", 1000.0, 1000.5),               # UN/CEFACT code
    ("pm25 > qty(35, 'µg/m³')", "pm25 > 35.0", 35.0, 35.1),
    ("pm25 > qty(35, 'ug/m**3')", "pm25 > 35.0", 35.0, 35.1),
    ("pm25 > qty(0.035, 'mg/m³')", "pm25 > 35.0", 35.0, 35.1),
    ("temperature > qty(140, 'degF')", "temperature > 60.0", 60.0, 60.1),
    ("temperature > qty(333.15, 'K')", "temperature > 60.0", 60.0, 60.1),
    ("fillingLevel >= qty(80, '%')", "fillingLevel >= 0.8", 0.79, 0.8),
    ("parkedMinutes > qty(14, 'h')", "parkedMinutes > 840.0", 840.0, 841.0),
    ("qty(2, 'h') < parkedMinutes", "120.0 < parkedMinutes", 120.0, 121.0),  # either side
])
def test_qty_is_converted_to_the_attribute_unit(when, expression, below, above):
    r = rule(when)
    assert r.expression == expression
    attr = expression.replace("120.0 < ", "").split()[0]
    assert not r.holds({attr: below}, T0) and r.holds({attr: above}, T0)


def test_a_chained_comparison_converts_each_qty():
    r = rule("qty(80, '%') <= fillingLevel < qty(95, '%')")
    assert r.expression == "0.8 <= fillingLevel < 0.95"
    assert r.holds({"fillingLevel": 0.8}, T0) and not r.holds({"fillingLevel": 0.95}, T0)


def test_a_bare_number_is_in_the_canonical_unit():
    assert rule("parkedMinutes > 14").holds({"parkedMinutes": 15.0}, T0)


# -- delta(): rate of change over a window ----------------------------------------------------------

def test_delta_is_the_current_value_minus_the_oldest_in_the_window():
    r = rule("delta(temperature, 'PT10M') > qty(9, 'degF')")   # a change of 9 °F is 5 °C, not -12.8 °C
    assert r.expression == "delta('temperature', 600.0) > 5.0"
    assert r.windows == {"temperature": 600.0} and r.attrs == frozenset({"temperature"})
    history = {"temperature": [(T0 - 15 * MIN, 0.0), (T0 - 10 * MIN, 14.0), (T0 - 5 * MIN, 18.0), (T0, 20.0)]}
    assert r.holds({"temperature": 20.0}, T0, history)         # 20 - 14 (the 15-minute-old 0 is outside)
    assert not r.holds({"temperature": 19.0}, T0, history)
    assert not r.holds({"temperature": 20.0}, T0, {"temperature": [(T0 - 11 * MIN, 0.0)]})
    assert not r.holds({"temperature": 20.0}, T0, None)        # no history: unknown
    assert not r.holds({}, T0, history)


def test_delta_windows_keep_the_longest_per_attribute_and_work_downwards():
    r = rule("delta(co2, 'PT5M') < -100 or delta(co2, 'PT1H') > qty(0.05, '%')")
    assert r.windows == {"co2": 3600.0}
    assert r.holds({"co2": 500.0}, T0, {"co2": [(T0 - 4 * MIN, 700.0)]})
    assert r.holds({"co2": 1100.0}, T0, {"co2": [(T0 - 50 * MIN, 500.0), (T0 - 2 * MIN, 1090.0)]})
    assert not r.holds({"co2": 1100.0}, T0, {"co2": [(T0 - 50 * MIN, 1000.0)]})


# -- how long -----------------------------------------------------------------------------------------

def test_for_is_a_fixed_duration_by_default_zero():
    assert rule("aqi > 100").hold_s == 0.0
    r = rule("aqi > 100", **{"for": "PT1H30M"})
    assert r.hold_s == 5400.0 and r.hold_attr is None and r.hold_seconds({"aqi": 120}) == 5400.0


def test_for_from_an_attribute_per_entity_with_a_default():
    r = rule("aqi > 100", **{"for": {"attribute": "quietLimit", "default": "PT12H"}})
    assert r.hold_attr == "quietLimit" and r.hold_s == 12 * 3600.0
    assert r.hold_seconds({"quietLimit": 90}) == 5400.0                  # minutes → seconds
    assert r.hold_seconds({}) == r.hold_seconds({"quietLimit": 0}) == r.hold_seconds({"quietLimit": -5}) == 43200.0
    assert r.hold_seconds({"quietLimit": True}) == 43200.0
    assert "quietLimit" in r.attrs


def test_absent_rules_list_their_attributes():
    r = rules_of("  silent:\n    absent: [co2, pm25]\n    for: PT3H\n    severity: low\n"
                 "    message: {ko: '{for} 동안 값 없음', en: 'nothing for {for}'}\n")["silent"]
    assert r.absent == ("co2", "pm25") and r.attrs == frozenset({"co2", "pm25"}) and r.hold_s == 10800.0
    assert r.expression is None
    assert r.holds({}, T0) and r.holds({"aqi": 3}, T0) and not r.holds({"pm25": 3.0}, T0)
    assert r.message({}, "urn:x") == ("3시간 동안 값 없음", "nothing for 3 h")


# -- time of day --------------------------------------------------------------------------------------

def test_hour_and_weekday_are_in_asia_seoul_by_default():
    r = rule("aqi == 0 and hour >= 9 and hour < 20")
    assert r.clock and not rule("aqi == 0").clock
    def at(*t):
        return to_us(datetime(*t, tzinfo=UTC))

    assert r.holds({"aqi": 0}, at(2026, 11, 26, 0, 0))         # 09:00 KST
    assert not r.holds({"aqi": 0}, at(2026, 11, 25, 23, 59))   # 08:59 KST
    assert not r.holds({"aqi": 0}, at(2026, 11, 26, 11, 0))    # 20:00 KST
    monday = rule("weekday == 0")
    assert monday.holds({}, at(2026, 11, 29, 15, 0))           # Monday 00:00 in Seoul, Sunday in UTC
    assert not monday.holds({}, at(2026, 11, 29, 14, 59))


def test_the_rule_time_zone_applies():
    r = rule("hour == 0", timezone="UTC")
    assert r.holds({}, to_us(datetime(2026, 11, 26, 0, 30, tzinfo=UTC)))
    assert not rule("hour == 0").holds({}, to_us(datetime(2026, 11, 26, 0, 30, tzinfo=UTC)))


# -- where --------------------------------------------------------------------------------------------

def _inside(name: str) -> tuple[float, float]:
    from shapely.geometry import shape
    doc = dongs()
    (f,) = [f for f in doc["features"] if f["properties"]["name"] == name]
    p = shape(f["geometry"]).representative_point()
    return p.x, p.y


@pytest.mark.parametrize("dongs", [["창5동"], ["Chang 5(o)-dong"], [1110063], ["창동"], ["Chang-dong"]])
def test_where_dong_by_name_english_name_code_or_legal_dong(dongs):
    r = rule("aqi > 0", where={"dong": dongs})
    assert r.in_scope(*_inside("창5동"))
    assert not r.in_scope(*_inside("쌍문1동"))
    assert r.in_scope(*_inside("창1동")) == (dongs in (["창동"], ["Chang-dong"]))
    assert not r.in_scope(None, None)


def test_where_several_dongs():
    r = rule("aqi > 0", where={"dong": ["쌍문1동", "방학3동"]})
    assert r.in_scope(*_inside("쌍문1동")) and r.in_scope(*_inside("방학3동")) and not r.in_scope(*_inside("창5동"))


def test_where_polygon():
    square = [[127.0, 37.6], [127.1, 37.6], [127.1, 37.7], [127.0, 37.7], [127.0, 37.6]]
    r = rule("aqi > 0", where={"polygon": square})
    assert r.in_scope(127.05, 37.65) and not r.in_scope(127.15, 37.65) and not r.in_scope(127.05, None)


def test_without_where_everything_is_in_scope():
    assert rule("aqi > 0").in_scope(None, None) and rule("aqi > 0").in_scope(127.0, 37.6)


# -- who, how severe, what they read ------------------------------------------------------------------

def test_the_rule_s_identity_department_visibility_and_escalation():
    rs = rules_of("""\
  hot:
    when: temperature > 30
    severity: medium
    category: health
    department: parks
    clear: manual
    escalate: {after: PT30M, severity: high, department: welfare}
    message: {ko: 덥다, en: hot}
  cold:
    when: temperature < 0
    severity: low
    escalate: {after: PT1H}
    message: {ko: 춥다, en: cold}
""")
    hot, cold = rs["hot"], rs["cold"]
    assert (hot.id, hot.service, hot.name, hot.entity_type) == ("air/hot", "air", "hot", "AirQualityObserved")
    assert (hot.department, hot.severity, hot.category, hot.visibility) == ("parks", "medium", "health", "public")
    assert hot.escalate == Escalation(1800.0, "high", "welfare") and hot.auto_clear is False
    assert cold.department == "environment" and cold.category is None and cold.auto_clear is True
    assert cold.escalate == Escalation(3600.0, "low", None)   # a reminder at the same severity


def test_messages_fill_in_values_labels_and_the_duration():
    r = rules_of("""\
  the-rule:
    when: state == 'fault'
    for: PT1H30M
    severity: low
    message:
      ko: "{entity}: 상태 {state}, 적재 {fillingLevel:.0%}, 가동 {active}, {for} 지속"
      en: "{entity}: state {state}, {fillingLevel:.0%} full, running {active}, for {for}"
""")["the-rule"]
    values = {"state": "fault", "fillingLevel": 0.824, "active": False}
    assert r.message(values, "urn:a") == ("urn:a: 상태 고장, 적재 82%, 가동 아니오, 1시간 30분 지속",
                                          "urn:a: state Fault, 82% full, running no, for 1 h 30 min")
    assert r.message({}, "urn:a") == ("urn:a: 상태 –, 적재 –, 가동 –, 1시간 30분 지속",
                                      "urn:a: state –, – full, running –, for 1 h 30 min")
    # a value of an unexpected kind is shown as it is, never raising
    assert r.message({"fillingLevel": "lots", "state": "weird"}, "urn:a")[1] == \
        "urn:a: state weird, lots full, running –, for 1 h 30 min"


def test_the_duration_in_a_message_follows_the_entity_s_own_limit():
    r = rule("aqi > 0", **{"for": {"attribute": "quietLimit", "default": "PT12H"}},
             message={"ko": "{for}", "en": "{for}"})
    assert r.message({"quietLimit": 1500}, "e") == ("1일 1시간", "1 d 1 h")
    assert r.message({}, "e") == ("12시간", "12 h")


def test_a_rule_evaluates_the_same_from_many_threads():
    r = rule("aqi > 100 and hour >= 0")
    results, errors = [], []

    def work(v):
        try:
            for _ in range(300):
                results.append(r.holds({"aqi": v}, T0) == (v > 100))
        except Exception as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)
    threads = [threading.Thread(target=work, args=(v,)) for v in (50, 150, 99, 101)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 1200 and all(results)


# -- the shipped rules ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    specs = load_paths([BUNDLED_SPECS])
    known = set(specs.departments)
    return specs, {r.id: r for svc in specs.services.values() for r in compile_rules(svc, known)}


def test_every_shipped_service_compiles_and_has_a_rule(shipped):
    specs, rules = shipped
    assert len(specs.services) >= 8
    for sid, svc in specs.services.items():
        mine = [r for r in rules.values() if r.service == sid]
        assert mine, f"{sid} has no alarm rule"
        for r in mine:
            ko, en = r.message({}, "urn:test")
            assert ko and en and ko != en
            assert r.department in specs.departments


def test_indoor_air_applies_the_standard_of_the_facility_type(shipped):
    _, rules = shipped
    general, sensitive = rules["indoor-air/pm10-general"], rules["indoor-air/pm10-sensitive"]
    def fired(v):
        return {r.name for r in (general, sensitive) if r.holds(v, T0)}

    assert fired({"pm10": 80.0, "facilityType": "daycare"}) == {"pm10-sensitive"}
    assert fired({"pm10": 80.0, "facilityType": "library"}) == set()
    assert fired({"pm10": 120.0, "facilityType": "library"}) == {"pm10-general"}
    assert fired({"pm10": 120.0}) == {"pm10-general"}          # facility type unknown: the general standard
    assert fired({"pm10": 120.0, "facilityType": "medical"}) == {"pm10-sensitive"}
    co2 = rules["indoor-air/co2"]
    assert co2.hold_s == 600 and co2.holds({"co2": 1001.0}, T0) and not co2.holds({"co2": 1000.0}, T0)
    assert rules["indoor-air/pm25-sensitive"].expression.startswith("pm25 > 35.0 and")


def test_disabled_parking_waits_for_the_permit_check(shipped):
    _, rules = shipped
    r = rules["disabled-parking/no-permit"]
    assert not r.holds({"status": "occupied"}, T0)
    assert r.holds({"status": "occupied", "permitValid": False}, T0)
    assert not r.holds({"status": "occupied", "permitValid": True}, T0)
    assert r.escalate.department == "traffic" and r.hold_s == 300


def test_ev_overstay_is_the_slow_charger_limit_in_minutes(shipped):
    _, rules = shipped
    r = rules["ev-charging-parking/ev-overstay"]
    assert r.holds({"status": "occupied", "parkedMinutes": 841.0}, T0)
    assert not r.holds({"status": "occupied", "parkedMinutes": 840.0}, T0)


def test_safety_keeper_limit_is_per_household(shipped):
    specs, rules = shipped
    r = rules["safety-keeper/no-activity"]
    assert r.visibility == "restricted" and r.department == "welfare" and r.escalate.severity == "critical"
    assert r.holds({"motionCount": 0, "doorOpenCount": 0}, T0)
    assert not r.holds({"motionCount": 0}, T0) and not r.holds({"motionCount": 3, "doorOpenCount": 0}, T0)
    assert r.hold_seconds({"noActivityLimit": 24}) == 86400.0 and r.hold_seconds({}) == 43200.0
    attr = specs.services["safety-keeper"].attribute("HomeSafetySensor", "noActivityLimit")
    assert attr.unit == "HUR" and attr.visibility == "restricted"


def test_waste_bin_levels_raise_one_alarm_at_a_time(shipped):
    _, rules = shipped
    soon, full = rules["waste-bins/collect-soon"], rules["waste-bins/full"]
    assert [soon.holds({"fillingLevel": 0.85}, T0), full.holds({"fillingLevel": 0.85}, T0)] == [True, False]
    assert [soon.holds({"fillingLevel": 0.97}, T0), full.holds({"fillingLevel": 0.97}, T0)] == [False, True]
    fire = rules["waste-bins/fire-risk"]
    assert fire.holds({"status": "burning"}, T0) and fire.holds({"temperature": 61.0}, T0)
    assert fire.severity == "critical" and fire.escalate.after_s == 600
