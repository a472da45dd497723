"""The normalizer: raw messages in, one outcome per message out (stored, flagged, duplicate, quarantined)."""
from __future__ import annotations

from datetime import datetime, timedelta

import orjson
import pytest

from cltest import (ACME, AIR_NS, AIR_SERVICE, BRAVO, EXAMPLE_US, NOW, SDM, UTC, acme_body, acme_urn, air_source,
                    bravo_urn, manual_clock, messages, normalizer, obs_by_name, outcomes, problems_of, run_checked,
                    specs_of, value_of)
from citylink.clock import to_us
from citylink.config import BUNDLED_SPECS
from citylink.normalize.compiler import LOCATION_IRI
from citylink.normalize.pipeline import Limits
from citylink.normalize.records import (FLAG_AMBIGUOUS_TIME, FLAG_CLOCK_SKEW, FLAG_LATE, FLAG_NONEXISTENT_TIME,
                                        FLAG_OUT_OF_RANGE, FLAG_UNKNOWN_CODE, flag_names)
from citylink.spec.devices import Device, load_registry
from citylink.spec.loader import load_paths


@pytest.fixture(scope="module")
def bins_specs():
    return load_paths([BUNDLED_SPECS / "waste-bins"])


@pytest.fixture(scope="module")
def registries():
    d = BUNDLED_SPECS / "waste-bins/devices"
    return {ACME: load_registry(d / "bins-acme-http.csv"), BRAVO: load_registry(d / "bins-bravo-gateway.yaml")}


@pytest.fixture
def bins(bins_specs, registries, clock):
    return normalizer(bins_specs, clock, registries)


def air(*sources: str, clock=None, registries=None, limits=None, key=b"test-key"):
    docs = [("service.yaml", AIR_SERVICE)] + [(f"src{i}.yaml", s) for i, s in enumerate(sources)]
    return normalizer(specs_of(*docs), clock or manual_clock(), registries, limits, key)


def one(norm, source, body, clock=None, **kw):
    msgs = messages(source, [body], clock, **kw)
    batch, got = run_checked(norm, msgs)
    rid = msgs[0].id
    return batch, got[rid], problems_of(batch).get(rid, []), rid


def kst(*a) -> str:
    return datetime(*a).strftime("%Y-%m-%dT%H:%M:%S+09:00")


# -- entity ids -------------------------------------------------------------------------------------

def test_shipped_acme_example_is_stored_with_unit_conversion(bins):
    batch, outcome, probs, rid = one(bins, ACME, acme_body())
    assert outcome == "stored" and probs == []
    obs = obs_by_name(batch)
    assert {k: value_of(v) for k, v in obs.items()} == {
        "fillingLevel": pytest.approx(0.73), "temperature": 12.5, "batteryLevel": pytest.approx(0.88),
        "status": "ok", "compactionCount": 311}
    assert obs["fillingLevel"][6] == "C62" and obs["temperature"][6] == "CEL" and obs["status"][6] is None
    for o in batch.observations:
        assert o[0] == rid and o[1] == acme_urn("A-17") and o[7] == EXAMPLE_US and o[8] == 0
    assert obs["fillingLevel"][2] == SDM + "fillingLevel"
    assert obs["compactionCount"][2] == "https://w3id.org/citylink/ns/compactionCount"
    ent = batch.entities[acme_urn("A-17")]
    assert (ent.type, ent.service, ent.department, ent.source) == ("WasteContainer", "waste-bins", "sanitation", ACME)
    assert (ent.lon, ent.lat) == (pytest.approx(127.0471), pytest.approx(37.6688))  # from the registry


def test_entity_urn_form_and_vendors_numbering_from_one_do_not_collide():
    norm = air(air_source("air-a", namespace="vendor-a"), air_source("air-b"))
    body = {"id": 1, "ts": "2026-11-26T09:00:00+09:00", "t": 20}
    a, *_ = one(norm, "air-a", body)
    b, *_ = one(norm, "air-b", body)
    assert set(a.entities) == {"urn:ngsi-ld:AirQualityObserved:dobong:vendor-a:1"}
    assert set(b.entities) == {"urn:ngsi-ld:AirQualityObserved:dobong:air-b:1"}  # namespace defaults to the source id
    assert {o[1] for o in a.observations}.isdisjoint({o[1] for o in b.observations})


def test_numeric_local_ids_have_no_decimal_point():
    norm = air(air_source())
    batch, *_ = one(norm, "air-a", {"id": 7.0, "ts": "2026-11-26T09:00:00+09:00", "t": 20})
    assert set(batch.entities) == {"urn:ngsi-ld:AirQualityObserved:dobong:air-a:7"}


def test_composite_id_template():
    norm = air(air_source(entity_id='"{site}-{sensor.no}"'))
    batch, outcome, *_ = one(norm, "air-a", {"site": "S", "sensor": {"no": 3}, "ts": "2026-11-26T09:00:00+09:00", "t": 1})
    assert outcome == "stored" and set(batch.entities) == {"urn:ngsi-ld:AirQualityObserved:dobong:air-a:S-3"}


