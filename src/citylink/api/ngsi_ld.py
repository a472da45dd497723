"""The read side of NGSI-LD (ETSI GS CIM 009) under ``/ngsi-ld/v1``: retrieve an entity; query entities
by type, id, idPattern, attrs, the query language ``q`` and geo-queries, projected with pick/omit, as
NGSI-LD or GeoJSON; retrieve and query temporal entities, as instances, simplified or aggregated
(``aggregatedValues`` per ISO 8601 period, computed in the database); ``/entityOperations/query``, the
entity query with its selection in the body."""
from __future__ import annotations

import re
from urllib.parse import urlencode

import orjson

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from ..access import View
from ..query import geo as geoquery
from ..query import qlang
from ..store.base import TooManyPeriods
from . import context, ldcontext, params, render
from .auth import scoped_router, viewer
from .bodies import json_body
from .ldcontext import Renamer, TermMap
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
    return params.time(name, request.query_params.get(name))


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


def _geojson(request: Request, terms: TermMap | None = None) -> str | None:
    """The geoproperty to put in GeoJSON's geometry when GeoJSON is asked for, else None (named as the
    output names it: by the request's context)."""
    if GEOJSON not in request.headers.get("accept", ""):
        return None
    prop = request.query_params.get("geoproperty", "location")
    if not re.fullmatch(r"[A-Za-z_][\w:/#.-]{0,200}", prop):
        raise NgsiError("BadRequestData", f"geoproperty: {prop!r} is not an attribute name")
    return prop if terms is None else terms.compact(terms.expand(prop))


async def request_terms(request: Request) -> TermMap:
    """The request's @context (its Link header, else CityLink's), resolved: a dependency, so that the
    handlers run in the thread pool get it too."""
    return await ldcontext.of(request).for_request(request)


def renamer(request: Request, terms: TermMap) -> Renamer | None:
    """How to name stored types and attributes in the response: None keeps CityLink's names as stored
    (the default context: no work per attribute)."""
    default = ldcontext.of(request).default
    return None if terms is default else Renamer(terms, default)


def expanded(terms: TermMap, names: list[str] | None, types: list[str] | None = None) -> list[str] | None:
    """Attribute names of the request's context → IRIs, which the store and render match (besides
    CityLink's stored names); type-scoped terms count when the request names one type."""
    if names is None:
        return None
    etype = types[0] if types and len(types) == 1 else None
    out = []
    for n in names:
        iri = terms.expand(n, etype)
        out.append(iri)
        if iri == ldcontext.LOCATION:
            out.append("location")  # the registry's position is rendered under this name
    return out


def _context_url(request: Request, terms: TermMap | None) -> str | None:
    """The @context a response names: the request's (None: it was inline), else CityLink's."""
    if terms is not None and terms is not ldcontext.of(request).default:
        return terms.link
    return str(request.base_url).rstrip("/") + context.CONTEXT_PATH


class Document(Response):
    """A JSON body serialized by orjson (a third of the standard library's time on a page of entities)."""
    media_type = "application/json"

    def render(self, content) -> bytes:
        return orjson.dumps(content)


def respond(request: Request, body, status: int = 200, headers: dict | None = None,
            terms: TermMap | None = None) -> Response:
    """``terms``: the request's context (None: CityLink's), linked in the Link header, or put in the body
    for Accept: application/ld+json."""
    headers = dict(headers or {})
    accept = request.headers.get("accept", "application/json")
    geo = _geojson(request, terms)
    url = _context_url(request, terms)
    if geo is not None:
        body = render.feature_collection(body, geo) if isinstance(body, list) else render.feature(body, geo)
        if url:
            headers["Link"] = f"<{url}>; {context.LINK_REL}"
        media = GEOJSON
    elif "application/ld+json" in accept:
        ctx = url or terms.context
        if isinstance(body, list):
            body = [dict(b, **{"@context": ctx}) for b in body]
        else:
            body = dict(body, **{"@context": ctx})
        media = "application/ld+json"
    else:
        if url:
            headers["Link"] = f"<{url}>; {context.LINK_REL}"
        media = "application/json"
    return Document(body, status_code=status, headers=headers, media_type=media)


