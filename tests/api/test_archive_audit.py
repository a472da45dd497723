"""The raw archive and the quarantine as the API shows them (personal fields pseudonymised; an admin's
unredacted read only with a purpose, which the audit log keeps), and the audit log of who read what — on
both store engines, with the shipped specs (the disabled-parking camera sends a plate)."""
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from cltest import admin_client, started_platform, submit_and_wait
from citylink.api.app import create_app
from citylink.config import BUNDLED_SPECS
from citylink.normalize.compiler import pseudonymiser
from citylink.normalize.records import FLAGGED, QUARANTINED, STORED

PARKING = "dparking-vision-http"
PLATE = "12가3456"


@pytest.fixture(params=["sqlite", "postgres"])
def platform(request, tmp_path, clock):
    with started_platform(request.param, tmp_path / "data", clock, BUNDLED_SPECS) as p:
        yield p


def client(platform, key: str | None = None) -> TestClient:
    c = TestClient(create_app(platform))
    if key:
        c.headers["Authorization"] = f"Bearer {key}"
    return c


def key_of(platform, department=None, scopes=()) -> tuple[str, str]:
    row, key = platform.issue_api_key("tester", department, scopes)
    return row.id, key


def example(platform, **changes) -> bytes:
    body = dict(platform.specs.sources[PARKING].payload["example"], **changes)
    return json.dumps(body, ensure_ascii=False).encode()


KEPT = {STORED, FLAGGED}


def one(platform, body: bytes, outcomes: set[int]) -> int:
    (rid, got), = submit_and_wait(platform, PARKING, [body]).items()
    assert got in outcomes
    return rid


def test_the_owning_department_sees_a_raw_message_with_the_plate_pseudonymised(platform):
    rid = one(platform, example(platform), KEPT)
    _, key = key_of(platform, "welfare-mobility")
    r = client(platform, key).get(f"/api/raw/{rid}")
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["source"] == PARKING and m["outcome"] in ("stored", "stored_flagged") and m["redacted"] == ["vehiclePlate"]
    (rec,) = m["records"]
    assert rec["bay"] == "DB-ST-014" and rec["eventId"] == "NV-20261126-000381"
    assert PLATE not in r.text
    # the pseudonym is the one the store holds: the raw message joins with the bay's history
    bay = admin_client(platform).get("/ngsi-ld/v1/entities", params={"type": "ParkingSpot", "q": "eventRef"}).json()
    stored = [e["vehiclePlate"]["value"] for e in bay if "vehiclePlate" in e]
    assert rec["plate"] == stored[0] == pseudonymiser(b"test-key")(PLATE)


def test_other_readers_get_404_or_401_and_only_an_admin_with_a_purpose_reads_the_plate(platform):
    rid = one(platform, example(platform), KEPT)
    _, other = key_of(platform, "sanitation")
    _, staff = key_of(platform, None, ["staff"])
    for key in (other, staff):   # raw messages are restricted data of the owning department
        r = client(platform, key).get(f"/api/raw/{rid}")
        assert r.status_code == 404 and PLATE not in r.text
    assert client(platform).get(f"/api/raw/{rid}").status_code == 401
    _, own = key_of(platform, "welfare-mobility")
    r = client(platform, own).get(f"/api/raw/{rid}", params={"purpose": "court order 2026-41"})
    assert r.status_code == 403 and "purpose:" in r.json()["detail"]

    admin = admin_client(platform)
    assert PLATE not in admin.get(f"/api/raw/{rid}").text                 # redacted by default
    r = admin.get(f"/api/raw/{rid}", params={"purpose": "x"})
    assert r.status_code == 400 and "purpose:" in r.json()["detail"]
    r = admin.get(f"/api/raw/{rid}", params={"purpose": "fine appeal no. 2026-118"})
    assert r.status_code == 200 and json.loads(r.json()["body"])["plate"] == PLATE
    entries = admin.get("/api/audit", params={"path": f"/api/raw/{rid}"}).json()
    assert [(e["reader"], e["status"], e.get("purpose")) for e in entries][:2] == [
        ("admin", 200, "fine appeal no. 2026-118"), ("admin", 400, None)]


