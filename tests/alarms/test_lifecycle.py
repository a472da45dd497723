"""The alarm lifecycle on the store, both engines: raise, repeat (one open alarm per rule and entity),
acknowledge, escalate when nobody acknowledges, clear (by the condition or by hand), the full history, a
restart, and steps taken by another process (the CLI) reaching this one's listeners."""
from __future__ import annotations

from contextlib import contextmanager

import pytest

from cltest import NOW_US, make_platform, manual_clock, pg_database
from citylink.alarms import ACKNOWLEDGED, ACTIVE, CLEARED, AlarmError, AlarmService, Raise
from citylink.clock import US
from citylink.store import alarms as stored

ENTITY = "urn:ngsi-ld:WasteContainer:acme:A-17"


@pytest.fixture(params=["sqlite", "postgres"])
def services(request, tmp_path):
    """A function giving an AlarmService on the same store each time (a restart, or another process)."""
    opened = []

    @contextmanager
    def run(url):
        p = make_platform(tmp_path / "data", manual_clock(), **({"store_url": url} if url else {}))
        opened.append(p)
        svc = AlarmService(p)
        svc.load()
        try:
            yield svc
        finally:
            p.store.close()

    if request.param == "sqlite":
        yield lambda: run(None)
    else:
        with pg_database(migrated=True) as url:
            yield lambda: run(url)


def fill_high(at=NOW_US, fill=0.93, escalate_after_s=None):
    return Raise("waste-bins/fill-high", ENTITY, "WasteContainer", "waste-bins", "sanitation", "low", at,
                 f"적재율 {fill:.0%}", f"{fill:.0%} full", {"fillingLevel": fill}, lon=127.04, lat=37.66,
                 escalate_after_us=None if escalate_after_s is None else int(escalate_after_s * US),
                 escalate_severity="high", escalate_department="environment")


def test_raise_repeat_acknowledge_clear_with_history(services):
    with services() as svc:
        seen = []
        svc.on_events(seen.extend)
        e = svc.raise_alarm(fill_high())
        a = e.alarm
        assert (e.kind, a.state, a.count, a.severity, a.recipients) == ("raised", ACTIVE, 1, "low", ("sanitation",))
        assert a.id.startswith("urn:ngsi-ld:Alert:")
        e2 = svc.raise_alarm(fill_high(NOW_US + 60 * US, 0.97))
        assert (e2.kind, e2.alarm.id, e2.alarm.count, e2.alarm.last_seen_at, e2.alarm.raised_at) == \
            ("repeated", a.id, 2, NOW_US + 60 * US, NOW_US)
        assert e2.alarm.values == {"fillingLevel": 0.97}
        assert len(stored.alarms(svc.store, states=("active",))) == 1   # one open alarm, not two
        svc.clock.set(NOW_US + 120 * US)
        acked = svc.acknowledge(a.id, "kim (sanitation)", "  crew on the way  ")
        assert (acked.state, acked.acknowledged_by, acked.acknowledged_at, acked.ack_comment) == \
            (ACKNOWLEDGED, "kim (sanitation)", NOW_US + 120 * US, "crew on the way")
        with pytest.raises(AlarmError, match="acknowledged already by kim"):
            svc.acknowledge(a.id, "lee", None)
        ended = svc.condition_ended("waste-bins/fill-high", ENTITY, NOW_US + 300 * US)
        assert (ended.kind, ended.alarm.state, ended.alarm.cleared_at, ended.alarm.cleared_by) == \
            ("cleared", CLEARED, NOW_US + 300 * US, None)
        assert svc.condition_ended("waste-bins/fill-high", ENTITY, NOW_US + 301 * US) is None
        with pytest.raises(AlarmError, match="cleared already"):
            svc.clear(a.id, "lee", None)
        with pytest.raises(AlarmError, match="no alarm") as err:
            svc.acknowledge("urn:ngsi-ld:Alert:nope", "lee", None)
        assert err.value.status == 404
        assert [(k, by, c, st) for _, k, _, by, c, _, st in stored.history(svc.store, a.id)] == [
            ("raised", None, None, "active"), ("repeated", None, None, "active"),
            ("acknowledged", "kim (sanitation)", "crew on the way", "acknowledged"), ("cleared", None, None, "cleared")]
        assert [e.kind for e in seen] == ["raised", "repeated", "acknowledged", "cleared"]
        assert [e.seq for e in seen] == sorted(e.seq for e in seen)
        again = svc.raise_alarm(fill_high(NOW_US + 400 * US))          # after clearing: a new alarm
        assert again.kind == "raised" and again.alarm.id != a.id


