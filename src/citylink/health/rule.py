"""The health rule: what state a device (or a source) is in, from when it was last seen.

A device (an entity) of a service whose spec sets ``reporting_interval`` (I) and ``offline_grace`` (G; when
the spec gives none, G = I) is, at time *now*, with ``age = now − last_seen``:

* ``online``  while ``age ≤ I``;
* ``stale``   while ``I < age ≤ I + G`` — from ``last_seen + I + 1 µs``;
* ``offline`` once ``age > I + G`` — from ``last_seen + I + G + 1 µs``.

``last_seen`` is the newest ``observedAt`` the device has reported (never later than the clock: a device
whose clock runs ahead is not seen in the future).  A device in a source's device registry (``expected``
true) that has never reported is ``never_reported``.

A source (a vendor feed) is ``active`` while its last message arrived at most ``I + G`` of its service ago
— as long as it takes one device to be declared offline — ``silent`` after that (from the first µs past
it), and ``never_received`` before its first message.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..clock import US

ONLINE, STALE, OFFLINE, NEVER_REPORTED = "online", "stale", "offline", "never_reported"
DEVICE_STATES = (ONLINE, STALE, OFFLINE, NEVER_REPORTED)
ACTIVE, SILENT, NEVER_RECEIVED = "active", "silent", "never_received"
SOURCE_STATES = (ACTIVE, SILENT, NEVER_RECEIVED)


@dataclass(frozen=True)
class Timing:
    """A service's reporting interval and offline grace, in µs."""
    interval: int
    grace: int

    @classmethod
    def of(cls, service) -> "Timing | None":
        """The timing a service spec sets; None when it sets no reporting interval (its devices are not
        monitored)."""
        if not service.reporting_interval_s:
            return None
        interval = int(service.reporting_interval_s * US)
        grace = interval if service.offline_grace_s is None else int(service.offline_grace_s * US)
        return cls(interval, grace)

    @property
    def silent_after(self) -> int:
        """How long a source may send nothing before it is ``silent``."""
        return self.interval + self.grace

    def state_at(self, last_seen: int, now: int) -> str:
        age = now - last_seen
        if age <= self.interval:
            return ONLINE
        return STALE if age <= self.interval + self.grace else OFFLINE

    def since(self, state: str, last_seen: int) -> int:
        """When a device last seen then entered ``state`` (stale, offline) by the rule alone."""
        return last_seen + self.interval + 1 + (self.grace if state == OFFLINE else 0)

    def next_change(self, last_seen: int, now: int) -> int | None:
        """The first µs after ``now`` at which the state changes if nothing is heard (None: offline already)."""
        for state in (STALE, OFFLINE):
            at = self.since(state, last_seen)
            if at > now:
                return at
        return None

    def source_state_at(self, last_message: int | None, now: int) -> str:
        if last_message is None:
            return NEVER_RECEIVED
        return ACTIVE if now - last_message <= self.silent_after else SILENT

    def silent_since(self, last_message: int) -> int:
        """When a source last heard from then became ``silent`` by the rule alone."""
        return last_message + self.silent_after + 1

    def source_next_change(self, last_message: int | None, now: int) -> int | None:
        if last_message is None:
            return None
        at = self.silent_since(last_message)
        return at if at > now else None