def test_registry_entity_id_overrides_the_namespace():
    regs = {"air-a": [Device("1", entity_id="station-7")],
            "air-b": [Device("X9", entity_id="station-7"),
                      Device("X10", entity_id="urn:ngsi-ld:AirQualityObserved:dobong:legacy:42")]}
    norm = air(air_source("air-a"), air_source("air-b"), registries=regs)
    body = {"ts": "2026-11-26T09:00:00+09:00", "t": 20}
    a, *_ = one(norm, "air-a", dict(body, id=1))
    norm.confirm(a)  # the store applied it
    b, *_ = one(norm, "air-b", dict(body, id="X9"))
    c, *_ = one(norm, "air-b", dict(body, id="X10"))
    d, *_ = one(norm, "air-b", dict(body, id="X11"))
    def eids(batch):
        return {o[1] for o in batch.observations}
    # two vendors reporting on one asset land on one entity, without a vendor namespace
    assert eids(a) == eids(b) == {"urn:ngsi-ld:AirQualityObserved:dobong:station-7"}
    assert set(a.entities) == {"urn:ngsi-ld:AirQualityObserved:dobong:station-7"}
    assert b.entities == {}  # already announced by the other vendor's message
    assert eids(c) == {"urn:ngsi-ld:AirQualityObserved:dobong:legacy:42"}  # a full URN is used as is
    assert eids(d) == {"urn:ngsi-ld:AirQualityObserved:dobong:air-b:X11"}  # unregistered: namespaced


def test_korean_and_reserved_characters_in_local_ids_are_percent_encoded():
    norm = air(air_source())
    batch, outcome, *_ = one(norm, "air-a", {"id": "도봉 1/2#a:b", "ts": "2026-11-26T09:00:00+09:00", "t": 1})
    [eid] = batch.entities
    assert eid == "urn:ngsi-ld:AirQualityObserved:dobong:air-a:%EB%8F%84%EB%B4%89%201%2F2%23a%3Ab"
    assert eid.isascii() and " " not in eid


def test_local_id_whitespace_is_trimmed_in_the_urn():
    norm = air(air_source())
    batch, *_ = one(norm, "air-a", {"id": " S1 ", "ts": "2026-11-26T09:00:00+09:00", "t": 1})
    assert set(batch.entities) == {"urn:ngsi-ld:AirQualityObserved:dobong:air-a:S1"}


@pytest.mark.parametrize("bad_id", [{"a": 1}, [1, 2], True])
def test_non_scalar_entity_id_is_quarantined(bins, bad_id):
    body = orjson.dumps({"deviceId": bad_id, "ts": "2026-11-26T09:00:00+09:00", "fill_pct": 5})
    batch, outcome, probs, _ = one(bins, ACME, body)
    assert outcome == "quarantined"
    assert batch.entities == {}


# -- computed fields, let-values, device registry ------------------------------------------------------

def test_bravo_fill_level_from_distance_to_lid_and_bin_height(bins, bins_specs):
    ex = bins_specs.sources[BRAVO].payload["example"]
    batch, outcome, probs, rid = one(bins, BRAVO, ex)
    assert outcome == "stored", probs
    by_ent: dict[str, dict] = {}
    for o in batch.observations:
        by_ent.setdefault(o[1], {})[o[2].rsplit("/", 1)[-1]] = value_of(o)
    # B0042: 420 mm = 42 cm below the lid of a 120 cm bin → 1 − 42/120 = 0.65
    assert by_ent[bravo_urn("B0042")]["fillingLevel"] == pytest.approx(0.65)
    # B0043: 90 mm = 9 cm of a 100 cm bin → 0.91
    assert by_ent[bravo_urn("B0043")]["fillingLevel"] == pytest.approx(0.91)
    assert by_ent[bravo_urn("B0042")]["temperature"] == 12.5        # 54.5 °F, without float noise
    assert by_ent[bravo_urn("B0042")]["batteryLevel"] == pytest.approx((3.61 - 3.0) / 0.7)
    assert by_ent[bravo_urn("B0043")]["status"] == "lidOpen"
    assert all(o[7] == EXAMPLE_US for o in batch.observations)  # epoch_ms


def test_bravo_bin_missing_from_the_registry_is_quarantined(bins):
    body = {"gw": "g", "readings": [{"sn": "B9999", "t": 1795651200000, "sensors": {"dist_mm": 1, "temp_f": 50},
                                     "batt_mv": 3500, "lid": 0}]}
    batch, outcome, probs, _ = one(bins, BRAVO, body)
    assert outcome == "quarantined"
    assert {p["type"] for p in probs} == {"expression_error"}
    assert any("bin_height_cm" in p["detail"] for p in probs)


