"""The rule engine on a running platform under a ManualClock: each rule kind (threshold, duration, absence,
rate of change, and/or, geo scope), deduplication, auto-clear, escalation, testing sources, offline alarms
from device health, and restarts in the middle of a `for` window — on both store engines."""
from __future__ import annotations

import pytest
import yaml

import cltest
from cltest import ACME, NOW_US, acme_body, acme_urn, manual_clock, submit_and_wait
from citylink.alarms import HEALTH_OFFLINE
from citylink.clock import US, iso
from citylink.store import alarms as stored

A17 = acme_urn("A-17")      # at 127.0471, 37.6688: inside 도봉2동
A18 = acme_urn("A-18")      # at 127.0452, 37.6541: inside 창5동


def with_rules(bins_dir, rules: dict, *, status: str | None = None):
    """The waste-bins service spec with exactly these rules (and the ACME source in ``status``)."""
    path = bins_dir / "service.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["rules"] = rules
    doc.pop("dashboard", None)   # its headline counts the shipped rules' alarms
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    if status is not None:
        src = bins_dir / "sources" / "bins-acme-http.yaml"
        src.write_text(src.read_text().replace("status: live", f"status: {status}"))
    return bins_dir


@pytest.fixture(params=["sqlite", "postgres"])
def restartable(request, tmp_path):
    """A function that starts a platform on the same store each time it is called (a restart)."""
    with cltest.restartable(request.param, tmp_path / "data") as run:
        yield run


def report(p, device="A-17", **values):
    submit_and_wait(p, ACME, [acme_body(device, ts=iso(p.clock.now_us()), **values)])
    assert p.rules.wait_idle()


def alarms_of(p, rule, state=None):
    states = None if state is None else ((state,) if isinstance(state, str) else state)
    return stored.alarms(p.store, rule=f"waste-bins/{rule}", states=states)


def tick(p, clock, at_us):
    clock.set(at_us)
    p.health.process_due()
    assert p.rules.wait_idle()
    p.rules.process_due()


MSG = {"ko": "적재율 {fillingLevel:.0%}", "en": "{fillingLevel:.0%} full"}


def test_threshold_raises_at_once_repeats_and_clears(restartable, bins_dir):
    clock = manual_clock()
    specs = with_rules(bins_dir, {"full": {"when": "fillingLevel >= 0.8", "severity": "medium", "message": MSG}})
    with restartable(clock, specs) as p:
        report(p, fill=50)
        assert alarms_of(p, "full") == []
        clock.advance(60)
        report(p, fill=85)
        (a,) = alarms_of(p, "full")
        assert (a.entity, a.state, a.raised_at, a.count, a.severity, a.department) == \
            (A17, "active", NOW_US + 60 * US, 1, "medium", "sanitation")
        assert (a.message_ko, a.message_en, a.values["fillingLevel"]) == ("적재율 85%", "85% full", 0.85)
        clock.advance(60)
        report(p, fill=90)
        clock.advance(60)
        report(p, fill=95)
        (a,) = alarms_of(p, "full")                    # one alarm, not three
        assert (a.count, a.last_seen_at, a.message_en) == (3, NOW_US + 180 * US, "95% full")
        clock.advance(60)
        report(p, fill=10)                            # emptied: cleared by the condition
        (a,) = alarms_of(p, "full")
        assert (a.state, a.cleared_at, a.cleared_by) == ("cleared", NOW_US + 240 * US, None)
        report(p, "A-18", fill=99)                     # another entity: its own alarm
        assert [x.entity for x in alarms_of(p, "full", "active")] == [A18]


