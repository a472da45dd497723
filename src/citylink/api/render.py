"""Store rows → NGSI-LD documents (normalized, keyValues, concise; temporal)."""
from __future__ import annotations

from typing import Any, Callable

import orjson

from ..clock import iso
from ..normalize.records import flag_names
from ..spec.model import CITYLINK_NS, NGSI_LD_CORE
from ..store.base import AttrRow, EntityRow
from .ldcontext import Renamer

LOCATION = NGSI_LD_CORE + "location"
QUALITY_FLAGS = CITYLINK_NS + "qualityFlags"


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


def attribute(a: AttrRow, *, sys_attrs: bool = False, temporal: bool = False, flags: str = "qualityFlags") -> dict:
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
        out[flags] = {"type": "Property", "value": flag_names(a.flags)}
    if temporal and a.raw_id is not None:
        out["instanceId"] = f"urn:ngsi-ld:citylink:raw:{a.raw_id}"
    if sys_attrs and a.modified_at:
        out["modifiedAt"] = iso(a.modified_at)
    return out


def _location_from_registry(e: EntityRow, attrs: dict, key: str = "location") -> None:
    if key not in attrs and e.lon is not None and e.lat is not None:
        attrs[key] = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [e.lon, e.lat]}}


def entity(e: EntityRow, *, fmt: str = "normalized", sys_attrs: bool = False,
           attrs: set[str] | None = None, omit: set[str] | None = None, names: Renamer | None = None) -> dict:
    """``attrs``: only these attributes (pick); ``omit``: all but these.  ``names``: the request's
    context's names for the stored type and attributes (None: CityLink's, as stored)."""
    out: dict[str, Any] = {"id": e.id, "type": names.type(e.type) if names else e.type}
    flags = names.attr(QUALITY_FLAGS) if names else "qualityFlags"
    grouped: dict[str, list] = {}  # several datasetIds of one attribute → a list of instances
    for a in e.attrs:
        if attrs and a.name not in attrs and a.iri not in attrs:
            continue
        if omit and (a.name in omit or a.iri in omit):
            continue
        key = names.attr(a.iri, e.type) if names else a.name
        if fmt == "keyValues":
            grouped.setdefault(key, []).append(_value(a))
            continue
        rendered = attribute(a, sys_attrs=sys_attrs, flags=flags)
        if fmt == "concise":
            if rendered["type"] == "Property" and set(rendered) <= {"type", "value", "observedAt", "unitCode"}:
                rendered.pop("type")
            elif rendered["type"] in ("GeoProperty", "Relationship", "LanguageProperty"):
                rendered.pop("type")
        grouped.setdefault(key, []).append(rendered)
    body = {k: v[0] if len(v) == 1 else v for k, v in grouped.items()}
    if (not attrs or "location" in attrs) and not (omit and "location" in omit):
        loc = names.attr(LOCATION, e.type) if names else "location"
        if fmt == "keyValues":
            if loc not in body and e.lon is not None:
                body[loc] = {"type": "Point", "coordinates": [e.lon, e.lat]}
        else:
            _location_from_registry(e, body, loc)
            if fmt == "concise" and loc not in grouped and loc in body:
                body[loc].pop("type")  # concise like an observed location
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


def temporal_entity(e: EntityRow, *, temporal_values: bool = False, names: Renamer | None = None) -> dict:
    out: dict[str, Any] = {"id": e.id, "type": names.type(e.type) if names else e.type}
    flags = names.attr(QUALITY_FLAGS) if names else "qualityFlags"
    for a in e.attrs:
        key = names.attr(a.iri, e.type) if names else a.name
        if temporal_values:
            slot = out.setdefault(key, {"type": a.kind, "values": []})
            slot["values"].append([_value(a), iso(a.observed_at)])
        else:
            out.setdefault(key, []).append(attribute(a, temporal=True, flags=flags))
    return out


AGGR_FIELDS = {"avg": "avg", "min": "min", "max": "max", "sum": "sum", "totalCount": "total", "distinctCount": "distinct"}


def period_bounds(period: int, end: int | None) -> Callable[[int], tuple[str, str]]:
    """start → (start, end) of its period as written, the end cut at ``end``; memoised, for the entities of
    one request share their periods and each bound is written once."""
    cache: dict[int, tuple[str, str]] = {}

    def bounds(start: int) -> tuple[str, str]:
        b = cache.get(start)
        if b is None:
            b = cache[start] = (iso(start), iso(start + period if end is None else min(end, start + period)))
        return b
    return bounds


def aggregated_entity(e: EntityRow, series: list, methods: list[str], bounds: Callable[[int], tuple[str, str]],
                      *, names: Renamer | None = None) -> dict:
    """The aggregated temporal representation (ETSI GS CIM 009, 4.5.19) of an entity's
    :class:`~citylink.store.base.AggSeries`: per attribute and method, a list of [value, start of the
    period, end of the period] (``bounds``: see :func:`period_bounds`)."""
    out: dict[str, Any] = {"id": e.id, "type": names.type(e.type) if names else e.type}
    for s in series:
        spans = [bounds(t) for t in s.starts]
        slot: dict[str, Any] = {"type": s.kind}
        for m in methods:
            slot[m] = [[v, a, z] for v, (a, z) in zip(s.values[AGGR_FIELDS[m]], spans)]
        if s.dataset_id:
            slot["datasetId"] = s.dataset_id
        name = names.attr(s.iri, e.type) if names else s.name
        if name in out:
            out[name] = (out[name] if isinstance(out[name], list) else [out[name]]) + [slot]
        else:
            out[name] = slot
    return out
