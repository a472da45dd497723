"""Faults injected on demand, found through a registry: ``--faults malformed=0.01,duplicate=0.02``.

Each fault knows what the platform must make of it, so a run can be checked against the store:
a malformed message is quarantined with the reason its profile declares, a duplicate is counted as a
duplicate, a late message is stored flagged ``late``, a clock days ahead is quarantined
``timestamp_in_future``.  Out-of-order messages, silent devices and bursts must simply lose nothing.

Rates are per message, except ``silent`` and ``burst``: per device and day.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..registry import Registry

# what the platform must do with a message (checked against the ledger and the quarantine)
STORED, FLAGGED_LATE, DUPLICATE = "stored", "stored_late", "duplicate"


def quarantined(reason: str) -> str:
    return f"quarantined:{reason}"


@dataclass(frozen=True)
class Fault:
    name: str
    per: str          # "message" or "device_day"
    summary: str


FAULTS: Registry[Fault] = Registry("fault", "citylink.simulation_faults", ["citylink.simulate.faults"])
for _f in (
    Fault("malformed", "message", "a message the vendor broke: cut short, or a field garbled (see the profile's "
                                  "`malformed`); quarantined with the profile's reason"),
    Fault("duplicate", "message", "the same message sent twice; the second is a duplicate"),
    Fault("out_of_order", "message", "a message held back until after the device's next one; both stored"),
    Fault("late", "message", "a message held back beyond the platform's late_after_seconds; stored flagged late"),
    Fault("clock_skew", "message", "a device clock set days ahead; quarantined timestamp_in_future"),
    Fault("silent", "device_day", "a device that goes quiet for 2–12 hours (nothing is sent)"),
    Fault("burst", "device_day", "a device that flushes a buffer of readings at once (profile `burst`)"),
):
    FAULTS.register(_f)


def parse_rates(text: str | None) -> dict[str, float]:
    """``malformed=0.01,duplicate=0.02`` → {name: rate}; ``all=R`` sets every fault; errors name the part."""
    rates: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        try:
            rate = float(value) if sep else 0.01
        except ValueError:
            raise ValueError(f"--faults: {part!r}: the rate must be a number, e.g. {name}=0.01") from None
        if not 0 <= rate <= 1:
            raise ValueError(f"--faults: {part!r}: a rate is between 0 and 1")
        if name == "all":
            rates.update({n: rate for n in FAULTS.names()})
        elif name not in FAULTS.names():
            raise ValueError(f"--faults: unknown fault {name!r} (known: {', '.join(FAULTS.names())}, all)")
        else:
            rates[name] = rate
    return rates
