"""Downloads stream: the Python memory a download takes stays near one chunk's whatever the range — three
days (72,000 rows) take no more than one, and far less than the download's size, which is what holding it
would take (on both engines; bench/opendata_download.py measures a year in a real server's RSS).  Measured
with tracemalloc, which slows Python several times: the ranges are kept short."""
from __future__ import annotations

import gc
import tracemalloc
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from cltest import ACME, started_platform
from citylink.access import ADMIN
from citylink.clock import to_us
from citylink.config import BUNDLED_SPECS
from citylink.opendata import dataset, download

KST = timezone(timedelta(hours=9))
DEVICES, READINGS = 100, 144          # every 30 min: 3 days, 14,400 messages, 72,000 values
START = datetime(2026, 11, 1, tzinfo=timezone.utc)
BOUND = 6 * 2**20                     # bytes of Python memory a streamed download may take at its peak


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def filled(request, tmp_path_factory):
    from citylink.clock import ManualClock
    with started_platform(request.param, tmp_path_factory.mktemp("data"), ManualClock(START + timedelta(days=10)),
                          BUNDLED_SPECS) as p:
        for r in range(READINGS):
            ts = (START + timedelta(minutes=30 * r)).astimezone(KST).isoformat()
            bodies = [(orjson.dumps({"deviceId": f"S-{d:03d}", "ts": ts, "fill_pct": (d + r) % 100, "temp_c": 10,
                                     "battery_pct": 90, "state": "0", "compactions": r}), {})
                      for d in range(DEVICES)]
            msgs = p.make_messages(ACME, bodies, "test")
            p.store.archive(msgs)
            p.process_batch(msgs)
        yield p


def measured(consume):
    """(what ``consume`` returned, the peak of Python memory it allocated)."""
    gc.collect()
    tracemalloc.start()
    try:
        out = consume()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_download_streams_in_bounded_memory(filled):
    ds = dataset(filled, filled.visibility.view(ADMIN), "waste-bins")
    t0 = to_us(START)

    def streamed(days):
        end = to_us(START + timedelta(days=days))
        return measured(lambda: sum(len(b) for b in download.stream(filled.store, ds, "csv", t0, end)))

    size, peak = streamed(3)
    rows = sum(1 for chunk in filled.store.history_chunks(ds.scopes, t0, to_us(START + timedelta(days=3)))
               for _ in chunk)
    assert rows == DEVICES * READINGS * 5 and size > 6 * 2**20   # five values a message
    assert peak < BOUND, f"streaming {rows:,} rows took {peak / 2**20:.1f} MiB"
    # holding the download would take at least its size: a stream takes a fraction of it
    assert peak < size / 2, (peak, size)
    # and the peak does not grow with the range: a third of it takes about as much
    small, one_day = streamed(1)
    assert size > 2.5 * small and peak < one_day * 1.3 + 2**19, (one_day, peak)


def test_json_and_parquet_stream_too(filled):
    ds = dataset(filled, filled.visibility.view(ADMIN), "waste-bins")
    t0, t1 = to_us(START), to_us(START + timedelta(days=1))
    for fmt, least in (("json", 4 * 2**20), ("parquet", 10_000)):   # Parquet compresses these rows well
        size, peak = measured(lambda: sum(len(b) for b in download.stream(filled.store, ds, fmt, t0, t1)))
        assert size > least and peak < BOUND, (fmt, size, peak)
