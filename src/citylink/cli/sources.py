"""``citylink sources …`` and ``citylink devices …``: feeds, their tokens and device registries."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ..clock import iso
from . import app, console, platform

sources_app = typer.Typer(no_args_is_help=True, help="Vendor feeds: tokens and the ledger.")
devices_app = typer.Typer(no_args_is_help=True, help="Device registries.")
app.add_typer(sources_app, name="sources")
app.add_typer(devices_app, name="devices")


@sources_app.command("list")
def list_sources(ctx: typer.Context):
    """Sources in force with their ledger: received = stored + flagged + duplicate + quarantined (+ pending)."""
    p = platform(ctx, start=False)
    p.reload(force=True)
    ledger = p.store.ledger()
    health = p.store.transport_health()
    t = Table("source", "service", "transport", "status", "received", "stored", "flagged", "duplicate",
              "quarantined", "pending", "refused", "last message (UTC)", "transport health")
    for sid, src in sorted(p.specs.sources.items()):
        d = ledger.get(sid, {})
        refused = sum(v for k, v in d.items() if k.startswith("refused_"))
        t.add_row(sid, src.service, src.transport["type"], src.status, *(str(d.get(k, 0)) for k in
                  ("received", "stored", "stored_flagged", "duplicate", "quarantined", "pending")), str(refused),
                  iso(d["last_received_at"]) if d.get("last_received_at") else "never", _health(health.get(sid)))
    p.store.close()
    console.print(t)


def _health(h: dict | None) -> str:
    if h is None:
        return ""  # a pushing transport: the ledger and the last message time say it all
    if h["ok"]:
        return "ok"
    return f"failing ({h['failures']} in a row): {h['last_error']}"


@sources_app.command("token")
def token(ctx: typer.Context, source: str, label: Optional[str] = typer.Option(None, help="Who the token is for."),
          revoke_old: bool = typer.Option(False, "--revoke-old", help="Revoke the source's earlier tokens first.")):
    """Issue an ingest token for a source.  Only its hash is stored: copy it now."""
    p = platform(ctx, start=False)
    p.reload(force=True)
    if revoke_old:
        p.store.revoke_tokens(source, p.clock.now_us())
    print(p.issue_token(source, label))
    p.store.close()


@sources_app.command("revoke")
def revoke(ctx: typer.Context, source: str):
    """Revoke every token of a source."""
    p = platform(ctx, start=False)
    n = p.store.revoke_tokens(source, p.clock.now_us())
    p.store.close()
    console.print(f"revoked {n} token(s) of {source}")


@devices_app.command("import")
def import_devices(ctx: typer.Context, file: Path = typer.Argument(..., exists=True, dir_okay=False),
                   source: str = typer.Option(..., "--source", "-s")):
    """Replace a source's device registry with a CSV or YAML file."""
    from ..spec.devices import load_registry
    p = platform(ctx, start=False)
    p.reload(force=True)
    p.check_source(source)
    devices = load_registry(file)
    n = p.store.put_devices(source, devices, p.clock.now_us())
    p.store.close()
    console.print(f"{source}: {n} devices in the registry")


@devices_app.command("list")
def list_devices(ctx: typer.Context, source: Optional[str] = typer.Option(None, "--source", "-s")):
    p = platform(ctx, start=False)
    t = Table("source", "local id", "entity id", "lon", "lat", "expected", "attributes")
    for s, devs in p.store.devices(source).items():
        for d in devs:
            t.add_row(s, d.local_id, d.entity_id or "", f"{d.lon}" if d.lon is not None else "",
                      f"{d.lat}" if d.lat is not None else "", "yes" if d.expected else "no",
                      ", ".join(f"{k}={v}" for k, v in d.attrs.items()))
    p.store.close()
    console.print(t)
