"""The health rule, exactly at its boundaries."""
from citylink.clock import US
from citylink.health import OFFLINE, ONLINE, STALE, Timing
from citylink.health.rates import MINUTE, HourlyCounts


def test_boundaries_are_inclusive_of_the_earlier_state():
    t = Timing(1800 * US, 600 * US)
    assert t.state_at(0, 1800 * US) == ONLINE
    assert t.state_at(0, 1800 * US + 1) == STALE
    assert t.state_at(0, 2400 * US) == STALE
    assert t.state_at(0, 2400 * US + 1) == OFFLINE
    assert t.next_change(0, 0) == 1800 * US + 1
    assert t.next_change(0, 1800 * US + 1) == 2400 * US + 1
    assert t.next_change(0, 2400 * US + 1) is None


def test_grace_defaults_to_the_interval():
    class Svc:
        reporting_interval_s, offline_grace_s = 300.0, None
    assert Timing.of(Svc) == Timing(300 * US, 300 * US)
    Svc.reporting_interval_s = None
    assert Timing.of(Svc) is None


def test_hourly_counts_forget_what_is_older_than_an_hour():
    c = HourlyCounts()
    c.add("s", 0, 10, 2)
    c.add("s", 30 * MINUTE, 5, 0)
    assert c.last_hour("s", 59 * MINUTE) == (15, 2)
    assert c.last_hour("s", 60 * MINUTE) == (5, 0)
    assert c.last_hour("other", 0) == (0, 0)
