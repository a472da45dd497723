"""In-process bus: a bounded queue and one worker thread that coalesces small batches."""
from __future__ import annotations

import logging
import queue
import threading

from . import Bus, Handler

log = logging.getLogger(__name__)
_STOP = object()


class MemoryBus(Bus):
    def __init__(self, max_batch: int = 20_000, max_queued_batches: int = 10_000):
        self._q: queue.Queue = queue.Queue(maxsize=max_queued_batches)
        self._max_batch = max_batch
        self._thread: threading.Thread | None = None
        self._handler: Handler | None = None

    def publish(self, batch):
        if batch:
            self._q.put(batch)  # blocks when full: back-pressure on adapters

    def consume(self, handler):
        self._handler = handler
        self._thread = threading.Thread(target=self._run, name="citylink-bus", daemon=True)
        self._thread.start()

    def _run(self):
        q = self._q
        while True:
            item = q.get()
            if item is _STOP:
                q.task_done()
                return
            batch, taken = list(item), 1
            while len(batch) < self._max_batch:  # coalesce what is already waiting
                try:
                    nxt = q.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    q.put(_STOP)
                    q.task_done()
                    break
                batch.extend(nxt)
                taken += 1
            try:
                self._handler(batch)
            except Exception:  # the handler keeps the messages pending in the archive; recovery re-runs them
                log.exception("normalizer failed on a batch of %d messages; they stay pending", len(batch))
            finally:
                for _ in range(taken):
                    q.task_done()

    def drain(self, timeout=None):
        if self._thread is None:
            return self._q.empty()
        done = threading.Event()

        def wait():
            self._q.join()
            done.set()
        threading.Thread(target=wait, daemon=True).start()
        return done.wait(timeout)

    def close(self):
        if self._thread is not None and self._thread.is_alive():
            self._q.put(_STOP)
            self._thread.join(timeout=30)
