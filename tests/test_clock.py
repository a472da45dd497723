"""The simulation clock: held, replaying faster than real time, or live — never ahead of its base."""
from __future__ import annotations

from citylink.clock import ManualClock, SimulationClock

S = 1_000_000


def test_a_held_clock_stays_put_and_never_passes_the_base():
    base = ManualClock(1000 * S)
    c = SimulationClock(base)
    c.hold(500 * S)
    base.advance(10)
    assert c.now_us() == 500 * S
    c.hold(2000 * S)  # later than now: held at now
    assert c.now_us() == base.now_us()


def test_a_replay_runs_speed_times_faster_until_it_meets_the_present():
    base = ManualClock(10_000 * S)
    c = SimulationClock(base)
    c.replay(10_000 * S - 3600 * S, speed=60)
    assert not c.caught_up
    base.advance(30)  # 30 s real = 30 min replayed
    assert c.now_us() == 10_000 * S + 30 * S - 3600 * S + 30 * 60 * S - 30 * S
    assert c.real_seconds_until(c.now_us() + 60 * S) == 1.0
    base.advance(60)
    assert c.caught_up and c.now_us() == base.now_us()
    base.advance(5)
    assert c.now_us() == base.now_us()  # then it is the base itself


def test_live_is_the_base():
    base = ManualClock(42 * S)
    c = SimulationClock(base)
    assert c.now_us() == 42 * S
    c.hold(1)
    c.live()
    assert c.now_us() == 42 * S


def test_iso_agrees_with_strftime_everywhere():
    """iso() formats by arithmetic (fast); datetime's strftime is the reference."""
    import random

    from citylink.clock import from_us, iso
    r = random.Random(7)
    for i in range(20_000):
        us = r.randrange(0, 253_402_300_799_999_999)
        if i % 2:
            us = us // 1000 * 1000
        dt = from_us(us)
        want = dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if us % 1000 else \
            dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
        assert iso(us) == want, us
    assert iso(0) == "1970-01-01T00:00:00.000Z" and iso(-1) == "1969-12-31T23:59:59.999999Z"
