"""``citylink opendata …``: the open data catalogue — upload a table, list and remove what is published."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ..clock import iso
from . import app, console, err, fail, platform

opendata_app = typer.Typer(no_args_is_help=True, help="Open data: uploaded tables and the catalogue.")
app.add_typer(opendata_app, name="opendata")


@opendata_app.command("upload")
def upload(ctx: typer.Context,
           table: Path = typer.Argument(..., exists=True, dir_okay=False, help="The table, a CSV file with a header row."),
           meta: Path = typer.Option(..., "--meta", exists=True, dir_okay=False,
                                     help="Its metadata (citylink: table/1, YAML)."),
           by: str = typer.Option(None, "--by", help="Who uploads it (kept with the table).")):
    """Check a table and publish it; one of the same id is replaced (its version counts up).  Personal
    columns are pseudonymised before they are stored.  Every problem is reported as file:line: path: message,
    and then nothing is stored."""
    from ..errors import SpecError
    from ..opendata import tables
    p = platform(ctx, start=False)
    p.reload(force=True)
    try:
        m, version, rows = tables.upload(p, table, meta, by)
    except SpecError as e:
        for problem in e.problems:
            err.print(str(problem), markup=False, highlight=False)
        raise typer.Exit(1)
    finally:
        p.store.close()
    print(f"{m.id}: version {version}, {rows} rows, {m.licence}, visibility {m.visibility}")


@opendata_app.command("list")
def list_datasets(ctx: typer.Context):
    """Every dataset of the catalogue (as an admin sees it): the services' and the uploaded tables."""
    from ..access import ADMIN
    from ..opendata import datasets
    p = platform(ctx, start=False)
    p.reload(force=True)
    t = Table("id", "kind", "department", "licence", "update frequency", "version", "rows", "uploaded (UTC)",
              "title")
    try:
        for d in datasets(p, p.visibility.view(ADMIN)).values():
            t.add_row(d.id, d.kind, d.department, d.licence.id, d.frequency.name, str(d.version or ""),
                      "" if d.rows is None else str(d.rows), iso(d.modified) if d.modified else "", d.title.en)
    finally:
        p.store.close()
    console.print(t)


@opendata_app.command("remove")
def remove(ctx: typer.Context, table_id: str = typer.Argument(..., help="The uploaded table's id.")):
    """Withdraw an uploaded table from the catalogue (its rows are deleted)."""
    p = platform(ctx, start=False)
    done = p.store.delete_open_table(table_id)
    p.store.close()
    if not done:
        fail(f"table_id: no uploaded table has the id {table_id!r} (see `citylink opendata list`)", 2)
    print(f"removed {table_id}")
