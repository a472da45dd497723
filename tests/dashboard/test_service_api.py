"""``GET /api/services/{id}``, ``…/devices`` and ``…/series``: a service's page, each reader seeing what its
view allows — the public its public values, a department its own services' internal values and device health,
an admin all; a service the reader may see nothing of is a 404.  Figures are checked against what was sent
(``dashworld.py``) and against the platform's other APIs (NGSI-LD entities and temporal queries, device
health).  Both store engines."""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from dashworld import CROSSINGS, FILLS, NOW, PEDESTRIANS
from citylink.api.app import create_app
from citylink.clock import parse_iso
from citylink.health import DEVICE_STATES

BINS = "/api/services/waste-bins"
DAY = {"from": "2026-11-25T06:30:00Z", "to": "2026-11-26T06:30:00Z"}
HOUR = {"from": "2026-11-26T05:30:00Z", "to": "2026-11-26T06:30:00Z"}
SENT_NOW = "2026-11-26T06:25:00.000Z"            # the ACME bins of dashworld.FILLS, sent 5 minutes before NOW
PUBLIC_BIN_ATTRS = ["fillingLevel", "temperature", "status", "location"]


def client(world, reader: str | None = None) -> TestClient:
    c = TestClient(create_app(world["platform"]))
    if reader:
        c.headers["Authorization"] = f"Bearer {world['keys'][reader]}"
    return c


def get(world, reader: str | None, path: str, **params) -> dict:
    with client(world, reader) as c:
        r = c.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def refused(world, reader: str | None, path: str, status: int, **params) -> str:
    with client(world, reader) as c:
        r = c.get(path, params=params)
    assert r.status_code == status, r.text
    return r.json()["detail"]


def rows(page: dict) -> dict[str, dict]:
    """A page of the table as id → {field: value}."""
    return {r[0]: dict(zip(page["fields"], r)) for r in page["devices"]}


def local(entity_id: str) -> str:
    return entity_id.rsplit(":", 1)[-1]


# -- the service ------------------------------------------------------------------------------------------

def attributes(doc: dict) -> dict[str, dict]:
    return {a["name"]: a for et in doc["entityTypes"] for a in et["attributes"]}


@pytest.mark.parametrize("reader", [None, "public-key", "welfare"])
def test_the_public_sees_the_public_attributes_and_not_the_operations(world, reader):
    doc = get(world, reader, BINS)
    assert doc["name"] == {"ko": "스마트 압축 태양광 쓰레기통", "en": "Compacting solar trash bins"}
    assert doc["department"] == {"id": "sanitation", "name": {"ko": "청소행정과", "en": "Sanitation Division"}}
    assert doc["now"] == "2026-11-26T06:30:00.000Z"                     # the server's clock, not the wall's
    assert doc["operations"] is False
    attrs = attributes(doc)
    assert list(attrs) == PUBLIC_BIN_ATTRS                               # battery and compactions: internal
    assert attrs["temperature"] == {
        "name": "temperature", "label": {"ko": "내부 온도", "en": "Internal temperature"}, "type": "Number",
        "kind": "Property", "numeric": True, "unit": "CEL", "unitSymbol": "°C",
        "unitLabel": {"ko": "섭씨도", "en": "degree Celsius"}, "codes": None}
    assert attrs["fillingLevel"]["label"] == {"ko": "적재율", "en": "Filling level"}
    assert attrs["status"]["numeric"] is False and attrs["status"]["codes"]["lidOpen"] == {"ko": "뚜껑 열림",
                                                                                          "en": "Lid open"}


def test_a_department_sees_its_own_services_internal_attributes_and_operations(world):
    doc = get(world, "sanitation", BINS)
    assert doc["operations"] is True
    assert list(attributes(doc)) == ["fillingLevel", "temperature", "batteryLevel", "status", "compactionCount",
                                     "location"]                          # the spec's order
    assert get(world, "staff", BINS)["operations"] is True               # staff: every internal service's
    other = get(world, "sanitation", "/api/services/smart-crosswalk")     # another department's: public only
    assert other["operations"] is False and "stopLineViolations" not in attributes(other)


@pytest.mark.parametrize("reader", [None, "sanitation", "staff"])
def test_a_service_the_reader_may_see_nothing_of_is_not_found(world, reader):
    for path in ("/api/services/safety-keeper", "/api/services/safety-keeper/devices",
                 "/api/services/safety-keeper/series", "/api/services/no-such-service"):
        assert refused(world, reader, path, 404).startswith("service_id: ")
    assert get(world, "welfare", "/api/services/safety-keeper")["operations"] is True
    assert get(world, "admin", "/api/services/safety-keeper")["operations"] is True


# -- the devices table -------------------------------------------------------------------------------------

