"""Benchmark: NGSI-LD reads over HTTP from the embedded store (SQLite).

Workload: 10,000 WasteContainer entities (the shipped ``bins-acme-http`` source) with 1,000,000
observations spread over the last 30 days (fill level, temperature and battery of 33 readings per
bin), loaded through the normal pipeline.  Then, against ``citylink serve``'s application in its own
process (uvicorn, one worker) and a load generator of ``--clients`` processes on the same machine:

* entity retrieval by id (random bins)             → requests/s
* ``q=`` queries (type + ``fillingLevel>X;temperature<Y``, 20 per page)  → requests/s
* temporal hourly average over 30 days of one entity → ms per request
* temporal hourly average over 30 days of 1,000 entities of the type → ms per request

The load generator is ``wrk`` (Debian package ``wrk``, a C program: 2 threads, 16 connections) when it
is installed, else ``--clients`` Python processes — which then share the two cores with the server and
measure less than the server can do.

    python bench/ngsi_read.py [--entities 10000] [--observations 1000000] [--seconds 10] [--clients 3]
    python bench/ngsi_read.py --store-url postgresql://postgres@127.0.0.1:5432/citylink_bench --observations 10000000
    (the PostgreSQL database must exist and be empty; PostGIS installed)
    python bench/ngsi_read.py --data-dir /tmp/nb        # keep the SQLite data; later runs add --reuse

Every request must answer 200; the script stops with an error otherwise.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import orjson

from citylink.adapters.broker import free_port
from citylink.clock import ManualClock
from citylink.config import BUNDLED_SPECS, Settings
from citylink.platform import Platform, tune_gc

SOURCE = "bins-acme-http"
KST = timezone(timedelta(hours=9))


def load(data: Path, entities: int, observations: int, store_url: str | None = None) -> tuple[int, float]:
    """Fill the store through the pipeline; returns (messages, seconds)."""
    readings = max(1, observations // (3 * entities))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = now - timedelta(days=30)
    step = timedelta(days=30) / readings
    p = Platform(Settings(data_dir=data, pseudonym_key="bench", store_url=store_url), clock=ManualClock(now))
    p.start(specs_dir=BUNDLED_SPECS, watch=False)
    tune_gc()
    t0 = time.perf_counter()
    n = 0
    for r in range(readings):
        ts = (start + step * r).astimezone(KST).isoformat(timespec="seconds")
        bodies = [(orjson.dumps({"deviceId": f"B-{d:05d}", "ts": ts, "fill_pct": (d * 7 + r * 3) % 100,
                                 "temp_c": 5 + (d + r) % 30, "battery_pct": 100 - (r % 90)}), {})
                  for d in range(entities)]
        for i in range(0, len(bodies), 20_000):
            msgs = p.make_messages(SOURCE, bodies[i:i + 20_000], "bench")
            p.store.archive(msgs)
            p.process_batch(msgs)
            n += len(msgs)
    took = time.perf_counter() - t0
    if store_url and store_url.startswith("postgres"):
        # the steady state: autovacuum analyzes a freshly loaded table within a minute or so; without
        # statistics the planner sorts every entity of the type before a page's LIMIT
        with p.store._tx() as c:
            c.execute("ANALYZE")
    p.stop()
    return n, took


def serve(data: Path, port: int, store_url: str | None = None) -> subprocess.Popen:
    env = dict(os.environ, CITYLINK_DATA_DIR=str(data), CITYLINK_PSEUDONYM_KEY="bench")
    if store_url:
        env["CITYLINK_STORE_URL"] = store_url
    cl = Path(sys.executable).with_name("citylink")
    proc = subprocess.Popen([str(cl), "serve", "--port", str(port), "--host", "127.0.0.1"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not become ready")


def urls(kind: str, entities: int, rng: random.Random):
    while True:
        if kind == "retrieve":
            yield f"/ngsi-ld/v1/entities/urn:ngsi-ld:WasteContainer:dobong:acme:B-{rng.randrange(entities):05d}"
        else:
            yield (f"/ngsi-ld/v1/entities?type=WasteContainer&q=fillingLevel>{rng.randrange(50, 99) / 100};"
                   f"temperature<{rng.randrange(6, 30)}&limit=20")


def worker(base: str, kind: str, entities: int, seconds: float, seed: int, out: mp.Queue) -> None:
    rng = random.Random(seed)
    n = bad = 0
    gen = urls(kind, entities, rng)
    with httpx.Client(base_url=base, timeout=30) as c:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            r = c.get(next(gen))
            n += 1
            bad += r.status_code != 200
    out.put((n, bad))


def rate(base: str, kind: str, entities: int, seconds: float, clients: int) -> float:
    q: mp.Queue = mp.Queue()
    procs = [mp.Process(target=worker, args=(base, kind, entities, seconds, i, q)) for i in range(clients)]
    t0 = time.perf_counter()
    for pr in procs:
        pr.start()
    got = [q.get() for _ in procs]
    for pr in procs:
        pr.join()
    took = time.perf_counter() - t0
    n, bad = sum(g[0] for g in got), sum(g[1] for g in got)
    if bad:
        raise SystemExit(f"{kind}: {bad} of {n} requests did not answer 200")
    return n / took


WRK_SCRIPTS = {
    "retrieve": """math.randomseed(7)
