"""Device and source health on a running platform, under a ManualClock: exact detection latency, coming
back, a restart in the middle, registry devices never heard of, per-source rates and silence.  Both
store engines."""
from __future__ import annotations

import pytest

import cltest
from cltest import ACME, NOW_US, acme_body, acme_urn, manual_clock, submit_and_wait
from citylink.clock import US, iso
from citylink.health import ACTIVE, NEVER_RECEIVED, NEVER_REPORTED, OFFLINE, ONLINE, SILENT, STALE

INTERVAL, GRACE = 1800 * US, 1800 * US      # waste-bins' service spec


@pytest.fixture(params=["sqlite", "postgres"])
def restartable(request, tmp_path):
    """A function that starts a platform on the same store each time it is called (a restart)."""
    with cltest.restartable(request.param, tmp_path) as run:
        yield run


def report(p, device="A-17", at_us=None):
    """A report of an acme bin observed at ``at_us`` (default: the clock's now)."""
    ts = iso(p.clock.now_us() if at_us is None else at_us)
    submit_and_wait(p, ACME, [acme_body(device, ts=ts)])


def state(p, eid):
    return {d.id: d for d in p.health.devices()}[eid]


def test_online_stale_offline_with_exact_latency_and_back(restartable):
    clock = manual_clock()
    seen = []
    with restartable(clock) as p:
        report(p)
        p.health.on_change(seen.append)
        eid = acme_urn("A-17")
        d = state(p, eid)
        assert (d.state, d.last_seen, d.service, d.department) == (ONLINE, NOW_US, "waste-bins", "sanitation")
        clock.set(NOW_US + INTERVAL)
        p.health.process_due()
        assert state(p, eid).state == ONLINE and not [t for t in seen if t.id == eid]
        clock.set(NOW_US + INTERVAL + 1)
        p.health.process_due()
        (t,) = [t for t in seen if t.id == eid]
        assert (t.old, t.new, t.at, t.detected_at, t.service, t.department) == \
            (ONLINE, STALE, NOW_US + INTERVAL + 1, NOW_US + INTERVAL + 1, "waste-bins", "sanitation")
        clock.set(NOW_US + INTERVAL + GRACE)
        p.health.process_due()
        assert state(p, eid).state == STALE
        clock.set(NOW_US + INTERVAL + GRACE + 1)
        p.health.process_due()
        t = [t for t in seen if t.id == eid][-1]
        assert (t.old, t.new, t.at, t.detected_at) == (STALE, OFFLINE, NOW_US + INTERVAL + GRACE + 1,
                                                        NOW_US + INTERVAL + GRACE + 1)
        assert not t.testing
        clock.advance(10)
        report(p)
        t = [t for t in seen if t.id == eid][-1]
        assert (t.old, t.new, t.at) == (OFFLINE, ONLINE, clock.now_us())
        assert state(p, eid).state == ONLINE


def test_the_scheduler_thread_wakes_at_the_deadline_itself(restartable):
    clock = manual_clock()
    with restartable(clock) as p:
        report(p)
        eid = acme_urn("A-17")
        clock.set(NOW_US + INTERVAL + GRACE + 1)
        p.health._wake.set()    # what the thread's own sleep (capped) would end in
        import time
        deadline = time.monotonic() + 10
        while p.health._devices[eid].state != OFFLINE and time.monotonic() < deadline:
            time.sleep(0.02)
        assert p.health._devices[eid].state == OFFLINE
        assert p.health._devices[eid].since == NOW_US + INTERVAL + GRACE + 1


