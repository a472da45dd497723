"""The read side of NGSI-LD (ETSI GS CIM 009) under ``/ngsi-ld/v1``: retrieve an entity; query entities
by type, id, idPattern, attrs, the query language ``q`` and geo-queries, projected with pick/omit, as
NGSI-LD or GeoJSON; retrieve and query temporal entities, as instances, simplified or aggregated
(``aggregatedValues`` per ISO 8601 period, computed in the database)."""
from __future__ import annotations

import re
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..clock import to_us
from ..query import geo as geoquery
from ..query import qlang
from ..store.base import TooManyPeriods
from . import context, render
from .auth import scope
from .problems import NgsiError

MAX_LIMIT = 1000
MAX_TEMPORAL_LIMIT = 1000
MAX_ID_PATTERN = 200
GEOJSON = "application/geo+json"


def _options(request: Request) -> set[str]:
    raw = request.query_params.get("options", "")
    opts = {o.strip() for o in raw.split(",") if o.strip()}
    known = {"keyValues", "concise", "sysAttrs", "normalized", "temporalValues", "aggregatedValues"}
    bad = opts - known
    if bad:
        raise NgsiError("BadRequestData", f"options: unknown value {sorted(bad)[0]!r} (known: {', '.join(sorted(known))})")
    return opts


def _format(request: Request, opts: set[str]) -> str:
    fmt = request.query_params.get("format")
    if fmt:
        if fmt not in ("keyValues", "concise", "normalized"):
            raise NgsiError("BadRequestData", f"format: {fmt!r} is not keyValues, concise or normalized")
        return fmt
    if "keyValues" in opts:
        return "keyValues"
    if "concise" in opts:
        return "concise"
    return "normalized"


def _int(request: Request, name: str, default: int | None, lo: int, hi: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        v = int(raw)
    except ValueError:
        raise NgsiError("BadRequestData", f"{name}: {raw!r} is not an integer") from None
    if v < lo or (hi is not None and v > hi):
        raise NgsiError("TooManyResults" if name == "limit" and hi and v > hi else "BadRequestData",
                        f"{name}: {v} is outside {lo}..{hi if hi is not None else '∞'}")
    return v


def _time(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise NgsiError("BadRequestData", f"{name}: {raw!r} is not an ISO 8601 date-time") from None
    if dt.tzinfo is None:
        raise NgsiError("BadRequestData", f"{name}: {raw!r} has no time zone (add Z or an offset)")
    return to_us(dt)


AGGR_METHODS = ("totalCount", "distinctCount", "sum", "avg", "min", "max")
_PERIOD = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def _param(name: str, description: str, **schema) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "string", **schema}}


# Documented for OpenAPI (and so for /docs and schemathesis); the handlers read and check them themselves,
# so that a mistake is answered in the NGSI-LD problem form naming the parameter.
FORMAT_PARAMS = [
    _param("options", "keyValues, concise, sysAttrs, normalized (comma-separated)"),
    _param("format", "keyValues, concise or normalized"),
    _param("pick", "only these attributes (comma-separated)"),
    _param("omit", "all but these attributes (comma-separated)"),
    _param("attrs", "these attributes; in a query, entities having at least one of them"),
    _param("geoproperty", "the attribute that is the GeoJSON geometry (Accept: application/geo+json)"),
]
QUERY_PARAMS = [
    _param("type", "entity types (comma-separated)"), _param("id", "entity ids (comma-separated)"),
    _param("idPattern", "a regular expression on the entity id"),
    _param("q", "the NGSI-LD query language, e.g. fillingLevel>0.8;status==\"ok\""),
    _param("georel", "near;maxDistance==<m>, within, contains, intersects, disjoint, equals, overlaps"),
    _param("geometry", "Point, LineString, Polygon, MultiPoint, MultiLineString, MultiPolygon"),
    _param("coordinates", "the geometry's coordinates as JSON, e.g. [127.0471,37.6688]"),
    _param("limit", "page size (at most 1,000)"), _param("offset", "entities to skip"),
    _param("count", "true: the total in the NGSILD-Results-Count header"),
]
TEMPORAL_PARAMS = [
    _param("timerel", "before, after or between"), _param("timeAt", "ISO 8601 date-time"),
    _param("endTimeAt", "ISO 8601 date-time (timerel=between)"),
    _param("lastN", "the newest N instances per attribute"),
    _param("options", "temporalValues, aggregatedValues"),
    _param("aggrMethods", "totalCount, distinctCount, sum, avg, min, max (comma-separated)"),
    _param("aggrPeriodDuration", "ISO 8601 duration of each period, e.g. PT1H, P1D"),
    _param("attrs", "these attributes"),
]


