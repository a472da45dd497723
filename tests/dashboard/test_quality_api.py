"""``GET /api/quality`` and the quarantine's replay (``POST /api/quarantine/{raw_id}/replay``, ``POST
/api/quarantine/replay``), on both engines: each reader sees the sources of the services whose operations it
may see, with figures checked against what ``dashworld`` sent (every message arrives at its NOW); a message
quarantined by the specs leaves the quarantine when it is replayed after a spec fix, and only a reader who
may read it may replay it."""
from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cltest import acme_body, acme_urn, manual_clock, started_platform, submit_and_wait, write
from dashworld import ACME, FILLS, KEYS, KST, NOW
from citylink.api.app import create_app
from citylink.config import BUNDLED_SPECS
from citylink.normalize.records import QUARANTINED
from citylink.spec.loader import load_paths

SPECS = load_paths([BUNDLED_SPECS])
BRAVO, HOMES = "bins-bravo-gateway", "safety-keeper-carelink-http"


def sources_of(*services: str) -> set[str]:
    return {sid for sid, src in SPECS.sources.items() if src.service in services}


def client(p, key: str | None = None) -> TestClient:
    c = TestClient(create_app(p))
    if key:
        c.headers["Authorization"] = f"Bearer {key}"
    return c


def quality(p, key: str | None, window: str = "PT1H") -> dict[str, dict]:
    """source → its figures, as the reader of ``key`` gets them."""
    with client(p, key) as c:
        r = c.get("/api/quality", params={"window": window})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["now"], doc["window"]) == ("2026-11-26T06:30:00.000Z", window) and doc["refreshSeconds"] > 0
    return {s["source"]: s for s in doc["sources"]}


def fix_acme(p, folder: Path) -> None:
    """The spec fix: ACME's state code 7 (a lid left open, say the vendor's newer bins) now maps to lidOpen —
    written beside a copy of its device registry, applied and put in force."""
    text = p.specs.sources[ACME].origin.text
    fixed = text.replace('"2": dropped, "9": burning}', '"2": dropped, "7": lidOpen, "9": burning}')
    assert fixed != text
    spec = write(folder / "sources" / f"{ACME}.yaml", fixed.replace("version: 1.0.0\n", "version: 1.0.1\n", 1))
    (folder / "devices").mkdir()
    shutil.copy(BUNDLED_SPECS / "waste-bins" / "devices" / f"{ACME}.csv", folder / "devices")
    p.apply_specs([spec])
    assert p.reload() and p.specs.sources[ACME].version == "1.0.1"


# -- who sees what ----------------------------------------------------------------------------------------

def test_the_public_gets_401_and_a_public_key_no_source(world):
    with client(world["platform"]) as c:
        r = c.get("/api/quality")
    assert r.status_code == 401 and r.json()["detail"].startswith("Authorization:")
    assert quality(world["platform"], world["keys"]["public-key"]) == {}


def test_a_department_sees_its_own_sources_staff_every_internal_one_an_admin_all(world):
    p, keys = world["platform"], world["keys"]
    assert set(quality(p, keys["sanitation"])) == sources_of("waste-bins")
    assert set(quality(p, keys["welfare"])) == sources_of("safety-keeper") == {HOMES}
    assert set(quality(p, keys["parking"])) == sources_of("disabled-parking")
    staff = quality(p, keys["staff"])
    assert set(staff) == set(SPECS.sources) - {HOMES}                     # the Safety Keeper is restricted
    assert not any(s["quarantine"]["readable"] for s in staff.values())   # raw messages: the department's
    admin = quality(p, keys["admin"])
    assert set(admin) == set(SPECS.sources) and all(s["quarantine"]["readable"] for s in admin.values())
    own = quality(p, keys["sanitation"])
    assert all(s["quarantine"]["readable"] and s["department"] == "sanitation" for s in own.values())


def test_an_unknown_window_is_refused_naming_it(world):
    with client(world["platform"], world["keys"]["admin"]) as c:
        r = c.get("/api/quality", params={"window": "PT2H"})
    assert r.status_code == 400 and r.json()["detail"].startswith("window:")


