"""``citylink audit``: the audit log — who read what, newest first."""
from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from ..clock import iso
from . import app, console, platform, time_option


@app.command("audit")
def audit(ctx: typer.Context,
          key: Optional[str] = typer.Option(None, "--key", help="Only this API key's reads (its id)."),
          since: Optional[str] = typer.Option(None, "--since", help="From this time (ISO 8601 with offset, "
                                                                    "e.g. 2026-12-01T00:00:00+09:00)."),
          path: Optional[str] = typer.Option(None, "--path", help="Only paths that start with this."),
          limit: int = typer.Option(100, "--limit", min=1, max=100_000, help="At most this many entries.")):
    """Show the audit log: every request made with a key, and every admin read of raw personal values with
    its purpose."""
    since_us = time_option("--since", since)
    p = platform(ctx, start=False)
    p.audit.flush()
    rows = p.store.audit(since=since_us, key_id=key, path_prefix=path, limit=limit)
    p.store.close()
    t = Table("time (UTC)", "reader", "request", "status", "purpose")
    for e in rows:
        t.add_row(iso(e.at), e.reader, f"{e.method} {e.path}" + (f"?{e.query}" if e.query else ""), str(e.status),
                  e.purpose or "")
    console.print(t)
