"""Timestamp readers, compiled once per source spec.

A reader turns the vendor's value into integer microseconds since the epoch
(UTC) and a set of flags for local times that did not exist or were ambiguous
in the source's time zone.  Formats:

* ``iso8601`` – ``2026-11-26T09:00:00+09:00``; without an offset the source's zone applies;
* ``epoch_s`` / ``epoch_ms`` / ``epoch_us`` – numbers (or numeric text);
* any strptime pattern (``%Y%m%d%H``, ``%Y-%m-%d %H:%M:%S``).  Korean tables
  write the last hour of a day as ``24:00``: an hour of 24 is read as 00:00
  of the next day.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..clock import to_us

NONEXISTENT = "nonexistent_local_time"
AMBIGUOUS = "ambiguous_local_time"

Reader = Callable[[object], tuple[int, str | None]]


class TimeProblem(ValueError):
    """A timestamp spec or value that cannot be read; the message says which and why."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeProblem(f"unknown time zone {name!r} (use an IANA name such as Asia/Seoul)") from None


def compile_reader(fmt: str, tz_name: str) -> Reader:
    """A reader for one format and zone; text values are memoised (devices of one feed often
    share a timestamp, and CSV rows share their date), so a repeated text costs one look-up."""
    read = _compile(fmt, tz_name)
    memo: dict = {}

    def memo_read(value):
        if type(value) is not str:
            return read(value)
        hit = memo.get(value)
        if hit is None:
            hit = read(value)
            if len(memo) >= 4096:
                memo.clear()
            memo[value] = hit
        return hit
    return memo_read


def _compile(fmt: str, tz_name: str) -> Reader:
    tz = zone(tz_name)
    if fmt == "iso8601":
        return _iso_reader(tz)
    if fmt in _EPOCH_SCALE:
        scale = _EPOCH_SCALE[fmt]

        def read_epoch(value):
            if isinstance(value, bool):
                raise TimeProblem(f"expected a number of {fmt}, got {value!r}")
            try:
                us = int(round(float(value) * scale))
            except (TypeError, ValueError, OverflowError):  # OverflowError: inf
                raise TimeProblem(f"expected a number ({fmt}), got {value!r}") from None
            if not _MIN_US <= us <= _MAX_US:  # beyond what a date (and a 64-bit column) holds
                raise TimeProblem(f"{value!r} ({fmt}) is not a time between the years 1 and 9999")
            return us, None
        return read_epoch
    if "%" not in fmt:
        raise TimeProblem(f"unknown timestamp format {fmt!r}: use iso8601, epoch_s, epoch_ms, epoch_us "
                          "or a strptime pattern such as %Y%m%d%H%M")
    return _pattern_reader(fmt, tz)


_EPOCH_SCALE = {"epoch_s": 1_000_000, "epoch_ms": 1_000, "epoch_us": 1}
_MIN_US = to_us(datetime(1, 1, 1, tzinfo=timezone.utc))
_MAX_US = to_us(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc))


def _localize(naive: datetime, tz) -> tuple[int, str | None]:
    """Attach ``tz`` to a naive local time; flag times that a DST change skipped or doubled."""
    if tz is timezone.utc:
        return to_us(naive.replace(tzinfo=timezone.utc)), None
    a = naive.replace(tzinfo=tz, fold=0)
    b = naive.replace(tzinfo=tz, fold=1)
    flag = None
    if a.utcoffset() != b.utcoffset():
        # both folds differ: either the local time happened twice or never
        roundtrip = a.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None)
        flag = AMBIGUOUS if roundtrip == naive else NONEXISTENT
    return to_us(a), flag


def _iso_reader(tz) -> Reader:
    def read_iso(value):
        if not isinstance(value, str):
            raise TimeProblem(f"expected an ISO 8601 text, got {value!r}")
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            dt = _end_of_day(text, "iso")
            if dt is None:
                raise TimeProblem(f"not an ISO 8601 time: {value!r}") from None
        if dt.tzinfo is None:
            return _localize(dt, tz)
        return to_us(dt), None
    return read_iso


def _end_of_day(text: str, fmt: str) -> datetime | None:
    """Read an hour of ``24`` (``...24:00``) as 00:00 of the next day; None if that is not it."""
    starts = [i for i in range(len(text) - 1) if text.startswith("24", i)]
    for i in reversed(starts):
        patched = text[:i] + "00" + text[i + 2:]
        try:
            dt = datetime.fromisoformat(patched) if fmt == "iso" else datetime.strptime(patched, fmt)
        except ValueError:
            continue
        if dt.hour == 0 and dt.minute == 0 and dt.second == 0 and dt.microsecond == 0:
            return dt + timedelta(days=1)
    return None


def _check_pattern(fmt: str) -> None:
    """A pattern must read back what it writes; a bad directive (``%Q``) or a stray ``%`` is a spec
    mistake, found when the spec is loaded rather than on every message."""
    sample = datetime(2001, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    try:
        datetime.strptime(sample.strftime(fmt), fmt)
    except ValueError as e:
        raise TimeProblem(f"bad strptime format {fmt!r}: {e}") from None


def _pattern_reader(fmt: str, tz) -> Reader:
    _check_pattern(fmt)
    has_zone = "%z" in fmt or "%Z" in fmt

    def read_pattern(value):
        text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
        if text is None:
            raise TimeProblem(f"expected a time written as {fmt!r}, got {value!r}")
        try:
            dt = datetime.strptime(text, fmt)
        except ValueError:
            dt = _end_of_day(text, fmt) if "%H" in fmt else None
            if dt is None:
                raise TimeProblem(f"{value!r} does not match the format {fmt!r}") from None
        if has_zone and dt.tzinfo is not None:
            return to_us(dt), None
        return _localize(dt, tz)
    return read_pattern
