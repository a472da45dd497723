"""The device page's API — ``GET /api/devices/{id}``, ``…/series`` and ``…/messages`` — on both engines: each
reader sees what its view allows (the public: public attributes, no health, no messages; the owning department:
everything, raw messages with personal fields pseudonymised exactly as ``/api/raw/{id}`` shows them; another
department: nothing of a restricted service's device), and the history's figures are what was sent, raw when
few and averaged per period in the database when many."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from cltest import acme_body, acme_urn, submit_and_wait
from dashworld import ACME, FILLS, KST, NOW
from citylink.api.app import create_app
from citylink import clock
from citylink.clock import to_us
from citylink.dashboard.device import MAX_POINTS
from citylink.normalize.compiler import pseudonymiser

PLATE = "12가3456"                                     # the camera example's plate: personal
BAY = "urn:ngsi-ld:ParkingSpot:dobong:dparking-gu-office-014"   # fed by the camera and the bay sensor
HOME_TYPE = "HomeSafetySensor"                        # safety-keeper: restricted to welfare
PUBLIC_BIN_ATTRS = {"fillingLevel", "temperature", "status"}
BIN_ATTRS = PUBLIC_BIN_ATTRS | {"batteryLevel", "compactionCount"}
# a busy bin: a message every 5 minutes for 5 days up to 10 minutes ago; its lid open and shut every 100
BUSY, BUSY_N, STEP = "A-80", 1500, timedelta(minutes=5)


def busy_message(i: int) -> tuple[datetime, int, float, str]:
    """The i-th message of the busy bin: (observedAt, fill %, temperature, state code)."""
    at = NOW - timedelta(minutes=10) - (BUSY_N - 1 - i) * STEP
    return at, 10 + (i * 7) % 60, round(-5 + (i % 40) * 0.5, 1), "1" if (i // 100) % 2 else "0"


def busy_sent(since: datetime) -> list[tuple[int, int, float, str]]:
    """The busy bin's messages observed at or after ``since``, their time in ms."""
    return [(to_us(at) // 1000, *rest) for at, *rest in map(busy_message, range(BUSY_N)) if at >= since]


@pytest.fixture(scope="module")
def busy(world):
    bodies = [acme_body(BUSY, ts=at.astimezone(KST).isoformat(), fill=fill, temp=temp, state=state)
              for at, fill, temp, state in map(busy_message, range(BUSY_N))]
    submit_and_wait(world["platform"], ACME, bodies, timeout=120)
    return world


def client(world, reader: str | None = None) -> TestClient:
    c = TestClient(create_app(world["platform"]))
    if reader:
        c.headers["Authorization"] = f"Bearer {world['keys'][reader]}"
    return c


def get(world, reader: str | None, path: str, status: int = 200, **params) -> dict:
    with client(world, reader) as c:
        r = c.get(path, params=params)
    assert r.status_code == status, r.text
    return r.json()


def first_id(world, type_name: str) -> str:
    with client(world, "admin") as c:
        return c.get("/ngsi-ld/v1/entities", params={"type": type_name}).json()[0]["id"]


def iso(dt: datetime) -> str:
    return clock.iso(to_us(dt))


# -- the device --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reader", [None, "public-key"])
def test_the_public_sees_public_attributes_and_no_operations(world, reader):
    d = get(world, reader, f"/api/devices/{acme_urn('A-17')}")
    assert d["id"] == acme_urn("A-17") and d["type"] == "WasteContainer"
    assert d["now"] == "2026-11-26T06:30:00.000Z"
    assert d["service"]["id"] == "waste-bins" and d["service"]["name"]["en"] == "Compacting solar trash bins"
    assert {a["name"] for a in d["attributes"]} == PUBLIC_BIN_ATTRS          # battery, compactions: internal
    assert d["operations"] is False and d["rawMessages"] is False
    assert not {"health", "registry", "source"} & set(d)
    assert d["location"] == {"lon": 127.0471, "lat": 37.6688}               # the registry's, public
    # the same values as the NGSI-LD API gives the same reader
    with client(world, reader) as c:
        ngsi = c.get(f"/ngsi-ld/v1/entities/{acme_urn('A-17')}", params={"options": "keyValues"}).json()
    assert {a["name"]: a["value"] for a in d["attributes"]} == {k: ngsi[k] for k in PUBLIC_BIN_ATTRS}


def test_current_values_carry_their_unit_label_time_and_code_labels(world):
    d = get(world, None, f"/api/devices/{acme_urn('A-91')}")
    attrs = {a["name"]: a for a in d["attributes"]}
    fill = attrs["fillingLevel"]
    assert fill["value"] == FILLS["A-91"] / 100 and fill["numeric"] is True
    assert fill["observedAt"] == iso(NOW - timedelta(minutes=5))
    assert fill["unit"]["code"] == "C62" and fill["label"] == {"ko": "적재율", "en": "Filling level"}
    assert attrs["temperature"]["unit"] == {"code": "CEL", "symbol": "°C", "ko": "섭씨도", "en": "degree Celsius"}
    status = attrs["status"]
    assert status["value"] == "ok" and status["numeric"] is False and status["unit"] is None
    assert status["codes"]["ok"] == {"ko": "정상", "en": "OK"}
    assert d["location"] is None                        # not in the registry, and the message has no position


def test_the_owning_department_sees_health_registry_and_every_attribute(world):
    d = get(world, "sanitation", f"/api/devices/{acme_urn('A-17')}")
    assert {a["name"] for a in d["attributes"]} == BIN_ATTRS
    assert d["operations"] is True and d["rawMessages"] is True and d["source"] == ACME
    health = get(world, "sanitation", "/api/health/devices", service="waste-bins")["devices"]
    mine = next(h for h in health if h["id"] == acme_urn("A-17"))
    assert d["health"] == {"state": mine["state"], "since": mine["since"], "lastSeen": mine["lastSeen"]}
    assert d["registry"] == [{"source": ACME, "localId": "A-17", "name": "Chang-dong station exit 1",
                              "expected": True, "lon": 127.0471, "lat": 37.6688, "attributes": {}}]
    # a bay fed by two vendors: the registry entry of each
    bay = get(world, "parking", f"/api/devices/{BAY}")
    assert {(e["source"], e["localId"]) for e in bay["registry"]} == {("dparking-bay-lora", "pw-bay-0101"),
                                                                       ("dparking-vision-http", "DB-ST-014")}


def test_staff_see_operations_but_not_raw_messages(world):
    d = get(world, "staff", f"/api/devices/{acme_urn('A-91')}")
    assert d["operations"] is True and d["rawMessages"] is False and d["health"]["state"] == "online"
    get(world, "staff", f"/api/devices/{acme_urn('A-91')}/messages", 404)


def test_a_device_of_a_restricted_service_is_not_there_for_other_readers(world):
    home = first_id(world, HOME_TYPE)
    for reader in (None, "sanitation", "parking", "staff"):
        for tail in ("", "/series"):
            err = get(world, reader, f"/api/devices/{home}{tail}", 404)
            assert err["detail"].startswith("entity_id:") and home in err["detail"], (reader, tail)
    for reader in ("sanitation", "staff"):
        get(world, reader, f"/api/devices/{home}/messages", 404)
    missing = get(world, None, "/api/devices/urn:ngsi-ld:WasteContainer:dobong:acme:NOPE", 404)
    assert missing["detail"].startswith("entity_id:")
    # and its own department sees it
    assert get(world, "welfare", f"/api/devices/{home}")["rawMessages"] is True


# -- the history -------------------------------------------------------------------------------------------

def series(world, reader, entity, **params) -> dict[str, dict]:
    doc = get(world, reader, f"/api/devices/{entity}/series", **params)
    assert doc["now"] == "2026-11-26T06:30:00.000Z" and doc["maxPoints"] == MAX_POINTS
    return {a["name"]: a for a in doc["attributes"]}


def test_the_default_range_is_the_day_before_the_servers_now(world):
    doc = get(world, None, f"/api/devices/{acme_urn('A-91')}/series")
    assert (doc["from"], doc["to"]) == ("2026-11-25T06:30:00.000Z", "2026-11-26T06:30:00.000Z")
    got = {a["name"]: a for a in doc["attributes"]}
    assert set(got) == PUBLIC_BIN_ATTRS
    at = to_us(NOW - timedelta(minutes=5)) // 1000
    assert got["fillingLevel"]["points"] == [[at, FILLS["A-91"] / 100]] and got["fillingLevel"]["count"] == 1
    assert got["status"]["changes"] == [[at, "ok"]] and got["status"]["more"] is False


def test_few_points_come_as_sent(busy):
    day = series(busy, "sanitation", acme_urn(BUSY), **{"from": iso(NOW - timedelta(days=1)), "to": iso(NOW)})
    sent = busy_sent(NOW - timedelta(days=1))
    assert len(sent) == 287                     # one a 5 minutes, from a day ago to 10 minutes ago
    fill = day["fillingLevel"]
    assert "periodMs" not in fill and fill["count"] == len(sent)
    assert fill["points"] == [[ms, pytest.approx(f / 100)] for ms, f, _, _ in sent]
    assert day["temperature"]["points"] == [[ms, pytest.approx(t)] for ms, _, t, _ in sent]
    assert [v for _, v in day["batteryLevel"]["points"]] == [0.88] * len(sent)


def test_many_points_are_averaged_per_period_in_the_database(busy):
    week = series(busy, "sanitation", acme_urn(BUSY), **{"from": iso(NOW - timedelta(days=7)), "to": iso(NOW)})
    fill = week["fillingLevel"]
    assert fill["count"] == BUSY_N > MAX_POINTS
    start = to_us(NOW - timedelta(days=7))
    period = (to_us(NOW) - start + MAX_POINTS - 1) // MAX_POINTS       # µs: a week in 1,000 periods
    assert fill["periodMs"] == period // 1000
    buckets: dict[int, list[float]] = {}
    for at, f, _, _ in map(busy_message, range(BUSY_N)):
        buckets.setdefault((to_us(at) - start) // period, []).append(f / 100)
    assert len(fill["points"]) == len(buckets) <= MAX_POINTS
    for (t, avg), (low, high), (b, values) in zip(fill["points"], fill["spread"], sorted(buckets.items())):
        assert t == (start + b * period + period // 2) // 1000
        assert avg == pytest.approx(sum(values) / len(values))
        assert (low, high) == (pytest.approx(min(values)), pytest.approx(max(values)))


def test_other_values_come_as_their_changes(busy):
    week = series(busy, "sanitation", acme_urn(BUSY), **{"from": iso(NOW - timedelta(days=7)), "to": iso(NOW)})
    status = week["status"]
    expected = [[to_us(busy_message(i)[0]) // 1000, "lidOpen" if (i // 100) % 2 else "ok"]
                for i in range(0, BUSY_N, 100)]
    assert status["changes"] == expected and status["more"] is False


def test_one_attribute_and_an_empty_range(busy):
    only = series(busy, None, acme_urn(BUSY), attribute="temperature")
    assert set(only) == {"temperature"} and only["temperature"]["count"] == 287
    empty = series(busy, None, acme_urn(BUSY), **{"from": "2026-01-01T00:00:00+09:00", "to": "2026-01-02T00:00:00Z"})
    assert set(empty) == PUBLIC_BIN_ATTRS
    assert empty["fillingLevel"]["points"] == [] and empty["fillingLevel"]["count"] == 0
    assert empty["status"]["changes"] == []


@pytest.mark.parametrize("params, name", [
    ({"from": "yesterday"}, "from"), ({"to": "2026-11-26T06:00:00"}, "to"),
    ({"from": "2026-11-26T06:00:00Z", "to": "2026-11-26T05:00:00Z"}, "from"),
    ({"attribute": "batteryLevel"}, "attribute"),            # internal: not the public's
    ({"attribute": "nothing"}, "attribute")])
def test_errors_name_their_parameter(world, params, name):
    err = get(world, None, f"/api/devices/{acme_urn('A-91')}/series", 400, **params)
    assert err["detail"].startswith(f"{name}:"), err


# -- raw messages ------------------------------------------------------------------------------------------

def test_the_public_gets_no_messages(world):
    get(world, None, f"/api/devices/{acme_urn('A-91')}/messages", 401)
    get(world, "public-key", f"/api/devices/{acme_urn('A-91')}/messages", 404)
    get(world, "parking", f"/api/devices/{acme_urn('A-91')}/messages", 404)


def test_the_owning_department_gets_the_messages_as_the_archive_shows_them(world):
    doc = get(world, "sanitation", f"/api/devices/{acme_urn('A-91')}/messages")
    (m,) = doc["messages"]
    assert m["source"] == ACME and m["outcome"] == "stored" and '"fill_pct": 97' in m["body"]
    assert m == get(world, "sanitation", f"/api/raw/{m['id']}")


def test_personal_fields_are_pseudonymised(world):
    with client(world, "parking") as c:
        r = c.get(f"/api/devices/{BAY}/messages", params={"limit": 5})
    assert r.status_code == 200, r.text
    assert PLATE not in r.text and pseudonymiser(b"test-key")(PLATE) in r.text
    msgs = r.json()["messages"]
    assert {m["source"] for m in msgs} == {"dparking-vision-http", "dparking-bay-lora"}
    assert [m["id"] for m in msgs] == sorted((m["id"] for m in msgs), reverse=True)      # newest first
    camera = next(m for m in msgs if m["source"] == "dparking-vision-http")
    assert camera["redacted"] == ["vehiclePlate"] and "body" not in camera
    assert camera == get(world, "parking", f"/api/raw/{camera['id']}")
    assert len(get(world, "parking", f"/api/devices/{BAY}/messages", limit=1)["messages"]) == 1
    err = get(world, "parking", f"/api/devices/{BAY}/messages", 400, limit=0)
    assert "limit" in err["detail"]
