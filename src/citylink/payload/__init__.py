"""Payload formats, found through a registry: the name in a source spec's ``payload.format``.

A format does two things:

* ``split(data, cfg)`` – cut a transport's bytes (an HTTP body, a dropped file)
  into raw messages, *byte-exact*, one per record unit (a JSON array's elements,
  a JSON-lines line, a CSV row with its header line);
* ``decode(body, cfg)`` – turn one raw message into a list of records (dicts).

Adding a format is registering a class here or through the ``citylink.payload_formats``
entry point; the normalizer never names one.
"""
from __future__ import annotations

from importlib.metadata import entry_points
from typing import Iterator, Protocol

from .base import PayloadProblem


class PayloadFormat(Protocol):
    name: str

    def split(self, data: bytes, cfg: dict) -> Iterator[tuple[bytes, dict]]: ...

    def decode(self, body: bytes, cfg: dict) -> list[dict]: ...


_loaded = False
FORMATS: dict[str, PayloadFormat] = {}


def register(fmt: PayloadFormat) -> PayloadFormat:
    FORMATS[fmt.name] = fmt
    return fmt


def get(name: str) -> PayloadFormat:
    _load()
    try:
        return FORMATS[name]
    except KeyError:
        raise KeyError(f"unknown payload format {name!r} (known: {', '.join(sorted(FORMATS))})") from None


def names() -> list[str]:
    _load()
    return sorted(FORMATS)


def _load() -> None:
    """Import the built-ins and the entry points, once (a built-in imported directly elsewhere
    registers itself early: the registry being non-empty does not mean it is complete)."""
    global _loaded
    if _loaded:
        return
    from . import csv_format, json_format  # noqa: F401  (built-ins register themselves)
    for ep in entry_points(group="citylink.payload_formats"):
        register(ep.load()())
    _loaded = True


__all__ = ["FORMATS", "PayloadFormat", "PayloadProblem", "get", "names", "register"]
