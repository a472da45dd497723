"""Transport adapters, found through a registry: the name in a source spec's ``transport.type``.

An adapter receives bytes the way a vendor sends them, cuts them into raw
messages with the source's payload format, has them archived, and publishes
them on the bus.  It never calls the normalizer.  The core knows adapters only
by the name they register under (built-ins register exactly like plug-ins, via
the ``citylink.transports`` entry point group).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..registry import Registry


@dataclass(frozen=True)
class Transport:
    name: str
    title: dict[str, str]          # {"ko": ..., "en": ...}
    profile: str                   # the linkage guideline's text for vendors (Markdown)
    keys: dict[str, str]           # transport.* keys a source spec may set → meaning
    required: tuple[str, ...] = ()  # of those, the ones it must set
    unique: tuple[str, ...] = ()    # of those, the ones no two sources may share (a topic, a directory)


TRANSPORTS: Registry[Transport] = Registry(
    "transport", "citylink.transports",
    ["citylink.adapters.file_drop", "citylink.adapters.http_poll", "citylink.adapters.http_push",
     "citylink.adapters.mqtt"])
register = TRANSPORTS.register
transport_names = TRANSPORTS.names
transports = TRANSPORTS.items
