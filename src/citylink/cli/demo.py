"""``citylink demo``: the platform on its embedded defaults plus simulated vendors for every service,
in one process on one clock, with a live summary per service.  See docs/demo.md."""
from __future__ import annotations

import secrets
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import typer

from ..store.alarms import open_counts
from . import app, console, fail, insecure_checked, settings, stop_on_signals
from .simulate import BACKFILL, DURATION, FAULTS_HELP, FLEET, SEED, SPEED, WINDOW, Plan, fault_rates

DAY_US = 86_400_000_000
DEMO_PASSWORD_FILE = "demo.password"


def demo_accounts(p, data_dir: Path) -> tuple[str, list[str]]:
    """The demo's staff accounts, made once in its data directory: ``demo.admin`` (scope admin), ``demo.staff``
    (every department's internal data) and ``demo.<department>`` for each department, all with one password made
    at random and kept in ``demo.password`` (no password is written in the repository).  (password, logins)"""
    path = data_dir / DEMO_PASSWORD_FILE
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    password = path.read_text().strip()
    wanted = {"demo.admin": (None, ("admin",)), "demo.staff": (None, ("staff",))}
    wanted |= {f"demo.{d}": (d, ()) for d in sorted(p.specs.departments)}
    have = {u.login for u in p.store.users()}
    for login, (department, scopes) in wanted.items():
        if login not in have:
            p.add_user(login, f"Demo {department or scopes[0]}", department, scopes, password)
    return password, list(wanted)


@app.command("demo")
def demo(ctx: typer.Context,
         host: Optional[str] = typer.Option(None, "--host"), port: Optional[int] = typer.Option(None, "--port"),
         seed: int = SEED, faults: str = typer.Option("all=0.002", "--faults", help=FAULTS_HELP),
         fleet: Optional[int] = FLEET,
         backfill: Optional[float] = typer.Option(None, "--backfill", help=BACKFILL.help + " Default: a day on "
                                                  "a new data directory; else the time since the last run (at most "
                                                  "a day)."),
         speed: float = SPEED, window: str = WINDOW,
         duration: Optional[str] = DURATION,
         summary_every: float = typer.Option(2.0, "--summary-every", help="Seconds between summary updates."),
         insecure_no_auth: bool = typer.Option(False, "--insecure-no-auth", help="No key needed for any route "
                                               "(loopback addresses only).")):
    """Run the platform with simulated vendors for every service: open the printed URLs and watch."""
    from ..clock import SimulationClock
    from ..runtime import Runtime
    from ..simulate.engine import Limits, Simulation
    from ..simulate.fleet import enroll
    from ..simulate.profile import load_profiles
    from ..simulate.senders import Context
    rates = fault_rates(faults)
    from ..platform import tune_gc
    tune_gc()
    s = settings(ctx, host=host, port=port, insecure_no_auth=insecure_no_auth or None)
    insecure_checked(s, s.insecure_no_auth)
    clock = SimulationClock()
    rt = Runtime(s, clock=clock, embedded_broker=True)
    try:
        rt.start(s.specs_dir, adapters=False)
    except (RuntimeError, OSError) as e:
        rt.stop()
        fail(str(e))
    p = rt.platform
    now = clock.base.now_us()
    last = max((v.get("last_received_at") or 0 for v in p.store.ledger().values()), default=0)
    if backfill is None:
        backfill = 1.0 if not last else min(1.0, max(0.0, (now - last) / DAY_US))
    try:
        plan = Plan(now, backfill, speed, window, duration)
        profiles = load_profiles()
        registries, tokens = enroll(p, profiles, seed=seed, count=fleet)
        sim = Simulation(p.specs, registries, Context(rt.url, tokens, rt.mqtt_url, s.data_dir), clock, seed=seed,
                         faults=rates, profiles=profiles, after_tick=rt.settle,
                         limits=Limits(s.late_after_seconds, s.max_future_seconds))
        sim.prepare(plan.backfill_from or plan.replay_from or now)  # the vendors' side is up before the adapters
    except (ValueError, OSError) as e:
        rt.stop()
        fail(str(e), 2)
    rt.start_adapters()
    broker = "embedded" if rt.broker else rt.mqtt_url
    password, logins = demo_accounts(p, s.data_dir)
    console.print(f"""
[bold]CityLink demo[/bold] — {len(p.specs.services)} services, {len(p.specs.sources)} sources, data in {s.data_dir}
  dashboard:    {rt.url}/   (public data; sign in to see health, alarms and data quality)
  sign in as:   demo.admin, demo.staff or {", ".join(x for x in logins if x not in ("demo.admin", "demo.staff"))}
                password {password}   (kept in {s.data_dir / DEMO_PASSWORD_FILE})
  API:          {rt.url}/ngsi-ld/v1/entities?type=WasteContainer
  ledger:       {rt.url}/api/ledger   (admin: -H 'Authorization: Bearer {s.resolved_admin_key()}')
  API docs:     {rt.url}/docs
  health:       {rt.url}/readyz
  MQTT broker:  {rt.mqtt_url} ({broker})
  simulating:   seed {seed}, faults {faults or 'none'}, """
                  + (f"backfill {backfill:g} d, " if plan.backfill_from else "")
                  + (f"replay {window} at {speed:g}x, " if plan.replay_from else "") + "then live.  Ctrl-C stops.\n",
                  highlight=False)
    stop = threading.Event()
    stop_on_signals(stop)
    until = clock.base.now_us() + int(plan.duration_s * 1e6) if plan.duration_s is not None else None
    failure: list[BaseException] = []

    def drive():
        try:
            sim.run(backfill_from=plan.backfill_from, replay_from=plan.replay_from, speed=plan.speed, live=True,
                    until=until, stop=stop)
        except BaseException as e:  # noqa: BLE001 - reported below, after a clean stop
            failure.append(e)
        finally:
            stop.set()
    runner = threading.Thread(target=drive, name="citylink-simulation", daemon=True)
    runner.start()
    board = Summary(p, registries, sim)
    try:
        board.show(stop, summary_every)
    finally:
        stop.set()
        runner.join(timeout=60)  # the simulators deliver what they hold first
        rt.settle()              # take in the last files and vendor API records
        received_all(p, sim.report.sent, 15)  # and what the broker still holds for the platform
        rt.stop()
        sim.close()
    console.print(board.render(final=True))
    console.print(f"stopped; the data stays in {s.data_dir} — run the demo again to go on from here.")
    if failure:
        fail(f"the simulation stopped: {type(failure[0]).__name__}: {failure[0]}")