def _timerel(request: Request) -> tuple[int | None, int | None]:
    """[start, end) from timerel, timeAt and endTimeAt (None: open)."""
    qp = request.query_params
    timerel = qp.get("timerel")
    t1, t2 = _time(request, "timeAt"), _time(request, "endTimeAt")
    if not timerel:
        if t1 is not None or t2 is not None:
            raise NgsiError("BadRequestData", "timerel: required with timeAt (before, after or between)")
        return None, None
    if t1 is None:
        raise NgsiError("BadRequestData", "timeAt: required with timerel")
    if timerel == "before":
        return None, t1
    if timerel == "after":
        return t1, None
    if timerel == "between":
        if t2 is None:
            raise NgsiError("BadRequestData", "endTimeAt: required with timerel=between")
        if t2 <= t1:
            raise NgsiError("BadRequestData", "endTimeAt: must be after timeAt")
        return t1, t2
    raise NgsiError("BadRequestData", f"timerel: {timerel!r} is not before, after or between")


def _aggregation(request: Request) -> tuple[list[str], int | None]:
    """(aggrMethods, aggrPeriodDuration in µs; None: the whole time range as one period)."""
    qp = request.query_params
    methods = _names(request, "aggrMethods") or list(AGGR_METHODS)
    bad = [m for m in methods if m not in AGGR_METHODS]
    if bad:
        raise NgsiError("BadRequestData", f"aggrMethods: {bad[0]!r} is not one of {', '.join(AGGR_METHODS)}")
    raw = qp.get("aggrPeriodDuration", "P0D")
    m = _PERIOD.match(raw)
    if not m or raw in ("P", "PT"):
        fixed = re.search(r"\d+[YM]", raw.split("T")[0])
        why = " (months and years have no fixed length: use weeks or days)" if fixed else ""
        raise NgsiError("BadRequestData",
                        f"aggrPeriodDuration: {raw!r} is not an ISO 8601 duration such as PT1H or P1D{why}")
    w, d, h, mi, sec = (float(x) if x else 0.0 for x in m.groups())
    us = int((((w * 7 + d) * 24 + h) * 60 + mi) * 60e6 + sec * 1e6)
    if us == 0:
        return methods, None
    if us < 1_000_000:
        raise NgsiError("BadRequestData", f"aggrPeriodDuration: {raw!r} is shorter than a second")
    return methods, us


def _names(request: Request, name: str) -> list[str] | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    names = [a.strip() for a in raw.split(",") if a.strip()]
    if not names:
        raise NgsiError("BadRequestData", f"{name}: give names, separated by commas")
    return names


def _attrs(request: Request) -> list[str] | None:
    return _names(request, "attrs") or _names(request, "pick")


def _projection(request: Request) -> tuple[set[str] | None, set[str] | None]:
    """(pick, omit): the attributes to show, or to leave out (``attrs`` picks too)."""
    pick, omit = _attrs(request), _names(request, "omit")
    if pick and omit:
        raise NgsiError("BadRequestData", "omit: use either pick (or attrs) or omit, not both")
    return (set(pick) if pick else None), (set(omit) if omit else None)


def _q(request: Request):
    raw = request.query_params.get("q")
    if raw is None:
        return None
    try:
        return qlang.parse(raw)
    except qlang.QueryError as e:
        raise NgsiError("BadRequestData", f"q: {e}") from None


