"""An MQTT broker inside the CityLink process, for ``citylink demo`` on a machine with no broker.

It is `amqtt <https://github.com/Yakifo/amqtt>`_ (pure Python, MQTT 3.1.1) on its own asyncio loop in a
thread, listening on loopback.  QoS 1 messages for a persistent session that is briefly away are kept
— amqtt keeps them only for clients that give a user name, so every client here gives one — but only
in memory: a production deployment uses Mosquitto with ``data/mosquitto.conf`` (see
:mod:`citylink.adapters.broker`) and sets ``mqtt_url``.

Known limits of amqtt 0.12 (why it is the demo's broker only): a QoS 1 message sent to a subscriber is
given up after 5 s without its PUBACK, and a message that arrives while the broker has not yet noticed
a subscriber's disconnect is sent into the closing connection and lost.
"""
from __future__ import annotations

import asyncio
import logging
import threading

from .broker import free_port

log = logging.getLogger(__name__)


class EmbeddedBroker:
    def __init__(self, port: int | None = None, host: str = "127.0.0.1"):
        self.host = host
        self.port = port or free_port()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="citylink-mqtt-broker", daemon=True)

    @property
    def url(self) -> str:
        """The URL clients use (with a user name, so the broker keeps their sessions' messages)."""
        return f"mqtt://citylink@{self.host}:{self.port}"

    def start(self, timeout: float = 15) -> "EmbeddedBroker":
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"the embedded MQTT broker did not start on {self.host}:{self.port} in {timeout} s")
        if self._error is not None:
            raise RuntimeError(f"the embedded MQTT broker could not start on {self.host}:{self.port}: "
                               f"{self._error}") from self._error
        return self

    def session_states(self, timeout: float = 5) -> dict[str, str]:
        """client id → the broker's view of its session ("connected", "disconnected", …)."""
        async def read():
            return {cid: session.transitions.state for cid, (session, _) in self._broker._sessions.items()}
        return asyncio.run_coroutine_threadsafe(read(), self._loop).result(timeout)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=15)

    def _run(self) -> None:
        logging.getLogger("amqtt").setLevel(logging.WARNING)
        logging.getLogger("transitions").setLevel(logging.WARNING)
        asyncio.run(self._main())

    async def _main(self) -> None:
        from amqtt.broker import Broker
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._broker = broker = Broker({
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}", "max_connections": 1000}},
            # a user name is required (any), so sessions are not anonymous and keep their QoS 1 messages
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": False}},
        })
        try:
            await broker.start()
        except BaseException as e:  # noqa: BLE001 - reported to start() in the caller's thread
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        await self._stop.wait()
        await broker.shutdown()

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
