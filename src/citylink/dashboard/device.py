"""The device page's figures for one reader: the device (an entity) with its current values, and each
attribute's history over a time range.

What a reader sees follows the one visibility model (:mod:`citylink.access.visibility`): the attributes it
may see, the location only if it may see ``location``; the device's health and its registry entries only to
a reader who may see the service's *operations* (``internal`` data of the service, ``restricted`` when the
service is); its raw messages only to one who may read the service's ``restricted`` data (the owning
department, admins: as ``/api/raw/{id}`` decides, :mod:`citylink.api.archive`).

A numeric attribute's history is its points as observed while they are few (at most :data:`MAX_POINTS` in
the range); beyond, the range is cut into at most that many equal periods, averaged in the database
(:meth:`citylink.store.base.Store.aggregate`, as the NGSI-LD temporal API's ``aggregatedValues``).  Any
other attribute's history is the list of its changes (:func:`citylink.store.device.changes`).
"""
from __future__ import annotations

from dataclasses import asdict

import orjson

from ..access.readers import Viewer
from ..access.visibility import operations_visibility
from ..api import render
from ..clock import iso
from ..normalize.records import flag_names
from ..spec.model import NUMERIC
from ..spec.units import UNITS
from ..store import device as stored
from ..store.base import AttrRow, EntityRow

MAX_POINTS = 1000        # numbers drawn per attribute; more are averaged into at most this many periods
MAX_CHANGES = 100        # changes listed per non-numeric attribute (the newest)
MESSAGES = 20            # raw messages listed by default
GEO = "GeoProperty"      # shown on the map, not as a value or a history


def numeric(a: AttrRow) -> bool:
    """Is the attribute drawn as a chart: declared a number, or (an attribute written through the API, of no
    declared type) holding one now."""
    return a.vtype in NUMERIC or (a.value_json is None and a.value_num is not None and a.kind == "Property")


def visible_device(platform, viewer: Viewer, entity_id: str) -> EntityRow | None:
    """The device as stored, if the reader may see it: it exists, is not of a source in testing (published
    nowhere) and the reader may see something of it.  The page and every route of it ask here."""
    e = platform.store.entity(entity_id)
    if e is None or e.source in platform.specs.unpublished:
        return None
    return e if platform.visibility.view(viewer).entity_visible(e) else None


class Reading:
    """One reader's look at one device: what it may see of it (the entity filtered by its view)."""

    def __init__(self, platform, viewer: Viewer, entity: EntityRow):
        self.platform = platform
        self.entity = platform.visibility.view(viewer).shown(entity)
        self.service = svc = platform.specs.services.get(entity.service)
        # raw messages are restricted data of their source's service (access/archive.py says so for each one);
        # the operations of an entity of no service (written through the API) and its messages are admins'
        self.operations = viewer.may_see(operations_visibility(svc.visibility), svc.department) if svc \
            else viewer.admin
        self.raw_messages = viewer.may_see("restricted", svc.department) if svc else viewer.admin

    def attribute_spec(self, name: str):
        return self.service.attribute(self.entity.type, name) if self.service else None

    def attributes(self) -> list[AttrRow]:
        """The attributes the reader may see, but the location (which the map shows)."""
        return [a for a in self.entity.attrs if a.kind != GEO]

    def find(self, name: str) -> list[AttrRow]:
        """The instances (datasetIds) of one attribute the reader may see, by name; none: not there for it."""
        return [a for a in self.attributes() if a.name == name]


def document(r: Reading, now: int) -> dict:
    """``GET /api/devices/{id}``: the device as the reader may see it."""
    e, svc = r.entity, r.service
    et = svc.entity_types.get(e.type) if svc else None
    out: dict = {
        "id": e.id, "type": e.type, "typeName": asdict(et.label) if et else {"ko": e.type, "en": e.type},
        "now": iso(now),
        "service": {"id": e.service, "name": asdict(svc.name) if svc else {"ko": e.service, "en": e.service}},
        "attributes": [_attribute(r, a) for a in r.attributes()],
        "location": {"lon": e.lon, "lat": e.lat} if e.lon is not None and e.lat is not None else None,
        "operations": r.operations, "rawMessages": r.raw_messages}
    if svc:
        dep = r.platform.specs.departments.get(svc.department)
        name = asdict(dep.name) if dep else {"ko": svc.department, "en": svc.department}
        out["service"]["department"] = {"id": svc.department, "name": name}
    if r.operations:
        out["source"] = e.source
        out["health"] = _health(r.platform, e.id)
        out["registry"] = _registry(r.platform, e)
    return out


