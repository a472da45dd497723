"""Readers' API keys: made, kept as their hash, and turned into the :class:`~.readers.Viewer` they stand
for."""
from __future__ import annotations

import hashlib
import secrets
import time

from .readers import Viewer

KEY_SCOPES = ("staff", "admin")   # besides the department a key may name


def new_key() -> tuple[str, str, str]:
    """(id, key, SHA-256 of the key): the id is the key's public part, shown in lists."""
    key_id = secrets.token_hex(4)
    key = f"clk_{key_id}_{secrets.token_urlsafe(32)}"
    return key_id, key, secret_hash(key)


def secret_hash(secret: str) -> str:
    """What is kept of a key or an ingest token: its SHA-256 (they are long random strings, so a fast hash
    is enough)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def key_viewer(row) -> Viewer:
    """The reader an API key (:class:`citylink.store.base.ApiKeyRow`) stands for."""
    return Viewer(f"key {row.id} ({row.holder})", admin="admin" in row.scopes, staff="staff" in row.scopes,
                  departments=frozenset([row.department] if row.department else []))


class KeyRing:
    """Readers' keys → :class:`Viewer`, from the store, remembered for ``TTL_S``: a revoked key stops
    working within that time in every process (the bootstrap admin key is checked apart)."""
    TTL_S = 5.0

    def __init__(self, store):
        self._store = store
        self._seen: dict[str, tuple[Viewer | None, float]] = {}   # hash → (reader, when looked up)

    def viewer(self, key: str) -> Viewer | None:
        h = secret_hash(key)
        now = time.monotonic()
        hit = self._seen.get(h)
        if hit is not None and now - hit[1] < self.TTL_S:
            return hit[0]
        row = self._store.api_key(h)
        v = key_viewer(row) if row else None
        if len(self._seen) > 10_000:   # a flood of wrong keys must not grow it without bound
            self._seen.clear()
        self._seen[h] = (v, now)
        return v
