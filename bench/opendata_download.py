"""Benchmark: open data downloads of a year of one service, streamed through the real HTTP server, in
bounded memory.

Workload: the waste-bins service (the shipped ``bins-acme-http`` source), ``--devices`` bins (100) reporting
every 30 minutes (the service's reporting interval) for ``--days`` (366): 1.76 million messages of fill
level, temperature and status — 5.3 million observations, all public — loaded through the normal pipeline.
Then ``citylink serve`` in its own process (uvicorn, one worker) and, for each format, a download without a
key (the public) of the first month and of the whole year, streamed by httpx and thrown away as it comes.

Printed per download: rows, bytes, seconds, rows/s, and the server's memory: its resident set before the
download and the growth of its peak (VmHWM, reset through /proc/PID/clear_refs before each download) — the
figure that must stay flat from 1 month to 12.

    python bench/opendata_download.py [--devices 100] [--days 366] [--formats csv,json,parquet]
    python bench/opendata_download.py --data-dir /tmp/od            # keep the data; later runs add --reuse
    python bench/opendata_download.py --store-url postgresql://postgres@127.0.0.1:5432/citylink_od
    (the PostgreSQL database must exist and be empty, PostGIS installed; --reuse works there too)
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import orjson

from citylink.adapters.broker import free_port
from citylink.clock import ManualClock
from citylink.config import BUNDLED_SPECS, Settings
from citylink.platform import Platform, tune_gc
from ngsi_read import serve   # citylink serve in its own process (bench/ is the script's folder)

SOURCE = "bins-acme-http"
KST = timezone(timedelta(hours=9))
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
STEP = timedelta(minutes=30)


def load(data: Path, devices: int, days: int, store_url: str | None) -> tuple[int, float]:
    """A year of readings through the pipeline; returns (messages, seconds)."""
    p = Platform(Settings(data_dir=data, pseudonym_key="bench", store_url=store_url),
                 clock=ManualClock(START + timedelta(days=days + 1)))
    p.start(specs_dir=BUNDLED_SPECS, watch=False)
    tune_gc()
    t0 = time.perf_counter()
    n, readings = 0, int(timedelta(days=days) / STEP)
    batch = []
    for r in range(readings):
        ts = (START + STEP * r).astimezone(KST).isoformat(timespec="seconds")
        batch += [(orjson.dumps({"deviceId": f"B-{d:04d}", "ts": ts, "fill_pct": (d * 7 + r * 3) % 100,
                                 "temp_c": 5 + (d + r) % 30, "state": "0"}), {}) for d in range(devices)]
        if len(batch) >= 20_000 or r == readings - 1:
            msgs = p.make_messages(SOURCE, batch, "bench")
            p.store.archive(msgs)
            p.process_batch(msgs)
            n += len(msgs)
            batch = []
            if n % 200_000 < len(msgs):
                print(f"  loaded {n:,} messages (up to {(START + STEP * r).date()})", flush=True)
    took = time.perf_counter() - t0
    if store_url and store_url.startswith("postgres"):
        with p.store._tx() as c:
            c.execute("ANALYZE")
    p.stop()
    p.store.close()
    return n, took


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")   # VmHWM := VmRSS (Linux 4.0+)


def download(base: str, pid: int, fmt: str, months: int) -> dict:
    end = START + timedelta(days=31 * months if months < 12 else 365)
    url = (f"{base}/opendata/datasets/waste-bins/download.{fmt}?timeAt={START.isoformat()}"
           f"&endTimeAt={end.isoformat()}").replace("+", "%2B")
    reset_peak(pid)
    before = memory(pid)["VmRSS"]
    size, lines, t0 = 0, 0, time.perf_counter()
    with httpx.stream("GET", url, timeout=600) as r:
        if r.status_code != 200:
            raise SystemExit(f"{url}: {r.status_code} {r.read()[:300]!r}")
        for chunk in r.iter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")
    took = time.perf_counter() - t0
    peak = memory(pid)["VmHWM"]
    return {"bytes": size, "lines": lines, "seconds": took, "rss_kib": before, "growth_kib": peak - before}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devices", type=int, default=100)
    ap.add_argument("--days", type=int, default=366)
    ap.add_argument("--formats", default="csv,json,parquet")
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--store-url")
    ap.add_argument("--reuse", action="store_true", help="the data directory (or database) is filled already")
    args = ap.parse_args()
    tmp = None
    data = args.data_dir or Path(tmp := tempfile.mkdtemp(prefix="citylink-od-"))
    try:
        if not args.reuse:
            n, took = load(data, args.devices, args.days, args.store_url)
            print(f"loaded {n:,} messages ({n * 3:,} observations) in {took:.0f} s ({n / took:,.0f} msg/s)")
        port = free_port()
        proc = serve(data, port, args.store_url)
        base = f"http://127.0.0.1:{port}"
        try:
            for fmt in args.formats.split(","):   # warm up: imports (pyarrow), connections, caches
                download(base, proc.pid, fmt, 1)
            print(f"{'format':8} {'months':>6} {'rows':>11} {'MB':>8} {'s':>7} {'rows/s':>9} {'RSS MB':>7} "
                  f"{'peak growth MB':>14}")
            rows: dict[int, int] = {}
            for fmt in args.formats.split(","):
                for months in (1, 12):
                    m = download(base, proc.pid, fmt, months)
                    if fmt == "csv":
                        rows[months] = m["lines"] - 1
                    n = rows.get(months) or (m["lines"] - 2 if fmt == "json" else m["lines"])
                    print(f"{fmt:8} {months:>6} {n:>11,} {m['bytes'] / 1e6:>8.1f} {m['seconds']:>7.1f} "
                          f"{n / m['seconds']:>9,.0f} {m['rss_kib'] / 1024:>7.1f} {m['growth_kib'] / 1024:>14.1f}",
                          flush=True)
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