def _id_pattern(request: Request) -> str | None:
    raw = request.query_params.get("idPattern")
    if raw is None:
        return None
    if not raw or len(raw) > MAX_ID_PATTERN:
        raise NgsiError("BadRequestData", f"idPattern: give a regular expression of 1 to {MAX_ID_PATTERN} characters")
    try:
        re.compile(raw)
    except re.error as e:
        raise NgsiError("BadRequestData", f"idPattern: {raw!r} is not a regular expression: {e}") from None
    return raw


def _geojson(request: Request) -> str | None:
    """The geoproperty to put in GeoJSON's geometry when GeoJSON is asked for, else None."""
    if GEOJSON not in request.headers.get("accept", ""):
        return None
    prop = request.query_params.get("geoproperty", "location")
    if not re.fullmatch(r"[A-Za-z_][\w:/#.-]{0,200}", prop):
        raise NgsiError("BadRequestData", f"geoproperty: {prop!r} is not an attribute name")
    return prop


def respond(request: Request, body, status: int = 200, headers: dict | None = None) -> JSONResponse:
    headers = dict(headers or {})
    accept = request.headers.get("accept", "application/json")
    geo = _geojson(request)
    if geo is not None:
        body = render.feature_collection(body, geo) if isinstance(body, list) else render.feature(body, geo)
        headers["Link"] = context.link_header(str(request.base_url))
        media = GEOJSON
    elif "application/ld+json" in accept:
        ctx = str(request.base_url).rstrip("/") + context.CONTEXT_PATH
        if isinstance(body, list):
            body = [dict(b, **{"@context": ctx}) for b in body]
        else:
            body = dict(body, **{"@context": ctx})
        media = "application/ld+json"
    else:
        headers["Link"] = context.link_header(str(request.base_url))
        media = "application/json"
    return JSONResponse(body, status_code=status, headers=headers, media_type=media)


def unpublished(platform) -> set[str]:
    """Sources with ``status: testing``: their data is stored but published nowhere."""
    return {sid for sid, src in platform.specs.sources.items() if not src.live}


