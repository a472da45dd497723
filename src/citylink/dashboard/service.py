"""A service's page for one reader: what the service is, its devices with their latest values (and health),
and each numeric attribute's observations over the service's devices, aggregated per time bucket.

What a reader sees follows the one visibility model (:mod:`citylink.access.visibility`), as on the overview
(:mod:`.overview`, whose :class:`~.overview.Reading` gathers it): the entity types and attributes it may
see, each entity shown through the view (only its visible values); device health — and the service's alarms
and sources, which the page reads from their own APIs — only to a reader who may see the service's
operations.  Sources in ``testing`` status and entities written through the API (the alarms' ``Alert``
entities) are left out, as the overview leaves them out.

The table is paged on the server (a service may have thousands of devices): the ids are listed and
filtered, and only a page's entities are read with their values.  A series is computed in the database, one
row per bucket (:mod:`citylink.store.series`), buckets wide enough that a range has at most
:data:`MAX_BUCKETS`; their edges fall on Seoul's whole minutes, hours and days.
"""
from __future__ import annotations

import orjson

from ..clock import US, iso
from ..health import NEVER_REPORTED
from ..spec import units
from ..spec.doc import label, unit_label
from ..spec.model import API_SOURCE, NUMERIC, AttributeSpec, ServiceSpec
from ..store import series as stored
from .overview import Reading, department

MAX_BUCKETS = 300
# bucket widths (s) a range may get: the narrowest that keeps it within MAX_BUCKETS
WIDTHS_S = (15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 2 * 86400, 7 * 86400)
MAX_RANGE_S = 400 * 86400      # a range longer than this is refused (this long: 200 buckets of 2 days)
DEFAULT_RANGE_S = 86400        # a series asked for without a range: the last day
SEOUL_US = 9 * 3600 * US       # buckets start at Seoul's (UTC+9) whole hours and midnights
FIELDS = ("id", "type", "observedAt", "state")   # a table row's columns before the attributes' values


def chartable(a: AttributeSpec) -> bool:
    return a.type in NUMERIC


def attributes(r: Reading, svc: ServiceSpec) -> list[tuple[str, AttributeSpec]]:
    """(entity type, attribute) of every attribute of the service the reader may see, in spec order."""
    return [(t, a) for t in r.view.types_seen(svc) for a in svc.entity_types[t].attributes.values()
            if r.view.visible_in(svc.id, t, a.iri)]


def _excluded(r: Reading) -> list[str]:
    return sorted(r.unpublished | {API_SOURCE})


def _attribute(a: AttributeSpec) -> dict:
    return {"name": a.name, "label": label(a.label), "type": a.type, "kind": a.kind, "numeric": chartable(a),
            "unit": a.unit, "unitSymbol": units.symbol(a.unit) if a.unit in units.UNITS else None,
            "unitLabel": unit_label(a.unit),
            "codes": {k: label(v) for k, v in a.codes.items()} if a.codes else None}


def describe(r: Reading, svc: ServiceSpec) -> dict:
    """``GET /api/services/{id}``: the service's names and department, the server's time, whether the reader
    may see its operations, and its entity types with the attributes the reader may see."""
    seen = attributes(r, svc)
    types = [{"name": t, "label": label(svc.entity_types[t].label),
              "attributes": [_attribute(a) for tt, a in seen if tt == t]} for t in r.view.types_seen(svc)]
    return {"id": svc.id, "name": label(svc.name), "description": label(svc.description) if svc.description else None,
            "department": department(r.specs, svc.department), "now": iso(r.now),
            "operations": svc.id in r.operations, "entityTypes": types}


def devices(r: Reading, svc: ServiceSpec, q: str, limit: int, offset: int) -> dict:
    """``GET /api/services/{id}/devices``: a page of the table, by id — each device's latest value of each
    attribute the reader may see (locations apart), the time of its last observation and, for a reader who
    may see the service's operations, its health state; devices of the registry never heard of are rows
    too, for those readers.  ``q`` keeps the ids that hold it (any case)."""
    columns: dict[str, dict[str, str]] = {}        # attribute name → entity type → IRI
    for t, a in attributes(r, svc):
        if a.kind != "GeoProperty":
            columns.setdefault(a.name, {})[t] = a.iri
    ids = stored.entity_ids(r.platform.store, svc.id, r.view.types_seen(svc), _excluded(r))
    health = {}                                     # id → DeviceHealth, for operations readers
    if svc.id in r.operations:
        health = {d.id: d for d in r.platform.health.devices() if d.service == svc.id and r.published(d.source)
                  and r.view.entity_visible(d)}
        ids = sorted(set(ids) | {d.id for d in health.values() if d.state == NEVER_REPORTED})
    needle = q.strip().casefold()
    if needle:
        ids = [i for i in ids if needle in i.casefold()]
    page = ids[offset:offset + limit]
    entities = {}
    if page:   # only the page's entities are read, with their current values
        found, _ = r.platform.store.entities(ids=page, limit=len(page), count=False)
        entities = {e.id: r.view.shown(e) for e in found}
    rows = []
    for eid in page:
        e = entities.get(eid)
        d = health.get(eid)
        values: dict[str, object] = {}
        last = None
        if e is not None:
            for a in e.attrs:
                if a.dataset_id == "":
                    values[a.iri] = orjson.loads(a.value_json) if a.value_json is not None else a.value_num
                    last = a.observed_at if last is None else max(last, a.observed_at)
        type_name = e.type if e is not None else d.type
        rows.append([eid, type_name, iso(last) if last is not None else None, d.state if d is not None else None,
                     *(values.get(by_type[type_name]) if type_name in by_type else None
                       for by_type in columns.values())])
    return {"now": iso(r.now), "q": q, "total": len(ids), "limit": limit, "offset": offset,
            "fields": [*FIELDS, *columns], "devices": rows}


def bucket_width(span_us: int) -> int:
    """The narrowest width (µs) of :data:`WIDTHS_S` that cuts ``span_us`` into at most MAX_BUCKETS."""
    for w in WIDTHS_S:
        if span_us <= w * US * MAX_BUCKETS:
            return w * US
    return WIDTHS_S[-1] * US


def series(r: Reading, svc: ServiceSpec, name: str, start: int, end: int) -> dict:
    """``GET /api/services/{id}/series``: attribute ``name`` (numeric, visible to the reader: the caller has
    checked) over the service's devices in [start, end), per bucket: ``[start (ms), min, mean, max,
    observations]``, the buckets with observations only."""
    seen = [(t, a) for t, a in attributes(r, svc) if a.name == name and chartable(a)]
    first = seen[0][1]
    types = [t for t, a in seen if a.iri == first.iri and a.unit == first.unit]   # one attribute, one unit
    width = bucket_width(end - start)
    origin = -SEOUL_US
    rows = stored.buckets(r.platform.store, svc.id, types, first.iri, _excluded(r), start=start, end=end,
                          width=width, origin=origin)
    return {"attribute": name, "unit": first.unit, "from": iso(start), "to": iso(end), "bucketSeconds": width // US,
            "buckets": [[(origin + b * width) // 1000, lo, mean, hi, n] for b, lo, mean, hi, n in rows]}
