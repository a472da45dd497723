"""The data quality page's figures for one reader: per source, over a window ending now (the platform's
clock), what arrived and what became of it, how complete and how late the data is, and why messages were
rejected.

Quality figures are operational data of the source's service, like device and source health: ``internal``
(``restricted`` when the service is), so a department sees its own services' sources, staff every internal
service's, an admin all (:func:`citylink.access.visibility.operations_visibility`).  Reasons are given by
slug and field name only: a problem's detail may quote a value, and is shown with the quarantined message,
to those who may read it.

How each figure is made (docs/dashboard.md says it for the city's IT team):

* **messages** — the messages received in the window, by their outcome *now* (a message replayed after a
  spec fix counts as stored); ``rejectionRate`` = quarantined ÷ received;
* **completeness** (``basis: "readings"``) — per device, the readings (distinct ``observedAt``) it gave in
  the window ÷ the readings its service's ``reporting_interval`` expects there, capped at 1, averaged over
  the source's devices: the entities it brought and the devices of its registry never heard of (0).  A
  window shorter than the interval is widened to one interval (one reading expected).  ``value`` is null
  with ``basis: "no_reporting_interval"`` (nothing is expected) or ``"no_devices"``;
* **latency** — per reading (one device, one instant, one message) of the messages received in the window,
  the arrival time minus ``observedAt``, in seconds: median, 95th percentile (nearest rank) and maximum,
  computed in the database; null when the window holds no reading;
* **rejections** — the window's messages still in the quarantine, by reason and field of their first problem.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Callable

from ..access.readers import Viewer
from ..access.visibility import operations_visibility
from ..clock import US, iso
from ..health import NEVER_REPORTED, Timing
from ..normalize.records import DUPLICATE, FLAGGED, PENDING, QUARANTINED, STORED
from ..store import quality as stored

WINDOWS = {"PT1H": 3600, "P1D": 86_400, "P7D": 604_800}   # the windows offered, in seconds
REFRESH_S = 30           # how often the page asks again (it says so in the answer)


def sources_seen(platform, viewer: Viewer) -> list[str]:
    """The sources whose service's operations the reader may see, by service and id."""
    specs = platform.specs
    return sorted((sid for sid, src in specs.sources.items()
                   if viewer.may_see(operations_visibility(specs.services[src.service].visibility),
                                     specs.services[src.service].department)),
                  key=lambda sid: (specs.sources[sid].service, sid))


def figures(platform, viewer: Viewer, window: str, may_read: Callable[[str], bool]) -> dict:
    """``GET /api/quality``: the figures of every source the reader may see over ``window`` (a key of
    :data:`WINDOWS`); ``may_read(source)`` says whether the reader may read its quarantined messages."""
    specs, store = platform.specs, platform.store
    now = platform.clock.now_us()
    span = WINDOWS[window] * US
    since = now - span
    seen = sources_seen(platform, viewer)
    counts: dict[str, Counter] = defaultdict(Counter)
    for source, outcome, n in stored.outcomes(store, seen, since):
        counts[source][outcome] += n
    reasons = defaultdict(list)
    for source, reason, field, n in stored.rejections(store, seen, since):
        reasons[source].append({"reason": reason, "field": field, "count": n})
    delays = stored.latency(store, seen, since)
    complete = completeness(platform, seen, now, span)
    waiting = stored.quarantine_sizes(store)
    out = []
    for sid in seen:
        src = specs.sources[sid]
        svc = specs.services[src.service]
        c = counts[sid]
        received = sum(c.values())
        out.append({
            "source": sid, "vendor": src.vendor, "status": src.status,
            "service": {"id": svc.id, "name": {"ko": svc.name.ko, "en": svc.name.en}}, "department": svc.department,
            "messages": {"received": received, "stored": c[STORED], "storedFlagged": c[FLAGGED],
                         "duplicate": c[DUPLICATE], "quarantined": c[QUARANTINED], "pending": c[PENDING],
                         "rejectionRate": round(c[QUARANTINED] / received, 4) if received else None},
            "completeness": complete[sid],
            "latency": _latency(delays.get(sid)),
            "rejections": reasons[sid],
            "quarantine": {"open": waiting.get(sid, 0), "readable": may_read(sid)}})
    return {"now": iso(now), "since": iso(since), "window": window, "windowSeconds": WINDOWS[window],
            "refreshSeconds": REFRESH_S, "sources": out}


def _latency(row: tuple[int, int, int, int] | None) -> dict | None:
    if row is None:
        return None
    n, p50, p95, top = row
    return {"readings": n, "p50": round(p50 / US, 3), "p95": round(p95 / US, 3), "max": round(top / US, 3)}


def completeness(platform, sources: list[str], now: int, span: int) -> dict[str, dict]:
    """source → its completeness over the ``span`` µs before ``now`` (the module's docstring says how)."""
    specs = platform.specs
    timings = {sid: Timing.of(specs.services[specs.sources[sid].service]) for sid in sources}
    devices: dict[str, set[str]] = defaultdict(set)
    never: Counter = Counter()
    for d in platform.health.devices():
        if timings.get(d.source) is not None:
            devices[d.source].add(d.id)
            never[d.source] += int(d.state == NEVER_REPORTED)
    looking: dict[int, list[str]] = defaultdict(list)   # how far back → the sources looked at so far back
    for sid, timing in timings.items():
        if timing is not None:
            looking[max(span, timing.interval)].append(sid)
    heard: dict[str, dict[str, int]] = defaultdict(dict)
    for back, group in looking.items():
        for source, eid, n in stored.readings(platform.store, group, now - back, now):
            heard[source][eid] = n
    out = {}
    for sid, timing in timings.items():
        if timing is None:
            out[sid] = {"value": None, "basis": "no_reporting_interval"}
            continue
        back = max(span, timing.interval)
        expected = back / timing.interval
        everyone = devices[sid] | set(heard[sid])
        how = {"reportingIntervalSeconds": timing.interval / US, "overSeconds": back / US,
               "expectedPerDevice": round(expected, 3)}
        if not everyone:
            out[sid] = {"value": None, "basis": "no_devices", **how}
            continue
        value = sum(min(1.0, heard[sid].get(e, 0) / expected) for e in everyone) / len(everyone)
        out[sid] = {"value": round(value, 4), "basis": "readings", "devices": len(everyone),
                    "reporting": len(heard[sid]), "neverReported": never[sid], **how}
    return out