def test_duration_window_is_exact_and_survives_a_restart(restartable, bins_dir):
    clock = manual_clock()
    specs = with_rules(bins_dir, {"hot": {"when": "temperature > 60", "for": "PT10M", "severity": "high",
                                          "message": {"ko": "고온 {temperature}", "en": "hot {temperature}"}}})
    with restartable(clock, specs) as p:
        report(p, temp=70)                            # holds from NOW
        tick(p, clock, NOW_US + 5 * 60 * US)
        assert alarms_of(p, "hot") == []
    with restartable(clock, specs) as p:              # a restart in the middle of the window
        tick(p, clock, NOW_US + 10 * 60 * US - 1)
        assert alarms_of(p, "hot") == []
        tick(p, clock, NOW_US + 10 * 60 * US)
        (a,) = alarms_of(p, "hot")
        assert (a.raised_at, a.state) == (NOW_US + 10 * 60 * US, "active")
        clock.advance(60)
        report(p, temp=65)                            # still hot: a repeat, not a new window
        assert [x.count for x in alarms_of(p, "hot")] == [2]
        clock.advance(60)
        report(p, temp=20)
        assert alarms_of(p, "hot")[0].state == "cleared"
        clock.advance(60)
        report(p, temp=70)                            # a new window: nothing before PT10M
        t0 = clock.now_us()
        clock.advance(60)
        report(p, temp=30)                            # broken before the end
        tick(p, clock, t0 + 11 * 60 * US)
        assert len(alarms_of(p, "hot")) == 1


def test_window_that_ended_during_the_downtime_is_raised_at_its_time(restartable, bins_dir):
    clock = manual_clock()
    specs = with_rules(bins_dir, {"hot": {"when": "temperature > 60", "for": "PT10M", "severity": "high",
                                          "message": {"ko": "고온", "en": "hot"}}})
    with restartable(clock, specs) as p:
        report(p, temp=70)
    clock.set(NOW_US + 3600 * US)
    with restartable(clock, specs) as p:
        (a,) = alarms_of(p, "hot")
        assert a.raised_at == NOW_US + 600 * US


def test_absence_of_an_attribute(restartable, bins_dir):
    clock = manual_clock()
    specs = with_rules(bins_dir, {"no-fill": {"absent": ["fillingLevel"], "for": "PT1H", "severity": "low",
                                              "message": {"ko": "적재율 없음", "en": "no fill level"}}})
    with restartable(clock, specs) as p:
        report(p, fill=40)
        clock.advance(1800)
        report(p, fill=None)                          # the bin reports, but not its fill level
        tick(p, clock, NOW_US + 3600 * US - 1)
        assert alarms_of(p, "no-fill") == []
        tick(p, clock, NOW_US + 3600 * US)
        (a,) = alarms_of(p, "no-fill")
        assert (a.raised_at, a.entity) == (NOW_US + 3600 * US, A17)
        clock.advance(60)
        report(p, fill=41)
        assert alarms_of(p, "no-fill")[0].state == "cleared"


def test_rate_of_change_and_combinations(restartable, bins_dir):
    clock = manual_clock()
    specs = with_rules(bins_dir, {
        "heating": {"when": "delta(temperature, 'PT30M') > qty(20, 'K') or status == 'burning'",
                    "severity": "critical", "message": {"ko": "급격한 온도 상승", "en": "heating fast"}}})
    with restartable(clock, specs) as p:
        report(p, temp=20)
        clock.advance(600)
        report(p, temp=35)                            # +15 K in 10 min
        assert alarms_of(p, "heating") == []
        clock.advance(600)
        report(p, temp=45)                            # +25 K in 20 min
        (a,) = alarms_of(p, "heating")
        assert a.raised_at == NOW_US + 1200 * US
        clock.advance(3600)
        report(p, temp=46)                            # the window moved on: +1 K
        assert alarms_of(p, "heating")[0].state == "cleared"
        clock.advance(60)
        report(p, temp=46, state="9")                 # the other side of the `or`
        assert len(alarms_of(p, "heating", "active")) == 1


def test_geo_scope_by_dong_and_polygon(restartable, bins_dir):
    clock = manual_clock()
    around_a18 = [[127.044, 37.653], [127.046, 37.653], [127.046, 37.655], [127.044, 37.655], [127.044, 37.653]]
    specs = with_rules(bins_dir, {
        "full-dobong2": {"when": "fillingLevel >= 0.8", "where": {"dong": ["도봉2동"]}, "severity": "low",
                         "message": MSG},
        "full-square": {"when": "fillingLevel >= 0.8", "where": {"polygon": around_a18}, "severity": "low",
                        "message": MSG}})
    with restartable(clock, specs) as p:
        report(p, "A-17", fill=90)
        report(p, "A-18", fill=90)
        assert [a.entity for a in alarms_of(p, "full-dobong2")] == [A17]
        assert [a.entity for a in alarms_of(p, "full-square")] == [A18]