def test_the_public_table_holds_the_public_values_the_ngsi_ld_api_gives(world):
    page = get(world, None, f"{BINS}/devices")
    assert page["now"] == "2026-11-26T06:30:00.000Z"
    assert page["fields"] == ["id", "type", "observedAt", "state", "fillingLevel", "temperature", "status"]
    got = rows(page)
    with client(world) as c:
        ngsi = c.get("/ngsi-ld/v1/entities", params={"type": "WasteContainer", "options": "keyValues",
                                                      "limit": 100}).json()
    assert page["total"] == len(got) == len(ngsi) == 6 and list(got) == sorted(got)      # by id
    for e in ngsi:
        row = got[e["id"]]
        assert row["state"] is None                                       # no health for the public
        assert {k: row[k] for k in ("fillingLevel", "temperature", "status")} == \
            {k: e[k] for k in ("fillingLevel", "temperature", "status")}, e["id"]
    for device, fill in FILLS.items():
        row = got[f"urn:ngsi-ld:WasteContainer:dobong:acme:{device}"]
        assert row["fillingLevel"] == fill / 100 and row["observedAt"] == SENT_NOW


def test_a_department_sees_device_health_and_the_registry_devices_never_heard_of(world):
    page = get(world, "sanitation", f"{BINS}/devices")
    assert page["fields"][4:] == ["fillingLevel", "temperature", "batteryLevel", "status", "compactionCount"]
    got = rows(page)
    health = get(world, "sanitation", "/api/health/devices", service="waste-bins", limit=1000)
    assert page["total"] == health["total"] == 8
    assert {i: r["state"] for i, r in got.items()} == {d["id"]: d["state"] for d in health["devices"]}
    assert {r["state"] for r in got.values()} <= set(DEVICE_STATES)
    never = {local(i) for i, r in got.items() if r["state"] == "never_reported"}
    assert never == {"A-18", "A-19"}
    assert all(got[i]["observedAt"] is None and got[i]["fillingLevel"] is None for i in got if local(i) in never)
    assert all(got[f"urn:ngsi-ld:WasteContainer:dobong:acme:{d}"]["state"] == "online" for d in FILLS)
    # the alarms' Alert entities are of the service too, written through the API: no device
    admin = get(world, "admin", f"{BINS}/devices")
    assert admin["total"] == 8 and all(":WasteContainer:" in r[0] for r in admin["devices"])


def test_the_table_is_paged_and_filtered_on_the_server(world):
    every = [r[0] for r in get(world, "sanitation", f"{BINS}/devices")["devices"]]
    page = get(world, "sanitation", f"{BINS}/devices", limit=3, offset=3)
    assert [r[0] for r in page["devices"]] == every[3:6] and page["total"] == 8
    assert (page["limit"], page["offset"]) == (3, 3)
    found = get(world, "sanitation", f"{BINS}/devices", q="A-9")           # any case
    assert sorted(local(r[0]) for r in found["devices"]) == sorted(FILLS) and found["total"] == len(FILLS)
    assert get(world, None, f"{BINS}/devices", q="bravo")["total"] == 2
    assert get(world, None, f"{BINS}/devices", q="nothing like it")["devices"] == []
    assert get(world, None, f"{BINS}/devices", offset=100)["devices"] == []
    assert refused(world, None, f"{BINS}/devices", 400, limit=0).startswith("query.limit")
    assert refused(world, None, f"{BINS}/devices", 400, offset=-1).startswith("query.offset")


# -- the series ----------------------------------------------------------------------------------------------

def temporal(world, reader: str | None, type_name: str, attr: str, span: dict) -> list[tuple[int, float]]:
    """(µs, value) of every instance of ``attr`` in the span, from the NGSI-LD temporal API."""
    with client(world, reader) as c:
        r = c.get("/ngsi-ld/v1/temporal/entities", params={
            "type": type_name, "attrs": attr, "timerel": "between", "timeAt": span["from"],
            "endTimeAt": span["to"], "options": "temporalValues", "limit": 1000})
    assert r.status_code == 200, r.text
    return [(parse_iso(t), v) for e in r.json() for v, t in e.get(attr, {}).get("values", [])]


