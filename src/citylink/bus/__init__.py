"""The bus between adapters and the normalizer: batches of raw messages, nothing else.

Engines register by name (``bus = "memory"`` in the configuration); the in-process
queue is the embedded default.  An adapter calls ``publish`` only after the batch
is archived; the normalizer is a ``consume`` handler.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

from ..normalize.records import RawMessage

Handler = Callable[[list[RawMessage]], None]


class Bus(ABC):
    @abstractmethod
    def publish(self, batch: list[RawMessage]) -> None: ...

    @abstractmethod
    def consume(self, handler: Handler) -> None:
        """Start delivering batches to ``handler`` (from the bus's own worker)."""

    @abstractmethod
    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every published batch has been handled; False on time-out."""

    @abstractmethod
    def close(self) -> None: ...


def _memory(**kw) -> Bus:
    from .memory import MemoryBus
    return MemoryBus(**kw)


ENGINES: dict[str, Callable[..., Bus]] = {"memory": _memory}


def open_bus(name: str, **kw) -> Bus:
    try:
        return ENGINES[name](**kw)
    except KeyError:
        raise KeyError(f"bus {name!r} is unknown (known: {', '.join(sorted(ENGINES))})") from None