def test_bravo_one_bad_reading_quarantines_the_whole_gateway_message(bins):
    body = {"gw": "g", "readings": [
        {"sn": "B0042", "t": 1795651200000, "sensors": {"dist_mm": 1, "temp_f": 50}, "batt_mv": 3500, "lid": 0},
        {"sn": "B0043", "t": 1795651200000, "sensors": {"dist_mm": 1, "temp_f": 50}, "batt_mv": 3500, "lid": 7}]}
    batch, outcome, probs, _ = one(bins, BRAVO, body)
    assert outcome == "quarantined" and batch.observations == []
    assert [p["field"] for p in probs] == ["records[1].status"]


def test_let_values_and_expressions():
    src = air_source(body="let:\n  tk: {from: tf, unit: FAH, to: CEL}\n  two: {value: 2}\n  code: {from: c, map: {'A': ok}}\n",
                     fields="  temperature: {expr: 'tk'}\n  aqi: {from: a}\n"
                            "  relativeHumidity: {expr: 'clamp(aqi / 100 / two, 0, 1)'}\n  state: {expr: 'code'}\n")
    norm = air(src)
    batch, outcome, probs, _ = one(norm, "air-a", {"id": 1, "ts": "2026-11-26T09:00:00+09:00", "tf": 68, "a": 50, "c": "A"})
    assert outcome == "stored", probs
    vals = {k: value_of(v) for k, v in obs_by_name(batch).items()}
    assert vals == {"temperature": 20.0, "aqi": 50, "relativeHumidity": 0.25, "state": "ok"}


def test_expression_failing_on_the_data_is_quarantined_not_raised():
    src = air_source(fields="  aqi: {from: a}\n  relativeHumidity: {expr: '1 / aqi'}\n")
    batch, outcome, probs, _ = one(air(src), "air-a", {"id": 1, "ts": "2026-11-26T09:00:00+09:00", "a": 0})
    assert outcome == "quarantined"
    assert probs[0]["type"] == "expression_error" and "ZeroDivisionError" in probs[0]["detail"]


def test_expression_result_is_type_and_range_checked():
    src = air_source(fields="  aqi: {from: a}\n  pm10: {expr: 'aqi * 100'}\n")
    batch, outcome, probs, _ = one(air(src), "air-a", {"id": 1, "ts": "2026-11-26T09:00:00+09:00", "a": 20})
    assert outcome == "quarantined" and probs[0]["type"] == "out_of_range" and probs[0]["field"] == "pm10"


def test_constant_field_value():
    src = air_source(fields="  temperature: {from: t}\n  state: {value: ok}\n")
    batch, outcome, *_ = one(air(src), "air-a", {"id": 1, "ts": "2026-11-26T09:00:00+09:00", "t": 1})
    assert value_of(obs_by_name(batch)["state"]) == "ok"


# -- ranges, code tables, types ----------------------------------------------------------------------------

def test_out_of_range_is_flagged_when_the_rule_is_flag(bins):
    batch, outcome, probs, _ = one(bins, ACME, acme_body(fill=150))
    assert outcome == "stored_flagged" and probs == []
    obs = obs_by_name(batch)
    assert value_of(obs["fillingLevel"]) == pytest.approx(1.5)
    assert obs["fillingLevel"][8] == FLAG_OUT_OF_RANGE and flag_names(obs["fillingLevel"][8]) == ["out_of_range"]
    assert obs["temperature"][8] == 0  # only the offending value carries the flag


def test_out_of_range_is_quarantined_when_the_rule_is_reject():
    src = air_source(fields="  pm10: {from: p}\n")
    batch, outcome, probs, _ = one(air(src), "air-a", {"id": 1, "ts": "2026-11-26T09:00:00+09:00", "p": 1200})
    assert outcome == "quarantined"
    assert probs == [{"type": "out_of_range", "field": "pm10", "rule": "range [0, 1000]", "value": 1200,
                      "detail": "pm10: 1200 is outside [0, 1000]"}]
    assert batch.observations == []


def test_open_ended_range(bins):
    batch, outcome, *_ = one(bins, ACME, acme_body(compactions=10**9))
    assert outcome == "stored"
    batch, outcome, *_ = one(bins, ACME, acme_body(compactions=-1))
    assert outcome == "stored_flagged"


def test_code_table_map_and_reject(bins):
    batch, outcome, *_ = one(bins, ACME, acme_body(state="9"))
    assert outcome == "stored" and value_of(obs_by_name(batch)["status"]) == "burning"
    batch, outcome, probs, _ = one(bins, ACME, acme_body(state="5"))
    assert outcome == "quarantined"
    assert probs[0]["type"] == "unknown_code" and probs[0]["field"] == "status" and probs[0]["value"] == "5"


def test_numeric_vendor_code_maps_like_text(bins):
    batch, outcome, *_ = one(bins, ACME, acme_body(state=1))
    assert outcome == "stored" and value_of(obs_by_name(batch)["status"]) == "lidOpen"