QUERY_BODY = {"requestBody": {"required": True, "content": {m: {"schema": {
    "type": "object", "required": ["type"], "properties": {
        "type": {"type": "string", "enum": ["Query"]},
        "entities": {"type": "array", "items": {"type": "object", "properties": {
            "type": {"type": "string"}, "id": {"type": "string"}, "idPattern": {"type": "string"}}}},
        "attrs": {"type": "array", "items": {"type": "string"}}, "q": {"type": "string"},
        "geoQ": {"type": "object", "properties": {
            "georel": {"type": "string"}, "geometry": {"type": "string"}, "coordinates": {},
            "geoproperty": {"type": "string"}}}}}} for m in ("application/json", "application/ld+json")}}}


def query_params(body) -> list[tuple[str, str]]:
    """An NGSI-LD Query (the body of /entityOperations/query) → the parameters of GET /entities."""
    if not isinstance(body, dict) or body.get("type") != "Query":
        raise NgsiError("BadRequestData", "type: the body must be an NGSI-LD Query ({\"type\": \"Query\", …})")
    out: list[tuple[str, str]] = []
    for member in ("temporalQ", "scopeQ", "csf", "lang"):
        if member in body:
            raise NgsiError("OperationNotSupported", f"{member}: not supported yet by this CityLink version")
    sel = body.get("entities") or []
    if not isinstance(sel, list) or not all(isinstance(x, dict) for x in sel):
        raise NgsiError("BadRequestData", "entities: a list of {type, id, idPattern} objects")
    for key in ("type", "id", "idPattern"):
        values = [x[key] for x in sel if key in x]
        if not all(isinstance(v, str) and v for v in values):
            raise NgsiError("BadRequestData", f"entities[].{key}: texts")
        if key == "idPattern" and len(set(values)) > 1:
            raise NgsiError("OperationNotSupported", "entities[].idPattern: one pattern per query")
        if values and len(values) < len(sel):
            # GET /entities has no way to say "this id, or any entity of that type": refuse, not widen
            raise NgsiError("OperationNotSupported", f"entities[].{key}: give it in every selector or none")
        if values:
            out.append((key, ",".join(dict.fromkeys(values))))
    attrs = body.get("attrs")
    if attrs is not None:
        if not isinstance(attrs, list) or not attrs or not all(isinstance(a, str) and a for a in attrs):
            raise NgsiError("BadRequestData", "attrs: a non-empty list of attribute names")
        out.append(("attrs", ",".join(attrs)))
    if "q" in body:
        if not isinstance(body["q"], str):
            raise NgsiError("BadRequestData", "q: a text in the NGSI-LD query language")
        out.append(("q", body["q"]))
    geo = body.get("geoQ")
    if geo is not None:
        if not isinstance(geo, dict):
            raise NgsiError("BadRequestData", "geoQ: an object with georel, geometry and coordinates")
        for key in ("georel", "geometry", "coordinates", "geoproperty"):
            v = geo.get(key)
            if v is not None:
                out.append((key, v if isinstance(v, str) else orjson.dumps(v).decode()))
    return out


def view_of(request: Request) -> View:
    """What the request's reader may see (:mod:`citylink.access`); a key that is not valid is a 401."""
    return request.app.state.platform.visibility.view(viewer(request))


