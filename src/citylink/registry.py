"""One registry mechanism for every extension point (transports, payload formats, …).

Built-ins and plug-ins register the same way: built-ins by being imported, plug-ins
through an entry point group.  Loading happens once, on first use.
"""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any, Generic, Protocol, TypeVar


class Named(Protocol):
    name: str


T = TypeVar("T", bound=Named)


class Registry(Generic[T]):
    def __init__(self, what: str, group: str, builtins: list[str], *, instantiate: bool = False):
        self.what = what                  # "transport", "payload format" — for messages
        self.group = group                # entry point group of plug-ins
        self._builtins = builtins         # modules that register themselves on import
        self._instantiate = instantiate   # entry points name a class to instantiate, not an object
        self._items: dict[str, T] = {}
        self._loaded = False

    def register(self, item: T) -> T:
        self._items[item.name] = item
        return item

    def _load(self) -> None:
        # a built-in imported directly elsewhere registers itself early: non-empty is not complete
        if self._loaded:
            return
        self._loaded = True
        for module in self._builtins:
            importlib.import_module(module)
        for ep in entry_points(group=self.group):
            obj: Any = ep.load()
            self.register(obj() if self._instantiate else obj)

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(f"unknown {self.what} {name!r} (known: {', '.join(self.names())})") from None

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def items(self) -> dict[str, T]:
        self._load()
        return dict(self._items)