def test_a_restart_resumes_from_the_store(restartable):
    clock = manual_clock()
    with restartable(clock) as p:
        report(p)
        clock.set(NOW_US + INTERVAL + 1)
        p.health.process_due()
        assert state(p, acme_urn("A-17")).state == STALE
    # down for a while; up again before the offline deadline: stale still, since when it became stale
    clock.set(NOW_US + INTERVAL + 600 * US)
    seen = []
    with restartable(clock) as p:
        p.health.on_change(seen.append)
        d = state(p, acme_urn("A-17"))
        assert (d.state, d.since, d.last_seen) == (STALE, NOW_US + INTERVAL + 1, NOW_US)
        clock.set(NOW_US + INTERVAL + GRACE + 1)     # the deadline set by the last report, not by the restart
        p.health.process_due()
        (t,) = [t for t in seen if t.id == acme_urn("A-17")]
        assert (t.old, t.new, t.at) == (STALE, OFFLINE, NOW_US + INTERVAL + GRACE + 1)
    # a device that went offline while the platform was down: found at start, at the right time
    clock.set(NOW_US + 10 * INTERVAL)
    with restartable(clock) as p:
        report(p, "A-18")
    clock.set(NOW_US + 20 * INTERVAL)
    seen = []
    with restartable(clock) as p:
        assert state(p, acme_urn("A-17")).state == OFFLINE
        d = state(p, acme_urn("A-18"))
        assert (d.state, d.since) == (OFFLINE, NOW_US + 10 * INTERVAL + INTERVAL + GRACE + 1)
        rows = p.store.health_rows()
        assert rows[("device", acme_urn("A-18"))][:2] == (OFFLINE, NOW_US + 10 * INTERVAL + INTERVAL + GRACE + 1)


def test_a_restart_sends_what_changed_during_the_downtime(restartable, monkeypatch):
    clock = manual_clock()
    with restartable(clock) as p:
        report(p)
    clock.set(NOW_US + 5 * INTERVAL)
    seen = []
    from citylink.health import HealthMonitor
    original = HealthMonitor.__init__

    def listening(self, platform):
        original(self, platform)
        self.on_change(seen.append)
    monkeypatch.setattr(HealthMonitor, "__init__", listening)
    with restartable(clock):
        pass   # starting is what is tested: the changes found at start go to the listener
    (t,) = [t for t in seen if t.id == acme_urn("A-17") and t.old != NEVER_REPORTED]
    assert (t.old, t.new, t.at, t.detected_at) == (ONLINE, OFFLINE, NOW_US + INTERVAL + GRACE + 1, clock.now_us())


def test_registry_devices_that_never_reported_are_flagged(restartable):
    clock = manual_clock()
    with restartable(clock) as p:
        report(p, "A-17")
        devices = {d.id: d for d in p.health.devices()}
        for local in ("A-18", "A-19"):
            d = devices[acme_urn(local)]
            assert (d.state, d.last_seen, d.source) == (NEVER_REPORTED, None, ACME)
            assert d.registry["local_id"] == local and d.registry["name"]
        assert devices[acme_urn("A-17")].state == ONLINE
        seen = []
        p.health.on_change(seen.append)
        report(p, "A-18")
        (t,) = [t for t in seen if t.id == acme_urn("A-18")]
        assert (t.old, t.new) == (NEVER_REPORTED, ONLINE)
    with restartable(clock) as p:   # flagged once: a restart does not flag again
        seen = []
        p.health.on_change(seen.append)
        assert state(p, acme_urn("A-19")).state == NEVER_REPORTED
        assert state(p, acme_urn("A-18")).state == ONLINE
        assert not seen


def test_per_source_rates_and_a_silent_source(restartable):
    clock = manual_clock()
    with restartable(clock) as p:
        seen = []
        p.health.on_change(seen.append)
        report(p, "A-17")
        report(p, "A-18")
        submit_and_wait(p, ACME, [b"not json"])
        sources = {s.id: (s, received, quarantined) for s, received, quarantined in p.health.sources()}
        s, received, quarantined = sources[ACME]
        assert (s.state, s.last_message, received, quarantined) == (ACTIVE, NOW_US, 3, 1)
        assert sources["bins-bravo-gateway"][0].state == NEVER_RECEIVED
        clock.set(NOW_US + INTERVAL + GRACE + 1)
        p.health.process_due()
        assert sources and [(t.kind, t.id, t.old, t.new, t.at) for t in seen if t.kind == "source"] == \
            [("source", ACME, NEVER_RECEIVED, ACTIVE, NOW_US), ("source", ACME, ACTIVE, SILENT, NOW_US + INTERVAL + GRACE + 1)]
        clock.advance(3600)
        s, received, quarantined = {s.id: (s, r, q) for s, r, q in p.health.sources()}[ACME]
        assert (s.state, received, quarantined) == (SILENT, 0, 0)    # the hour has passed
        report(p, "A-17")
        assert [t.new for t in seen if t.kind == "source"] == [ACTIVE, SILENT, ACTIVE]