def test_unknown_code_is_flagged_when_the_rule_is_flag():
    svc = AIR_SERVICE.replace("        on_out_of_range: reject\n        codes:", "        codes:")
    norm = normalizer(specs_of(("s.yaml", svc), ("a.yaml", air_source(fields="  state: {from: s}\n"))))
    batch, outcome, *_ = one(norm, "air-a", {"id": 1, "ts": "2026-11-26T09:00:00+09:00", "s": "smoke"})
    assert outcome == "stored_flagged"
    assert obs_by_name(batch)["state"][8] == FLAG_UNKNOWN_CODE


def test_missing_required_is_quarantined_naming_the_field(bins):
    for body in (acme_body(fill=None), acme_body(fill="N/A"), acme_body(fill="")):
        batch, outcome, probs, _ = one(bins, ACME, body)
        assert outcome == "quarantined"
        assert [(p["type"], p["field"]) for p in probs] == [("missing_required", "fillingLevel")]
        assert "fillingLevel" in probs[0]["detail"]


def test_missing_optional_values_are_just_absent(bins):
    batch, outcome, *_ = one(bins, ACME, acme_body(temp="N/A", battery=None, state=None, compactions=None))
    assert outcome == "stored"
    assert set(obs_by_name(batch)) == {"fillingLevel"}


@pytest.mark.parametrize("change,field", [
    ({"temp": "warm"}, "temperature"), ({"temp": [1]}, "temperature"), ({"temp": {"c": 1}}, "temperature"),
    ({"temp": True}, "temperature"), ({"temp": "NaN"}, "temperature"), ({"temp": "Infinity"}, "temperature"),
    ({"compactions": 3.5}, "compactionCount"), ({"state": {"x": 1}}, "status"), ({"state": [0]}, "status"),
])
def test_wrong_type_is_quarantined(bins, change, field):
    batch, outcome, probs, _ = one(bins, ACME, acme_body(**change))
    assert outcome == "quarantined"
    assert [(p["type"], p["field"]) for p in probs] == [("wrong_type", field)]


def test_numeric_text_is_accepted(bins):
    batch, outcome, *_ = one(bins, ACME, acme_body(fill="73", temp="12.5", compactions="311"))
    assert outcome == "stored"
    vals = {k: value_of(v) for k, v in obs_by_name(batch).items()}
    assert vals["fillingLevel"] == pytest.approx(0.73) and vals["compactionCount"] == 311
    assert type(vals["compactionCount"]) is int


def test_boolean_values():
    norm = air(air_source(fields="  active: {from: act}\n"))
    for raw, want in ((True, "true"), ("yes", "true"), (0, "false"), ("OFF", "false")):
        batch, outcome, *_ = one(norm, "air-a", {"id": 1, "ts": "2026-11-26T09:00:00+09:00", "act": raw})
        assert outcome == "stored", raw
        assert obs_by_name(batch)["active"][5] == want
    batch, outcome, probs, _ = one(norm, "air-a", {"id": 1, "ts": "2026-11-26T09:00:00+09:00", "act": "maybe"})
    assert outcome == "quarantined" and probs[0]["type"] == "wrong_type"


# regression: an unbounded Python int once reached SQLite, whose OverflowError left the whole batch pending
@pytest.mark.parametrize("huge", [10 ** 30, "9" * 30, 1e300, -1e20])
def test_huge_integer_never_reaches_the_store_unbounded(bins, huge):
    batch, outcome, probs, _ = one(bins, ACME, acme_body(compactions=huge))
    if outcome == "quarantined":
        assert probs[0]["field"] == "compactionCount"
    else:  # or stored in a form a 64-bit column takes
        assert all(o[4] is None or abs(o[4]) < 2 ** 63 for o in batch.observations)


def test_integer_beyond_float_range_is_quarantined(bins):
    body = acme_body(fill=10 ** 400)
    batch, outcome, probs, _ = one(bins, ACME, body)
    assert outcome == "quarantined" and probs[0]["field"] == "fillingLevel"


# -- payload problems ----------------------------------------------------------------------------------

def test_malformed_json_names_line_and_column(bins):
    body = b'{\n  "deviceId": "A-17",\n  "ts": ,\n}'
    batch, outcome, probs, _ = one(bins, ACME, body)
    assert outcome == "quarantined"
    assert probs[0]["type"] == "malformed_json"
    assert "line 3 column 9" in probs[0]["detail"]


@pytest.mark.parametrize("body", [b"", b"   ", b'{"deviceId": "A-17"', b"[1,", b"\x00\x01", b"nul"])
def test_truncated_or_empty_json(bins, body):
    batch, outcome, probs, _ = one(bins, ACME, body)
    assert outcome == "quarantined" and probs[0]["type"] == "malformed_json"


@pytest.mark.parametrize("body,slug", [(b"[]", "no_records"), (b'"text"', "malformed_json"), (b"42", "malformed_json"),
                                       (b'{"gw": 1}', "no_records")])
