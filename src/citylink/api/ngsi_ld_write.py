"""The write side of NGSI-LD (ETSI GS CIM 009) under ``/ngsi-ld/v1``: entities (create, replace,
merge-patch, delete), attributes (append, update, partial update, replace, delete) and the batch
operations (``/entityOperations/create|upsert|update|delete``, 207 multi-status).

Nothing here writes to the store.  Each handler checks the request against the entity as it stands,
expands its terms with the request's ``@context``, and turns it into a *resolved write*
(:mod:`citylink.normalize.api_writes`): one raw message of the built-in source ``ngsi-ld-api`` per
entity.  The platform archives it and the normalizer applies it like any vendor's message, so an API
write is in the archive, the ledger, the temporal API and every subscription's view, and can be
replayed.  The handler answers once the store has committed it.

Writes hold one lock from the check to the commit, so two requests cannot both create one entity.
They are not the hot path (vendors' feeds are); reads take no lock.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ..clock import to_us
from ..normalize import api_writes
from ..normalize.compiler import LOCATION_IRI
from ..normalize.records import QUARANTINED
from ..store.base import EntityRow
from . import ldcontext
from .auth import scoped_router
from .bodies import json_body
from .problems import ERRORS, NgsiError

COMMIT_TIMEOUT_S = 10.0
MAX_BATCH = 1000
NULL = "urn:ngsi-ld:null"
SYSTEM_MEMBERS = {"createdAt", "modifiedAt", "instanceId", "deletedAt"}   # system-generated: ignored on input
GEO_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}


# Request bodies, documented for OpenAPI (/docs and schemathesis); the handlers check them themselves,
# so that a mistake is answered in the NGSI-LD problem form naming the member.
ATTRIBUTE_SCHEMA = {"type": "object", "properties": {
    "type": {"type": "string", "enum": list(api_writes.KINDS)}, "value": {}, "object": {"type": "string"},
    "languageMap": {"type": "object"}, "observedAt": {"type": "string", "format": "date-time"},
    "unitCode": {"type": "string"}, "datasetId": {"type": "string"}}}
ENTITY_SCHEMA = {"type": "object", "required": ["id", "type"],
                 "properties": {"id": {"type": "string"}, "type": {"type": "string"}},
                 "additionalProperties": ATTRIBUTE_SCHEMA}
FRAGMENT_SCHEMA = {"type": "object", "properties": {"id": {"type": "string"}, "type": {"type": "string"}},
                   "additionalProperties": ATTRIBUTE_SCHEMA}


def _doc(schema: dict) -> dict:
    media = {"schema": schema}
    return {"requestBody": {"required": True, "content": {"application/json": media, "application/ld+json": media}}}


ENTITY_BODY, FRAGMENT_BODY, ATTRIBUTE_BODY = _doc(ENTITY_SCHEMA), _doc(FRAGMENT_SCHEMA), _doc(ATTRIBUTE_SCHEMA)
BATCH_BODY = _doc({"type": "array", "items": ENTITY_SCHEMA, "maxItems": MAX_BATCH})
IDS_BODY = _doc({"type": "array", "items": {"type": "string"}, "maxItems": MAX_BATCH})
OPTIONS = [{"name": "options", "in": "query", "required": False, "schema": {"type": "string"},
            "description": "noOverwrite (append, batch update); replace or update (batch upsert)"}]


@dataclass
class Write:
    """One entity's resolved write, before it is encoded as a raw message."""
    entity: dict
    attrs: list[dict] = field(default_factory=list)
    delete: list[dict] = field(default_factory=list)
    delete_entity: bool = False

    def encode(self, method: str, path: str) -> bytes:
        return api_writes.encode(self.entity, self.attrs, delete=self.delete, delete_entity=self.delete_entity,
                                 method=method, path=path)