def test_escalates_only_when_not_acknowledged_in_time(services):
    with services() as svc:
        a = svc.raise_alarm(fill_high(escalate_after_s=900)).alarm
        b = svc.raise_alarm(Raise("waste-bins/fire", ENTITY, "WasteContainer", "waste-bins", "sanitation", "high",
                                  NOW_US, "화재", "fire", {}, escalate_after_us=900 * US,
                                  escalate_severity="critical")).alarm
        assert svc.next_due() == NOW_US + 900 * US
        svc.acknowledge(b.id, "kim", None)
        assert svc.process_due(NOW_US + 900 * US - 1) == 0
        assert svc.process_due(NOW_US + 900 * US) == 1                 # b was acknowledged: only a
        esc = stored.alarm(svc.store, a.id)
        assert (esc.severity, esc.recipients, esc.escalated_at, esc.state) == \
            ("high", ("sanitation", "environment"), NOW_US + 900 * US, ACTIVE)
        assert stored.alarm(svc.store, b.id).severity == "high"
        assert svc.process_due(NOW_US + 9000 * US) == 0                # once


def test_restart_keeps_open_alarms_and_pending_escalation(services):
    with services() as svc:
        a = svc.raise_alarm(fill_high(escalate_after_s=600)).alarm
    with services() as svc:                                             # a restart
        assert svc.is_open("waste-bins/fill-high", ENTITY)
        assert svc.next_due() == NOW_US + 600 * US
        assert svc.raise_alarm(fill_high(NOW_US + 10 * US)).alarm.count == 2
        assert svc.process_due(NOW_US + 600 * US) == 1
        assert stored.alarm(svc.store, a.id).severity == "high"


def test_steps_of_another_process_reach_the_running_service(services):
    with services() as server, services() as cli:
        told = []
        server.on_events(told.extend)
        a = server.raise_alarm(fill_high()).alarm
        cli.acknowledge(a.id, "park (cli)", "seen")                    # citylink alarms ack, another process
        assert [e.kind for e in told] == ["raised"]
        assert server.sync() == 1
        assert told[-1].kind == "acknowledged" and told[-1].by == "park (cli)"
        assert server._open[("waste-bins/fill-high", ENTITY)].state == ACKNOWLEDGED
        cli.clear(a.id, "park (cli)", None)
        # the server's next step takes the clearing in first: the repeat raises a new alarm
        e = server.raise_alarm(fill_high(NOW_US + 5 * US))
        assert [x.kind for x in told[-2:]] == ["cleared", "raised"] and e.alarm.id != a.id


def test_comment_too_long_is_refused_with_the_field(services):
    with services() as svc:
        a = svc.raise_alarm(fill_high()).alarm
        with pytest.raises(AlarmError, match="comment: at most 2000") as err:
            svc.acknowledge(a.id, "kim", "x" * 2001)
        assert err.value.status == 400
        assert stored.alarm(svc.store, a.id).state == ACTIVE


def test_a_batch_records_its_steps_together_with_one_repeat_per_alarm(services):
    with services() as svc:
        told = []
        svc.on_events(told.append)
        with svc.batch():                                               # the rule engine's round
            a = svc.raise_alarm(fill_high()).alarm
            svc.raise_alarm(fill_high(NOW_US + 1 * US, 0.94))
            svc.raise_alarm(fill_high(NOW_US + 2 * US, 0.95))
            assert svc.is_open("waste-bins/fill-high", ENTITY) and stored.alarm(svc.store, a.id) is None
        (events,) = told                                                # told once, in order
        assert [(e.kind, e.alarm.count) for e in events] == [("raised", 1), ("repeated", 3)]
        assert events[0].seq < events[1].seq
        assert [k for _, k, *_ in stored.history(svc.store, a.id)] == ["raised", "repeated"]
        now = stored.alarm(svc.store, a.id)
        assert (now.count, now.values) == (3, {"fillingLevel": 0.95})


def test_an_alarm_from_a_backlog_is_given_its_whole_time_to_be_acknowledged(services):
    with services() as svc:
        old = svc.raise_alarm(fill_high(at=NOW_US - 3600 * US, escalate_after_s=900)).alarm   # an hour-old event
        assert (old.raised_at, old.escalation_due) == (NOW_US - 3600 * US, NOW_US + 900 * US)
        assert svc.process_due(NOW_US) == 0
