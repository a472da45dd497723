"""CityLink's errors, translated at the boundary where they enter the platform.

    CityLinkError
    ├── SpecError            a spec file (or a set of them) is wrong; carries every SpecProblem
    ├── ConfigError          the configuration file or an environment variable is wrong
    ├── UnknownSource        a message or command names a source no spec declares
    ├── TransportRefused     a message refused before it was accepted (bad token, too large)
    └── StoreError           the store could not be opened or migrated

Problems in *data* are not exceptions: the normalizer reports them as
:class:`citylink.normalize.Problem` records and the message is quarantined.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class CityLinkError(Exception):
    """Base class of every error CityLink raises on purpose."""


@dataclass(frozen=True)
class SpecProblem:
    """One mistake in one spec file, located as precisely as the file allows.

    ``type`` is a stable slug (it never changes meaning); ``path`` is the
    dotted path inside the document (``fields.pm25.unit``).
    """

    type: str
    file: str
    line: int | None
    path: str
    msg: str
    input: Any = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path or '(document)'}: {self.msg}"


class SpecError(CityLinkError):
    """One or more spec problems; ``str()`` lists them one per line."""

    def __init__(self, problems: list[SpecProblem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(CityLinkError):
    """The configuration is wrong; the message names the key and where it came from."""


class UnknownSource(CityLinkError):
    def __init__(self, source: str, known: list[str] | None = None):
        self.source = source
        hint = f" (known sources: {', '.join(sorted(known))})" if known else ""
        super().__init__(f"unknown source {source!r}{hint}")


@dataclass
class TransportRefused(CityLinkError):
    """A message was refused at the transport, before it was accepted or archived."""

    source: str
    reason: str  # stable slug: bad_token, too_large, unknown_source, ...
    detail: str
    status: int = 400
    extra: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}: {self.detail}"


class StoreError(CityLinkError):
    """The store could not be opened, migrated or written."""
