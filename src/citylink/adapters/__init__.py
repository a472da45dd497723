"""Transport adapters, found through a registry: the name in a source spec's ``transport.type``.

An adapter receives bytes the way a vendor sends them, cuts them into raw
messages with the source's payload format, has them archived, and publishes
them on the bus.  It never calls the normalizer.  The core knows adapters only
by the name they register under (built-ins register exactly like plug-ins, via
the ``citylink.transports`` entry point group).
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points


@dataclass(frozen=True)
class Transport:
    name: str
    title: dict[str, str]          # {"ko": ..., "en": ...}
    profile: str                   # the linkage guideline's text for vendors (Markdown)
    keys: dict[str, str]           # transport.* keys a source spec may set → meaning


_loaded = False
TRANSPORTS: dict[str, Transport] = {}


def register(t: Transport) -> Transport:
    TRANSPORTS[t.name] = t
    return t


def _load() -> None:
    """Import the built-ins and the entry points, once (a built-in imported directly elsewhere
    registers itself early: the registry being non-empty does not mean it is complete)."""
    global _loaded
    if _loaded:
        return
    from . import file_drop, http_push  # noqa: F401
    for ep in entry_points(group="citylink.transports"):
        register(ep.load())
    _loaded = True


def transport_names() -> list[str]:
    _load()
    return sorted(TRANSPORTS)


def transports() -> dict[str, Transport]:
    _load()
    return dict(TRANSPORTS)