request = function()
  return wrk.format("GET", string.format("/ngsi-ld/v1/entities/urn:ngsi-ld:WasteContainer:dobong:acme:B-%05d",
                                         math.random(0, ENTITIES - 1)))
end
""",
    "query": """math.randomseed(7)
request = function()
  return wrk.format("GET", string.format(
    "/ngsi-ld/v1/entities?type=WasteContainer&q=fillingLevel>%0.2f;temperature<%d&limit=20",
    math.random(50, 98) / 100, math.random(6, 29)))
end
"""}


def wrk_rate(base: str, kind: str, entities: int, seconds: float, tmp: Path) -> float:
    script = tmp / f"{kind}.lua"
    script.write_text(WRK_SCRIPTS[kind].replace("ENTITIES", str(entities)))
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{int(seconds)}s", "-s", str(script), base], capture_output=True,
                         text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"{kind}: some requests did not answer 200:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def reference_ms() -> float:
    """A fixed pure-Python loop, best of five (ms): machines of one kind differ by 2× from session to
    session, so figures from different days are compared through this."""
    return min(timeit.repeat("sum(i * i for i in range(1_000_000))", number=1, repeat=5)) * 1000


def timed(c: httpx.Client, url: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = c.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{url}: {r.status_code} {r.text[:300]}")
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entities", type=int, default=10_000)
    ap.add_argument("--observations", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=3)
    ap.add_argument("--store-url", default=None, help="default: SQLite in a temporary directory")
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="keep the platform's data directory (SQLite store) here instead of a temporary one")
    ap.add_argument("--reuse", action="store_true",
                    help="the data of an earlier run is in --store-url, or in --data-dir for SQLite")
    a = ap.parse_args()
    print(f"machine reference: {reference_ms():.0f} ms (a fixed Python loop; lower is faster)")
    if a.reuse and not (a.store_url or a.data_dir):
        ap.error("--reuse needs --store-url or --data-dir: where the earlier run's data is")
    with tempfile.TemporaryDirectory() as tmp:
        data = a.data_dir or Path(tmp)
        data.mkdir(parents=True, exist_ok=True)
        if a.reuse:
            print(f"reusing the data in {a.store_url or data}")
        else:
            n, took = load(data, a.entities, a.observations, a.store_url)
            print(f"loaded {n:,} messages ({3 * n:,} observations, {a.entities:,} entities) in {took:.0f} s "
                  f"into {a.store_url or 'SQLite'}")
        port = free_port()
        proc = serve(data, port, a.store_url)
        base = f"http://127.0.0.1:{port}"
        try:
            if shutil.which("wrk"):
                generator = "wrk, 2 threads, 16 connections"
                wrk_rate(base, "retrieve", a.entities, 2, Path(tmp))  # warm up
                retrieve = wrk_rate(base, "retrieve", a.entities, a.seconds, Path(tmp))
                print(f"entity retrieval:                 {retrieve:8,.0f} req/s   ({generator}; 1 server worker)",
                      flush=True)
                query = wrk_rate(base, "query", a.entities, a.seconds, Path(tmp))
                print(f"q= query (20 per page):           {query:8,.0f} req/s", flush=True)
            else:
                generator = f"{a.clients} Python client processes; install wrk for a truer figure"
                rate(base, "retrieve", a.entities, 2, a.clients)  # warm up
                retrieve = rate(base, "retrieve", a.entities, a.seconds, a.clients)
                print(f"entity retrieval:                 {retrieve:8,.0f} req/s   ({generator}; 1 server worker)",
                      flush=True)
                query = rate(base, "query", a.entities, a.seconds, a.clients)
                print(f"q= query (20 per page):           {query:8,.0f} req/s", flush=True)
            end = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            begin = (datetime.now(timezone.utc) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
            window = (f"timerel=between&timeAt={begin}&endTimeAt={end}&options=aggregatedValues&aggrMethods=avg"
                      "&aggrPeriodDuration=PT1H&attrs=fillingLevel")
            with httpx.Client(base_url=base, timeout=120) as c:
                one = timed(c, "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:WasteContainer:dobong:acme:B-00042?"
                            + window, 20)
                many = timed(c, f"/ngsi-ld/v1/temporal/entities?type=WasteContainer&limit=1000&{window}", 3)
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"30-day hourly average, 1 entity:  {one:8,.1f} ms")
    print(f"30-day hourly average, 1,000:     {many:8,.0f} ms")


if __name__ == "__main__":
    main()
