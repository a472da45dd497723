"""Readers' API keys: made, kept as their hash, and turned into the :class:`~.readers.Viewer` they stand
for."""
from __future__ import annotations

import hashlib
import secrets
import time

from .readers import Viewer

# besides the department a key may name: public (reads what anyone reads, but as someone: a company or an app
# known by its key, audited and held to the key's request budget), staff, admin
KEY_SCOPES = ("public", "staff", "admin")


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
                  departments=frozenset([row.department] if row.department else []), key_id=row.id)


class KeyRing:
    """Readers' keys → :class:`Viewer`, from the store, remembered for ``TTL_S``: a revoked key stops
    working within that time in every process (the bootstrap admin key is checked apart).  A key is found
    by the secret a request presents (:meth:`viewer`) or by its id (:meth:`by_id`: whom a subscription acts
    for)."""
    TTL_S = 5.0

    def __init__(self, store):
        self._store = store
        self._seen: dict[str, tuple[Viewer | None, float]] = {}   # hash → (reader, when looked up)
        self._ids: dict[str, tuple[Viewer | None, float]] = {}    # key id → (reader, when looked up)

    def viewer(self, key: str) -> Viewer | None:
        return self._remembered(self._seen, secret_hash(key), self._store.api_key)

    def by_id(self, key_id: str) -> Viewer | None:
        """The reader of the key with this id; None once the key is revoked (or its user disabled)."""
        return self._remembered(self._ids, key_id, self._store.api_key_by_id)

    def _remembered(self, seen: dict, k: str, find) -> Viewer | None:
        now = time.monotonic()
        hit = seen.get(k)
        if hit is not None and now - hit[1] < self.TTL_S:
            return hit[0]
        row = find(k)
        v = key_viewer(row) if row else None
        if len(seen) > 10_000:   # a flood of wrong keys must not grow it without bound
            seen.clear()
        seen[k] = (v, now)
        return v
