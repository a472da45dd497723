"""``citylink alarms list|show|ack|clear|deliveries`` on the platform's store; bad options named."""
from __future__ import annotations

from cltest import NOW_US, make_platform, manual_clock
from citylink.alarms import Raise
from citylink.clock import US

BIN = "urn:ngsi-ld:WasteContainer:dobong:acme:A-17"


def raise_one(data_dir, entity=BIN, at=NOW_US):
    p = make_platform(data_dir, manual_clock())
    try:
        p.reload(force=True)
        p.alarms.load()
        return p.alarms.raise_alarm(Raise("waste-bins/full", entity, "WasteContainer", "waste-bins", "sanitation",
                                          "medium", at, "가득 참", "bin full", {"fillingLevel": 0.97})).alarm
    finally:
        p.store.close()


def test_list_show_ack_clear(run, bins_dir):
    run("spec", "apply", bins_dir)
    a = raise_one(run.data_dir)
    b = raise_one(run.data_dir, BIN + "-2", NOW_US + 60 * US)
    out = run("alarms", "list").stdout
    assert a.id in out and b.id in out and "bin full" in out and "medium" in out
    assert a.id not in run("alarms", "list", "--severity", "high").stdout
    run("alarms", "ack", a.id, "--by", "kim", "-m", "crew sent")
    out = run("alarms", "show", a.id).stdout
    assert "acknowledged" in out and "kim" in out and "crew sent" in out
    r = run("alarms", "ack", a.id, code=1)
    assert "acknowledged already by kim" in r.stderr
    run("alarms", "clear", b.id, "--by", "lee")
    assert b.id not in run("alarms", "list").stdout
    assert b.id in run("alarms", "list", "--state", "cleared").stdout
    r = run("alarms", "clear", "urn:ngsi-ld:Alert:none", code=1)
    assert "ALARM_ID: no alarm urn:ngsi-ld:Alert:none" in r.stderr
    r = run("alarms", "list", "--state", "asleep", code=2)
    assert "--state: 'asleep'" in r.stderr
    r = run("alarms", "list", "--since", "yesterday", code=2)
    assert r.stderr.startswith("--since:") or "--since:" in r.stderr
    r = run("alarms", "show", "urn:ngsi-ld:Alert:none", code=1)
    assert "no alarm" in r.stderr


def test_deliveries_are_listed_and_bad_status_named(run, bins_dir):
    run("spec", "apply", bins_dir.parent)           # every service, with the departments' channels
    p = make_platform(run.data_dir, manual_clock())
    try:
        p.reload(force=True)
        p.alarms.load()
        a = p.alarms.raise_alarm(Raise("disabled-parking/blocked", "urn:ngsi-ld:ParkingSpot:x", "ParkingSpot",
                                       "disabled-parking", "welfare-mobility", "high", NOW_US, "점유", "blocked",
                                       {})).alarm
    finally:
        p.store.close()
    # queued for welfare-mobility's webhook (departments.yaml); no platform runs here to send it
    out = run("alarms", "deliveries").stdout
    assert a.id in out and "https://welfare-mobility.example.org/citylink/alarms" in out and "pending" in out
    assert a.id not in run("alarms", "deliveries", "--status", "delivered").stdout
    r = run("alarms", "deliveries", "--status", "sent", code=2)
    assert "--status: 'sent'" in r.stderr
