"""The ``citylink`` command: one Typer app, one sub-module per group of commands."""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from ..clock import parse_iso
from ..errors import CityLinkError, SpecError

app = typer.Typer(name="citylink", no_args_is_help=True, add_completion=False,
                  help="CityLink smart city data platform.")
console = Console(width=None if sys.stdout.isatty() else 200)  # piped tables are not cut at 80 columns
err = Console(stderr=True, soft_wrap=True)  # one problem per line, even when piped


@app.callback()
def _root(ctx: typer.Context,
          data_dir: Optional[Path] = typer.Option(None, "--data-dir", envvar="CITYLINK_DATA_DIR",
                                                  help="Where the embedded store and keys live."),
          config: Optional[Path] = typer.Option(None, "--config", help="TOML configuration file."),
          store_url: Optional[str] = typer.Option(None, "--store-url", help="sqlite:///… or postgresql://…"),
          verbose: bool = typer.Option(False, "--verbose", "-v")):
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = {"data_dir": data_dir, "config": config, "store_url": store_url}


def settings(ctx: typer.Context, **more):
    from ..config import load_settings
    o = ctx.find_root().obj or {}
    return load_settings(o.get("config"), data_dir=o.get("data_dir"), store_url=o.get("store_url"), **more)


def platform(ctx: typer.Context, *, start: bool = True, watch: bool = False, **more):
    from ..platform import Platform, tune_gc
    tune_gc()
    p = Platform(settings(ctx, **more))
    if start:
        p.start(watch=watch)
    return p


def stop_on_signals(stop) -> None:
    """Ctrl-C (SIGINT) and SIGTERM set ``stop`` so a long-running command ends cleanly (a second
    Ctrl-C interrupts at once)."""
    import signal

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def insecure_checked(s, insecure: bool):
    """``--insecure-no-auth``: only on a loopback address, and said loudly."""
    from ..api.auth import loopback
    if not insecure:
        return
    if not loopback(s.host):
        fail(f"--insecure-no-auth: refused on {s.host}: it opens every route to anyone who can reach the port; "
             "use it only with --host 127.0.0.1", 2)
    err.print("WARNING: --insecure-no-auth: every route is open, admin ones included (loopback only).",
              style="bold red")


def fail(msg: str, code: int = 1):
    err.print(msg, markup=False, highlight=False)
    raise typer.Exit(code)


def time_option(option: str, text: str | None) -> int | None:
    """An ISO 8601 date-time option → µs (None when not given); a usage error naming ``option``."""
    if text is None:
        return None
    try:
        return parse_iso(text)
    except ValueError as e:
        fail(f"{option}: {e}", 2)


# the command modules register their commands on import
from . import (alarms, audit, demo, health, ingest, keys, opendata, serve, simulate, sources,  # noqa: E402,F401
               specs, users)


def main() -> None:
    try:
        app()
    except SpecError as e:
        for p in e.problems:
            err.print(str(p), markup=False, highlight=False)
        raise SystemExit(1)
    except CityLinkError as e:
        err.print(f"error: {e}", markup=False, highlight=False)
        raise SystemExit(1)