def test_json_that_holds_no_record(bins, body, slug):
    source = BRAVO if b"gw" in body else ACME
    batch, outcome, probs, _ = one(bins, source, body)
    assert outcome == "quarantined" and probs[0]["type"] == slug


@pytest.mark.parametrize("text", ['"A-\\ud800"', '"\\udc00"', '"x\\ud83d"'])
def test_lone_surrogate_escapes_are_malformed_json(bins, text):
    for body in (acme_body().replace(b'"A-17"', text.encode()), acme_body().replace(b'"0"', text.encode())):
        batch, outcome, probs, _ = one(bins, ACME, body)
        assert outcome == "quarantined" and probs[0]["type"] == "malformed_json", body


def test_undecodable_utf8(bins):
    batch, outcome, probs, _ = one(bins, ACME, b'{"deviceId": "\xff\xfe"}')
    assert outcome == "quarantined"
    assert probs[0]["type"] == "undecodable_text" and "byte 14" in probs[0]["detail"]


CP949_SOURCE = air_source("air-cp", payload="{format: csv, encoding: cp949}",
                          ts="{field: ts, format: '%Y-%m-%d %H:%M'}", entity_id='"{site}"',
                          fields="  temperature: {from: t}\n  stationName: {from: name}\n")


def test_cp949_csv_is_decoded():
    norm = air(CP949_SOURCE)
    body = "site,ts,t,name\n도봉1,2026-11-26 09:00,3.5,도봉구청 앞\n".encode("cp949")
    batch, outcome, probs, _ = one(norm, "air-cp", body)
    assert outcome == "stored", probs
    assert value_of(obs_by_name(batch)["stationName"]) == "도봉구청 앞"
    assert set(batch.entities) == {"urn:ngsi-ld:AirQualityObserved:dobong:air-cp:%EB%8F%84%EB%B4%891"}


def test_undecodable_cp949():
    norm = air(CP949_SOURCE)
    batch, outcome, probs, _ = one(norm, "air-cp", b"site,ts,t,name\nA,2026-11-26 09:00,1,\x81\xff\n")
    assert outcome == "quarantined" and probs[0]["type"] == "undecodable_text"
    assert "cp949" in probs[0]["detail"]


def test_malformed_csv_row():
    norm = air(CP949_SOURCE)
    batch, outcome, probs, _ = one(norm, "air-cp", b"site,ts,t,name\nA,2026-11-26 09:00,1\n")
    assert outcome == "quarantined" and probs[0]["type"] == "malformed_csv"


def test_unknown_source_is_quarantined(bins):
    batch, outcome, probs, _ = one(bins, "no-such-source", b"{}")
    assert outcome == "quarantined" and probs[0]["type"] == "unknown_source"


# -- timestamps and the platform clock ------------------------------------------------------------------

def test_missing_and_bad_timestamps(bins):
    batch, outcome, probs, _ = one(bins, ACME, acme_body(ts=None))
    assert outcome == "quarantined" and probs[0]["type"] == "missing_timestamp" and probs[0]["field"] == "ts"
    batch, outcome, probs, _ = one(bins, ACME, acme_body(ts="yesterday"))
    assert outcome == "quarantined" and probs[0]["type"] == "bad_timestamp" and probs[0]["value"] == "yesterday"


def test_timestamp_far_in_the_future_is_quarantined(bins):
    batch, outcome, probs, _ = one(bins, ACME, acme_body(ts=kst(2026, 11, 28, 9, 0)))
    assert outcome == "quarantined"
    assert probs[0]["type"] == "timestamp_in_future" and probs[0]["rule"] == "max_future_seconds"


def test_small_clock_skew_is_flagged(bins):
    ahead = NOW + timedelta(minutes=10)
    batch, outcome, probs, _ = one(bins, ACME, acme_body(ts=ahead.isoformat()))
    assert outcome == "stored_flagged"
    assert all(o[8] & FLAG_CLOCK_SKEW for o in batch.observations)
    assert obs_by_name(batch)["fillingLevel"][7] == to_us(ahead)


def test_a_minute_ahead_is_fine(bins):
    batch, outcome, *_ = one(bins, ACME, acme_body(ts=(NOW + timedelta(minutes=1)).isoformat()))
    assert outcome == "stored"


def test_limits_are_configurable(bins_specs):
    norm = normalizer(bins_specs, manual_clock(), limits=Limits(max_clock_skew_us=1_000_000, max_future_us=60_000_000))
    batch, outcome, *_ = one(norm, ACME, acme_body(ts=(NOW + timedelta(seconds=30)).isoformat()))
    assert outcome == "stored_flagged"
    batch, outcome, probs, _ = one(norm, ACME, acme_body(ts=(NOW + timedelta(minutes=2)).isoformat()))
    assert outcome == "quarantined" and probs[0]["type"] == "timestamp_in_future"