def router(platform) -> APIRouter:
    r = scoped_router("public", prefix="/ngsi-ld/v1", tags=["NGSI-LD"])
    store = platform.store

    def published(e, entity_id: str, view: View):
        """The entity as this reader may see it; 404 alike when it does not exist, is unpublished or is
        hidden from the reader (a 403 would tell that it exists)."""
        if e is None or e.source in platform.specs.unpublished or not view.entity_visible(e):
            raise NgsiError("ResourceNotFound", f"entity {entity_id} does not exist")
        return view.shown(e)

    def stored_types(request: Request, terms: TermMap, given: list[str]) -> list[str]:
        """Type names of the request's context → the names types are stored under (CityLink's terms)."""
        contexts = ldcontext.of(request)
        return [ldcontext.stored_name(terms.expand(t), contexts) for t in given]

    def projection(request: Request, terms: TermMap):
        """pick/omit as names render matches: CityLink's as given, another context's expanded."""
        pick, omit = _projection(request)
        if terms is ldcontext.of(request).default:
            return pick, omit
        types = _names(request, "type")
        return (set(expanded(terms, list(pick), types)) if pick else None,
                set(expanded(terms, list(omit), types)) if omit else None)

    # Entity reads are awaited on the event loop (Store.aentity, aentities): from SQLite they answer at once,
    # faster than a hop to the thread pool; from PostgreSQL the loop serves other requests meanwhile.
    # Temporal reads, which may aggregate for seconds, run in the thread pool.
    @r.get("/entities/{entity_id:path}", summary="Retrieve an entity",
           openapi_extra={"parameters": FORMAT_PARAMS})
    async def retrieve(entity_id: str, request: Request):
        terms = await request_terms(request)   # awaited here, not a Depends: 10% of a retrieval's cost
        opts = _options(request)
        fmt = _format(request, opts)
        pick, omit = projection(request, terms)
        e = published(await store.aentity(entity_id), entity_id, view_of(request))
        return respond(request, render.entity(e, fmt=fmt, sys_attrs="sysAttrs" in opts, attrs=pick, omit=omit,
                                              names=renamer(request, terms)), terms=terms)

    async def select(request: Request, max_limit: int, terms: TermMap, view: View):
        """The entities a query names (type, id, idPattern, attrs, q; limit, offset) and their total; the
        names in type, attrs, q and geoproperty are the request's context's."""
        qp = request.query_params
        unsupported = [p for p in ("geoQ", "scopeQ", "csf") if p in qp]
        if unsupported:
            raise NgsiError("OperationNotSupported",
                            f"{unsupported[0]}: not supported yet by this CityLink version (type, id, idPattern, q, "
                            f"georel, attrs, pick, omit, limit, offset, count and options are)")
        geoprop = qp.get("geoproperty") if qp.get("georel") else None
        if geoprop and terms.expand(geoprop) == ldcontext.LOCATION:
            geoprop = "location"
        try:
            geo = geoquery.parse(qp.get("georel"), qp.get("geometry"), qp.get("coordinates"), geoprop)
        except geoquery.GeoError as e:
            raise NgsiError("BadRequestData", str(e)) from None
        given = _names(request, "type")
        types = stored_types(request, terms, given) if given else None
        ids = [i.strip() for i in qp["id"].split(",")] if qp.get("id") else None
        q, id_pattern, having = _q(request), _id_pattern(request), _names(request, "attrs")
        if terms is not ldcontext.of(request).default:
            having = expanded(terms, having, given)
            if q is not None:
                q = qlang.rename(q, lambda name: expanded(terms, [name], given)[0])
        if not (types or ids or id_pattern or having or q is not None or geo is not None):
            raise NgsiError("BadRequestData", "type: give at least one of type, id, idPattern, attrs, q or georel")
        limit = _int(request, "limit", 20, 0, max_limit)
        offset = _int(request, "offset", 0, 0)
        # what the reader may not see is not looked at: only entities whose every filtered attribute (and
        # location, for a geo-query) the reader may see are
        filtered = (qlang.attributes(q) if q is not None else set()) | set(having or ())
        try:
            ents, total = await store.aentities(
                types=types, ids=ids, limit=limit, offset=offset, exclude_sources=platform.specs.unpublished, q=q,
                id_pattern=id_pattern, having=having, geo=geo, count=qp.get("count") == "true",
                scope=view.scope(geo=geo is not None, names=filtered, types=set(types) if types else None))
        except qlang.QueryError as e:
            raise NgsiError("BadRequestData", f"q: {e}") from None
        return [view.shown(e) for e in ents], total

    def counted(request: Request, total: int) -> dict:
        return {"NGSILD-Results-Count": str(total)} if request.query_params.get("count") == "true" else {}

    @r.get("/entities", summary="Query entities",
           openapi_extra={"parameters": QUERY_PARAMS + [p for p in FORMAT_PARAMS if p["name"] != "attrs"]})
    async def query(request: Request):
        return await page(request, await request_terms(request))

    async def page(request: Request, terms: TermMap) -> Response:
        opts = _options(request)
        fmt = _format(request, opts)
        pick, omit = projection(request, terms)
        ents, total = await select(request, MAX_LIMIT, terms, view_of(request))
        names = renamer(request, terms)
        body = [render.entity(e, fmt=fmt, sys_attrs="sysAttrs" in opts, attrs=pick, omit=omit, names=names)
                for e in ents]
        return respond(request, body, headers=counted(request, total), terms=terms)

    @r.post("/entityOperations/query", summary="Query entities (a Query in the body)",
            openapi_extra={"parameters": [p for p in QUERY_PARAMS if p["name"] in ("limit", "offset", "count")]
                           + [p for p in FORMAT_PARAMS if p["name"] != "attrs"], **QUERY_BODY})
    @r.post("/entityOperations/query/", include_in_schema=False)
    async def query_post(request: Request):
        """The same query as GET /entities, its selection given as an NGSI-LD Query in the body: the body
        becomes the query's parameters (type, id, idPattern, attrs, q, georel, geometry, coordinates,
        geoproperty), so both answer alike, errors included."""
        body = await json_body(request, platform.settings.max_body_bytes)
        terms = await ldcontext.of(request).for_request(request, body if isinstance(body, dict) else None)
        params = [(k, v) for k, v in request.query_params.multi_items() if k in ("limit", "offset", "count",
                                                                                  "options", "format", "pick", "omit")]
        scope = dict(request.scope, query_string=urlencode(params + query_params(body)).encode())
        return await page(Request(scope, request.receive), terms)

    def temporal_bodies(request: Request, ents, terms: TermMap, view: View) -> list[dict]:
        """The temporal representation of these entities (visible to ``view``): instances, simplified, or
        aggregated, of the attributes the reader may see."""
        opts = _options(request)
        qp = request.query_params
        start, end = _timerel(request)
        tp = qp.get("timeproperty", "observedAt")
        if tp != "observedAt":
            raise NgsiError("OperationNotSupported", f"timeproperty: only observedAt is supported, not {tp!r}")
        attrs = _attrs(request)
        if terms is not ldcontext.of(request).default:
            attrs = expanded(terms, attrs, _names(request, "type"))
        names = renamer(request, terms)
        if "aggregatedValues" in opts:
            methods, period = _aggregation(request)
            origin = start if start is not None else 0
            span = period or ((end if end is not None else platform.clock.now_us() + 1) - origin)
            try:
                series = store.aggregate([e.id for e in ents], attrs=attrs, start=start, end=end,
                                         period=max(span, 1), origin=origin,
                                         methods={render.AGGR_FIELDS[m] for m in methods})
            except TooManyPeriods as e:
                raise NgsiError("BadRequestData", f"aggrPeriodDuration: {e} in this time range; narrow timeAt.."
                                                  "endTimeAt or lengthen the period") from None
            by_entity: dict[str, list] = {}
            for s in series:
                by_entity.setdefault(s.entity_id, []).append(s)
            if not view.unrestricted:
                for e in ents:
                    by_entity[e.id] = [s for s in by_entity.get(e.id, []) if view.attribute_visible(e, s.iri)]
            bounds = render.period_bounds(max(span, 1), end)
            return [render.aggregated_entity(e, by_entity.get(e.id, []), methods, bounds, names=names)
                    for e in ents]
        last_n = _int(request, "lastN", None, 1, 100_000)
        out = []
        for e in ents:
            t = store.temporal(e.id, attrs=attrs, start=start, end=end, last_n=last_n)
            if t is not None:
                out.append(render.temporal_entity(view.shown(t), temporal_values="temporalValues" in opts,
                                                  names=names))
        return out

    @r.get("/temporal/entities/{entity_id:path}", summary="Retrieve a temporal entity",
           openapi_extra={"parameters": TEMPORAL_PARAMS})
    def temporal(entity_id: str, request: Request, terms: TermMap = Depends(request_terms)):
        view = view_of(request)
        e = published(store.entity(entity_id), entity_id, view)
        return respond(request, temporal_bodies(request, [e], terms, view)[0], terms=terms)

    @r.get("/temporal/entities", summary="Query temporal entities",
           openapi_extra={"parameters": TEMPORAL_PARAMS + [p for p in QUERY_PARAMS if p["name"] != "attrs"]})
    async def temporal_query(request: Request, terms: TermMap = Depends(request_terms)):
        if not request.query_params.get("timerel"):
            raise NgsiError("BadRequestData", "timerel: required for a temporal query (before, after or between)")
        view = view_of(request)
        ents, total = await select(request, MAX_TEMPORAL_LIMIT, terms, view)
        bodies = await run_in_threadpool(temporal_bodies, request, ents, terms, view)
        return respond(request, bodies, headers=counted(request, total), terms=terms)

    @r.get("/jsonldContexts/citylink", summary="CityLink's @context")
    def citylink_context():
        return JSONResponse(context.document(platform.specs), media_type="application/ld+json")

    @r.get("/jsonldContexts/core", summary="The NGSI-LD core @context (a bundled copy of ETSI's)")
    def core_context(request: Request):
        return JSONResponse(ldcontext.of(request).core_document(), media_type="application/ld+json")

    return r