class Failure(Exception):
    """One entity of a batch that cannot be written; the others go on (207)."""

    def __init__(self, kind: str, detail: str):
        self.kind, self.detail = kind, detail
        super().__init__(detail)

    def as_dict(self, entity_id: str | None) -> dict:
        return {"entityId": entity_id, "error": {"type": ERRORS + self.kind, "title": self.kind, "detail": self.detail}}


class Writer:
    """Resolves NGSI-LD write requests against the store and commits them through the platform."""

    def __init__(self, platform, contexts: "ldcontext.Contexts"):
        self.platform = platform
        self.store = platform.store
        self.contexts = contexts
        self.lock = threading.Lock()
        self._cat: dict[str, tuple] = {}
        self._cat_for = None

    # -- committing ---------------------------------------------------------------------------
    def commit(self, writes: list[Write], method: str, path: str) -> None:
        if not writes:
            return
        p = self.platform
        msgs = p.make_messages(api_writes.API_SOURCE, [(w.encode(method, path), {}) for w in writes],
                               api_writes.TRANSPORT)
        ids = p.submit(msgs)
        got = p.wait(ids, COMMIT_TIMEOUT_S)
        if len(got) < len(ids):
            raise NgsiError("InternalError", f"the write is archived (raw ids {ids[0]}…) but was not applied within "
                                             f"{COMMIT_TIMEOUT_S:.0f} s; it will be, or it stays pending for replay",
                            503)
        bad = [i for i in ids if got[i] == QUARANTINED]
        if bad:
            probs = self.store.outcomes(bad)[bad[0]][1] or [{}]
            raise NgsiError("BadRequestData", f"{probs[0].get('field')}: {probs[0].get('detail')} "
                                              f"(quarantined as raw message {bad[0]})")

    def now(self) -> int:
        """The time that stands in for an observedAt the request does not give (to the millisecond, as
        NGSI-LD times are rendered)."""
        return self.platform.clock.now_us() // 1000 * 1000

    # -- the entity as it stands --------------------------------------------------------------
    def current(self, entity_id: str) -> EntityRow | None:
        return self.store.entity(entity_id)

    def existing(self, entity_id: str) -> EntityRow:
        e = self.current(entity_id)
        if e is None:
            raise NgsiError("ResourceNotFound", f"entity {entity_id} does not exist")
        return e

    def entity_ref(self, entity_id: str, stored_type: str, current: EntityRow | None) -> dict:
        """The entity part of a write: an existing entity keeps its type, service and department."""
        if current is not None:
            if stored_type and stored_type != current.type:
                raise Failure("BadRequestData", f"type: entity {entity_id} is a {current.type}, not a {stored_type}")
            return {"id": entity_id, "type": current.type, "service": current.service,
                    "department": current.department}
        services = sorted(sid for sid, svc in self.platform.specs.services.items() if stored_type in svc.entity_types)
        if len(services) == 1:
            svc = self.platform.specs.services[services[0]]
            return {"id": entity_id, "type": stored_type, "service": svc.id, "department": svc.department}
        # a type no spec declares (or one that two services share): the API's own entities
        return {"id": entity_id, "type": stored_type, "service": api_writes.API_SOURCE, "department": "platform"}

    # -- reading a request's entity -------------------------------------------------------------
    def parse_entity(self, body: Any, terms, *, need_type: bool = True, entity_id: str | None = None
                     ) -> tuple[str, str, list[dict], list[str]]:
        """An NGSI-LD entity document → (id, stored type or "", attribute instances, attribute IRIs set
        to null).  Raises Failure naming the member at fault."""
        if not isinstance(body, dict):
            raise Failure("BadRequestData", "body: an entity must be a JSON object")
        eid = body.get("id", entity_id)
        if entity_id is not None and eid != entity_id:
            raise Failure("BadRequestData", f"id: {eid!r} differs from the entity in the URL, {entity_id}")
        check_uri("id", eid)
        etype = body.get("type")
        if etype is None:
            if need_type:
                raise Failure("BadRequestData", "type: an entity needs a type")
            stored_type = ""
        else:
            if isinstance(etype, list) and len(etype) == 1:
                etype = etype[0]
            if not isinstance(etype, str) or not etype:
                raise Failure("BadRequestData", "type: give one entity type as a text (multi-typing is not supported)")
            stored_type = self.contexts.default.compact(terms.expand(etype))
        now = self.now()
        attrs, nulls = [], []
        for name, raw in body.items():
            if name in ("id", "type", "@context", "scope") or name in SYSTEM_MEMBERS:
                continue
            iri = terms.expand(name, type=etype if isinstance(etype, str) else None)
            if raw is None or raw == NULL:
                nulls.append(iri)
                continue
            attrs += self.parse_attribute(name, iri, raw, now)
        return eid, stored_type, attrs, nulls

    def parse_attribute(self, name: str, iri: str, raw: Any, now: int) -> list[dict]:
        """One attribute of a request (normalized or concise; a list for several datasetIds) → instances."""
        instances = raw if _instances(raw) else [raw]
        out, seen = [], set()
        for i, inst in enumerate(instances):
            where = name if len(instances) == 1 else f"{name}[{i}]"
            a = self.instance(where, name, iri, inst, now)
            if a["datasetId"] in seen:
                raise Failure("BadRequestData", f"{where}.datasetId: two instances with the same datasetId")
            seen.add(a["datasetId"])
            out.append(a)
        return out

    def instance(self, where: str, name: str, iri: str, inst: Any, now: int) -> dict:
        if not isinstance(inst, dict):
            inst = {"value": inst}   # concise: the value alone
        elif "type" not in inst and not ({"value", "object", "languageMap"} & inst.keys()):
            inst = {"value": inst}   # concise: a JSON object as the value (a GeoJSON geometry, say)
        geo = iri == LOCATION_IRI and _geometry(inst.get("value"))
        kind = inst.get("type") or ("Relationship" if "object" in inst else
                                    "LanguageProperty" if "languageMap" in inst else
                                    "GeoProperty" if geo else "Property")
        if kind not in api_writes.KINDS:
            raise Failure("BadRequestData", f"{where}.type: {kind!r} is not one of {', '.join(api_writes.KINDS)}")
        member = {"Relationship": "object", "LanguageProperty": "languageMap"}.get(kind, "value")
        if member not in inst or inst[member] is None:
            raise Failure("BadRequestData", f"{where}.{member}: a {kind} needs a {member}")
        value = inst[member]
        if kind == "GeoProperty" and not _geometry(value):
            raise Failure("BadRequestData", f"{where}.value: not a GeoJSON geometry with valid coordinates")
        if kind == "Relationship":
            for obj in value if isinstance(value, list) else [value]:
                check_uri(f"{where}.object", obj)
        if kind == "LanguageProperty" and not (isinstance(value, dict) and
                                               all(isinstance(v, (str, list)) for v in value.values())):
            raise Failure("BadRequestData", f"{where}.languageMap: an object of language tag → text")
        extra = set(inst) - {"type", member, "observedAt", "unitCode", "datasetId"} - SYSTEM_MEMBERS
        if extra:
            raise Failure("BadRequestData", f"{where}.{sorted(extra)[0]}: sub-properties are not kept by this "
                                            "CityLink version (value, object, languageMap, observedAt, unitCode and "
                                            "datasetId are)")
        observed = _time(f"{where}.observedAt", inst["observedAt"]) if "observedAt" in inst else now
        ds = inst.get("datasetId") or ""
        if ds:
            check_uri(f"{where}.datasetId", ds)
        unit = inst.get("unitCode")
        if unit is not None and not isinstance(unit, str):
            raise Failure("BadRequestData", f"{where}.unitCode: a UN/CEFACT code text")
        unit = self.check_catalogue(where, iri, kind, value, unit)
        return {"iri": iri, "name": self.contexts.default.compact(iri), "kind": kind, "value": value, "unit": unit,
                "datasetId": ds, "observedAt": observed}

    def check_catalogue(self, where: str, iri: str, kind: str, value: Any, unit: str | None) -> str | None:
        """An attribute a service spec declares keeps its kind, unit and value type; its unit (the
        spec's canonical one when the request gives none)."""
        known = self.catalogue().get(iri)
        if known is None:
            return unit
        name, k, vtype, canon = known
        if k != kind:
            raise Failure("BadRequestData", f"{where}.type: {name} is a {k} in this city's specs, not a {kind}")
        if unit is not None and canon and unit != canon:
            raise Failure("BadRequestData", f"{where}.unitCode: {name} is kept in {canon}, not {unit} "
                                            "(convert it, or leave unitCode out)")
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if vtype in ("Number", "Integer") and not numeric:
            raise Failure("BadRequestData", f"{where}.value: {name} is a number")
        if vtype == "Boolean" and not isinstance(value, bool):
            raise Failure("BadRequestData", f"{where}.value: {name} is true or false")
        if vtype == "Text" and not isinstance(value, str):
            raise Failure("BadRequestData", f"{where}.value: {name} is a text")
        return unit or canon

    def catalogue(self) -> dict[str, tuple]:
        norm = self.platform.normalizer
        if norm is not self._cat_for:
            self._cat, self._cat_for = norm.attr_catalog(), norm
        return self._cat

    # -- resolving operations -------------------------------------------------------------------
    def upsert_attrs(self, ref: dict, attrs: list[dict], current: EntityRow | None, *, overwrite: bool = True,
                     only_existing: bool = False) -> tuple[Write, list[str], list[dict]]:
        """Append or update attributes: (the write, names updated, names not updated with the reason)."""
        have = {(a.iri, a.dataset_id) for a in current.attrs} if current else set()
        have_iri = {a.iri for a in current.attrs} if current else set()
        if current is not None and current.lon is not None and LOCATION_IRI not in have_iri:
            have.add((LOCATION_IRI, ""))   # a position from the device registry
            have_iri.add(LOCATION_IRI)
        w, done, not_done = Write(ref), [], []
        for a in attrs:
            exists = (a["iri"], a["datasetId"]) in have
            if exists and not overwrite:
                not_done.append({"attributeName": a["name"],
                                 "reason": "the attribute exists and noOverwrite was asked"})
                continue
            if only_existing and not exists:
                not_done.append({"attributeName": a["name"], "reason": "the entity has no such attribute (instance)"})
                continue
            w.attrs.append(a)
            if exists:  # the last write wins, whatever its observedAt (the store keeps a vendor's newest)
                w.delete.append({"iri": a["iri"], "datasetId": a["datasetId"]})
            if a["name"] not in done:
                done.append(a["name"])
        return w, done, not_done

    def nulls(self, w: Write, iris: list[str], current: EntityRow | None) -> None:
        have = {a.iri for a in current.attrs} if current else set()
        for iri in iris:
            if iri in have or (iri == LOCATION_IRI and current is not None and current.lon is not None):
                w.delete.append({"iri": iri, "datasetId": None})

    def replace_all(self, w: Write, current: EntityRow) -> None:
        """Every attribute of ``current`` goes before the new ones are written."""
        w.delete += [{"iri": iri, "datasetId": None} for iri in sorted({a.iri for a in current.attrs})]
        if current.lon is not None and LOCATION_IRI not in {a.iri for a in current.attrs}:
            w.delete.append({"iri": LOCATION_IRI, "datasetId": None})


