"""NGSI-LD API writes as raw messages of a built-in source, so they take the adapters' path.

The API checks a write against the entity as it stands (existence, ``noOverwrite``, which
attributes an update may touch), expands its terms with the request's ``@context`` and then hands
the *resolved* write to the platform as one raw message of source :data:`API_SOURCE`.  From there
it is archived, normalized (here), applied by ``store.apply`` and seen by every commit listener,
exactly like a vendor's message: one write path, so API writes reach the temporal API, the ledger,
replay and subscriptions alike.

A resolved write (the raw message body, JSON)::

    {"v": 1,
     "entity": {"id": "urn:…", "type": "WasteContainer", "service": "…", "department": "…"},
     "delete_entity": false,
     "delete": [{"iri": "…", "datasetId": null}],                 # before the values; null: every one
     "attrs": [{"iri": "…", "name": "fillingLevel", "kind": "Property", "value": 0.4,
                "unit": "P1", "datasetId": "", "observedAt": 1764000000000000}],
     "request": {"method": "PATCH", "path": "/ngsi-ld/v1/entities/…/attrs"}}

``request`` is there for people reading the archive; the normalizer ignores it.
"""
from __future__ import annotations

from typing import Any

import orjson

from ..spec.model import API_SOURCE
from .compiler import LOCATION_IRI
from .records import EntityInfo, Problem, RawMessage

TRANSPORT = "ngsi-ld"
KINDS = ("Property", "GeoProperty", "Relationship", "LanguageProperty")
VALUE_TYPE = "Any"   # attributes first written through the API: numbers in value_num, the rest as JSON


def encode(entity: dict, attrs: list[dict], *, delete: list[dict] = (), delete_entity: bool = False,
           method: str = "", path: str = "") -> bytes:
    return orjson.dumps({"v": 1, "entity": entity, "delete_entity": delete_entity, "delete": list(delete),
                         "attrs": attrs, "request": {"method": method, "path": path}})


class Converted:
    """What one API write produced: observations, the entity, deletions and attributes to register."""
    __slots__ = ("observations", "entities", "deletions", "attributes")

    def __init__(self):
        self.observations: list[tuple] = []
        self.entities: dict[str, EntityInfo] = {}
        self.deletions: list[tuple] = []
        self.attributes: dict[str, tuple] = {}


def convert(msg: RawMessage) -> tuple[Converted | None, list[Problem]]:
    """A resolved write → (what it produces, no problems), or (None, why it cannot be applied).

    The API only archives writes it has checked, so problems here mean an archive edited by hand or a
    write format from another version; they quarantine the message like a vendor's bad payload."""
    try:
        doc = orjson.loads(msg.body)
    except orjson.JSONDecodeError as e:
        return None, [Problem("malformed_json", None, f"not JSON: {e}")]
    problems: list[Problem] = []
    if not isinstance(doc, dict) or doc.get("v") != 1:
        return None, [Problem("unknown_write_format", "v", "not a version 1 NGSI-LD API write", _get(doc, "v"))]
    ent = doc.get("entity")
    if not isinstance(ent, dict) or not all(isinstance(ent.get(k), str) and ent.get(k)
                                           for k in ("id", "type", "service", "department")):
        return None, [Problem("bad_write", "entity", "entity needs id, type, service and department texts")]
    out = Converted()
    eid = ent["id"]
    if doc.get("delete_entity"):
        out.deletions.append((msg.id, eid, None, None))
        return out, []
    for i, d in enumerate(doc.get("delete") or []):
        if not isinstance(d, dict) or not isinstance(d.get("iri"), str):
            problems.append(Problem("bad_write", f"delete[{i}].iri", "an attribute IRI is needed"))
            continue
        out.deletions.append((msg.id, eid, d["iri"], d.get("datasetId")))
    lon = lat = None
    for i, a in enumerate(doc.get("attrs") or []):
        where = f"attrs[{i}]"
        if not isinstance(a, dict) or not isinstance(a.get("iri"), str) or not isinstance(a.get("name"), str):
            problems.append(Problem("bad_write", where, "an attribute needs an iri and a name"))
            continue
        if a.get("kind") not in KINDS:
            problems.append(Problem("bad_write", where + ".kind", f"kind must be one of {', '.join(KINDS)}",
                                    a.get("kind")))
            continue
        at = a.get("observedAt")
        if not isinstance(at, int):
            problems.append(Problem("bad_write", where + ".observedAt", "µs since the epoch expected", at))
            continue
        v = a.get("value")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            num, js = float(v), None
        else:
            num, js = None, orjson.dumps(v).decode()
        out.observations.append((msg.id, eid, a["iri"], a.get("datasetId") or "", num, js, a.get("unit"), at, 0, 0))
        out.attributes.setdefault(a["iri"], (a["name"], a["kind"], VALUE_TYPE, a.get("unit")))
        if a["iri"] == LOCATION_IRI and not a.get("datasetId"):
            lon, lat = _point(v)
    if problems:
        return None, problems
    out.entities[eid] = EntityInfo(eid, ent["type"], ent["service"], ent["department"], API_SOURCE, lon, lat)
    return out, []


def _point(geometry: Any) -> tuple[float | None, float | None]:
    """The position the store keeps for geo-queries: a Point's coordinates, else the shape's centroid."""
    if not isinstance(geometry, dict):
        return None, None
    if geometry.get("type") == "Point":
        lon, lat = geometry["coordinates"][:2]
        return float(lon), float(lat)
    from shapely.geometry import shape
    try:
        c = shape(geometry).centroid
    except (ValueError, TypeError, AttributeError, KeyError):
        return None, None
    return (None, None) if c.is_empty else (c.x, c.y)


def _get(doc, key):
    return doc.get(key) if isinstance(doc, dict) else None
