"""``citylink alarms …``: list, show, acknowledge and clear alarms (:mod:`citylink.alarms`) on the
platform's store.  Steps taken here are recorded in the alarms' history at once; the running platform takes
them in within seconds and tells the departments (``AlarmService.sync``)."""
from __future__ import annotations

import getpass
from typing import Optional

import typer
from rich.table import Table

from ..alarms import OPEN_STATES, SEVERITIES, STATES, AlarmError
from ..clock import iso
from ..store import alarms as stored
from ..store import deliveries as delivery_log
from . import app, console, fail, platform, time_option

alarms_app = typer.Typer(no_args_is_help=True, help="Alarms: list, show, acknowledge, clear.")
app.add_typer(alarms_app, name="alarms")

STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "informational": "dim"}
STATE_FILTERS = {"open": OPEN_STATES, "all": None, **{s: (s,) for s in STATES}}


@alarms_app.command("list")
def list_(ctx: typer.Context,
          state: str = typer.Option("open", "--state", help=f"One of {', '.join(STATE_FILTERS)}."),
          service: Optional[str] = typer.Option(None, "--service", "-s"),
          department: Optional[str] = typer.Option(None, "--department"),
          severity: Optional[str] = typer.Option(None, "--severity", help=f"One of {', '.join(SEVERITIES)}."),
          rule: Optional[str] = typer.Option(None, "--rule", help="A rule id, e.g. waste-bins/fill-high."),
          since: Optional[str] = typer.Option(None, "--since", help="Raised at or after (ISO 8601)."),
          limit: int = typer.Option(50, "--limit")):
    """Alarms, newest first (open ones unless --state says otherwise)."""
    if state not in STATE_FILTERS:
        fail(f"--state: {state!r} is not one of {', '.join(STATE_FILTERS)}", 2)
    if severity is not None and severity not in SEVERITIES:
        fail(f"--severity: {severity!r} is not one of {', '.join(SEVERITIES)}", 2)
    start = time_option("--since", since)
    p = platform(ctx, start=False)
    try:
        rows = stored.alarms(p.store, states=STATE_FILTERS[state], rule=rule, since=start, limit=limit,
                             services=None if service is None else [service],
                             departments=None if department is None else [department],
                             severities=None if severity is None else [severity])
        t = Table("id", "rule", "entity", "severity", "state", "raised (UTC)", "count", "message", title="Alarms")
        for a in rows:
            t.add_row(a.id, a.rule, a.entity, f"[{STYLE.get(a.severity, '')}]{a.severity}[/]", a.state,
                      iso(a.raised_at), str(a.count), a.message_en)
        console.print(t)
        if not rows:
            console.print("no alarms match")
    finally:
        p.store.close()


@alarms_app.command("show")
def show(ctx: typer.Context, alarm_id: str = typer.Argument(..., help="The alarm's id (urn:ngsi-ld:Alert:…).")):
    """One alarm and its whole history."""
    p = platform(ctx, start=False)
    try:
        a = stored.alarm(p.store, alarm_id)
        if a is None:
            fail(f"ALARM_ID: no alarm {alarm_id}", 1)
        for k, v in a.as_json().items():
            if v not in (None, {}, []):
                console.print(f"[bold]{k}[/]: {v}")
        t = Table("#", "step", "at (UTC)", "by", "severity", "state", "comment", title="History")
        for seq, kind, at, by, comment, sev, st in stored.history(p.store, a.id):
            t.add_row(str(seq), kind, iso(at), by or "platform", sev, st, comment or "")
        console.print(t)
    finally:
        p.store.close()


def _step(ctx, alarm_id: str, by: Optional[str], comment: Optional[str], verb: str) -> None:
    p = platform(ctx, start=False)
    try:
        p.reload(force=True)
        p.alarms.load()
        a = getattr(p.alarms, verb)(alarm_id, by or f"{getpass.getuser()} (cli)", comment)
        console.print(f"{a.id}: {a.state} by {by or getpass.getuser()}")
    except AlarmError as e:
        fail(f"ALARM_ID: {e}" if e.status == 404 else str(e), 1)
    finally:
        p.store.close()


@alarms_app.command("ack")
def ack(ctx: typer.Context, alarm_id: str = typer.Argument(..., help="The alarm's id."),
        by: Optional[str] = typer.Option(None, "--by", help="Who acknowledges (default: your login, '(cli)')."),
        comment: Optional[str] = typer.Option(None, "--comment", "-m")):
    """Acknowledge an active alarm: it will not escalate."""
    _step(ctx, alarm_id, by, comment, "acknowledge")


@alarms_app.command("clear")
def clear(ctx: typer.Context, alarm_id: str = typer.Argument(..., help="The alarm's id."),
          by: Optional[str] = typer.Option(None, "--by", help="Who clears it (default: your login, '(cli)')."),
          comment: Optional[str] = typer.Option(None, "--comment", "-m")):
    """Clear an open alarm by hand."""
    _step(ctx, alarm_id, by, comment, "clear")


@alarms_app.command("deliveries")
def deliveries(ctx: typer.Context,
               alarm_id: Optional[str] = typer.Option(None, "--alarm", help="Only this alarm's deliveries."),
               status: Optional[str] = typer.Option(None, "--status", help="pending, delivered or failed."),
               department: Optional[str] = typer.Option(None, "--department"),
               limit: int = typer.Option(50, "--limit")):
    """The notification delivery log: where each alarm was sent, every attempt's answer, what is pending."""
    p = platform(ctx, start=False)
    try:
        try:
            rows = delivery_log.deliveries(p.store, alarm_id=alarm_id, status=status, department=department,
                                           limit=limit)
        except ValueError as e:
            fail(f"--{e}", 2)
        t = Table("#", "alarm", "event", "channel", "department", "target", "status", "attempts", "last answer",
                  title="Deliveries")
        for d in rows:
            t.add_row(str(d.id), d.alarm_id, d.event_kind, d.channel, d.department, d.target, d.status,
                      str(d.attempts), str(d.last_status or d.last_error or ""))
        console.print(t)
    finally:
        p.store.close()