def _instances(raw: Any) -> bool:
    """A list of attribute instances (one per datasetId), not a Property whose value is a list?"""
    return isinstance(raw, list) and bool(raw) and all(
        isinstance(x, dict) and ({"type", "value", "object", "languageMap"} & x.keys()) for x in raw)


def check_uri(where: str, v: Any) -> None:
    """An IRI (RFC 3987): a scheme, a colon, no spaces, controls or characters IRIs exclude."""
    if not (isinstance(v, str) and _IRI.fullmatch(v) and len(v) <= 512):
        raise Failure("BadRequestData", f"{where}: {v!r} is not a URI")


_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\x00-\x20\x7f-\x9f<>\"{}|\\^`]+")


def location(entity_id: str) -> str:
    """The Location header of a created entity (percent-encoded: headers are Latin-1)."""
    return "/ngsi-ld/v1/entities/" + quote(entity_id, safe=":/#@!$&'()*+,;=~-._")


def _time(where: str, raw: Any) -> int:
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00")) if isinstance(raw, str) else None
    except ValueError:
        dt = None
    if dt is None or dt.tzinfo is None:
        raise Failure("BadRequestData", f"{where}: {raw!r} is not an ISO 8601 date-time with a time zone")
    return to_us(dt)


def _geometry(v: Any) -> bool:
    if not (isinstance(v, dict) and v.get("type") in GEO_TYPES and isinstance(v.get("coordinates"), list)):
        return False
    from shapely.geometry import shape
    try:
        return shape(v).is_valid
    except (ValueError, TypeError, AttributeError, IndexError, KeyError):
        return False


