"""A request budget per reader."""
from __future__ import annotations

import time


class RateLimit:
    """Requests per minute per reader (a token bucket each: a burst of a minute's worth, refilled
    steadily).  In memory, per process: N API processes allow N times the rate."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}   # reader → (tokens, when counted)

    def retry_after(self, who: str) -> float | None:
        """Take one request for ``who``: None if allowed, else the seconds until one is."""
        if self.per_minute <= 0:
            return None
        now = time.monotonic()
        rate = self.per_minute / 60.0
        tokens, then = self._buckets.get(who, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - then) * rate)
        if tokens < 1.0:
            self._buckets[who] = (tokens, now)
            return (1.0 - tokens) / rate
        self._buckets[who] = (tokens - 1.0, now)
        return None