def test_the_quarantine_shows_reasons_without_the_plate(platform):
    wrong_type = one(platform, example(platform, plate={"text": PLATE}), {QUARANTINED})       # a problem on the plate
    malformed = one(platform, b'{"bay": "DB-ST-014", "plate": "' + PLATE.encode() + b'", ', {QUARANTINED})
    _, key = key_of(platform, "welfare-mobility")
    r = client(platform, key).get("/api/quarantine", params={"source": PARKING})
    assert r.status_code == 200, r.text
    assert PLATE not in r.text
    got = {q["rawId"]: q for q in r.json()}
    assert set(got) == {wrong_type, malformed}
    q = got[wrong_type]
    assert q["field"] == "vehiclePlate" and q["problems"][0]["type"] == "wrong_type"
    assert q["records"][0]["plate"] == "[personal]" and q["records"][0]["bay"] == "DB-ST-014"
    assert "withheld" in got[malformed] and "cannot be read as json" in got[malformed]["withheld"]
    assert got[malformed]["reason"] == "malformed_json"
    # another department sees none of it, and cannot ask by source
    _, other = key_of(platform, "sanitation")
    assert client(platform, other).get("/api/quarantine").json() == []
    assert client(platform, other).get("/api/quarantine", params={"source": PARKING}).status_code == 404


def test_the_audit_log_records_who_read_what(platform):
    kid, key = key_of(platform, "welfare-mobility")
    c = client(platform, key)
    assert c.get("/ngsi-ld/v1/entities", params={"type": "ParkingSpot"}).status_code == 200
    assert c.get("/ngsi-ld/v1/entities/urn:ngsi-ld:ParkingSpot:nowhere").status_code == 404
    assert client(platform).get("/ngsi-ld/v1/entities", params={"type": "WasteContainer"}).status_code == 200
    assert client(platform, "clk_00000000_wrong").get("/ngsi-ld/v1/types").status_code == 401
    admin = admin_client(platform)
    mine = admin.get("/api/audit", params={"key": kid}).json()
    assert [(e["method"], e["path"], e["query"], e["status"]) for e in mine] == [
        ("GET", "/ngsi-ld/v1/entities/urn:ngsi-ld:ParkingSpot:nowhere", "", 404),
        ("GET", "/ngsi-ld/v1/entities", "type=ParkingSpot", 200)]
    assert all(e["reader"] == f"key {kid} (tester)" for e in mine)
    everyone = admin.get("/api/audit").json()
    # the anonymous read and the refused key are not readers; the admin's own reads of the log are
    assert {e["reader"] for e in everyone} == {f"key {kid} (tester)", "admin"}
    assert client(platform, key).get("/api/audit").status_code == 403
    r = admin.get("/api/audit", params={"since": "yesterday"})
    assert r.status_code == 400 and r.json()["detail"].startswith("since:")


def test_sign_in_and_disabled_accounts(platform):
    platform.add_user("park.mj", "Park Min-ji", "welfare-mobility", (), "a long enough secret")
    session_id, s = platform.sessions.sign_in("park.mj", "a long enough secret")
    assert s.viewer.departments == {"welfare-mobility"} and not s.viewer.admin
    assert platform.sessions.get(session_id) == s
    assert platform.sessions.sign_in("park.mj", "a long enough secreT") is None
    assert platform.sessions.sign_in("nobody", "a long enough secret") is None
    row, key = platform.issue_api_key(user="park.mj")
    c = client(platform, key)
    assert c.get("/ngsi-ld/v1/types").status_code == 200
    assert platform.store.disable_user("park.mj", platform.clock.now_us())
    assert platform.sessions.sign_in("park.mj", "a long enough secret") is None
    assert platform.sessions.get(session_id) is None   # the open session ends with the account
    platform.keys.TTL_S = 0.0   # the key ring's memory of the key (5 s) is not what this test is about
    assert c.get("/ngsi-ld/v1/types").status_code == 401


def test_a_public_key_reads_what_anyone_reads_but_as_a_known_reader(platform):
    submit_and_wait(platform, PARKING, [example(platform)])
    kid, key = key_of(platform, None, ["public"])
    c = client(platform, key)
    (bay,) = c.get("/ngsi-ld/v1/entities", params={"type": "ParkingSpot", "options": "keyValues"}).json()
    (anyone,) = client(platform).get("/ngsi-ld/v1/entities", params={"type": "ParkingSpot",
                                                                    "options": "keyValues"}).json()
    assert bay == anyone and set(bay) == {"id", "type", "status", "category"}
    assert [e["path"] for e in admin_client(platform).get("/api/audit", params={"key": kid}).json()] == \
        ["/ngsi-ld/v1/entities"]