def _bad(f: Failure) -> NgsiError:
    return NgsiError(f.kind, f.detail)


def _entity_list(body: Any) -> list:
    if not isinstance(body, list):
        raise NgsiError("BadRequestData", "body: a batch operation takes a JSON array")
    if len(body) > MAX_BATCH:
        raise NgsiError("BadRequestData", f"body: at most {MAX_BATCH} entities per batch operation")
    return body


def router(platform, contexts: "ldcontext.Contexts") -> APIRouter:
    """The write routes.  The POSTs also answer with a trailing slash (``/entities/``), which clients such
    as ngsildclient send; without the alias the read route ``/entities/{id}`` would answer 405."""
    r = scoped_router("admin", prefix="/ngsi-ld/v1", tags=["NGSI-LD"])
    wr = Writer(platform, contexts)

    def run(request: Request, fn):
        """``fn()`` under the write lock, on a worker thread (it waits for the commit)."""
        def locked():
            with wr.lock:
                return fn()
        return run_in_threadpool(locked)

    async def terms(request: Request, body: Any):
        return await contexts.for_request(request, body if isinstance(body, (dict, list)) else None)

    # -- entities -----------------------------------------------------------------------------------
    @r.post("/entities/", include_in_schema=False)
    @r.post("/entities", summary="Create an entity", status_code=201, openapi_extra=ENTITY_BODY)
    async def create(request: Request):
        body = await json_body(request, platform.settings.max_body_bytes)
        t = await terms(request, body)

        def go():
            try:
                eid, stype, attrs, _ = wr.parse_entity(body, t)
                if wr.current(eid) is not None:
                    raise NgsiError("AlreadyExists", f"entity {eid} exists already")
                w, _, _ = wr.upsert_attrs(wr.entity_ref(eid, stype, None), attrs, None)
            except Failure as f:
                raise _bad(f) from None
            wr.commit([w], "POST", request.url.path)
            return eid
        eid = await run(request, go)
        return Response(status_code=201, headers={"Location": location(eid)})

    @r.put("/entities/{entity_id:path}/attrs/{attr}", summary="Replace an attribute", status_code=204,
           openapi_extra=ATTRIBUTE_BODY)
    async def replace_attr(entity_id: str, attr: str, request: Request):
        body = await json_body(request, platform.settings.max_body_bytes)
        t = await terms(request, body)

        def go():
            cur = wr.existing(entity_id)
            iri = t.expand(attr, type=None)
            try:
                new = wr.parse_attribute(attr, iri, body, wr.now())
            except Failure as f:
                raise _bad(f) from None
            if iri not in {a.iri for a in cur.attrs} and not (iri == LOCATION_IRI and cur.lon is not None):
                raise NgsiError("ResourceNotFound", f"entity {entity_id} has no attribute {attr}")
            w = Write(wr.entity_ref(entity_id, "", cur), attrs=new, delete=[{"iri": iri, "datasetId": None}])
            wr.commit([w], "PUT", request.url.path)
        await run(request, go)
        return Response(status_code=204)

    @r.patch("/entities/{entity_id:path}/attrs/{attr}", summary="Partially update an attribute", status_code=204,
             openapi_extra=ATTRIBUTE_BODY)
    async def partial_update(entity_id: str, attr: str, request: Request):
        body = await json_body(request, platform.settings.max_body_bytes)
        t = await terms(request, body)

        def go():
            cur = wr.existing(entity_id)
            iri = t.expand(attr, type=None)
            if not isinstance(body, dict):
                raise NgsiError("BadRequestData", "body: an attribute fragment must be a JSON object")
            ds = body.get("datasetId") or ""
            old = next((a for a in cur.attrs if a.iri == iri and a.dataset_id == ds), None)
            if old is None:
                raise NgsiError("ResourceNotFound", f"entity {entity_id} has no attribute {attr}"
                                                    + (f" with datasetId {ds}" if ds else ""))
            merged = {"type": old.kind}
            if old.unit:
                merged["unitCode"] = old.unit
            if ds:
                merged["datasetId"] = ds
            merged.update(body)
            try:
                new = wr.parse_attribute(attr, iri, merged, wr.now())
            except Failure as f:
                raise _bad(f) from None
            w = Write(wr.entity_ref(entity_id, "", cur), attrs=new, delete=[{"iri": iri, "datasetId": ds}])
            wr.commit([w], "PATCH", request.url.path)
        await run(request, go)
        return Response(status_code=204)

    @r.delete("/entities/{entity_id:path}/attrs/{attr}", summary="Delete an attribute", status_code=204,
              openapi_extra={"parameters": [
                  {"name": "datasetId", "in": "query", "required": False, "schema": {"type": "string"},
                   "description": "the instance to delete (default: the one without a datasetId)"},
                  {"name": "deleteAll", "in": "query", "required": False, "schema": {"type": "string"},
                   "description": "true: every instance"}]})
    async def delete_attr(entity_id: str, attr: str, request: Request):
        t = await terms(request, None)
        qp = request.query_params
        every = qp.get("deleteAll") == "true"
        ds = qp.get("datasetId")

        def go():
            cur = wr.existing(entity_id)
            iri = t.expand(attr, type=None)
            have = {(a.iri, a.dataset_id) for a in cur.attrs}
            if iri == LOCATION_IRI and cur.lon is not None:
                have.add((iri, ""))
            if every:
                found = any(i == iri for i, _ in have)
            else:
                found = (iri, ds or "") in have
            if not found:
                raise NgsiError("ResourceNotFound", f"entity {entity_id} has no attribute {attr}"
                                                    + (f" with datasetId {ds}" if ds else ""))
            gone = {"iri": iri, "datasetId": None if every else ds or ""}
            w = Write(wr.entity_ref(entity_id, "", cur), delete=[gone])
            wr.commit([w], "DELETE", request.url.path)
        await run(request, go)
        return Response(status_code=204)

    def attrs_write(request: Request, entity_id: str, body: Any, t, *, only_existing: bool):
        cur = wr.existing(entity_id)
        if not isinstance(body, dict):
            raise NgsiError("BadRequestData", "body: attributes must be a JSON object")
        try:
            _, stype, attrs, nulls = wr.parse_entity(body, t, need_type=False, entity_id=entity_id)
            ref = wr.entity_ref(entity_id, stype, cur)
        except Failure as f:
            raise _bad(f) from None
        overwrite = "noOverwrite" not in request.query_params.get("options", "")
        w, done, not_done = wr.upsert_attrs(ref, attrs, cur, overwrite=overwrite, only_existing=only_existing)
        wr.nulls(w, nulls, cur)
        wr.commit([w], request.method, request.url.path)
        if not_done:
            return JSONResponse({"updated": done, "notUpdated": not_done}, status_code=207)
        return Response(status_code=204)

    @r.post("/entities/{entity_id:path}/attrs", summary="Append attributes", status_code=204,
            openapi_extra={**FRAGMENT_BODY, "parameters": OPTIONS})
    async def append(entity_id: str, request: Request):
        body = await json_body(request, platform.settings.max_body_bytes)
        t = await terms(request, body)
        return await run(request, lambda: attrs_write(request, entity_id, body, t, only_existing=False))

    @r.patch("/entities/{entity_id:path}/attrs", summary="Update attributes", status_code=204,
             openapi_extra=FRAGMENT_BODY)
    async def update(entity_id: str, request: Request):
        body = await json_body(request, platform.settings.max_body_bytes)
        t = await terms(request, body)
        return await run(request, lambda: attrs_write(request, entity_id, body, t, only_existing=True))

    def entity_write(request: Request, entity_id: str, body: Any, t, *, replace: bool):
        """Replace (every attribute goes first) or merge-patch (null deletes) an existing entity."""
        cur = wr.existing(entity_id)
        try:
            _, stype, attrs, nulls = wr.parse_entity(body, t, need_type=False, entity_id=entity_id)
            w = wr.upsert_attrs(wr.entity_ref(entity_id, stype, cur), attrs, None if replace else cur)[0]
        except Failure as f:
            raise _bad(f) from None
        if replace:
            wr.replace_all(w, cur)
        else:
            wr.nulls(w, nulls, cur)
        wr.commit([w], request.method, request.url.path)
        return Response(status_code=204)

    @r.put("/entities/{entity_id:path}", summary="Replace an entity", status_code=204, openapi_extra=FRAGMENT_BODY)
    async def replace(entity_id: str, request: Request):
        body = await json_body(request, platform.settings.max_body_bytes)
        t = await terms(request, body)
        return await run(request, lambda: entity_write(request, entity_id, body, t, replace=True))

    @r.patch("/entities/{entity_id:path}", summary="Merge-patch an entity", status_code=204,
             openapi_extra=FRAGMENT_BODY)
    async def merge(entity_id: str, request: Request):
        body = await json_body(request, platform.settings.max_body_bytes)
        t = await terms(request, body)
        return await run(request, lambda: entity_write(request, entity_id, body, t, replace=False))

    @r.delete("/entities/{entity_id:path}", summary="Delete an entity", status_code=204)
    async def delete(entity_id: str, request: Request):
        def go():
            cur = wr.existing(entity_id)
            wr.commit([Write(wr.entity_ref(entity_id, "", cur), delete_entity=True)], "DELETE", request.url.path)
        await run(request, go)
        return Response(status_code=204)

    # -- batch operations ------------------------------------------------------------------------------
    def batch(request: Request, items: list, one) -> tuple[list[str], list[dict], list[Write]]:
        """Resolve every item with ``one(item) -> (id, Write)``; the failures are reported, not raised."""
        ok, errors, writes, seen = [], [], [], set()
        for i, item in enumerate(items):
            eid = item.get("id") if isinstance(item, dict) else item
            if not isinstance(eid, str):
                eid = None   # not an id: the item's own check says why
            try:
                if eid in seen:
                    raise Failure("BadRequestData", f"[{i}].id: {eid} appears twice in this batch")
                got_id, w = one(item)
            except Failure as f:
                errors.append(f.as_dict(eid))
                continue
            except NgsiError as e:
                errors.append(Failure(e.kind, e.detail).as_dict(eid))
                continue
            seen.add(got_id)
            ok.append(got_id)
            writes.append(w)
        wr.commit(writes, "POST", request.url.path)
        return ok, errors, writes

    def multi_status(ok: list[str], errors: list[dict], created: list[str] | None = None):
        if errors:
            return JSONResponse({"success": ok, "errors": errors}, status_code=207)
        if created:
            return JSONResponse(created, status_code=201)
        return Response(status_code=204)

    @r.post("/entityOperations/create/", include_in_schema=False)
    @r.post("/entityOperations/create", summary="Create entities (batch)", openapi_extra=BATCH_BODY)
    async def batch_create(request: Request):
        body = _entity_list(await json_body(request, platform.settings.max_body_bytes))
        t = await terms(request, body)

        def one(item):
            eid, stype, attrs, _ = wr.parse_entity(item, t)
            if wr.current(eid) is not None:
                raise Failure("AlreadyExists", f"entity {eid} exists already")
            return eid, wr.upsert_attrs(wr.entity_ref(eid, stype, None), attrs, None)[0]

        def go():
            ok, errors, _ = batch(request, body, one)
            return multi_status(ok, errors, ok) if ok or errors else Response(status_code=204)
        return await run(request, go)

    @r.post("/entityOperations/upsert/", include_in_schema=False)
    @r.post("/entityOperations/upsert", summary="Create or update entities (batch)",
            openapi_extra={**BATCH_BODY, "parameters": OPTIONS})
    async def batch_upsert(request: Request):
        body = _entity_list(await json_body(request, platform.settings.max_body_bytes))
        t = await terms(request, body)
        mode = request.query_params.get("options", "replace")
        if mode not in ("replace", "update"):
            raise NgsiError("BadRequestData", f"options: {mode!r} is not replace or update")
        created: list[str] = []

        def one(item):
            eid, stype, attrs, nulls = wr.parse_entity(item, t)
            cur = wr.current(eid)
            w = wr.upsert_attrs(wr.entity_ref(eid, stype, cur), attrs, None if mode == "replace" else cur)[0]
            if cur is None:
                created.append(eid)
            elif mode == "replace":
                wr.replace_all(w, cur)
            else:
                wr.nulls(w, nulls, cur)
            return eid, w

        def go():
            ok, errors, _ = batch(request, body, one)
            return multi_status(ok, errors, created)
        return await run(request, go)

    @r.post("/entityOperations/update/", include_in_schema=False)
    @r.post("/entityOperations/update", summary="Update entities (batch)",
            openapi_extra={**BATCH_BODY, "parameters": OPTIONS})
    async def batch_update(request: Request):
        body = _entity_list(await json_body(request, platform.settings.max_body_bytes))
        t = await terms(request, body)
        overwrite = "noOverwrite" not in request.query_params.get("options", "")

        def one(item):
            eid, stype, attrs, nulls = wr.parse_entity(item, t, need_type=False)
            cur = wr.current(eid)
            if cur is None:
                raise Failure("ResourceNotFound", f"entity {eid} does not exist")
            w = wr.upsert_attrs(wr.entity_ref(eid, stype, cur), attrs, cur, overwrite=overwrite)[0]
            wr.nulls(w, nulls, cur)
            return eid, w

        def go():
            ok, errors, _ = batch(request, body, one)
            return multi_status(ok, errors)
        return await run(request, go)

    @r.post("/entityOperations/delete/", include_in_schema=False)
    @r.post("/entityOperations/delete", summary="Delete entities (batch)", openapi_extra=IDS_BODY)
    async def batch_delete(request: Request):
        body = _entity_list(await json_body(request, platform.settings.max_body_bytes))

        def one(item):
            check_uri("id", item)
            cur = wr.current(item)
            if cur is None:
                raise Failure("ResourceNotFound", f"entity {item} does not exist")
            return item, Write(wr.entity_ref(item, "", cur), delete_entity=True)

        def go():
            ok, errors, _ = batch(request, body, one)
            return multi_status(ok, errors)
        return await run(request, go)

    return r
