"""The live stream of alarm events that the dashboard and operators' tools follow (Server-Sent Events,
``GET /api/alarms/stream``).

The alarm service hands every event to :meth:`AlarmStream.on_events` on its own thread; each connected
client has a bounded asyncio queue on the API's event loop, filled with ``call_soon_threadsafe``.  A client
that does not read fast enough loses its oldest events and is told so (a ``lagged`` event) rather than
holding memory or the alarm service up.  What a client receives is filtered by who it is
(:func:`citylink.api.alarms.may_see`)."""
from __future__ import annotations

import asyncio
import threading
from typing import Callable

from .model import AlarmEvent

QUEUE = 1000


class Listener:
    def __init__(self, loop: asyncio.AbstractEventLoop, accepts: Callable[[AlarmEvent], bool]):
        self.loop = loop
        self.accepts = accepts
        self.queue: asyncio.Queue = asyncio.Queue(QUEUE)
        self.lagged = 0

    def put(self, event: AlarmEvent) -> None:   # on the loop
        if self.queue.full():
            self.queue.get_nowait()
            self.lagged += 1
        self.queue.put_nowait(event)


class AlarmStream:
    def __init__(self):
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def on_events(self, events: list[AlarmEvent]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for li in listeners:
            for event in events:
                if li.accepts(event):
                    try:
                        li.loop.call_soon_threadsafe(li.put, event)
                    except RuntimeError:
                        self.remove(li)   # its loop is closed
                        break

    def add(self, accepts: Callable[[AlarmEvent], bool]) -> Listener:
        li = Listener(asyncio.get_running_loop(), accepts)
        with self._lock:
            self._listeners.append(li)
        return li

    def remove(self, li: Listener) -> None:
        with self._lock:
            if li in self._listeners:
                self._listeners.remove(li)

    @property
    def clients(self) -> int:
        return len(self._listeners)
