"""Stores, chosen by URL: ``sqlite:///path/citylink.db`` (embedded default), ``sqlite://:memory:``,
or ``postgresql://user@host:port/db``.  Engines register by URL scheme."""
from __future__ import annotations

from typing import Callable

from ..errors import StoreError
from .base import AttrRow, EntityRow, SpecRow, Store, SubscriptionRow


def _sqlite(url: str) -> Store:
    """``sqlite:///relative.db``, ``sqlite:////absolute/path.db`` (as SQLAlchemy writes them), ``sqlite://:memory:``."""
    from .sqlite import SQLiteStore
    rest = url[len("sqlite://"):]
    if rest in (":memory:", "/:memory:"):
        return SQLiteStore(":memory:")
    if not rest.startswith("/") or len(rest) < 2:
        raise StoreError(f"store_url {url!r}: write sqlite:///relative/path.db or sqlite:////absolute/path.db")
    return SQLiteStore(rest[1:])


def _postgres(url: str) -> Store:
    from .postgres import PostgresStore
    return PostgresStore(url)


ENGINES: dict[str, Callable[[str], Store]] = {"sqlite": _sqlite, "postgresql": _postgres, "postgres": _postgres}


def open_store(url: str, *, migrate: bool = True) -> Store:
    scheme = url.split("://", 1)[0] if "://" in url else ""
    factory = ENGINES.get(scheme)
    if factory is None:
        raise StoreError(f"store_url {url!r}: unknown scheme {scheme!r} (known: {', '.join(sorted(ENGINES))})")
    store = factory(url)
    if migrate:
        store.migrate()
    return store


__all__ = ["AttrRow", "ENGINES", "EntityRow", "SpecRow", "Store", "SubscriptionRow", "open_store"]
