"""The overview's figures for one reader: a tile per service and every device on the map.

What a reader sees follows the one visibility model (:mod:`citylink.access.visibility`):

* a service shows when the reader may see anything of its entities (the public: not the Safety Keeper);
* its devices are counted from the entities the reader may see; a reader who may see the service's
  *operations* — device health, source health and alarms, ``internal`` data of the service (``restricted``
  when the service is) — also gets them by health state (online, stale, offline, never reported), the
  rejection rate of the last hour and the open alarms by severity;
* messages of the last hour are counted for everyone (how busy a service is, not what it says);
* the headline (:mod:`.headline`) from alarms only for operations readers, else from values the reader may
  see, or not at all;
* on the map, a device is placed only if the reader may see its location, with its health state and its
  worst open alarm only if the reader may see those.

Sources in ``testing`` status are left out of everything, as the NGSI-LD reads leave them out; so are
entities written through the API (``ngsi-ld-api``: the alarms' ``Alert`` entities, say): they are no device.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Callable

import orjson

from ..access.readers import ANONYMOUS, Viewer
from ..access.visibility import operations_visibility
from ..alarms.model import SEVERITIES, Alarm
from ..clock import iso
from ..health import DEVICE_STATES, NEVER_REPORTED, SOURCE_STATES
from ..spec.model import API_SOURCE, NGSI_LD_CORE
from ..store import alarms as stored_alarms
from ..store import dashboard as stored
from .headline import Headline

LOCATION = NGSI_LD_CORE + "location"
REFRESH_S = 5            # how often the page asks again (it says so in the answer)
DEVICE_FIELDS = ("id", "service", "lon", "lat", "state", "alarm")


class Reading:
    """One reader's look at the platform, now: what it may see, gathered once per request."""

    def __init__(self, platform, viewer: Viewer, alarm_visible: Callable[[Alarm], bool]):
        self.platform = platform
        self.viewer = viewer
        self.view = platform.visibility.view(viewer)
        self.specs = platform.specs
        self.now = platform.clock.now_us()
        self.unpublished = self.specs.unpublished
        self.operations = {sid for sid, svc in self.specs.services.items()
                           if viewer.may_see(operations_visibility(svc.visibility), svc.department)}
        self._alarm_visible = alarm_visible
        self._alarms: list[Alarm] | None = None

    def published(self, source: str) -> bool:
        return source not in self.unpublished and source != API_SOURCE

    def open_alarms(self) -> list[Alarm]:
        """The open alarms of the services whose operations the reader may see, that it may see."""
        if self._alarms is None:
            self._alarms = [] if not self.operations else [
                a for a in stored_alarms.open_alarms(self.platform.store)
                if a.service in self.operations and self._alarm_visible(a)]
        return self._alarms


def overview(platform, viewer: Viewer, alarm_visible: Callable[[Alarm], bool]) -> dict:
    """``GET /api/overview``: a tile's figures per service the reader may see anything of."""
    r = Reading(platform, viewer, alarm_visible)
    counts: dict[str, Counter] = defaultdict(Counter)      # service → type → entities
    for service, type_name, source, n in stored.entity_counts(platform.store):
        if r.published(source) and r.view.sees(service, type_name):
            counts[service][type_name] += n
    health: dict[str, Counter] = defaultdict(Counter)      # service → device state → devices
    if r.operations:
        for d in platform.health.devices():
            if d.service in r.operations and r.published(d.source):
                health[d.service][d.state] += 1
    messages: dict[str, Counter] = defaultdict(Counter)
    last_message: dict[str, int] = {}
    for s, received, quarantined in platform.health.sources():
        if s.id in r.unpublished:
            continue
        messages[s.service]["received"] += received
        messages[s.service]["quarantined"] += quarantined
        messages[s.service][s.state] += 1
        if s.last_message is not None:
            last_message[s.service] = max(last_message.get(s.service, 0), s.last_message)
    alarms: dict[str, Counter] = defaultdict(Counter)
    for a in r.open_alarms():
        alarms[a.service][a.severity] += 1
    out = []
    for sid, svc in r.specs.services.items():
        if not r.view.types_seen(svc):
            continue   # nothing of it is for this reader
        ops = sid in r.operations
        entities = sum(counts[sid].values())
        tile: dict = {"id": sid, "name": {"ko": svc.name.ko, "en": svc.name.en},
                      "department": department(r.specs, svc.department)}
        devices: dict = {"total": entities}
        if ops and health[sid]:
            devices = {"total": entities + health[sid][NEVER_REPORTED],
                       **{state: health[sid][state] for state in DEVICE_STATES}}
        tile["devices"] = devices
        m = messages[sid]
        tile["messages"] = {"lastHour": m["received"]}
        if ops:
            tile["messages"].update({
                "quarantinedLastHour": m["quarantined"],
                "rejectionRate": round(m["quarantined"] / m["received"], 4) if m["received"] else None,
                "lastMessage": iso(last_message[sid]) if sid in last_message else None,
                "sources": {state: m[state] for state in SOURCE_STATES}})
            tile["alarms"] = {"open": sum(alarms[sid].values()),
                              "bySeverity": {sev: alarms[sid][sev] for sev in reversed(SEVERITIES)}}
        h = r.specs.headlines.get(sid)
        tile["headline"] = headline(r, svc, h, counts[sid]) if h is not None else None
        out.append(tile)
    return {"at": iso(r.now), "reader": _reader(viewer), "refreshSeconds": REFRESH_S, "services": out}