# -- the figures -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("window", ["PT1H", "P1D", "P7D"])
def test_the_bins_messages_outcomes_and_rejection_reasons(world, window):
    got = quality(world["platform"], world["keys"]["sanitation"], window)
    acme, bravo = got[ACME], got[BRAVO]
    assert acme["service"] == {"id": "waste-bins", "name": {"ko": "스마트 압축 태양광 쓰레기통",
                                                            "en": "Compacting solar trash bins"}}
    # ACME: its example, the bins of FILLS, and one message cut short
    m = acme["messages"]
    assert m["received"] == 1 + len(FILLS) + 1 == world["platform"].store.ledger()[ACME]["received"]
    assert (m["stored"] + m["storedFlagged"], m["quarantined"]) == (1 + len(FILLS), 1)
    assert m["duplicate"] == m["pending"] == 0
    assert m["rejectionRate"] == round(1 / m["received"], 4)
    assert acme["rejections"] == [{"reason": "malformed_json", "field": None, "count": 1}]
    assert acme["quarantine"] == {"open": 1, "readable": True}
    assert bravo["messages"]["received"] == 1 and bravo["messages"]["quarantined"] == 0
    assert bravo["rejections"] == [] and bravo["messages"]["rejectionRate"] == 0


def test_the_quarantine_size_agrees_with_the_quarantine_the_reader_may_read(world):
    p, key = world["platform"], world["keys"]["sanitation"]
    with client(p, key) as c:
        listed = c.get("/api/quarantine").json()
    got = quality(p, key)
    assert {sid: s["quarantine"]["open"] for sid, s in got.items()} == {
        sid: sum(q["source"] == sid for q in listed) for sid in got}
    assert [q["reason"] for q in listed] == ["malformed_json"]


def test_latency_is_the_delay_from_observed_to_received(world):
    """ACME's readings: the example (observed 09:00 KST = 00:00Z, received 06:30Z: 6.5 h late) and the bins
    of FILLS observed five minutes before they came."""
    lat = quality(world["platform"], world["keys"]["sanitation"])[ACME]["latency"]
    assert lat == {"readings": 1 + len(FILLS), "p50": 300.0, "p95": 23_400.0, "max": 23_400.0}
    crossing = quality(world["platform"], world["keys"]["admin"])["crosswalk-cheonha-mqtt"]["latency"]
    assert crossing["readings"] >= 2 and crossing["p50"] <= crossing["p95"] <= crossing["max"]


@pytest.mark.parametrize("window, expected", [("PT1H", 2), ("P1D", 48), ("P7D", 336)])
def test_completeness_is_readings_received_over_readings_expected_per_device(world, window, expected):
    """ACME's six devices (every 30 minutes): A-90…92 reported once at 06:25Z, A-17 once at 00:00Z (the
    example: outside the last hour), A-18 and A-19 of its registry never."""
    c = quality(world["platform"], world["keys"]["sanitation"], window)[ACME]["completeness"]
    heard = len(FILLS) + (window != "PT1H")
    assert c == {"value": round(heard * min(1.0, 1 / expected) / 6, 4), "basis": "readings", "devices": 6,
                 "reporting": heard, "neverReported": 2, "reportingIntervalSeconds": 1800.0,
                 "overSeconds": expected * 1800.0, "expectedPerDevice": expected}


# -- replay after a spec fix ----------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgres"])
def fresh(request, tmp_path):
    """A platform of its own (the replay changes the specs in force), with the keys of three readers."""
    with started_platform(request.param, tmp_path / "data", manual_clock(NOW), BUNDLED_SPECS) as p:
        yield p, {name: p.issue_api_key(name, **KEYS[name])[1] for name in ("sanitation", "welfare", "staff")}


