"""The one interface of a notification channel, and what an attempt comes to.

A channel is registered by name in :data:`citylink.alarms.notify.CHANNELS` (the notifier knows channels
only by that name, which is also the ``channel`` of the delivery log).  It says where a department is reached
through it (:meth:`Channel.targets`) and makes one attempt at one delivery (:meth:`Channel.send`), never
retrying itself: the notifier retries, by the delivery log."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ...config import Settings
from ...spec.model import DepartmentSpec
from ...store.deliveries import DeliveryRow


@dataclass(frozen=True)
class Target:
    """Where one department is reached through a channel: a URL, or addresses joined by ``", "``;
    ``secret_env`` names the variable holding a webhook's signing secret."""
    target: str
    secret_env: str | None = None


@dataclass(frozen=True)
class Outcome:
    """One attempt: ``ok`` (delivered), else ``retry`` when the failure may pass (a timeout, no connection,
    HTTP 5xx/408/429, SMTP 4xx); ``code`` the HTTP status or SMTP reply code if one came back; ``error`` why
    it failed, naming what is at fault."""
    ok: bool
    retry: bool = False
    code: int | None = None
    error: str | None = None

    @classmethod
    def delivered(cls, code: int | None) -> "Outcome":
        return cls(True, code=code)

    @classmethod
    def transient(cls, error: str, code: int | None = None) -> "Outcome":
        return cls(False, True, code, error)

    @classmethod
    def permanent(cls, error: str, code: int | None = None) -> "Outcome":
        return cls(False, False, code, error)


class Channel(Protocol):
    name: str

    def __init__(self, settings: Settings) -> None: ...

    def off(self) -> str | None:
        """Why the channel is off under these settings (no delivery is queued through it), or None."""

    def targets(self, department: DepartmentSpec) -> list[Target]:
        """Where the department is reached through this channel (none: not through it)."""

    def send(self, delivery: DeliveryRow) -> Outcome:
        """One attempt at one delivery; never raises for a failure of the other end."""

    def close(self) -> None: ...