def router(platform) -> APIRouter:
    r = APIRouter(prefix="/ngsi-ld/v1", tags=["NGSI-LD"], dependencies=[scope("public")])
    store = platform.store

    def published(e, entity_id: str):
        if e is None or e.source in unpublished(platform):
            raise NgsiError("ResourceNotFound", f"entity {entity_id} does not exist")
        return e

    def short_types(raw: str) -> list[str]:
        names = context.type_names(platform.specs)
        return [names.get(t.strip(), t.strip()) for t in raw.split(",") if t.strip()]

    # Entity reads are short (tens of µs of SQLite work per entity), so they run on the event loop: a hop to
    # the thread pool costs more than the read (measured: 1,390 → 2,830 retrievals/s).  Temporal reads,
    # which may aggregate for seconds, stay in the thread pool.
    @r.get("/entities/{entity_id:path}", summary="Retrieve an entity",
           openapi_extra={"parameters": FORMAT_PARAMS})
    async def retrieve(entity_id: str, request: Request):
        opts = _options(request)
        fmt = _format(request, opts)
        pick, omit = _projection(request)
        e = published(store.entity(entity_id), entity_id)
        return respond(request, render.entity(e, fmt=fmt, sys_attrs="sysAttrs" in opts, attrs=pick, omit=omit))

    def select(request: Request, max_limit: int):
        """The entities a query names (type, id, idPattern, attrs, q; limit, offset) and their total."""
        qp = request.query_params
        unsupported = [p for p in ("geoQ", "scopeQ", "csf") if p in qp]
        if unsupported:
            raise NgsiError("OperationNotSupported",
                            f"{unsupported[0]}: not supported yet by this CityLink version (type, id, idPattern, q, "
                            f"georel, attrs, pick, omit, limit, offset, count and options are)", 501)
        try:
            geo = geoquery.parse(qp.get("georel"), qp.get("geometry"), qp.get("coordinates"),
                                 qp.get("geoproperty") if qp.get("georel") else None)
        except geoquery.GeoError as e:
            raise NgsiError("BadRequestData", str(e)) from None
        types = short_types(qp["type"]) if qp.get("type") else None
        ids = [i.strip() for i in qp["id"].split(",")] if qp.get("id") else None
        q, id_pattern, having = _q(request), _id_pattern(request), _names(request, "attrs")
        if not (types or ids or id_pattern or having or q is not None or geo is not None):
            raise NgsiError("BadRequestData", "type: give at least one of type, id, idPattern, attrs, q or georel")
        limit = _int(request, "limit", 20, 0, max_limit)
        offset = _int(request, "offset", 0, 0)
        try:
            return store.entities(types=types, ids=ids, limit=limit, offset=offset,
                                  exclude_sources=unpublished(platform), q=q, id_pattern=id_pattern, having=having,
                                  geo=geo, count=qp.get("count") == "true")
        except qlang.QueryError as e:
            raise NgsiError("BadRequestData", f"q: {e}") from None

    def counted(request: Request, total: int) -> dict:
        return {"NGSILD-Results-Count": str(total)} if request.query_params.get("count") == "true" else {}

    @r.get("/entities", summary="Query entities",
           openapi_extra={"parameters": QUERY_PARAMS + [p for p in FORMAT_PARAMS if p["name"] != "attrs"]})
    async def query(request: Request):
        opts = _options(request)
        fmt = _format(request, opts)
        pick, omit = _projection(request)
        ents, total = select(request, MAX_LIMIT)
        body = [render.entity(e, fmt=fmt, sys_attrs="sysAttrs" in opts, attrs=pick, omit=omit) for e in ents]
        return respond(request, body, headers=counted(request, total))

    def temporal_bodies(request: Request, ents) -> list[dict]:
        """The temporal representation of these entities: instances, simplified, or aggregated."""
        opts = _options(request)
        qp = request.query_params
        start, end = _timerel(request)
        tp = qp.get("timeproperty", "observedAt")
        if tp != "observedAt":
            raise NgsiError("OperationNotSupported", f"timeproperty: only observedAt is supported, not {tp!r}", 501)
        attrs = _attrs(request)
        if "aggregatedValues" in opts:
            methods, period = _aggregation(request)
            origin = start if start is not None else 0
            span = period or ((end if end is not None else platform.clock.now_us() + 1) - origin)
            try:
                rows = store.aggregate([e.id for e in ents], attrs=attrs, start=start, end=end, period=max(span, 1),
                                       origin=origin)
            except TooManyPeriods as e:
                raise NgsiError("BadRequestData", f"aggrPeriodDuration: {e} in this time range; narrow timeAt.."
                                                  "endTimeAt or lengthen the period") from None
            by_entity: dict[str, list] = {}
            for row in rows:
                by_entity.setdefault(row.entity_id, []).append(row)
            return [render.aggregated_entity(e, by_entity.get(e.id, []), methods, max(span, 1), end) for e in ents]
        last_n = _int(request, "lastN", None, 1, 100_000)
        out = []
        for e in ents:
            t = store.temporal(e.id, attrs=attrs, start=start, end=end, last_n=last_n)
            if t is not None:
                out.append(render.temporal_entity(t, temporal_values="temporalValues" in opts))
        return out

    @r.get("/temporal/entities/{entity_id:path}", summary="Retrieve a temporal entity",
           openapi_extra={"parameters": TEMPORAL_PARAMS})
    def temporal(entity_id: str, request: Request):
        e = published(store.entity(entity_id), entity_id)
        return respond(request, temporal_bodies(request, [e])[0])

    @r.get("/temporal/entities", summary="Query temporal entities",
           openapi_extra={"parameters": TEMPORAL_PARAMS + [p for p in QUERY_PARAMS if p["name"] != "attrs"]})
    def temporal_query(request: Request):
        if not request.query_params.get("timerel"):
            raise NgsiError("BadRequestData", "timerel: required for a temporal query (before, after or between)")
        ents, total = select(request, MAX_TEMPORAL_LIMIT)
        return respond(request, temporal_bodies(request, ents), headers=counted(request, total))

    @r.get("/jsonldContexts/citylink", summary="CityLink's @context")
    def citylink_context():
        return JSONResponse(context.document(platform.specs), media_type="application/ld+json")

    return r
