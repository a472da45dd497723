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

from typing import Iterator, Protocol

from ..registry import Registry
from .base import PayloadProblem


class PayloadFormat(Protocol):
    name: str

    def split(self, data: bytes, cfg: dict) -> Iterator[tuple[bytes, dict]]: ...

    def decode(self, body: bytes, cfg: dict) -> list[dict]: ...


FORMATS: Registry[PayloadFormat] = Registry(
    "payload format", "citylink.payload_formats",
    ["citylink.payload.csv_format", "citylink.payload.json_format", "citylink.payload.lorawan_format"],
    instantiate=True)
register = FORMATS.register
get = FORMATS.get
names = FORMATS.names


__all__ = ["FORMATS", "PayloadFormat", "PayloadProblem", "get", "names", "register"]
