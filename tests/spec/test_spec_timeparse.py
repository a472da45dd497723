"""Timestamp readers: ISO 8601, epochs, strptime patterns, 24:00 and DST edges."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from citylink.clock import iso, to_us
from citylink.spec.timeparse import AMBIGUOUS, NONEXISTENT, TimeProblem, compile_reader, zone

UTC = timezone.utc


def utc(*a) -> int:
    return to_us(datetime(*a, tzinfo=UTC))


@pytest.mark.parametrize("text", ["2026-11-26T09:00:00+09:00", "2026-11-26T00:00:00Z", "2026-11-26T00:00:00z",
                                  "2026-11-26T00:00:00+00:00", "2026-11-25T19:00:00-05:00"])
def test_iso8601_with_offset_ignores_the_source_zone(text):
    for tz in ("Asia/Seoul", "UTC", "America/New_York"):
        assert compile_reader("iso8601", tz)(text) == (utc(2026, 11, 26, 0, 0), None)


def test_iso8601_without_offset_uses_the_source_zone():
    assert compile_reader("iso8601", "Asia/Seoul")("2026-11-26T09:00:00") == (utc(2026, 11, 26, 0, 0), None)
    assert compile_reader("iso8601", "UTC")("2026-11-26T09:00:00") == (utc(2026, 11, 26, 9, 0), None)
    # space separator and fractions
    us, _ = compile_reader("iso8601", "Asia/Seoul")("2026-11-26 09:00:00.250")
    assert us == utc(2026, 11, 26, 0, 0) + 250_000


def test_iso8601_end_of_day():
    r = compile_reader("iso8601", "Asia/Seoul")
    assert r("2019-01-01T24:00:00") == (utc(2019, 1, 1, 15, 0), None)
    assert r("2019-12-31T24:00") == (utc(2019, 12, 31, 15, 0), None)  # = 2020-01-01T00:00 KST


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01T00:00:00", "2019-01-01T24:30:00", 1795651200, None, ""])
def test_iso8601_rejects(bad):
    with pytest.raises(TimeProblem):
        compile_reader("iso8601", "Asia/Seoul")(bad)


@pytest.mark.parametrize("fmt,value", [("epoch_s", 1795651200), ("epoch_s", "1795651200"), ("epoch_s", 1795651200.0),
                                       ("epoch_ms", 1795651200000), ("epoch_ms", "1795651200000"),
                                       ("epoch_us", 1795651200000000)])
def test_epochs(fmt, value):
    assert compile_reader(fmt, "Asia/Seoul")(value) == (utc(2026, 11, 26, 0, 0), None)


def test_epoch_range_is_the_years_1_to_9999():
    r = compile_reader("epoch_s", "UTC")
    assert r(253402300799)[0] == utc(9999, 12, 31, 23, 59, 59)
    assert r(-62135596800)[0] == utc(1, 1, 1, 0, 0)
    assert r(-1) == (-1_000_000, None)  # before 1970 is fine
    with pytest.raises(TimeProblem, match="between the years 1 and 9999"):
        r(253402300800)


def test_epoch_fractions():
    assert compile_reader("epoch_s", "UTC")(1.5)[0] == 1_500_000
    assert compile_reader("epoch_ms", "UTC")(1.5)[0] == 1_500


@pytest.mark.parametrize("bad", [True, "soon", None, [1], {"t": 1}, "inf", "-Infinity", "nan", float("inf"),
                                 9223372036854776.0, -1e17, 1e300, 10 ** 30])
def test_epoch_rejects(bad):
    with pytest.raises(TimeProblem):
        compile_reader("epoch_ms", "UTC")(bad)


def test_strptime_pattern_in_the_source_zone():
    r = compile_reader("%Y-%m-%d %H:%M:%S", "Asia/Seoul")
    assert r("2026-11-26 09:00:00") == (utc(2026, 11, 26, 0, 0), None)
    assert r(" 2026-11-26 09:00:00 ") == (utc(2026, 11, 26, 0, 0), None)


def test_strptime_24_is_the_end_of_the_day():
    r = compile_reader("%Y%m%d%H", "Asia/Seoul")
    # 2019-01-01 24:00 KST = 2019-01-02T00:00 KST = 2019-01-01T15:00Z
    assert r("2019010124") == (utc(2019, 1, 1, 15, 0), None)
    assert r(2019010124) == (utc(2019, 1, 1, 15, 0), None)  # a JSON number works too
    assert r("2019010123") == (utc(2019, 1, 1, 14, 0), None)
    assert r("2019010100") == (utc(2018, 12, 31, 15, 0), None)
    # end of the year rolls over into the next
    assert iso(r("2019123124")[0]) == "2019-12-31T15:00:00.000Z"


def test_strptime_24_with_minutes():
    r = compile_reader("%Y-%m-%d %H:%M", "Asia/Seoul")
    assert r("2026-11-25 24:00") == (utc(2026, 11, 25, 15, 0), None)
    with pytest.raises(TimeProblem):
        r("2026-11-25 24:30")  # only exactly 24:00 is the end of a day
    with pytest.raises(TimeProblem):
        r("2026-11-25 25:00")


def test_strptime_with_an_explicit_offset():
    r = compile_reader("%Y-%m-%dT%H:%M:%S%z", "Asia/Seoul")
    assert r("2026-11-26T00:00:00+0000") == (utc(2026, 11, 26, 0, 0), None)


def test_strptime_rejects_what_does_not_match():
    r = compile_reader("%Y%m%d%H", "Asia/Seoul")
    with pytest.raises(TimeProblem, match="does not match"):
        r("2026-11-26")
    with pytest.raises(TimeProblem):
        r(True)
    with pytest.raises(TimeProblem):
        r(None)


def test_melbourne_dst_end_is_ambiguous():
    r = compile_reader("%Y-%m-%d %H:%M", "Australia/Melbourne")
    us, flag = r("2026-04-05 02:30")  # clocks go 03:00 AEDT → 02:00 AEST: 02:30 happens twice
    assert flag == AMBIGUOUS
    assert us == utc(2026, 4, 4, 15, 30)  # the first one (AEDT, +11:00)
    assert r("2026-04-05 01:30")[1] is None
    assert r("2026-04-05 03:30")[1] is None


def test_melbourne_dst_start_is_nonexistent():
    r = compile_reader("%Y-%m-%d %H:%M", "Australia/Melbourne")
    us, flag = r("2026-10-04 02:30")  # clocks go 02:00 AEST → 03:00 AEDT: 02:30 never happens
    assert flag == NONEXISTENT
    assert us == utc(2026, 10, 3, 16, 30)
    assert r("2026-10-04 01:59")[1] is None
    assert r("2026-10-04 03:00")[1] is None


def test_iso8601_without_offset_flags_dst_too():
    r = compile_reader("iso8601", "Australia/Melbourne")
    assert r("2026-04-05T02:30:00")[1] == AMBIGUOUS
    assert r("2026-10-04T02:30:00")[1] == NONEXISTENT
    assert r("2026-10-04T02:30:00+10:00")[1] is None  # an explicit offset is never ambiguous


def test_seoul_has_no_dst_flags():
    r = compile_reader("%Y-%m-%d %H:%M", "Asia/Seoul")
    for d in ("2026-04-05 02:30", "2026-10-04 02:30", "2026-03-08 02:30"):
        assert r(d)[1] is None


def test_unknown_zone_and_format():
    with pytest.raises(TimeProblem, match="unknown time zone"):
        zone("Mars/Olympus_Mons")
    with pytest.raises(TimeProblem, match="unknown timestamp format"):
        compile_reader("YYYYMMDD", "UTC")
    with pytest.raises(TimeProblem, match="bad directive"):
        compile_reader("%Y%m%Q", "UTC")
    with pytest.raises(TimeProblem, match="stray %"):
        compile_reader("%Y-%m-%d %", "UTC")