def received_all(platform, sent: dict[str, int], timeout: float) -> bool:
    """Wait (at most ``timeout`` s) until the platform has received every message the simulators sent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ledger = platform.store.ledger()
        if all(ledger.get(sid, {}).get("received", 0) >= n for sid, n in sent.items()):
            return True
        time.sleep(0.2)
    return False


class Summary:
    """One line per service: devices, messages, what became of them, its open alarms, and when the last
    message came."""

    def __init__(self, platform, registries, sim):
        self.p, self.sim = platform, sim
        self.devices = {sid: len(devs) for sid, devs in registries.items()}
        self._prev: tuple[float, dict[str, int]] | None = None

    def rows(self) -> list[tuple]:
        ledger = self.p.store.ledger()
        services: dict[str, dict] = {}
        for sid, src in sorted(self.p.specs.sources.items()):
            row = services.setdefault(src.service, {"sources": 0, "devices": 0, "received": 0, "stored": 0,
                                                    "duplicate": 0, "quarantined": 0, "last": 0})
            led = ledger.get(sid, {})
            row["sources"] += 1
            row["devices"] += self.devices.get(sid, 0)
            for k in ("received", "duplicate", "quarantined"):
                row[k] += led.get(k, 0)
            row["stored"] += led.get("stored", 0) + led.get("stored_flagged", 0)
            row["last"] = max(row["last"], led.get("last_received_at") or 0)
        now = time.monotonic()
        rate = {}
        if self._prev is not None and now > self._prev[0]:
            rate = {k: (v["received"] - self._prev[1].get(k, 0)) / (now - self._prev[0]) for k, v in services.items()}
        self._prev = (now, {k: v["received"] for k, v in services.items()})
        return [(svc, v, rate.get(svc)) for svc, v in services.items()]

    def render(self, final: bool = False):
        from datetime import datetime, timedelta, timezone

        from rich.table import Table
        kst = timezone(timedelta(hours=9))
        t = Table(title=None if final else f"simulated time {datetime.fromtimestamp(self.p.clock.now_us() / 1e6, kst):%Y-%m-%d %H:%M:%S} KST",
                  box=None, pad_edge=False, header_style="bold")
        for col in ("service", "sources", "devices", "messages", "msg/s", "stored", "duplicate", "quarantined",
                    "open alarms", "last message (KST)"):
            t.add_column(col, justify="left" if col in ("service", "last message (KST)") else "right")
        alarms = open_counts(self.p.store)
        for svc, v, rate in self.rows():
            last = datetime.fromtimestamp(v["last"] / 1e6, kst).strftime("%m-%d %H:%M:%S") if v["last"] else "—"
            t.add_row(svc, str(v["sources"]), str(v["devices"]), f"{v['received']:,}",
                      "" if rate is None else f"{rate:,.0f}", f"{v['stored']:,}", f"{v['duplicate']:,}",
                      f"{v['quarantined']:,}", f"{alarms.get(svc, 0):,}", last)
        return t

    def show(self, stop: threading.Event, every: float) -> None:
        if sys.stdout.isatty():
            from rich.live import Live
            with Live(self.render(), console=console, refresh_per_second=4, transient=False) as live:
                while not stop.wait(every):
                    live.update(self.render())
        else:  # piped: a block of lines now and then, not a redrawn screen
            while not stop.wait(max(every, 10.0)):
                console.print(self.render())
