"""``citylink serve``: the platform and its HTTP API in one process."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app, console, platform


@app.command("serve")
def serve(ctx: typer.Context,
          specs_dir: Optional[Path] = typer.Option(None, "--specs", help="Apply this spec directory at start "
                                                   "(default: the configured specs_dir)."),
          host: Optional[str] = typer.Option(None, "--host"), port: Optional[int] = typer.Option(None, "--port")):
    """Serve ingest and the NGSI-LD API on the configured store, reloading specs as they change."""
    import uvicorn

    from ..api.app import create_app
    p = platform(ctx, start=False, host=host, port=port)
    p.start(specs_dir=specs_dir or p.settings.specs_dir, watch=True)
    s = p.settings
    console.print(f"CityLink on http://{s.host}:{s.port}  store={p.store.url}  "
                  f"sources={len(p.specs.sources)}  (Ctrl-C stops)")
    from ..adapters.file_drop import FileDrop
    from ..adapters.http_poll import HttpPoll
    drop = FileDrop(p).start()  # watches the directories that file sources name (none: it idles)
    poll = HttpPoll(p).start()  # polls the http_poll sources (none: it idles)
    mqtt = None
    if s.mqtt_url:
        from ..adapters.mqtt import MqttIngest
        mqtt = MqttIngest(p, s.mqtt_url).start()
        console.print(f"MQTT: subscribing at {s.mqtt_url} for the sources that use it")
    try:
        uvicorn.run(create_app(p), host=s.host, port=s.port, log_level="warning")
    finally:
        drop.stop()
        poll.stop()
        if mqtt is not None:
            mqtt.stop()
        p.stop()
