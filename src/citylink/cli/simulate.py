"""``citylink simulate``: simulated vendors for every source, over the real transports, against a
running CityLink (``citylink serve``)."""
from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import List, Optional

import typer

from ..simulate.faults import FAULTS as FAULTS_REGISTRY
from ..simulate.faults import parse_rates
from . import app, console, fail, platform, stop_on_signals

SEED = typer.Option(1, "--seed", help="Same seed, same devices, same weather, same messages.")
FAULTS_HELP = ("Faults to inject, as name=rate (all=RATE sets every one): " + "; ".join(
    f"{f.name} — {f.summary} (per {'message' if f.per == 'message' else 'device and day'})"
    for f in FAULTS_REGISTRY.items().values()))
FAULTS = typer.Option("", "--faults", help=FAULTS_HELP)
DURATION = typer.Option(None, "--duration", help="Stop after running this long live (ISO 8601, e.g. PT10M); "
                        "default: until Ctrl-C.")
FLEET = typer.Option(None, "--fleet", help="Simulated devices each profile adds to its source's registry "
                     "(default: the profile's fleet.count; 0: the registry's devices only).")
SPEED = typer.Option(1.0, "--speed", help="Replay the --window that ends now this many times faster than real "
                     "time, then go on live.")
WINDOW = typer.Option("PT1H", "--window", help="With --speed: how much of the recent past to replay (ISO 8601).")
BACKFILL = typer.Option(None, "--backfill", help="Write this many days of history up to now, as fast as the "
                        "platform takes it, before going on.")


class Plan:
    """When a run starts and how it moves: backfill → replay → live (see Simulation.run)."""

    def __init__(self, now_us: int, backfill_days: float | None, speed: float, window: str,
                 duration: str | None):
        from ..spec.model import duration_seconds
        if speed < 1:
            raise ValueError(f"--speed {speed}: at least 1 (real time)")
        try:
            window_s = duration_seconds(window) or 0.0
            self.duration_s = duration_seconds(duration) if duration else None
        except ValueError as e:
            raise ValueError(f"--window/--duration: {e}") from None
        self.speed = speed
        self.replay_from = now_us - int(window_s * 1e6) if speed > 1 else None
        start = now_us - int((backfill_days or 0) * 86400e6)
        self.backfill_from = start if backfill_days else None
        if self.replay_from is not None and self.backfill_from is not None and self.backfill_from > self.replay_from:
            self.backfill_from = None  # the replay window already covers the backfill


def fault_rates(text: str) -> dict[str, float]:
    """``--faults`` read, or the command stops naming the part at fault."""
    try:
        return parse_rates(text)
    except ValueError as e:
        fail(str(e), 2)


@app.command("simulate")
def simulate(ctx: typer.Context,
             url: Optional[str] = typer.Option(None, "--url", help="The running CityLink's base URL "
                                               "(default: http://<host>:<port> of the configuration)."),
             mqtt_url: Optional[str] = typer.Option(None, "--mqtt-url", help="The MQTT broker the platform "
                                                    "subscribes at (default: the configured mqtt_url)."),
             sources: Optional[List[str]] = typer.Option(None, "--source", help="Only these sources (repeatable)."),
             seed: int = SEED, faults: str = FAULTS, fleet: Optional[int] = FLEET,
             backfill: Optional[float] = BACKFILL, speed: float = SPEED, window: str = WINDOW,
             duration: Optional[str] = DURATION,
             no_live: bool = typer.Option(False, "--no-live", help="Stop once the backfill/replay reaches now."),
             profiles_dir: Optional[List[Path]] = typer.Option(None, "--profiles", help="Simulation profiles "
                                                               "(default: the bundled ones)."),
             dry_run: bool = typer.Option(False, "--dry-run", help="Send nothing: print each message (JSON lines "
                                          "of source, device, time and body) and register nothing.")):
    """Drive simulated devices for every source over its real transport (see docs/demo.md)."""
    from ..clock import SimulationClock
    from ..simulate.engine import Limits, Simulation
    from ..simulate.fleet import enroll, fleet as make_fleet
    from ..simulate.profile import load_profiles
    from ..simulate.senders import Context
    from ..spec.devices import load_registry
    from ..spec.loader import load_paths
    from ..spec.model import duration_seconds
    rates = fault_rates(faults)
    profiles = load_profiles(profiles_dir or None)
    p = platform(ctx)
    s = p.settings
    clock = SimulationClock()
    try:
        plan = Plan(clock.base.now_us(), backfill, speed, window, duration)
    except ValueError as e:
        fail(str(e), 2)
    if dry_run:
        if plan.backfill_from is None and plan.replay_from is None:
            plan.backfill_from = clock.base.now_us() - int(duration_seconds(window) * 1e6)
        specs = p.specs
        if not specs.sources:  # nothing applied here yet: the configured spec directory, with its registries
            specs = load_paths([s.specs_dir])
            known = {sid: load_registry(Path(src.origin.file).parent / src.devices)
                     for sid, src in specs.sources.items() if src.devices}
        else:
            known = p.store.devices()
        registries = {sid: [*known.get(sid, []), *make_fleet(profiles[sid], known.get(sid, []), seed, fleet)]
                      for sid in specs.sources if sid in profiles}

        def show(m, body):
            sys.stdout.write(json.dumps({"source": m.source, "device": m.device, "t": m.t, "fault": m.fault,
                                         "body": body.decode("utf-8", "replace")}, ensure_ascii=False) + "\n")
        sim_ctx = Context(dry_run=show)
    else:
        registries, tokens = enroll(p, profiles, seed=seed, count=fleet, sources=sources)
        specs = p.specs
        sim_ctx = Context(url or f"http://{'127.0.0.1' if s.host in ('0.0.0.0', '::') else s.host}:{s.port}", tokens,
                          mqtt_url or s.mqtt_url, s.data_dir)
    try:
        sim = Simulation(specs, registries, sim_ctx, clock, seed=seed, faults=rates, profiles=profiles,
                         sources=sources, limits=Limits(s.late_after_seconds, s.max_future_seconds))
    except ValueError as e:
        fail(str(e), 2)
    stop = threading.Event()
    stop_on_signals(stop)
    until = None
    if plan.duration_s is not None:
        until = clock.base.now_us() + int(plan.duration_s * 1e6)
    if not dry_run:
        console.print(f"simulating {len(sim.source_ids)} sources, seed {seed}, towards {sim_ctx.http_url}"
                      + (f" and {sim_ctx.mqtt_url}" if sim_ctx.mqtt_url else "") + "  (Ctrl-C stops)")
    try:
        report = sim.run(backfill_from=plan.backfill_from, replay_from=plan.replay_from, speed=plan.speed,
                         live=not no_live and not dry_run, until=until, stop=stop)
    finally:
        sim.close()
        p.stop()
    if not dry_run:
        for sid in sorted(report.sent):
            faults_sent = ", ".join(f"{k} {v}" for k, v in sorted(report.faults[sid].items()))
            console.print(f"{sid:32} sent {report.sent[sid]:>8,}" + (f"  faults: {faults_sent}" if faults_sent else ""))
        for e in report.errors[:10]:
            console.print(f"[red]refused[/red] {e}", markup=True)
    if report.refused:
        raise typer.Exit(1)