def test_late_data_is_flagged_unless_it_is_a_backfill(bins):
    old = kst(2026, 11, 26, 6, 0)  # 3.5 h before arrival
    batch, outcome, *_ = one(bins, ACME, acme_body(ts=old))
    assert outcome == "stored_flagged" and all(o[8] == FLAG_LATE for o in batch.observations)
    batch, outcome, *_ = one(bins, ACME, acme_body(ts=old), meta={"backfill": True})
    assert outcome == "stored"


def test_dst_flags_reach_the_stored_values():
    src = air_source(ts="{field: ts, format: '%Y-%m-%d %H:%M', timezone: Australia/Melbourne}")
    clock = manual_clock(datetime(2026, 10, 4, 0, 0, tzinfo=UTC))
    norm = air(src, clock=clock)
    batch, outcome, *_ = one(norm, "air-a", {"id": 1, "ts": "2026-10-04 02:30", "t": 1}, clock, meta={"backfill": True})
    assert outcome == "stored_flagged" and batch.observations[0][8] == FLAG_NONEXISTENT_TIME
    clock.set(datetime(2026, 4, 5, 0, 0, tzinfo=UTC))
    batch, outcome, *_ = one(norm, "air-a", {"id": 1, "ts": "2026-04-05 02:30", "t": 1}, clock, meta={"backfill": True})
    assert outcome == "stored_flagged" and batch.observations[0][8] == FLAG_AMBIGUOUS_TIME


def test_end_of_day_24_00():
    src = air_source(ts="{field: ts, format: '%Y%m%d%H'}")
    clock = manual_clock(datetime(2019, 1, 1, 16, 0, tzinfo=UTC))
    batch, outcome, *_ = one(air(src, clock=clock), "air-a", {"id": 1, "ts": "2019010124", "t": 1}, clock)
    assert outcome == "stored"
    assert batch.observations[0][7] == to_us(datetime(2019, 1, 1, 15, 0, tzinfo=UTC))


# -- personal data -----------------------------------------------------------------------------------

def test_personal_attribute_is_pseudonymised():
    norm = air(air_source(fields="  plate: {from: car}\n  stationName: {from: nm}\n"))
    plate = "12가3456"
    msgs = messages("air-a", [{"id": i, "ts": "2026-11-26T09:00:00+09:00", "car": p, "nm": "gate"}
                              for i, p in enumerate([plate, plate, " 12가3456 ", "34나5678"])])
    batch, got = run_checked(norm, msgs)
    assert set(got.values()) == {"stored"}
    pz = [orjson.loads(o[5]) for o in batch.observations if o[2] == AIR_NS + "plate"]
    assert all(p.startswith("pz:") and len(p) > 10 for p in pz)
    assert pz[0] == pz[1] == pz[2]  # same plate → same pseudonym (so trips can be linked)
    assert pz[3] != pz[0]
    # the plate text is nowhere in what is stored
    dump = repr(batch.observations) + repr(batch.entities)
    assert plate not in dump and "3456" not in dump and "5678" not in dump
    assert orjson.dumps(batch.observations).decode().find("3456") == -1
    # non-personal text is untouched
    assert {orjson.loads(o[5]) for o in batch.observations if o[2] == AIR_NS + "stationName"} == {"gate"}


def test_pseudonyms_depend_on_the_key_only():
    src = air_source(fields="  plate: {from: car}\n")
    body = {"id": 1, "ts": "2026-11-26T09:00:00+09:00", "car": "12가3456"}

    def pz(key):
        batch, *_ = one(air(src, key=key), "air-a", body)
        return orjson.loads(batch.observations[0][5])
    assert pz(b"k1") == pz(b"k1")
    assert pz(b"k1") != pz(b"k2")


# -- positions -------------------------------------------------------------------------------------------

def test_position_in_epsg5186_is_converted_to_wgs84_in_dobong():
    src = air_source(body="position: {x: pos.x, y: pos.y, crs: 'EPSG:5186'}\n")
    batch, outcome, probs, _ = one(air(src), "air-a",
                                   {"id": 1, "ts": "2026-11-26T09:00:00+09:00", "t": 1, "pos": {"x": 203000, "y": 563000}})
    assert outcome == "stored", probs
    loc = [o for o in batch.observations if o[2] == LOCATION_IRI]
    assert len(loc) == 1
    geo = orjson.loads(loc[0][5])
    assert geo["type"] == "Point"
    lon, lat = geo["coordinates"]
    assert lon == pytest.approx(127.034, abs=1e-3) and lat == pytest.approx(37.667, abs=1e-3)
    assert 127.00 < lon < 127.07 and 37.63 < lat < 37.70  # inside Dobong-gu
    ent = next(iter(batch.entities.values()))
    assert (ent.lon, ent.lat) == (pytest.approx(lon, abs=1e-6), pytest.approx(lat, abs=1e-6))