def _attribute(r: Reading, a: AttrRow) -> dict:
    spec = r.attribute_spec(a.name)
    shown = render.attribute(a)
    out = {"name": a.name, "label": asdict(spec.label) if spec else {"ko": a.name, "en": a.name},
           "numeric": numeric(a), "value": shown.get("value", shown.get("object", shown.get("languageMap"))),
           "observedAt": iso(a.observed_at), "unit": _unit(a.unit or (spec.unit if spec else None))}
    if a.dataset_id:
        out["datasetId"] = a.dataset_id
    if spec and spec.codes:
        out["codes"] = {code: asdict(label) for code, label in spec.codes.items()}
    if a.flags:
        out["flags"] = flag_names(a.flags)
    return out


def _unit(code: str | None) -> dict | None:
    if code is None:
        return None
    if code not in UNITS:
        return {"code": code, "symbol": code, "ko": code, "en": code}
    _, ko, en, symbol = UNITS[code]
    return {"code": code, "symbol": symbol, "ko": ko, "en": en}


def _health(platform, entity_id: str) -> dict | None:
    """The device's health as of now (None: not monitored — its service sets no reporting interval)."""
    platform.health.process_due()
    d = platform.health.device(entity_id)
    if d is None:
        return None
    return {"state": d.state, "since": iso(d.since), "lastSeen": iso(d.last_seen) if d.last_seen else None}


def _registry(platform, e: EntityRow) -> list[dict]:
    """The device registry entries (of the service's sources) that stand for this entity."""
    norm = platform.normalizer
    if norm is None:
        return []
    out = []
    for source, cs in sorted(norm.compiled.items()):
        if cs.service.id != e.service:
            continue
        for dev in cs.devices.values():
            if cs.resolve(dev.local_id)[0] == e.id:
                out.append({"source": source, "localId": dev.local_id, "name": dev.name, "expected": dev.expected,
                            "lon": dev.lon, "lat": dev.lat, "attributes": dev.attrs})
    return out


def series(r: Reading, rows: list[AttrRow], start: int, end: int) -> list[dict]:
    """The history in [start, end) of these attributes (instances of the entity the reader may see): per
    attribute and datasetId, numbers as ``points`` ([ms, value], oldest first; periods' averages, with their
    ``spread`` [min, max], when there are more than :data:`MAX_POINTS`), other values as their ``changes``
    ([ms, value], oldest first; ``more``: older changes in the range are left out)."""
    store, eid = r.platform.store, r.entity.id
    numbers = [a for a in rows if numeric(a)]
    others = [a for a in rows if not numeric(a)]
    counts = stored.number_counts(store, eid, {a.iri for a in numbers}, start, end)
    many = {k for k, n in counts.items() if n > MAX_POINTS}
    few = {k for k, n in counts.items() if n <= MAX_POINTS}
    points: dict[tuple[str, str], dict] = {}
    if few:
        t = store.temporal(eid, attrs=sorted({iri for iri, _ in few}), start=start, end=end)
        for x in t.attrs if t else []:
            if (x.iri, x.dataset_id) in few and x.value_json is None and x.value_num is not None:
                points.setdefault((x.iri, x.dataset_id), {"points": []})["points"].append(
                    [x.observed_at // 1000, x.value_num])
    if many:
        period = -(-(end - start) // MAX_POINTS)    # at most MAX_POINTS periods in the range
        for s in store.aggregate([eid], attrs=sorted({iri for iri, _ in many}), start=start, end=end, period=period,
                                 origin=start, methods=("avg", "min", "max")):
            if (s.iri, s.dataset_id) not in many:
                continue
            mid = [min(b + period // 2, end - 1) // 1000 for b in s.starts]   # a period drawn at its middle
            avg, low, high = s.values["avg"], s.values["min"], s.values["max"]
            keep = [i for i, v in enumerate(avg) if v is not None]
            points[(s.iri, s.dataset_id)] = {
                "points": [[mid[i], avg[i]] for i in keep], "spread": [[low[i], high[i]] for i in keep],
                "periodMs": period // 1000}
    changed: dict[tuple[str, str], list] = {}
    for iri, ds, at, vj, vn in stored.changes(store, eid, {a.iri for a in others}, start, end, MAX_CHANGES):
        changed.setdefault((iri, ds), []).append([at // 1000, orjson.loads(vj) if vj is not None else vn])
    out = []
    for a in rows:
        key = (a.iri, a.dataset_id)
        item: dict = {"name": a.name, **({"datasetId": a.dataset_id} if a.dataset_id else {})}
        if numeric(a):
            item |= {"numeric": True, "count": counts.get(key, 0), "points": []} | points.get(key, {})
        else:
            got = changed.get(key, [])
            item |= {"numeric": False, "changes": got[-MAX_CHANGES:], "more": len(got) > MAX_CHANGES}
        out.append(item)
    return out


def message_ids(r: Reading, limit: int) -> list[int]:
    """The newest raw messages that fed the device, newest first."""
    return stored.raw_ids(r.platform.store, r.entity.id, limit)
