"""What the alarm rules cost: rule evaluation throughput, and the ingest throughput lost to it.

Workload: a simulated day of every shipped service — the simulators' own messages for every source
(JSON over HTTP and MQTT, CSV rows, LoRaWAN uplinks), made without a transport (``--dry-run``), so that
both runs get the same bytes.  Every shipped rule is in force (the bundled specs), and device health with it.

1. **Ingest, with and without the rules**: each batch is archived and processed as the bus worker does it
   (``Platform.process_batch``), on this thread.  With the rules, the rule engine's thread takes every commit
   from its queue meanwhile, and the clock stops when it is idle again: the figure is the ingest rate *with
   every observation judged*.  Without, the engine does not listen.  Fresh stores each; the best of
   ``--repeat`` runs each, alternating.
2. **Rule evaluation**: the CPU time the engine's thread spent in the run with the rules (its rounds: values
   taken in, conditions judged, alarms recorded and handed on), per observation.

    .venv/bin/python bench/rules_throughput.py [--hours 24] [--batch 500] [--repeat 3]
"""
from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from citylink.clock import ManualClock, SimulationClock
from citylink.config import BUNDLED_SPECS, Settings
from citylink.normalize.records import OUTCOME_NAMES
from citylink.payload import get as payload_format
from citylink.platform import Platform, tune_gc
from citylink.simulate.engine import Simulation
from citylink.simulate.fleet import enroll
from citylink.simulate.profile import load_profiles
from citylink.simulate.senders import Context
from citylink.spec.model import API_SOURCE
from citylink.store import alarms as stored

SEED = 7


def workload(hours: float) -> tuple[list[tuple[str, bytes, dict, int]], int]:
    """The simulators' messages over ``hours``: (source, body, meta, send time µs), and the end time."""
    out = []
    clock = SimulationClock()
    with tempfile.TemporaryDirectory() as tmp:
        p = Platform(Settings(data_dir=Path(tmp), pseudonym_key="bench"), clock=clock)
        p.apply_specs([BUNDLED_SPECS])
        p.reload(force=True)
        profiles = load_profiles()
        registries, _ = enroll(p, profiles, seed=SEED)

        def take(m, body):
            spec = p.specs.sources[m.source]
            if spec.payload["format"] == "csv" and isinstance(m.doc, dict):   # a row of a file: with its header
                body = (",".join(m.doc) + "\n").encode(spec.payload.get("encoding", "utf-8")) + body
            meta = {"topic": m.topic} if m.topic else {"file": m.file} if m.file else {}
            fmt = payload_format(spec.payload["format"])
            for part, extra in fmt.split(body, spec.payload):
                out.append((m.source, part, dict(meta, **extra), clock.now_us()))

        end = clock.base.now_us()
        sim = Simulation(p.specs, registries, Context(dry_run=take), clock, seed=SEED, profiles=profiles)
        sim.run(backfill_from=end - int(hours * 3600e6), live=False)
        p.store.close()
    return out, end


def platform(tmp: Path, clock: ManualClock) -> Platform:
    p = Platform(Settings(data_dir=tmp, pseudonym_key="bench"), clock=clock)
    p.start(specs_dir=BUNDLED_SPECS, watch=False)
    enroll(p, load_profiles(), seed=SEED)   # the same registries the messages were made with
    p.reload(force=True)
    return p


def batches(msgs, size: int):
    """Per source and hour sent: raw messages in batches of at most ``size`` (as a busy bus hands them over)."""
    out, cur, key = [], [], None
    for source, body, meta, t in msgs:
        if (source, t // 3_600_000_000) != key or len(cur) >= size:
            if cur:
                out.append((key, cur))
            cur, key = [], (source, t // 3_600_000_000)
        cur.append((body, meta, t))
    if cur:
        out.append((key, cur))
    return out


def ingest(msgs, size: int, *, rules: bool, start_us: int) -> tuple[float, int, dict, int, float]:
    """(seconds, observations, outcomes, alarm steps recorded, the rule engine's CPU seconds) for the whole
    workload through one fresh platform."""
    with tempfile.TemporaryDirectory() as tmp:
        clock = ManualClock(start_us)
        p = platform(Path(tmp), clock)
        try:
            assert p.rules.wait_idle(60)
            if not rules:   # neither commits nor health changes reach the engine
                p._listeners.remove(p.rules._enqueue)
                p.health._listeners.remove(p.rules._enqueue)
            before = stored.last_seq(p.store)
            n_obs = 0
            counts: dict[str, int] = {}
            seen = len(p._listeners)
            t0 = time.perf_counter()
            for (source, _), group in batches(msgs, size):
                clock.set(max(clock.now_us(), group[-1][2]))
                raw = p.make_messages(source, [(b, m) for b, m, _ in group], "bench")
                p.store.archive(raw)
                p.process_batch(raw)
            if rules:
                assert p.rules.wait_idle(600)
            seconds = time.perf_counter() - t0
            assert len(p._listeners) == seen
            ledger = p.store.ledger()
            for src, d in ledger.items():
                for k, v in d.items():
                    if k in OUTCOME_NAMES.values():
                        counts[k] = counts.get(k, 0) + v
            n_obs = p.store._r.execute(   # the vendors' (not the alarms' own Alert entities)
                "SELECT count(*) FROM observations o JOIN entities e USING (eid) WHERE e.source <> ?",
                (API_SOURCE,)).fetchone()[0]
            raised = stored.last_seq(p.store) - before
            cpu = p.rules.cpu_seconds
        finally:
            p.stop()
    return seconds, n_obs, counts, raised, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0, help="simulated hours of every service")
    ap.add_argument("--batch", type=int, default=500, help="messages per batch at most")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tune_gc()
    # the shipped departments' webhooks have no secrets here: each delivery's failure would be logged
    logging.getLogger("citylink.alarms.notify").setLevel(logging.CRITICAL)
    t0 = time.perf_counter()
    msgs, end = workload(args.hours)
    start = end - int(args.hours * 3600e6)
    by_source: dict[str, int] = {}
    for s, *_ in msgs:
        by_source[s] = by_source.get(s, 0) + 1
    print(f"workload: {len(msgs):,} messages of {len(by_source)} sources over {args.hours:g} simulated hours "
          f"(made in {time.perf_counter() - t0:.1f} s)")
    runs = {True: [], False: []}
    for _ in range(args.repeat):
        for with_rules in (False, True):
            runs[with_rules].append(ingest(msgs, args.batch, rules=with_rules, start_us=start))
    best = {k: min(v, key=lambda r: r[0]) for k, v in runs.items()}
    s0, obs, counts, _, _ = best[False]
    s1, obs1, _, raised, cpu = best[True]
    assert obs == obs1, (obs, obs1)
    print(f"outcomes: {counts}")
    print(f"observations stored: {obs:,}; alarm steps recorded with the rules: {raised:,}")
    print(f"ingest without the rules: {s0:6.2f} s  {obs / s0:9,.0f} observations/s")
    print(f"ingest with every rule:   {s1:6.2f} s  {obs / s1:9,.0f} observations/s (until the engine is idle)")
    print(f"added ingest cost: {(s1 - s0) / s0:+.1%} time  (throughput {obs / s1 / (obs / s0):.0%} of without)")
    print(f"rule evaluation: the engine's thread spent {cpu:.2f} s of CPU on {obs:,} observations = "
          f"{obs / cpu:,.0f} observations/s through every shipped rule (alarm bookkeeping included)")


if __name__ == "__main__":
    main()
