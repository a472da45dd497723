"""``citylink health``: device and source health as the monitor finds it (:mod:`citylink.health`) — a
look at the store, which changes nothing (the running platform records and announces transitions)."""
from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from ..clock import iso
from ..health import DEVICE_STATES
from . import app, console, fail, platform

STYLE = {"online": "green", "stale": "yellow", "offline": "red", "never_reported": "magenta",
         "active": "green", "silent": "red", "never_received": "magenta"}


@app.command("health")
def health(ctx: typer.Context, service: Optional[str] = typer.Option(None, "--service", "-s", help="Only this service."),
           state: Optional[str] = typer.Option(None, "--state", help=f"Only devices in this state "
                                                                      f"({', '.join(DEVICE_STATES)}).")):
    """Device health (online, stale, offline, never reported) and each source's traffic and silence."""
    p = platform(ctx, start=False)
    try:
        p.reload(force=True)
        if service is not None and service not in p.specs.services:
            fail(f"--service: {service!r} is not a service of the specs in force "
                 f"(known: {', '.join(sorted(p.specs.services))})", 2)
        if state is not None and state not in DEVICE_STATES:
            fail(f"--state: {state!r} is not a device state (known: {', '.join(DEVICE_STATES)})", 2)
        p.health.load()
        t = Table("device", "service", "source", "state", "since (UTC)", "last seen (UTC)", title="Devices")
        for d in p.health.devices():
            if (service and d.service != service) or (state and d.state != state):
                continue
            t.add_row(d.id, d.service, d.source + (" (testing)" if p.health.testing(d.source) else ""),
                      f"[{STYLE[d.state]}]{d.state}[/]", iso(d.since), iso(d.last_seen) if d.last_seen else "never")
        console.print(t)
        ledger = p.store.ledger()
        s_t = Table("source", "service", "state", "last message (UTC)", "received", "rejected",
                    title="Sources")
        for s, _, _ in p.health.sources():   # the hourly window lives in the running platform only
            if service and s.service != service:
                continue
            total = ledger.get(s.id, {})
            rate = f"{total['quarantined'] / total['received']:.1%}" if total.get("received") else "–"
            s_t.add_row(s.id + (" (testing)" if s.testing else ""), s.service, f"[{STYLE[s.state]}]{s.state}[/]",
                        iso(s.last_message) if s.last_message else "never", str(total.get("received", 0)), rate)
        console.print(s_t)
    finally:
        p.store.close()
