"""Store rows → NGSI-LD documents (normalized, keyValues, concise; temporal)."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson

from ..clock import iso
from ..normalize.records import flag_names
from ..store.base import AttrRow, EntityRow


def _value(a: AttrRow) -> Any:
    if a.value_json is not None:
        if a.vtype == "Boolean":
            return a.value_json == "true"
        return orjson.loads(a.value_json)
    if a.value_num is None:
        return None
    if a.vtype == "Integer":
        return int(a.value_num)
    v = a.value_num
    return int(v) if isinstance(v, float) and v.is_integer() and a.vtype != "Number" else v


def attribute(a: AttrRow, *, sys_attrs: bool = False, temporal: bool = False) -> dict:
    v = _value(a)
    if a.kind == "Relationship":
        out: dict[str, Any] = {"type": "Relationship", "object": v}
    elif a.kind == "LanguageProperty":
        out = {"type": "LanguageProperty", "languageMap": v}
    else:
        out = {"type": a.kind, "value": v}
    if a.unit:
        out["unitCode"] = a.unit
    out["observedAt"] = iso(a.observed_at)
    if a.dataset_id:
        out["datasetId"] = a.dataset_id
    if a.flags:
        out["qualityFlags"] = {"type": "Property", "value": flag_names(a.flags)}
    if temporal and a.raw_id is not None:
        out["instanceId"] = f"urn:ngsi-ld:citylink:raw:{a.raw_id}"
    if sys_attrs and a.modified_at:
        out["modifiedAt"] = iso(a.modified_at)
    return out


def _location_from_registry(e: EntityRow, attrs: dict) -> None:
    if "location" not in attrs and e.lon is not None and e.lat is not None:
        attrs["location"] = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [e.lon, e.lat]}}


def entity(e: EntityRow, *, fmt: str = "normalized", sys_attrs: bool = False,
           attrs: set[str] | None = None, omit: set[str] | None = None) -> dict:
    """``attrs``: only these attributes (pick); ``omit``: all but these."""
    out: dict[str, Any] = {"id": e.id, "type": e.type}
    grouped: dict[str, list] = {}  # several datasetIds of one attribute → a list of instances
    for a in e.attrs:
        if attrs and a.name not in attrs and a.iri not in attrs:
            continue
        if omit and (a.name in omit or a.iri in omit):
            continue
        if fmt == "keyValues":
            grouped.setdefault(a.name, []).append(_value(a))
            continue
        rendered = attribute(a, sys_attrs=sys_attrs)
        if fmt == "concise":
            if rendered["type"] == "Property" and set(rendered) <= {"type", "value", "observedAt", "unitCode"}:
                rendered.pop("type")
            elif rendered["type"] in ("GeoProperty", "Relationship", "LanguageProperty"):
                rendered.pop("type")
        grouped.setdefault(a.name, []).append(rendered)
    body = {k: v[0] if len(v) == 1 else v for k, v in grouped.items()}
    if (not attrs or "location" in attrs) and not (omit and "location" in omit):
        if fmt == "keyValues":
            if "location" not in body and e.lon is not None:
                body["location"] = {"type": "Point", "coordinates": [e.lon, e.lat]}
        else:
            _location_from_registry(e, body)
            if fmt == "concise" and "location" not in grouped and "location" in body:
                body["location"].pop("type")  # concise like an observed location
    out.update(body)
    if sys_attrs:
        out["createdAt"] = iso(e.created_at)
        out["modifiedAt"] = iso(max([e.modified_at] + [a.modified_at or 0 for a in e.attrs]))
    return out


def feature(body: dict, geoproperty: str = "location") -> dict:
    """An entity document (any format) as a GeoJSON Feature (ETSI GS CIM 009, 6.3.15): its geometry is
    the value of ``geoproperty``, the rest goes into ``properties``."""
    props = {k: v for k, v in body.items() if k not in ("id", "@context")}
    geo = body.get(geoproperty)
    if isinstance(geo, dict) and "coordinates" not in geo:
        geo = geo.get("value")
    return {"id": body["id"], "type": "Feature", "geometry": geo if isinstance(geo, dict) else None,
            "properties": props}


def feature_collection(bodies: list[dict], geoproperty: str = "location") -> dict:
    return {"type": "FeatureCollection", "features": [feature(b, geoproperty) for b in bodies]}


def temporal_entity(e: EntityRow, *, temporal_values: bool = False) -> dict:
    out: dict[str, Any] = {"id": e.id, "type": e.type}
    for a in e.attrs:
        if temporal_values:
            slot = out.setdefault(a.name, {"type": a.kind, "values": []})
            slot["values"].append([_value(a), iso(a.observed_at)])
        else:
            out.setdefault(a.name, []).append(attribute(a, temporal=True))
    return out


_iso = lru_cache(maxsize=100_000)(iso)

AGGR_FIELDS = {"avg": "avg", "min": "min", "max": "max", "sum": "sum", "totalCount": "total", "distinctCount": "distinct"}


def aggregated_entity(e: EntityRow, rows: list, methods: list[str], period: int, end: int | None) -> dict:
    """The aggregated temporal representation (ETSI GS CIM 009, 4.5.19): per attribute and method, a list
    of [value, start of the period, end of the period]."""
    out: dict[str, Any] = {"id": e.id, "type": e.type}
    slots: dict[tuple[str, str], dict] = {}
    for r in rows:
        slot = slots.get((r.name, r.dataset_id))
        if slot is None:
            slot = slots[(r.name, r.dataset_id)] = {"type": r.kind, **{m: [] for m in methods}}
            if r.dataset_id:
                slot["datasetId"] = r.dataset_id
        stop = r.start + period if end is None else min(end, r.start + period)
        bounds = (_iso(r.start), _iso(stop))  # entities share their periods: each bound is written once
        for m in methods:
            slot[m].append([getattr(r, AGGR_FIELDS[m]), *bounds])
    for (name, _), slot in slots.items():
        if name in out:
            out[name] = (out[name] if isinstance(out[name], list) else [out[name]]) + [slot]
        else:
            out[name] = slot
    return out