def test_position_text_coordinates_and_bad_position():
    src = air_source(body="position: {x: x, y: y, crs: 'EPSG:5186'}\n")
    norm = air(src)
    batch, outcome, *_ = one(norm, "air-a", {"id": 1, "ts": "2026-11-26T09:00:00+09:00", "t": 1, "x": "203000", "y": "563000"})
    assert outcome == "stored"
    batch, outcome, probs, _ = one(norm, "air-a", {"id": 1, "ts": "2026-11-26T09:00:00+09:00", "t": 1, "x": "east", "y": 1})
    assert outcome == "quarantined" and probs[0]["type"] == "bad_position"
    batch, outcome, *_ = one(norm, "air-a", {"id": 1, "ts": "2026-11-26T09:00:00+09:00", "t": 1})
    assert outcome == "stored"  # no position given: fine
    assert not any(o[2] == LOCATION_IRI for o in batch.observations)


def test_wgs84_position_out_of_range_is_quarantined():
    src = air_source(body="position: {x: lon, y: lat}\n")
    batch, outcome, probs, _ = one(air(src), "air-a", {"id": 1, "ts": "2026-11-26T09:00:00+09:00", "t": 1,
                                                      "lon": 37.6, "lat": 127.0})
    assert outcome == "quarantined" and probs[0]["type"] == "bad_position"


# -- long format ----------------------------------------------------------------------------------------

LONG_SOURCE = air_source("air-long", payload="{format: csv}", entity_id='"{site}"',
                         ts="{field: time, format: '%Y-%m-%d %H:%M'}", fields="",
                         body="long:\n  quantity: item\n  value: val\n  unit: u\n"
                              "  units: {'ppb': '61', '㎍/㎥': GQ, 'F': FAH, 'C': CEL}\n"
                              "  attributes:\n    HCHO: {attribute: hcho, molar_mass: 30.03}\n"
                              "    TEMP: temperature\n    PM10: pm10\n")


def test_long_format_rows():
    norm = air(LONG_SOURCE)
    head = "site,time,item,val,u\n"
    rows = ["S1,2026-11-26 09:00,HCHO,1,ppb", "S1,2026-11-26 09:00,HCHO,5,㎍/㎥", "S1,2026-11-26 09:00,TEMP,212,F",
            "S1,2026-11-26 09:00,PM10,30,㎍/㎥", "S1,2026-11-26 09:00,CO,1,ppm", "S1,2026-11-26 09:00,HCHO,1,furlong",
            "S1,2026-11-26 09:00,PM10,,㎍/㎥"]
    msgs = messages("air-long", [(head + r + "\n").encode() for r in rows])
    batch, got = run_checked(norm, msgs)
    ids = [m.id for m in msgs]
    vals = {o[0]: (o[2].rsplit("/", 1)[-1], o[4], o[6]) for o in batch.observations}
    assert vals[ids[0]] == ("hcho", pytest.approx(1.2282, abs=1e-4), "GQ")   # 1 ppb HCHO ≈ 1.228 µg/m³
    assert vals[ids[1]] == ("hcho", 5.0, "GQ")
    assert vals[ids[2]] == ("temperature", pytest.approx(100.0), "CEL")
    assert vals[ids[3]] == ("pm10", 30.0, "GQ")
    probs = problems_of(batch)
    assert got[ids[4]] == "quarantined" and probs[ids[4]][0]["type"] == "unknown_quantity"
    assert got[ids[5]] == "quarantined" and probs[ids[5]][0]["type"] == "unknown_unit"
    # an empty reading is no reading, and a message with no reading at all is quarantined, not "stored"
    assert got[ids[6]] == "quarantined" and probs[ids[6]][0]["type"] == "no_values" and ids[6] not in vals


def test_long_format_several_rows_in_one_message():
    norm = air(LONG_SOURCE)
    body = b"site,time,item,val,u\nS1,2026-11-26 09:00,PM10,30,C\nS1,2026-11-26 09:00,TEMP,20,C\n"
    batch, outcome, probs, _ = one(norm, "air-long", body)
    assert outcome == "quarantined"  # PM10 in °C cannot be converted
    assert probs[0]["field"] == "records[0].u"


def test_long_format_empty_unit_cell_uses_the_declared_unit():
    src = LONG_SOURCE.replace("    PM10: pm10\n", "    PM10: pm10\n    NO2: {attribute: no2, unit: '61', molar_mass: 46.01}\n")
    batch, outcome, probs, _ = one(air(src), "air-long", b"site,time,item,val,u\nS1,2026-11-26 09:00,NO2,10,\n")
    assert outcome == "stored", probs
    assert batch.observations[0][4] == pytest.approx(10 * 46.01 / 24.45, rel=1e-6)


# -- duplicates and the one-outcome-per-message rule ---------------------------------------------------------

def test_same_body_twice_in_one_batch_is_a_duplicate(bins):
    msgs = messages(ACME, [acme_body(), acme_body(), acme_body(device="A-18")])
    batch, got = run_checked(bins, msgs)
    assert [got[m.id] for m in msgs] == ["stored", "duplicate", "stored"]
    assert {o[0] for o in batch.observations} == {msgs[0].id, msgs[2].id}
    dup = next(o for o in batch.outcomes if o[0] == msgs[1].id)
    assert dup[3] is None  # a duplicate claims no dedupe key


