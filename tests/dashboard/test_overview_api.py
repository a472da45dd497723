"""``GET /api/overview`` and ``GET /api/overview/devices``: a tile per service and every device on the map, each
reader seeing what its view allows — the public counts and public values, a department its own services'
health and alarms, staff every internal service's, an admin all.  Figures are checked against what the
platform was sent and against the platform's other APIs (NGSI-LD queries, device health, alarms)."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dashworld import FILLS, PEDESTRIANS
from citylink.alarms import SEVERITIES
from citylink.api.app import create_app
from citylink.config import BUNDLED_SPECS
from citylink.health import DEVICE_STATES
from citylink.normalize.compiler import pseudonymiser
from citylink.spec.loader import load_paths

SPECS = load_paths([BUNDLED_SPECS])
SERVICES = set(SPECS.services)
PUBLIC_SERVICES = SERVICES - {"safety-keeper"}                    # restricted: nothing of it is public
LOCATED_IN_PUBLIC = {"waste-bins", "indoor-air", "smart-crosswalk", "riverbank-counters", "snow-boxes"}
TILE = {"id", "name", "department", "devices", "messages", "headline"}
PLATE, HOUSEHOLD, EVENT = "12가3456", "DB-WF-2210", "NV-20261126-000381"   # in the shipped examples


def client(p, key: str | None = None) -> TestClient:
    c = TestClient(create_app(p))
    if key:
        c.headers["Authorization"] = f"Bearer {key}"
    return c


def tiles(world, reader: str | None) -> dict[str, dict]:
    with client(world["platform"], world["keys"].get(reader) if reader else None) as c:
        r = c.get("/api/overview")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["at"] == "2026-11-26T06:30:00.000Z" and doc["refreshSeconds"] > 0
    return {t["id"]: t for t in doc["services"]}


def devices(world, reader: str | None) -> list[dict]:
    with client(world["platform"], world["keys"].get(reader) if reader else None) as c:
        doc = c.get("/api/overview/devices").json()
    assert doc["fields"] == ["id", "service", "lon", "lat", "state", "alarm"]
    return [dict(zip(doc["fields"], row)) for row in doc["devices"]]


def ngsi_count(world, type_name: str, key: str | None = None, **params) -> int:
    with client(world["platform"], key) as c:
        r = c.get("/ngsi-ld/v1/entities", params={"type": type_name, "count": "true", "limit": 1, **params})
    assert r.status_code == 200, r.text
    return int(r.headers["NGSILD-Results-Count"])


# -- what each reader sees --------------------------------------------------------------------------------

@pytest.mark.parametrize("reader", [None, "public-key"])
def test_the_public_gets_counts_and_public_values_only(world, reader):
    got = tiles(world, reader)
    assert set(got) == PUBLIC_SERVICES
    for sid, t in got.items():
        assert set(t) == TILE, sid                                   # no alarms
        assert set(t["devices"]) == {"total"} and set(t["messages"]) == {"lastHour"}, sid
        assert t["devices"]["total"] > 0 and t["messages"]["lastHour"] > 0, sid
        assert t["headline"] is None or t["headline"]["basis"] != "alarms", sid
    assert got["waste-bins"]["name"] == {"ko": "스마트 압축 태양광 쓰레기통", "en": "Compacting solar trash bins"}
    assert got["waste-bins"]["department"]["id"] == "sanitation" and got["waste-bins"]["department"]["name"]["en"]
    # the devices the public counts are the entities it may read through NGSI-LD
    for sid, type_name in (("waste-bins", "WasteContainer"), ("indoor-air", "AirQualityObserved"),
                           ("snow-boxes", "SnowRemovalBox")):
        assert got[sid]["devices"]["total"] == ngsi_count(world, type_name), sid
    # waste bins: ACME's example, the three sent now, one cut short; BRAVO's example
    assert got["waste-bins"]["messages"]["lastHour"] == 1 + len(FILLS) + 1 + 1


def test_a_department_sees_its_own_services_operations(world):
    got = tiles(world, "sanitation")
    assert set(got) == PUBLIC_SERVICES
    bins = got["waste-bins"]
    assert set(bins) == TILE | {"alarms"}
    assert set(bins["devices"]) == {"total", *DEVICE_STATES}
    assert bins["devices"]["total"] == sum(bins["devices"][s] for s in DEVICE_STATES)
    with client(world["platform"], world["keys"]["sanitation"]) as c:
        health = c.get("/api/health/devices", params={"service": "waste-bins", "limit": 1000}).json()
        open_alarms = c.get("/api/alarms", params={"service": "waste-bins", "limit": 1000}).json()["alarms"]
    assert bins["devices"]["total"] == health["total"]
    for state in DEVICE_STATES:
        assert bins["devices"][state] == sum(d["state"] == state for d in health["devices"]), state
    m = bins["messages"]
    assert m["quarantinedLastHour"] == 1 and m["rejectionRate"] == round(1 / m["lastHour"], 4)
    assert m["sources"] == {"active": 2, "silent": 0, "never_received": 0}
    assert bins["alarms"]["open"] == len(open_alarms) > 0
    assert bins["alarms"]["bySeverity"] == {s: sum(a["severity"] == s for a in open_alarms)
                                            for s in reversed(SEVERITIES)}
    for sid in PUBLIC_SERVICES - {"waste-bins"}:                      # another department's: counts only
        assert set(got[sid]) == TILE and set(got[sid]["devices"]) == {"total"}, sid


def test_staff_see_every_internal_service_and_an_admin_everything(world):
    staff = tiles(world, "staff")
    assert set(staff) == PUBLIC_SERVICES
    assert all("alarms" in t and "online" in t["devices"] for t in staff.values())
    welfare = tiles(world, "welfare")
    assert set(welfare) == SERVICES and "alarms" in welfare["safety-keeper"]
    assert all("alarms" not in t for sid, t in welfare.items() if sid != "safety-keeper")
    admin = tiles(world, "admin")
    assert set(admin) == SERVICES and all("alarms" in t for t in admin.values())


# -- the headlines ------------------------------------------------------------------------------------

def test_the_bins_headline_counts_from_public_values_for_the_public_and_from_alarms_for_operations(world):
    full = ngsi_count(world, "WasteContainer", q="fillingLevel>=0.8")   # the NGSI-LD query agrees
    assert full >= 2                                                      # at least
    public = tiles(world, None)["waste-bins"]["headline"]
    assert public == {"name": {"ko": "적재율 80% 이상인 쓰레기통", "en": "Bins at least 80 % full"}, "value": full,
                      "of": ngsi_count(world, "WasteContainer"), "basis": "values"}
    ops = tiles(world, "sanitation")["waste-bins"]["headline"]
    with client(world["platform"], world["keys"]["sanitation"]) as c:
        alarmed = {a["entity"] for rule in ("collect-soon", "full")
                   for a in c.get("/api/alarms", params={"rule": f"waste-bins/{rule}"}).json()["alarms"]}
    assert ops["basis"] == "alarms" and ops["value"] == len(alarmed) == full


def test_sums_occupancy_and_homes(world):
    public = tiles(world, None)
    # the two crosswalk reports of the last hour; the examples' are hours old
    assert public["smart-crosswalk"]["headline"]["value"] == PEDESTRIANS
    assert public["smart-crosswalk"]["headline"]["windowSeconds"] == 3600
    # the counters' latest hour, added up: the example's only counter, upstream + downstream (the file's
    # 4th and 5th columns), hours old but its latest
    row = SPECS.sources["river-hangang-csv"].payload["example"].splitlines()[1].split(",")
    assert public["riverbank-counters"]["headline"] == {
        "name": {"ko": "계수기마다 최근 1시간 보행자의 합", "en": "Pedestrians, each counter's latest hour"},
        "value": int(row[3]) + int(row[4]), "basis": "latest"}
    # a bay's status is public though the parking services are internal
    occupied = ngsi_count(world, "ParkingSpot", q='status=="occupied"')
    assert occupied > 0
    assert public["disabled-parking"]["headline"]["value"] + public["ev-charging-parking"]["headline"]["value"] \
        == occupied
    homes = tiles(world, "welfare")["safety-keeper"]["headline"]
    assert homes["basis"] == "entities" and homes["value"] == ngsi_count(world, "HomeSafetySensor",
                                                                          world["keys"]["welfare"]) == 1


# -- the map -----------------------------------------------------------------------------------------

def test_the_public_map_has_public_positions_and_no_states(world):
    rows = devices(world, None)
    assert rows and {r["service"] for r in rows} == LOCATED_IN_PUBLIC   # parking bays' positions are internal
    assert all(r["state"] is None and r["alarm"] is None for r in rows)
    assert all(127.0 < r["lon"] < 127.1 and 37.6 < r["lat"] < 37.72 for r in rows)
    with client(world["platform"]) as c:
        bins = c.get("/ngsi-ld/v1/entities", params={"type": "WasteContainer", "limit": 1000}).json()
    placed = {e["id"] for e in bins if "location" in e}
    assert {r["id"] for r in rows if r["service"] == "waste-bins"} == placed


def test_operations_readers_see_health_and_the_worst_open_alarm_on_the_map(world):
    rows = devices(world, "admin")
    assert {r["service"] for r in rows} == SERVICES - {"safety-keeper"}   # the homes have no position
    assert all(r["state"] in DEVICE_STATES for r in rows)
    assert any(r["state"] == "never_reported" for r in rows)          # registry devices, placed by the registry
    with client(world["platform"], world["keys"]["admin"]) as c:
        open_alarms = c.get("/api/alarms", params={"limit": 1000}).json()["alarms"]
    worst = {}
    for a in open_alarms:
        worst[a["entity"]] = max(worst.get(a["entity"], -1), SEVERITIES.index(a["severity"]))
    assert any(r["alarm"] for r in rows)
    for r in rows:
        assert r["alarm"] == (SEVERITIES[worst[r["id"]]] if r["id"] in worst else None), r
    own = devices(world, "sanitation")
    assert {r["service"] for r in own} == LOCATED_IN_PUBLIC
    assert all((r["state"] is not None) == (r["service"] == "waste-bins") for r in own)


def test_no_reader_learns_what_it_may_not_see(world):
    """The secrets of the isolation walk (tests/api/test_isolation.py, which walks these routes too): plates and
    households as sent and pseudonymised, the welfare sensors' ids, the camera's internal event reference."""
    p = world["platform"]
    pz = pseudonymiser(b"test-key")
    with client(p, world["keys"]["welfare"]) as c:
        home = c.get("/ngsi-ld/v1/entities", params={"type": "HomeSafetySensor"}).json()[0]["id"]
    restricted = {PLATE, pz(PLATE), HOUSEHOLD, pz(HOUSEHOLD), home}
    for reader in (None, "public-key", "sanitation", "staff"):
        hidden = restricted | ({EVENT} if reader != "staff" else set())
        with client(p, world["keys"].get(reader) if reader else None) as c:
            for path in ("/api/overview", "/api/overview/devices"):
                body = c.get(path).text
                assert not {s for s in hidden if s in body}, (reader, path)


# -- the page and the map's base ---------------------------------------------------------------------

def test_the_district_is_the_bundled_outline_and_its_dongs(world):
    with client(world["platform"]) as c:
        r = c.get("/api/district")
    assert r.status_code == 200 and "max-age" in r.headers["cache-control"]
    doc = r.json()
    assert len(doc["district"]["features"]) == 1 and len(doc["dongs"]["features"]) == 14
    assert {"code", "name", "name_eng"} <= set(doc["dongs"]["features"][0]["properties"])


def test_an_invalid_key_is_refused_not_shown_public_data(world):
    with client(world["platform"], "not-a-key") as c:
        assert c.get("/api/overview").status_code == 401
        assert c.get("/api/overview/devices").status_code == 401


def test_the_overview_is_documented(world):
    with client(world["platform"]) as c:
        paths = c.get("/openapi.json").json()["paths"]
    assert {"/api/overview", "/api/overview/devices", "/api/district"} <= set(paths) and "/" not in paths

