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


def from_us(us: int) -> datetime:
    return _EPOCH + (us * _ONE_US)


def iso(us: int) -> str:
    """ISO 8601 UTC with a Z, millisecond precision unless finer is needed."""
    dt = from_us(us)
    if us % 1000:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_US = timedelta(microseconds=1)
