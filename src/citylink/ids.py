"""Identifiers: raw message ids and NGSI-LD entity URNs."""
from __future__ import annotations

import os
import threading
from urllib.parse import quote

from .clock import Clock

_EPOCH_MS = 1_700_000_000_000  # 2023-11-14; ids stay positive 64-bit for ~69 years


class RawIdGenerator:
    """Time-ordered 63-bit ids: 41 bits of milliseconds, 10 of node, 12 of sequence.

    Every process that archives raw messages has its own node number, so ids
    made by several adapter processes never collide and still sort by time.
    """

    def __init__(self, clock: Clock, node: int | None = None):
        self._clock = clock
        self._node = (node if node is not None else os.getpid()) & 0x3FF
        self._lock = threading.Lock()
        self._last_ms = -1
        self._seq = 0

    def next_ids(self, n: int) -> list[int]:
        out = []
        with self._lock:
            for _ in range(n):
                ms = max(self._clock.now_us() // 1000 - _EPOCH_MS, self._last_ms)
                if ms == self._last_ms:
                    self._seq += 1
                    if self._seq > 0xFFF:  # sequence exhausted: borrow the next millisecond
                        ms += 1
                        self._seq = 0
                else:
                    self._seq = 0
                self._last_ms = ms
                out.append((ms << 22) | (self._node << 12) | self._seq)
        return out


def first_id_at(us: int) -> int:
    """The smallest raw id any process makes at or after ``us`` (µs since the epoch): ids sort by time, so a
    range of ids stands for a range of arrival times."""
    return max(us // 1000 - _EPOCH_MS, 0) << 22


_SAFE = "-._~!$&'()*+,;=@"


def local_id_part(value: object) -> str:
    """A local id as it may stand inside a URN (non-ASCII and reserved chars %-encoded)."""
    text = str(value).strip()
    return quote(text, safe=_SAFE)


def entity_urn(entity_type: str, deployment: str, local_id: str, namespace: str | None) -> str:
    """``urn:ngsi-ld:<Type>:<deployment>:[<namespace>:]<local-id>``."""
    if namespace:
        return f"urn:ngsi-ld:{entity_type}:{deployment}:{namespace}:{local_id}"
    return f"urn:ngsi-ld:{entity_type}:{deployment}:{local_id}"
