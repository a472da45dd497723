"""The whole platform in one process: the store and normalizer, the HTTP server (ingest and API), and
every adapter — file drop, HTTP poll, MQTT (with an embedded broker when none is configured).

``citylink serve`` and ``citylink demo`` run this; so do tests that drive the platform over its real
transports.  Start it, and stop it: stopping finishes what was received before it returns.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from .clock import Clock
from .config import Settings
from .platform import Platform

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings, *, clock: Clock | None = None, embedded_broker: bool = False,
                 platform: Platform | None = None):
        self.settings = settings
        self.platform = platform or Platform(settings, clock=clock)
        self.embedded_broker = embedded_broker
        self.broker = None
        self.mqtt_url = settings.mqtt_url
        self.file_drop = self.http_poll = self.mqtt = None
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = self.settings.host
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{self.settings.port}"

    def start(self, specs_dir: Path | None = None, *, http: bool = True, adapters: bool = True) -> "Runtime":
        """Start the platform (applying ``specs_dir``), the embedded broker if wanted, the HTTP server, and
        (unless ``adapters`` is false: call :meth:`start_adapters` later) the adapters."""
        p = self.platform
        p.start(specs_dir=specs_dir, watch=True)
        if self.mqtt_url is None and self.embedded_broker:
            from .adapters.embedded_broker import EmbeddedBroker
            self.broker = EmbeddedBroker().start()
            self.mqtt_url = self.broker.url
        if http:
            self._serve_http()
        if adapters:
            self.start_adapters()
        return self

    def start_adapters(self) -> None:
        from .adapters.file_drop import FileDrop
        from .adapters.http_poll import HttpPoll
        p = self.platform
        self.file_drop = FileDrop(p).start()   # watches the directories file sources name (none: idles)
        self.http_poll = HttpPoll(p).start()   # polls the http_poll sources (none: idles)
        if self.mqtt_url:
            from .adapters.mqtt import MqttIngest
            self.mqtt = MqttIngest(p, self.mqtt_url).start()
            if not self.mqtt.connected.wait(15):
                log.warning("MQTT: not yet connected and subscribed at %s; retrying in the background",
                            self.mqtt_url)

    def _serve_http(self) -> None:
        import uvicorn

        from .api.app import create_app
        config = uvicorn.Config(create_app(self.platform), host=self.settings.host, port=self.settings.port,
                                log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="citylink-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the HTTP server could not listen on {self.settings.host}:{self.settings.port} "
                                   "(is the port taken? choose another with --port)")
            if time.monotonic() > deadline:
                raise RuntimeError("the HTTP server did not start within 30 s")
            time.sleep(0.05)

    def settle(self) -> None:
        """Take in what the pull-based adapters have waiting now (dropped files, the vendors' APIs)."""
        if self.file_drop is not None:
            self.file_drop.scan()
            self.file_drop.scan()  # a file is taken once its size held still between two scans
        if self.http_poll is not None:
            self.http_poll.catch_up()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
        for adapter in (self.file_drop, self.http_poll, self.mqtt):
            if adapter is not None:
                adapter.stop()
        if self.broker is not None:
            self.broker.stop()
        self.platform.stop()

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
