"""Benchmark: normalized attribute values per second through normalizer + SQLite store.

Workload: JSON messages of one vendor feed (the shipped ``bins-acme-http`` source),
each with 3 numeric readings (fill %, °C, battery %) that need unit conversion and
range checks, from 2,000 devices, in batches of 5,000 messages.  Each batch goes
the whole way a pushed message goes, on one core (one thread, no bus hand-off):

    archive raw bytes → normalize (decode, map, convert, check, dedupe) → apply
    (observations, current state, message outcomes, ledger) in one transaction.

    python bench/ingest_core.py [--messages 300000] [--batch 5000] [--profile]

Prints the figure and where the time goes.  The headline figure divides by the CPU time of the
whole loop (one thread), which also counts building the benchmark's messages and the garbage
collection between batches: the conservative reading.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import orjson

from citylink.clock import ManualClock
from citylink.config import BUNDLED_SPECS, Settings
from citylink.platform import Platform, tune_gc

SOURCE = "bins-acme-http"


def messages(n: int, devices: int, start_s: int) -> list[bytes]:
    out = []
    for i in range(n):
        t = start_s + (i // devices) * 60
        out.append(orjson.dumps({
            "deviceId": f"A-{i % devices}", "ts": time.strftime("%Y-%m-%dT%H:%M:%S+09:00", time.gmtime(t + 9 * 3600)),
            "fill_pct": (i * 7) % 100, "temp_c": 10 + (i % 50) / 10, "battery_pct": 100 - (i % 90)}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=300_000)
    ap.add_argument("--batch", type=int, default=20_000)
    ap.add_argument("--devices", type=int, default=2_000)
    ap.add_argument("--profile", action="store_true", help="print a cProfile summary of one run")
    args = ap.parse_args()
    tune_gc()  # as the long-running commands do

    start_s = 1_795_651_200  # 2026-11-26T00:00Z
    clock = ManualClock(start_s * 1_000_000 + 3_600_000_000)
    bodies = messages(args.messages, args.devices, start_s)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), pseudonym_key="bench")
        p = Platform(settings, clock=clock)
        p.apply_specs([BUNDLED_SPECS])
        p.reload(force=True)
        t_arch = 0.0
        timings: dict[str, float] = {}
        cpu0 = time.process_time()
        wall0 = time.perf_counter()

        def run():  # what an adapter and the bus worker do with each batch, timed by stage
            nonlocal t_arch
            for i in range(0, len(bodies), args.batch):
                msgs = p.make_messages(SOURCE, [(b, {}) for b in bodies[i:i + args.batch]], "bench")
                t0 = time.perf_counter()
                p.store.archive(msgs)
                t_arch += time.perf_counter() - t0
                p.process_batch(msgs, timings)

        if args.profile:
            import cProfile
            import pstats
            prof = cProfile.Profile()
            prof.runcall(run)
            pstats.Stats(prof).sort_stats("tottime").print_stats(18)
        else:
            run()
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        t_norm, t_apply = timings["normalize"], timings["apply"]
        total = t_arch + t_norm + t_apply
        ledger = p.store.ledger()[SOURCE]
        values = p.store._r.execute("SELECT count(*) FROM observations").fetchone()[0]
        p.store.close()
    assert ledger["stored"] + ledger["stored_flagged"] == args.messages, ledger
    assert values == 3 * args.messages, values
    print(f"messages: {args.messages:,}  values: {values:,}  batches of {args.batch:,}  devices: {args.devices:,}")
    print(f"  archive   {t_arch:7.2f} s  ({t_arch / total:5.1%})")
    print(f"  normalize {t_norm:7.2f} s  ({t_norm / total:5.1%})")
    print(f"  apply     {t_apply:7.2f} s  ({t_apply / total:5.1%})")
    print(f"  whole loop: wall {wall:.2f} s, CPU {cpu:.2f} s (also building the messages, and collecting garbage "
          "between batches)")
    print(f"stages only: {values / total:,.0f} values/s")
    print(f"normalized values/s (normalizer + SQLite store, one core, CPU time of the whole loop): {values / cpu:,.0f}")


if __name__ == "__main__":
    main()
