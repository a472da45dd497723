"""What the city's context holds: entity types and attributes (ETSI GS CIM 009, 5.7.5–5.7.10), and the
@contexts this CityLink serves — all from the store's current state, published sources only."""
from __future__ import annotations

import hashlib

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from . import context, ldcontext
from .auth import scoped_router
from .ldcontext import TermMap
from .ngsi_ld import renamer, request_terms, respond, view_of
from .problems import NgsiError


def _list_id(kind: str, names: list[str]) -> str:
    return f"urn:ngsi-ld:{kind}:" + hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


def router(platform) -> APIRouter:
    r = scoped_router("public", prefix="/ngsi-ld/v1", tags=["NGSI-LD discovery"])
    store = platform.store

    def type_iris() -> dict[str, str]:
        return {et.name: et.iri for svc in platform.specs.services.values() for et in svc.entity_types.values()}

    def catalogue(request: Request) -> tuple[dict[str, int], list[tuple]]:
        """The store's catalogue as the request's reader may see it: the types and attributes visible."""
        view = view_of(request)
        counts, rows = store.catalogue(platform.specs.unpublished, view.scope())
        merged: dict[tuple, int] = {}   # (type, name, iri, kind) → entities, over the services where it is visible
        for service, etype, name, iri, kind, n in rows:
            if view.visible_in(service, etype, iri):
                merged[(etype, name, iri, kind)] = merged.get((etype, name, iri, kind), 0) + n
        return counts, [(*k, n) for k, n in merged.items()]

    def details(request: Request) -> bool:
        raw = request.query_params.get("details", "false")
        if raw not in ("true", "false"):
            raise NgsiError("BadRequestData", f"details: {raw!r} is not true or false")
        return raw == "true"

    def named(request: Request, terms: TermMap, attrs: list[tuple]) -> tuple[list[tuple], object]:
        """Catalogue rows (type, name, iri, kind, count) with type and name as the request's context names
        them; and the renamer (None: CityLink's names, as stored)."""
        names = renamer(request, terms)
        if names is None:
            return attrs, None
        return [(names.type(t), names.attr(iri, t), iri, kind, n) for t, _, iri, kind, n in attrs], names

    @r.get("/types", summary="Available entity types")
    def types(request: Request, terms: TermMap = Depends(request_terms)):
        counts, attrs = catalogue(request)
        attrs, names = named(request, terms, attrs)
        stored = sorted(counts)
        shown = {t: names.type(t) if names else t for t in stored}
        if not details(request):
            return respond(request, {"id": _list_id("EntityTypeList", stored), "type": "EntityTypeList",
                                     "typeList": sorted(shown.values())}, terms=terms)
        iris = type_iris()
        return respond(request, [{"id": iris.get(t, t), "type": "EntityType", "typeName": shown[t],
                                  "attributeNames": sorted({a[1] for a in attrs if a[0] == shown[t]})}
                                 for t in stored], terms=terms)

    @r.get("/types/{type_name:path}", summary="Details of an entity type")
    def type_info(type_name: str, request: Request, terms: TermMap = Depends(request_terms)):
        short = ldcontext.stored_name(terms.expand(type_name), ldcontext.of(request))
        counts, attrs = catalogue(request)
        if short not in counts:
            raise NgsiError("ResourceNotFound", f"type {type_name} has no entities")
        names = renamer(request, terms)
        mine = [a for a in attrs if a[0] == short]
        return respond(request, {
            "id": type_iris().get(short, short), "type": "EntityTypeInfo",
            "typeName": names.type(short) if names else short, "entityCount": counts[short],
            "attributeDetails": [{"id": iri, "type": "Attribute",
                                  "attributeName": names.attr(iri, short) if names else name,
                                  "attributeTypes": [kind]} for _, name, iri, kind, _ in mine]}, terms=terms)

    def attribute_docs(attrs: list[tuple]) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for etype, name, iri, kind, n in attrs:
            d = out.setdefault(iri, {"id": iri, "type": "Attribute", "attributeName": name, "attributeCount": 0,
                                     "attributeTypes": [], "typeNames": []})
            d["attributeCount"] += n
            if kind not in d["attributeTypes"]:
                d["attributeTypes"].append(kind)
            if etype not in d["typeNames"]:
                d["typeNames"].append(etype)
        return out

    @r.get("/attributes", summary="Available attributes")
    def attributes(request: Request, terms: TermMap = Depends(request_terms)):
        _, attrs = catalogue(request)
        docs = attribute_docs(named(request, terms, attrs)[0])
        if not details(request):
            names = sorted({d["attributeName"] for d in docs.values()})
            return respond(request, {"id": _list_id("AttributeList", names), "type": "AttributeList",
                                     "attributeList": names}, terms=terms)
        return respond(request, sorted(docs.values(), key=lambda d: (d["attributeName"], d["id"])), terms=terms)

    @r.get("/attributes/{attr_name:path}", summary="Details of an attribute")
    def attribute_info(attr_name: str, request: Request, terms: TermMap = Depends(request_terms)):
        _, attrs = catalogue(request)
        iri = terms.expand(attr_name)
        hits = [d for d in attribute_docs(named(request, terms, attrs)[0]).values()
                if attr_name == d["attributeName"] or d["id"] in (attr_name, iri)]
        if not hits:
            raise NgsiError("ResourceNotFound", f"attribute {attr_name} is not in use")
        return respond(request, hits[0] if len(hits) == 1 else hits, terms=terms)

    @r.get("/jsonldContexts", summary="The @contexts this CityLink serves")
    def contexts(request: Request):
        return JSONResponse([str(request.base_url).rstrip("/") + context.CONTEXT_PATH])

    return r