def headline(r: Reading, svc, h: Headline, counts: Counter) -> dict | None:
    """The headline figure as this reader may have it (None: not from what it may see)."""
    if not all(r.view.sees(svc.id, t) for t in h.types):
        return None
    of = sum(counts[t] for t in h.types)
    base = {"name": {"ko": h.name.ko, "en": h.name.en}}
    if h.kind == "entities":
        return {**base, "value": of, "basis": "entities"}
    if h.kind == "sum":
        iri = svc.entity_types[h.types[0]].attributes[h.attribute].iri
        if not r.view.visible_in(svc.id, h.types[0], iri):
            return None
        if h.window_s is None:   # the current values
            total = sum((num for _, _, source, _, _, _, num, _ in stored.current_values(
                r.platform.store, svc.id, list(h.types), [iri]) if num is not None and r.published(source)), 0.0)
            return {**base, "value": _number(total), "basis": "latest"}
        total = sum((v for source, v in stored.observed_sums(r.platform.store, svc.id, list(h.types), iri,
                                                            r.now - int(h.window_s * 1_000_000))
                    if r.published(source)), 0.0)
        return {**base, "value": _number(total), "basis": "sum", "windowSeconds": h.window_s}
    if h.kind == "rules" and svc.id in r.operations:
        hit = {a.entity for a in r.open_alarms() if a.rule in h.rules}
        return {**base, "value": len(hit), "of": of, "basis": "alarms"}
    if not h.tests or not all(_may_test(r, svc, t) for t in h.tests):
        return None
    return {**base, "value": _count_meeting(r, svc, h), "of": of, "basis": "values"}


def _number(x: float) -> int | float:
    return int(x) if x.is_integer() else round(x, 3)


def _may_test(r: Reading, svc, test) -> bool:
    attrs = svc.entity_types[test.type].attributes
    return all(r.view.visible_in(svc.id, test.type, attrs[a].iri) for a in test.attrs) and \
        (not test.located or r.view.visible_in(svc.id, test.type, LOCATION))


def _count_meeting(r: Reading, svc, h: Headline) -> int:
    """How many entities' current values meet one of the headline's tests."""
    names = {}
    for t in h.tests:
        for a in t.attrs:
            spec = svc.entity_types[t.type].attributes[a]
            names[spec.iri] = spec.name
    rows = stored.current_values(r.platform.store, svc.id, list(h.types), list(names))
    entities: dict[str, tuple] = {}
    for eid, type_name, source, lon, lat, iri, num, text in rows:
        if not r.published(source):
            continue
        e = entities.setdefault(eid, (type_name, lon, lat, {}))
        e[3][names[iri]] = orjson.loads(text) if text is not None else num
    n = 0
    for type_name, lon, lat, values in entities.values():
        if any(t.type == type_name and t.holds(values, r.now, lon, lat) for t in h.tests):
            n += 1
    return n


def devices(platform, viewer: Viewer, alarm_visible: Callable[[Alarm], bool]) -> dict:
    """``GET /api/overview/devices``: every device the reader may place on the map, as compact rows
    (``fields`` names the columns); ``state`` and ``alarm`` are null where the reader may not see them."""
    r = Reading(platform, viewer, alarm_visible)
    services = [sid for sid, svc in r.specs.services.items() if r.view.types_seen(svc)]
    located = {(sid, t) for sid in services for t in r.specs.services[sid].entity_types
               if r.view.sees(sid, t) and r.view.visible_in(sid, t, LOCATION)}
    states: dict[str, str] = {}
    never: list = []
    if r.operations:
        for d in platform.health.devices():
            if d.service not in r.operations or not r.published(d.source):
                continue
            if d.state == NEVER_REPORTED:
                reg = d.registry or {}
                if (d.service, d.type) in located and reg.get("lon") is not None and reg.get("lat") is not None:
                    never.append((d.id, d.service, reg["lon"], reg["lat"]))
            else:
                states[d.id] = d.state
    worst: dict[str, int] = {}
    for a in r.open_alarms():
        worst[a.entity] = max(worst.get(a.entity, -1), SEVERITIES.index(a.severity))
    rows = []
    for eid, type_name, service, source, lon, lat in stored.positions(platform.store, services):
        if (service, type_name) not in located or not r.published(source):
            continue
        ops = service in r.operations
        rows.append([eid, service, round(lon, 6), round(lat, 6), states.get(eid) if ops else None,
                     SEVERITIES[worst[eid]] if ops and eid in worst else None])
    for eid, service, lon, lat in never:
        rows.append([eid, service, round(lon, 6), round(lat, 6), NEVER_REPORTED,
                     SEVERITIES[worst[eid]] if eid in worst else None])
    return {"at": iso(r.now), "fields": list(DEVICE_FIELDS), "devices": rows}


def department(specs, dep_id: str) -> dict:
    d = specs.departments.get(dep_id)
    return {"id": dep_id, "name": {"ko": d.name.ko, "en": d.name.en} if d else {"ko": dep_id, "en": dep_id}}


def _reader(viewer: Viewer) -> dict:
    if viewer == ANONYMOUS:
        return {"public": True}
    return {"public": False, "name": viewer.name, "admin": viewer.admin, "staff": viewer.staff,
            "departments": sorted(viewer.departments)}