def bucketed(values: list[tuple[int, float]], width_s: int) -> list[list]:
    """The buckets as the API should give them: edges on Seoul's (UTC+9) whole units, by start."""
    seoul = 9 * 3600 * 1_000_000
    groups: dict[int, list[float]] = defaultdict(list)
    for us, v in values:
        groups[(us + seoul) // (width_s * 1_000_000)].append(v)
    return [[(b * width_s * 1_000_000 - seoul) // 1000, min(vs), sum(vs) / len(vs), max(vs), len(vs)]
            for b, vs in sorted(groups.items())]


def same(got: list[list], want: list[list]) -> bool:
    return len(got) == len(want) and all(g[0] == w[0] and g[4] == w[4] and g[1:4] == pytest.approx(w[1:4])
                                         for g, w in zip(got, want))


def test_a_series_is_the_observations_per_bucket_the_temporal_api_gives(world):
    s = get(world, None, f"{BINS}/series", attribute="fillingLevel", **DAY)
    assert (s["attribute"], s["unit"], s["bucketSeconds"]) == ("fillingLevel", "C62", 300)
    assert (s["from"], s["to"]) == ("2026-11-25T06:30:00.000Z", "2026-11-26T06:30:00.000Z")
    assert same(s["buckets"], bucketed(temporal(world, None, "WasteContainer", "fillingLevel", DAY), 300))
    last = s["buckets"][-1]                                    # the bins sent now, in one bucket
    assert last[0] == parse_iso(SENT_NOW) // 1000 and last[4] == len(FILLS)
    assert last[1:4] == pytest.approx([min(FILLS.values()) / 100, sum(FILLS.values()) / 100 / len(FILLS),
                                       max(FILLS.values()) / 100])
    # the crosswalks' pedestrians of the last hour, 15-second buckets
    walk = get(world, None, "/api/services/smart-crosswalk/series", attribute="peopleCount", **HOUR)
    assert walk["bucketSeconds"] == 15 and len(walk["buckets"]) == len(CROSSINGS)
    assert sum(b[2] * b[4] for b in walk["buckets"]) == PEDESTRIANS
    assert same(walk["buckets"], bucketed(temporal(world, None, "CrowdFlowObserved", "peopleCount", HOUR), 15))


def test_bucket_widths_keep_a_range_within_300_buckets_with_edges_on_seoul_days(world):
    week = get(world, None, f"{BINS}/series", attribute="fillingLevel", **{"from": "2026-11-19T06:30:00Z",
                                                                           "to": DAY["to"]})
    assert week["bucketSeconds"] == 3600 and len(week["buckets"]) == 2
    months = get(world, None, f"{BINS}/series", attribute="fillingLevel", **{"from": "2026-06-01T00:00:00Z",
                                                                           "to": DAY["to"]})
    assert months["bucketSeconds"] == 86400
    (day,) = months["buckets"]                                   # every bin's fill of 26 November, Seoul's day
    assert day[0] == parse_iso("2026-11-25T15:00:00Z") // 1000 and day[4] == 6
    # no range: the last day up to the server's now
    default = get(world, None, f"{BINS}/series", attribute="fillingLevel")
    assert (default["from"], default["to"]) == ("2026-11-25T06:30:00.000Z", "2026-11-26T06:30:00.000Z")
    assert default["buckets"] == get(world, None, f"{BINS}/series", attribute="fillingLevel", **DAY)["buckets"]
    assert get(world, None, f"{BINS}/series")["attribute"] == "fillingLevel"    # the first numeric one


def test_a_series_shows_a_reader_only_attributes_it_may_see(world):
    assert refused(world, None, f"{BINS}/series", 404, attribute="batteryLevel").startswith("attribute: ")
    mine = get(world, "sanitation", f"{BINS}/series", attribute="batteryLevel", **DAY)
    assert sum(b[4] for b in mine["buckets"]) == len(temporal(world, "sanitation", "WasteContainer",
                                                              "batteryLevel", DAY)) > 0
    assert refused(world, None, f"{BINS}/series", 404, attribute="noSuchThing").startswith("attribute: ")
    assert refused(world, None, f"{BINS}/series", 400, attribute="status").startswith("attribute: ")


def test_a_series_range_is_checked_and_each_error_names_its_parameter(world):
    to = NOW.isoformat()
    assert refused(world, None, f"{BINS}/series", 400, **{"from": to, "to": to}).startswith("from: ")
    assert refused(world, None, f"{BINS}/series", 400, **{"from": "yesterday"}).startswith("from: ")
    assert refused(world, None, f"{BINS}/series", 400, **{"to": "2026-11-26T06:30:00"}).startswith("to: ")
    long_ago = (NOW - timedelta(days=401)).isoformat()
    assert refused(world, None, f"{BINS}/series", 400, **{"from": long_ago, "to": to}).startswith("to: ")
    longest = get(world, None, f"{BINS}/series", **{"from": (NOW - timedelta(days=400)).isoformat(), "to": to})
    assert longest["bucketSeconds"] == 2 * 86400                          # 200 buckets


def test_sources_in_testing_are_left_out(world):
    """A source in ``testing`` status is published nowhere: its devices and values leave the page (BRAVO's
    two bins, for the time its spec says so)."""
    bravo = world["platform"].specs.sources["bins-bravo-gateway"]
    try:
        bravo.status = "testing"
        got = rows(get(world, "sanitation", f"{BINS}/devices"))
        assert not any(":bravo:" in i for i in got) and len(got) == 6
        s = get(world, None, f"{BINS}/series", attribute="fillingLevel", **DAY)
        assert sum(b[4] for b in s["buckets"]) == 1 + len(FILLS)           # ACME's example bin and the three
    finally:
        bravo.status = "live"
    assert rows(get(world, None, f"{BINS}/devices")).keys() >= {
        "urn:ngsi-ld:WasteContainer:dobong:bravo:B0042", "urn:ngsi-ld:WasteContainer:dobong:bravo:B0043"}

