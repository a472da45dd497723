"""Per-source message counts over the last hour, in one-minute buckets, fed from the commit hook.

Kept in memory: after a restart the hourly window starts empty (the ledger's totals and a source's last
message time are in the store and survive)."""
from __future__ import annotations

from collections import deque

MINUTE = 60_000_000
WINDOW_MINUTES = 60


class HourlyCounts:
    """received and quarantined messages per source, per minute, for the last :data:`WINDOW_MINUTES`."""

    def __init__(self):
        self._buckets: dict[str, deque] = {}

    def add(self, source: str, now: int, received: int, quarantined: int) -> None:
        minute = now // MINUTE
        q = self._buckets.get(source)
        if q is None:
            q = self._buckets[source] = deque()
        if q and q[-1][0] == minute:
            q[-1][1] += received
            q[-1][2] += quarantined
        else:
            q.append([minute, received, quarantined])
            while q[0][0] <= minute - WINDOW_MINUTES:
                q.popleft()

    def last_hour(self, source: str, now: int) -> tuple[int, int]:
        """(received, quarantined) in the last hour (the current minute and the 59 before it)."""
        first = now // MINUTE - WINDOW_MINUTES + 1
        received = quarantined = 0
        for minute, r, qn in self._buckets.get(source, ()):
            if minute >= first:
                received += r
                quarantined += qn
        return received, quarantined
