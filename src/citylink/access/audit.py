"""The audit log: who read what.  Every request made with a key (or by a signed-in user) is one entry —
when, who, which key, the method, path and query, the answer's status — and an admin's read of raw
personal values also keeps the purpose the admin gave.  Entries are queued and written by a thread in
batches, at least every ``FLUSH_S``, so a read never waits for the store's write lock; whatever is queued
when the platform stops is written then.  If the store falls behind by ``MAX_QUEUED`` entries, the request
that queues one more writes the queue itself: entries wait, they are not dropped."""
from __future__ import annotations

import logging
import threading

from ..store.base import AuditEntry

log = logging.getLogger(__name__)


class AuditLog:
    FLUSH_S = 1.0
    MAX_QUEUED = 10_000

    def __init__(self, store):
        self._store = store
        self._queue: list[AuditEntry] = []
        self._lock = threading.Lock()        # the queue
        self._writing = threading.Lock()     # one writer at a time: entries stay in order
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, entry: AuditEntry) -> None:
        with self._lock:
            self._queue.append(entry)
            full = len(self._queue) >= self.MAX_QUEUED
            if self._thread is None and not self._stopped.is_set():
                self._thread = threading.Thread(target=self._run, name="citylink-audit", daemon=True)
                self._thread.start()
        if full:
            self.flush()

    def flush(self) -> int:
        """Write what is queued now; returns how many entries were written."""
        with self._writing:
            with self._lock:
                batch, self._queue = self._queue, []
            if batch:
                try:
                    self._store.add_audit(batch)
                except Exception:
                    with self._lock:   # kept for the next try, in order
                        self._queue[:0] = batch
                    raise
            return len(batch)

    def _run(self) -> None:
        while not self._stopped.wait(self.FLUSH_S):
            try:
                self.flush()
            except Exception:
                log.exception("the audit log could not be written; its entries are kept for the next try")

    def close(self) -> None:
        """Stop the writer and write what is left (before the store closes)."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()