def test_duplicate_across_batches_via_find_dedupe(bins):
    first = messages(ACME, [acme_body()])
    b1, _ = run_checked(bins, first)
    accepted = {o[3]: o[0] for o in b1.outcomes if o[3] is not None}
    again = messages(ACME, [acme_body(), acme_body(device="A-19")])
    b2, got = run_checked(bins, again, lambda keys: {k: accepted[k] for k in keys if k in accepted})
    assert [got[m.id] for m in again] == ["duplicate", "stored"]


def test_redelivered_message_is_not_a_duplicate_of_itself(bins):
    msgs = messages(ACME, [acme_body()])
    b1, _ = run_checked(bins, msgs)
    key = b1.outcomes[0][3]
    b2, got = run_checked(bins, msgs, lambda keys: {key: msgs[0].id})
    assert got[msgs[0].id] == "stored"


def test_bravo_dedupe_uses_the_declared_paths(bins, bins_specs):
    ex = dict(bins_specs.sources[BRAVO].payload["example"])
    resent = dict(ex, gw="gw-99")  # another gateway relays the same readings: same (sn, t)
    msgs = messages(BRAVO, [ex, resent])
    batch, got = run_checked(bins, msgs)
    assert [got[m.id] for m in msgs] == ["stored", "duplicate"]


def test_every_message_gets_exactly_one_outcome_in_a_mixed_batch(bins, bins_specs):
    bodies = [acme_body(), acme_body(), acme_body(fill=None), b"{", b"\xff", acme_body(state="5"),
              acme_body(ts=kst(2030, 1, 1, 0, 0)), acme_body(fill=150), b"[]", acme_body(device="A-18"), b"null"]
    msgs = messages(ACME, bodies) + messages(BRAVO, [bins_specs.sources[BRAVO].payload["example"], b"{}"]) \
        + messages("ghost", [b"{}"])
    batch, got = run_checked(bins, msgs)
    assert len(batch.outcomes) == len(msgs) == len(got)
    names = [got[m.id] for m in msgs]
    assert names == ["stored", "duplicate", "quarantined", "quarantined", "quarantined", "quarantined",
                     "quarantined", "stored_flagged", "quarantined", "stored", "quarantined",
                     "stored", "quarantined", "quarantined"]
    assert set(problems_of(batch)) == {m.id for m, n in zip(msgs, names) if n == "quarantined"}
    assert {o[0] for o in batch.observations} == {m.id for m, n in zip(msgs, names) if n.startswith("stored")}
    assert batch.ledger() == {(ACME, "stored"): 2, (ACME, "duplicate"): 1, (ACME, "quarantined"): 7,
                              (ACME, "stored_flagged"): 1, (BRAVO, "stored"): 1, (BRAVO, "quarantined"): 1,
                              ("ghost", "quarantined"): 1}


def test_entities_are_announced_until_the_store_confirms(bins):
    b1, _ = run_checked(bins, messages(ACME, [acme_body()]))
    assert acme_urn("A-17") in b1.entities
    # not confirmed (the store may have rolled the batch back): announced again
    b2, _ = run_checked(bins, messages(ACME, [acme_body(fill=10)]))
    assert acme_urn("A-17") in b2.entities
    bins.confirm(b2)
    b3, _ = run_checked(bins, messages(ACME, [acme_body(fill=20)]))
    assert b3.entities == {}
    assert set(outcomes(b3).values()) == {"stored"}
    # a new device registry may move entities: they are announced again
    bins.set_devices(ACME, [])
    b4, _ = run_checked(bins, messages(ACME, [acme_body(fill=30)]))
    assert acme_urn("A-17") in b4.entities and b4.entities[acme_urn("A-17")].lon is None


def test_attr_catalog(bins):
    cat = bins.attr_catalog()
    assert cat[LOCATION_IRI] == ("location", "GeoProperty", "GeoProperty", None)
    assert cat[SDM + "fillingLevel"] == ("fillingLevel", "Property", "Number", "C62")
    assert cat[SDM + "status"] == ("status", "Property", "Text", None)


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "NaN", "1e400", 1e308 * 10])
def test_non_finite_numbers_are_refused_without_a_range_too(value):
    """hcho has no range: infinity must still be refused (the fast numeric check bounds by the
    largest finite double, so it cannot let ±inf through)."""
    norm = air(air_source(fields="  hcho: {from: h}\n"))
    body = orjson.dumps({"id": 1, "ts": "2026-11-26T09:00:00+09:00", "h": value}) if not isinstance(value, float) \
        else b'{"id": 1, "ts": "2026-11-26T09:00:00+09:00", "h": 1e400}'
    batch, outcome, probs, _ = one(norm, "air-a", body)
    assert outcome == "quarantined" and [(p["type"], p["field"]) for p in probs] == [("wrong_type", "hcho")]
