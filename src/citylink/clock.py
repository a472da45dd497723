"""One clock for the whole platform.

Everything that asks "what time is it" (arrival stamps, clock-skew checks,
device health, simulators running faster than real time) asks the clock it
was given, so tests and simulations agree on *now*.  Times are integer
microseconds since the Unix epoch, UTC, which is also how the store keeps them.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Protocol

US = 1_000_000


class Clock(Protocol):
    def now_us(self) -> int:
        """Microseconds since the Unix epoch (UTC)."""


class SystemClock:
    def now_us(self) -> int:
        return time.time_ns() // 1000


class ManualClock:
    """A clock that only moves when told to; for tests and simulations."""

    def __init__(self, start_us: int | datetime = 0):
        if isinstance(start_us, datetime):
            start_us = to_us(start_us)
        self._now = int(start_us)
        self._lock = threading.Lock()

    def now_us(self) -> int:
        return self._now

    def set(self, when: int | datetime) -> None:
        with self._lock:
            self._now = to_us(when) if isinstance(when, datetime) else int(when)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += int(seconds * US)


def to_us(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt!r}: a time zone is required")
    return (dt - _EPOCH) // _ONE_US


def parse_iso(text: str) -> int:
    """An ISO 8601 date-time with a time zone, as a user or a client gives one → µs; a ValueError that says
    what is wrong (the caller puts the parameter's name first)."""
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date-time") from None
    if t.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone (add Z or an offset such as +09:00)")
    return to_us(t)


def from_us(us: int) -> datetime:
    return _EPOCH + (us * _ONE_US)


def iso(us: int) -> str:
    """ISO 8601 UTC with a Z, millisecond precision unless finer is needed.  Every rendered attribute
    has a time or two, so the date part is remembered per day and the rest is arithmetic: about half
    of ``strftime``'s cost."""
    sec, frac = divmod(us, 1_000_000)
    if not 0 <= sec < _YEAR_10000:
        return from_us(us).isoformat().replace("+00:00", "Z")
    day, rem = divmod(sec, 86_400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    if frac % 1000:
        return f"{_day(day)}{h:02d}:{m:02d}:{s:02d}.{frac:06d}Z"
    return f"{_day(day)}{h:02d}:{m:02d}:{s:02d}.{frac // 1000:03d}Z"


@lru_cache(maxsize=4096)
def _day(day: int) -> str:
    t = time.gmtime(day * 86_400)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"


_YEAR_10000 = 253_402_300_800


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_US = timedelta(microseconds=1)


class SimulationClock:
    """The one clock when simulators drive the platform in the same process: it can hold still at a
    past moment (a backfill moves it tick by tick, as fast as the platform keeps up), replay from a
    past moment ``speed`` times faster than ``base`` until it meets ``base``'s present, or be ``base``
    itself (live).  It never runs ahead of ``base``: nothing stamped by it is in the future, and once a
    replay has caught up, device health computed from it is live health."""

    def __init__(self, base: Clock | None = None):
        self.base = base or SystemClock()
        self._mode: tuple = ("live",)

    def hold(self, at_us: int) -> None:
        self._mode = ("hold", min(int(at_us), self.base.now_us()))

    def replay(self, from_us: int, speed: float) -> None:
        if speed < 1:
            raise ValueError(f"speed {speed}: a replay runs at least as fast as real time (speed >= 1)")
        self._mode = ("replay", min(int(from_us), self.base.now_us()), self.base.now_us(), float(speed))

    def live(self) -> None:
        self._mode = ("live",)

    def _read(self) -> tuple[int, int]:
        """(this clock, the base) read at one instant."""
        mode = self._mode
        real = self.base.now_us()
        if mode[0] == "hold":
            return mode[1], real
        if mode[0] == "replay":
            _, sim0, real0, speed = mode
            return min(real, sim0 + int((real - real0) * speed)), real
        return real, real

    def now_us(self) -> int:
        return self._read()[0]

    @property
    def caught_up(self) -> bool:
        now, real = self._read()
        return now >= real

    def real_seconds_until(self, at_us: int) -> float:
        """About how many real seconds until this clock shows ``at_us`` (0 if it does; a held clock
        never gets there by itself: infinity)."""
        gap = at_us - self.now_us()
        if gap <= 0:
            return 0.0
        mode = self._mode
        if mode[0] == "hold":
            return float("inf")
        return gap / US / (mode[3] if mode[0] == "replay" and not self.caught_up else 1.0)
