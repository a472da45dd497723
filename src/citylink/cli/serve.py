"""``citylink serve``: the platform and its HTTP API in one process."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

import typer

from . import app, console, fail, insecure_checked, settings, stop_on_signals


@app.command("serve")
def serve(ctx: typer.Context,
          specs_dir: Optional[Path] = typer.Option(None, "--specs", help="Apply this spec directory at start "
                                                   "(default: the configured specs_dir)."),
          host: Optional[str] = typer.Option(None, "--host"), port: Optional[int] = typer.Option(None, "--port"),
          insecure_no_auth: bool = typer.Option(False, "--insecure-no-auth", help="No key needed for any route "
                                                "(loopback addresses only): for local NGSI-LD tools.")):
    """Serve ingest and the NGSI-LD API on the configured store, reloading specs as they change."""
    from ..platform import tune_gc
    from ..runtime import Runtime
    tune_gc()
    s = settings(ctx, host=host, port=port, insecure_no_auth=insecure_no_auth or None)
    insecure_checked(s, s.insecure_no_auth)
    rt = Runtime(s)
    try:
        rt.start(specs_dir or s.specs_dir)
    except (RuntimeError, OSError) as e:
        rt.stop()
        fail(str(e))
    p = rt.platform
    console.print(f"CityLink on http://{s.host}:{s.port}  store={p.store.url}  "
                  f"sources={len(p.specs.sources)}  (Ctrl-C stops)")
    console.print("admin routes: the key in CITYLINK_ADMIN_KEY" if s.admin_key else
                  f"admin routes: the key in {s.data_dir / 'admin.key'}", highlight=False)
    if rt.mqtt is not None:
        console.print(f"MQTT: subscribing at {rt.mqtt_url} for the sources that use it")
    stop = threading.Event()
    stop_on_signals(stop)
    try:
        stop.wait()
    finally:
        rt.stop()
