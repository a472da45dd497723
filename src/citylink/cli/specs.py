"""``citylink spec …`` and ``citylink check-feed``: the linkage standard."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from . import app, console, err, fail, platform

spec_app = typer.Typer(no_args_is_help=True, help="Validate, publish and apply spec files.")
app.add_typer(spec_app, name="spec")


def _default_specs() -> Path:
    from ..config import BUNDLED_SPECS
    return BUNDLED_SPECS


@spec_app.command("check")
def check(paths: List[Path] = typer.Argument(None, help="Spec files or directories (default: the shipped specs).")):
    """Validate specs; print every problem as file:line: field: message (exit 1 on any)."""
    from ..errors import SpecError
    from ..spec.devices import load_registry
    from ..spec.loader import load_paths
    paths = paths or [_default_specs()]
    problems = []
    try:
        specs = load_paths(paths)
    except SpecError as e:
        problems = e.problems
        specs = None
    if specs is not None:
        for src in specs.sources.values():
            if src.devices:
                path = Path(src.origin.file).parent / src.devices
                if not path.exists():
                    line = src.origin.line(("devices",))
                    problems.append(f"{src.origin.file}:{line}: devices: no registry file {src.devices}")
                    continue
                try:
                    load_registry(path)
                except SpecError as e:
                    problems.extend(e.problems)
    for p in problems:
        err.print(str(p), markup=False, highlight=False)
    if problems:
        raise typer.Exit(1)
    console.print(f"ok: {len(specs.services)} services, {len(specs.sources)} sources")


@spec_app.command("doc")
def doc(specs_dir: Path = typer.Option(None, "--specs", help="Spec directory (default: the shipped specs)."),
        out: Path = typer.Option(Path("guideline"), "--out", "-o", help="Output directory."),
        base_url: str = typer.Option("https://citylink.example.go.kr", "--base-url",
                                     help="The platform's public address, used in the transport profiles.")):
    """Render the linkage guideline (Markdown and standalone HTML) from the specs."""
    from ..spec.doc import render_guideline
    from ..spec.loader import load_paths
    specs = load_paths([specs_dir or _default_specs()])
    md, html = render_guideline(specs, base_url=base_url)
    out.mkdir(parents=True, exist_ok=True)
    (out / "guideline.md").write_text(md, encoding="utf-8")
    (out / "guideline.html").write_text(html, encoding="utf-8")
    console.print(f"wrote {out / 'guideline.md'} and {out / 'guideline.html'}")


@spec_app.command("apply")
def apply(ctx: typer.Context, paths: List[Path] = typer.Argument(..., help="Spec files or directories.")):
    """Store new spec versions; a running platform picks them up without a restart."""
    p = platform(ctx, start=False)
    try:
        changed = p.apply_specs(paths)
    finally:
        p.store.close()
    t = Table("kind", "id", "version", "stored")
    for kind, name, version, created in changed:
        t.add_row(kind, name, version, "new version" if created else "unchanged")
    console.print(t)


@spec_app.command("list")
def list_specs(ctx: typer.Context):
    """The spec versions in force in the store."""
    p = platform(ctx, start=False)
    t = Table("version id", "kind", "id", "version", "sha256", "file")
    for r in p.store.specs_in_force():
        t.add_row(str(r.id), r.kind, r.name, r.version, r.sha256[:12], r.file or "")
    p.store.close()
    console.print(t)


@app.command("check-feed")
def check_feed(sample: Path = typer.Argument(..., exists=True, dir_okay=False, help="A sample payload file."),
               source: str = typer.Option(..., "--source", "-s", help="The source id the payload is for."),
               specs_dir: Optional[Path] = typer.Option(None, "--specs", help="Spec directory (default: shipped specs)."),
               devices: Optional[Path] = typer.Option(None, "--devices", help="Device registry to use."),
               as_json: bool = typer.Option(False, "--json", help="Print the report as JSON.")):
    """Test a sample payload against its source spec, offline: what would be stored, or why not."""
    from ..normalize.check import check_feed as run
    from ..spec.devices import load_registry
    from ..spec.loader import load_paths
    specs = load_paths([specs_dir or _default_specs()])
    reports = run(specs, source, sample.read_bytes(), devices=load_registry(devices) if devices else None)
    bad = sum(1 for r in reports if r["outcome"] == "quarantined")
    if as_json:
        console.print_json(json.dumps(reports, ensure_ascii=False))
    else:
        for r in reports:
            shown = {k: v for k, v in r["meta"].items() if k != "backfill"}
            where = f" ({', '.join(f'{k} {v}' for k, v in shown.items())})" if shown else ""
            console.print(f"[bold]message {r['message']}{where}: {r['outcome']}[/bold]")
            if r["values"]:
                t = Table("entity", "attribute", "value", "unit", "observedAt", "flags")
                for v in r["values"]:
                    t.add_row(v["entity"], v["attribute"], json.dumps(v["value"], ensure_ascii=False),
                              v["unitCode"] or "", v["observedAt"], ",".join(v["flags"]))
                console.print(t)
            for pr in r["problems"]:
                console.print(f"  [red]{pr['type']}[/red] {pr['field'] or ''}: {pr['detail']}", highlight=False)
        console.print(f"{len(reports)} messages: {len(reports) - bad} would be stored, {bad} quarantined")
    if bad:
        raise typer.Exit(1)