def test_escalation_when_nobody_acknowledges(restartable, bins_dir):
    clock = manual_clock()
    specs = with_rules(bins_dir, {"full": {"when": "fillingLevel >= 0.8", "severity": "medium", "message": MSG,
                                           "escalate": {"after": "PT15M", "severity": "high",
                                                        "department": "environment"}}})
    with restartable(clock, specs) as p:
        report(p, "A-17", fill=90)
        report(p, "A-18", fill=90)
        a17 = next(a for a in alarms_of(p, "full") if a.entity == A17)
        p.alarms.acknowledge(a17.id, "kim", "on it")
        tick(p, clock, NOW_US + 15 * 60 * US)
        got = {a.entity: a for a in alarms_of(p, "full")}
        assert (got[A17].severity, got[A17].state, got[A17].recipients) == ("medium", "acknowledged", ("sanitation",))
        assert (got[A18].severity, got[A18].recipients, got[A18].escalated_at) == \
            ("high", ("sanitation", "environment"), NOW_US + 15 * 60 * US)


def test_testing_source_raises_nothing(restartable, bins_dir):
    clock = manual_clock()
    specs = with_rules(bins_dir, {"full": {"when": "fillingLevel >= 0.8", "severity": "medium", "message": MSG}},
                       status="testing")
    with restartable(clock, specs) as p:
        report(p, fill=95)
        tick(p, clock, NOW_US + 5 * 3600 * US)         # long offline too
        assert [a for a in stored.alarms(p.store, states=None) if ":acme:" in a.entity] == []


def test_offline_alarm_from_device_health_and_back_online(restartable, bins_dir):
    clock = manual_clock()
    specs = with_rules(bins_dir, {})
    with restartable(clock, specs) as p:
        report(p, fill=30)
        offline_at = NOW_US + 3600 * US + 1          # interval PT30M + grace PT30M
        tick(p, clock, offline_at - 1)
        assert stored.alarms(p.store, rule=HEALTH_OFFLINE, entity=A17, states=("active",)) == []
        tick(p, clock, offline_at)
        (a,) = stored.alarms(p.store, rule=HEALTH_OFFLINE, entity=A17, states=("active",))
        assert (a.raised_at, a.department, a.service, a.severity) == (offline_at, "sanitation", "waste-bins", "medium")
        clock.advance(10)
        report(p, fill=31)
        assert stored.alarms(p.store, rule=HEALTH_OFFLINE, entity=A17, states=("active",)) == []
        a = stored.alarm(p.store, a.id)
        assert (a.state, a.cleared_at) == ("cleared", clock.now_us())


def test_a_registry_device_that_never_reports_is_alarmed_after_interval_and_grace(restartable, bins_dir):
    clock = manual_clock()
    specs = with_rules(bins_dir, {})
    due = NOW_US + 3600 * US                          # registered at NOW; interval PT30M + grace PT30M
    with restartable(clock, specs) as p:
        report(p, "A-17", fill=30)
        tick(p, clock, due - 1)
        assert stored.alarms(p.store, rule=HEALTH_OFFLINE, states=None) == []
    with restartable(clock, specs) as p:              # a restart while the first report is awaited
        tick(p, clock, due)
        got = {a.entity: a for a in stored.alarms(p.store, rule=HEALTH_OFFLINE, states=None)}
        a18 = got[A18]
        assert (a18.raised_at, a18.values, a18.entity_type, a18.message_en) == \
            (due, {"state": "never_reported"}, "WasteContainer", f"Device {A18} is registered but has never reported")
        assert A17 not in got                         # it reported
        clock.advance(60)
        report(p, "A-18", fill=5)                     # installed at last
        assert stored.alarm(p.store, a18.id).cleared_at == clock.now_us()
