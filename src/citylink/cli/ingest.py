"""``citylink import``, ``replay`` and ``quarantine``: data through the pipeline from the command line."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import app, console, fail, platform


def _ledger_line(p, source: str) -> str:
    d = p.store.ledger().get(source, {})
    return (f"{source}: received {d.get('received', 0)} = stored {d.get('stored', 0)} + flagged "
            f"{d.get('stored_flagged', 0)} + duplicate {d.get('duplicate', 0)} + quarantined "
            f"{d.get('quarantined', 0)} + pending {d.get('pending', 0)}")


@app.command("import")
def import_(ctx: typer.Context, file: Path = typer.Argument(..., exists=True, dir_okay=False),
            source: str = typer.Option(..., "--source", "-s"),
            specs_dir: Optional[Path] = typer.Option(None, "--specs", help="Apply these specs first.")):
    """Backfill a CSV or JSON-lines file through the normal pipeline, with a progress bar."""
    from ..adapters.file_drop import import_file
    p = platform(ctx, start=False)
    p.start(specs_dir=specs_dir, watch=False)
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as bar:
            task = bar.add_task(f"archiving {file.name}", total=None)

            def progress(done, total):
                bar.update(task, completed=done, total=total)
            ids = import_file(p, source, file, progress=progress)
            bar.update(task, description=f"normalizing {len(ids)} messages")
            p.bus.drain()
        console.print(_ledger_line(p, source))
    finally:
        p.stop()


@app.command("replay")
def replay(ctx: typer.Context, source: Optional[str] = typer.Option(None, "--source", "-s"),
           everything: bool = typer.Option(False, "--all", help="Every archived message, not only quarantined ones."),
           message: Optional[list[int]] = typer.Option(None, "--message", "-m", help="Only these raw message ids.")):
    """Re-run quarantined (or all) archived messages through the specs in force."""
    if not source and not message:
        fail("give --source S (or --message ID)")
    p = platform(ctx)
    try:
        if source:
            p.check_source(source)
        n = p.replay(source, everything=everything, ids=message)
        p.bus.drain()
        console.print(f"replayed {n} messages")
        if source:
            console.print(_ledger_line(p, source))
    finally:
        p.stop()


@app.command("quarantine")
def quarantine(ctx: typer.Context, source: Optional[str] = typer.Option(None, "--source", "-s"),
               limit: int = typer.Option(50, "--limit"), as_json: bool = typer.Option(False, "--json")):
    """Quarantined messages with their reasons (oldest first)."""
    p = platform(ctx, start=False)
    rows = p.store.quarantined(source, limit=limit)
    p.store.close()
    if as_json:
        console.print_json(json.dumps(rows, ensure_ascii=False))
        return
    t = Table("raw id", "source", "reason", "field", "detail")
    for r in rows:
        t.add_row(str(r["raw_id"]), r["source"], r["reason"], r["field"] or "", r["detail"] or "")
    console.print(t)