def test_a_message_rejected_by_the_specs_is_stored_when_replayed_after_the_fix(fresh, tmp_path):
    p, keys = fresh
    ts = (NOW - timedelta(minutes=5)).astimezone(KST).isoformat()
    seven, eight = submit_and_wait(p, ACME, [acme_body("A-17", ts=ts, state="7"), acme_body("A-18", ts=ts, state="8")])
    before = quality(p, keys["sanitation"])[ACME]
    assert before["messages"]["quarantined"] == 2 and before["messages"]["stored"] == 0
    assert before["rejections"] == [{"reason": "unknown_code", "field": "status", "count": 2}]
    with client(p, keys["sanitation"]) as c:
        # before the fix a replay changes nothing: quarantined again, with the reason
        r = c.post(f"/api/quarantine/{seven}/replay")
        assert r.status_code == 200, r.text
        assert r.json()["replayed"] == 1 and r.json()["outcomes"] == {"quarantined": 1}
        again = r.json()["messages"][0]
        assert again["rawId"] == seven and again["reason"] == "unknown_code" and again["field"] == "status"
        assert "'7'" in again["detail"]
        fix_acme(p, tmp_path / "fix")
        r = c.post(f"/api/quarantine/{seven}/replay")
        assert r.json() == {"replayed": 1, "outcomes": {"stored": 1}, "messages": [
            {"rawId": seven, "source": ACME, "replayed": True, "outcome": "stored"}]}
        assert [q["rawId"] for q in c.get("/api/quarantine").json()] == [eight]
        # replayed again: it is not in the quarantine, so nothing is done
        assert c.post(f"/api/quarantine/{seven}/replay").json()["replayed"] == 0
        # the whole source: the other message is still wrong under the fixed spec
        r = c.post("/api/quarantine/replay", json={"source": ACME})
        assert r.json()["replayed"] == 1 and r.json()["outcomes"] == {"quarantined": 1} and r.json()["next"] is None
    assert p.store.entity(acme_urn("A-17")).attrs and p.store.outcomes([seven, eight]) == {
        seven: (1, None), eight: (QUARANTINED, p.store.outcomes([eight])[eight][1])}
    after = quality(p, keys["sanitation"])[ACME]
    assert (after["messages"]["stored"], after["messages"]["quarantined"]) == (1, 1)
    assert after["rejections"] == [{"reason": "unknown_code", "field": "status", "count": 1}]
    assert after["quarantine"]["open"] == 1 and after["latency"]["readings"] == 1


def test_only_a_reader_of_the_message_may_replay_it(fresh):
    p, keys = fresh
    (rid, _), = submit_and_wait(p, ACME, [acme_body("A-17", state="7")]).items()
    with client(p) as c:
        assert c.post(f"/api/quarantine/{rid}/replay").status_code == 401
    for reader in ("welfare", "staff"):            # staff read internal data, not raw messages
        with client(p, keys[reader]) as c:
            r = c.post(f"/api/quarantine/{rid}/replay")
            assert r.status_code == 404 and r.json()["detail"] == f"raw_id: no raw message {rid} here", reader
            r = c.post("/api/quarantine/replay", json={"ids": [rid]})
            assert r.status_code == 404 and r.json()["detail"].startswith("ids:"), reader
            r = c.post("/api/quarantine/replay", json={"source": ACME})
            assert r.status_code == 404 and r.json()["detail"].startswith("source:"), reader
    with client(p, keys["sanitation"]) as c:
        assert c.post(f"/api/quarantine/{rid + 1}/replay").status_code == 404
        for body, name in (({}, "body:"), ({"ids": []}, "ids:"), ({"ids": ["x"]}, "ids:"),
                           ({"source": ACME, "after": "x"}, "after:"), ({"source": "nope"}, "source:")):
            r = c.post("/api/quarantine/replay", json=body)
            assert r.status_code in (400, 404) and r.json()["detail"].startswith(name), body
        # raw ids are beyond JavaScript's exact integers: a page sends them as strings
        r = c.post("/api/quarantine/replay", json={"ids": [str(rid)]})
        assert r.status_code == 200 and r.json()["messages"][0]["outcome"] == "quarantined"
        assert r.json()["messages"][0]["rawId"] == rid
