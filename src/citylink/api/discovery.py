"""What the city's context holds: entity types and attributes (ETSI GS CIM 009, 5.7.5–5.7.10), and the
@contexts this CityLink serves — all from the store's current state, published sources only."""
from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from . import context
from .auth import scope
from .ngsi_ld import respond, unpublished
from .problems import NgsiError


def _list_id(kind: str, names: list[str]) -> str:
    return f"urn:ngsi-ld:{kind}:" + hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


def router(platform) -> APIRouter:
    r = APIRouter(prefix="/ngsi-ld/v1", tags=["NGSI-LD discovery"], dependencies=[scope("public")])
    store = platform.store

    def type_iris() -> dict[str, str]:
        return {et.name: et.iri for svc in platform.specs.services.values() for et in svc.entity_types.values()}

    def details(request: Request) -> bool:
        raw = request.query_params.get("details", "false")
        if raw not in ("true", "false"):
            raise NgsiError("BadRequestData", f"details: {raw!r} is not true or false")
        return raw == "true"

    @r.get("/types", summary="Available entity types")
    def types(request: Request):
        counts, attrs = store.catalogue(unpublished(platform))
        names = sorted(counts)
        if not details(request):
            return respond(request, {"id": _list_id("EntityTypeList", names), "type": "EntityTypeList",
                                     "typeList": names})
        iris = type_iris()
        return respond(request, [{"id": iris.get(t, t), "type": "EntityType", "typeName": t,
                                  "attributeNames": sorted({a[1] for a in attrs if a[0] == t})} for t in names])

    @r.get("/types/{type_name:path}", summary="Details of an entity type")
    def type_info(type_name: str, request: Request):
        short = context.type_names(platform.specs).get(type_name, type_name)
        counts, attrs = store.catalogue(unpublished(platform))
        if short not in counts:
            raise NgsiError("ResourceNotFound", f"type {type_name} has no entities")
        mine = [a for a in attrs if a[0] == short]
        return respond(request, {
            "id": type_iris().get(short, short), "type": "EntityTypeInfo", "typeName": short,
            "entityCount": counts[short],
            "attributeDetails": [{"id": iri, "type": "Attribute", "attributeName": name, "attributeTypes": [kind]}
                                 for _, name, iri, kind, _ in mine]})

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
    def attributes(request: Request):
        _, attrs = store.catalogue(unpublished(platform))
        docs = attribute_docs(attrs)
        if not details(request):
            names = sorted({d["attributeName"] for d in docs.values()})
            return respond(request, {"id": _list_id("AttributeList", names), "type": "AttributeList",
                                     "attributeList": names})
        return respond(request, sorted(docs.values(), key=lambda d: (d["attributeName"], d["id"])))

    @r.get("/attributes/{attr_name:path}", summary="Details of an attribute")
    def attribute_info(attr_name: str, request: Request):
        _, attrs = store.catalogue(unpublished(platform))
        hits = [d for d in attribute_docs(attrs).values() if attr_name in (d["attributeName"], d["id"])]
        if not hits:
            raise NgsiError("ResourceNotFound", f"attribute {attr_name} is not in use")
        return respond(request, hits[0] if len(hits) == 1 else hits)

    @r.get("/jsonldContexts", summary="The @contexts this CityLink serves")
    def contexts(request: Request):
        return JSONResponse([str(request.base_url).rstrip("/") + context.CONTEXT_PATH])

    return r
