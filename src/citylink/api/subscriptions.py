"""NGSI-LD subscriptions over HTTP (ETSI GS CIM 009, 5.8): ``/ngsi-ld/v1/subscriptions``, create, list,
retrieve, update (a fragment merged in, then checked whole) and delete.  The routes only translate:
documents are checked by :mod:`citylink.subscriptions.model`, kept and matched by the platform's
:class:`~citylink.subscriptions.Subscriptions`.

Every route wants a valid key (scope ``reader``): a reader's API key — a department's, staff's, an
admin's — or the bootstrap admin key; anonymous requests may not subscribe.  A subscription acts for the
key that made it: its notifications show only what that key may see (:mod:`citylink.subscriptions`), and
a key that is not an admin's lists, reads, updates and deletes only its own subscriptions — another's
answers 404, as one that does not exist.  Admins reach them all.  Who created a subscription is recorded
and shown as ``createdBy``, a CityLink extension, as is ``notification.lastFailureReason``.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from ..subscriptions.model import ACCEPTS, FORMATS, representation
from . import context, ldcontext
from .auth import caller, scoped_router, viewer
from .bodies import JSON_TYPES, json_body
from .problems import NgsiError

MAX_LIMIT = 1000

# The request body as OpenAPI documents it (for /docs and schemathesis); the handlers check it themselves,
# member by member, so that a mistake is answered in the NGSI-LD problem form naming the member.
_NAMES = {"type": "array", "minItems": 1, "items": {"type": "string"}}
SUBSCRIPTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "a URI; generated (urn:ngsi-ld:Subscription:<uuid>) when absent",
               "example": "urn:ngsi-ld:Subscription:full-bins"},
        "type": {"type": "string", "enum": ["Subscription"]},
        "subscriptionName": {"type": "string"},
        "description": {"type": "string"},
        "entities": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["type"],
            "properties": {"type": {"type": "string", "example": "WasteContainer"}, "id": {"type": "string"},
                           "idPattern": {"type": "string", "description": "a regular expression on the id"}}}},
        "watchedAttributes": {**_NAMES, "description": "notify when one of these changes (default: any)"},
        "q": {"type": "string", "example": "fillingLevel>0.8", "description": "the NGSI-LD query language"},
        "geoQ": {"type": "object", "required": ["georel", "geometry", "coordinates"], "properties": {
            "georel": {"type": "string", "example": "near;maxDistance==500"},
            "geometry": {"type": "string", "example": "Point"},
            "coordinates": {"description": "a JSON array, or the same as text", "example": [127.0471, 37.6688]},
            "geoproperty": {"type": "string", "example": "location"}}},
        "notification": {"type": "object", "required": ["endpoint"], "properties": {
            "attributes": {**_NAMES, "description": "only these attributes in the notification"},
            "format": {"type": "string", "enum": list(FORMATS)},
            "sysAttrs": {"type": "boolean"},
            "endpoint": {"type": "object", "required": ["uri"], "properties": {
                "uri": {"type": "string", "example": "http://127.0.0.1:9000/notify", "description": "http or https"},
                "accept": {"type": "string", "enum": list(ACCEPTS)},
                "receiverInfo": {"type": "array", "description": "HTTP headers sent with each notification",
                                 "items": {"type": "object", "required": ["key", "value"],
                                           "properties": {"key": {"type": "string"}, "value": {"type": "string"}}}}}}}},
        "throttling": {"type": "number", "minimum": 0, "description": "seconds between two notifications at least"},
        "expiresAt": {"type": "string", "format": "date-time"},
        "isActive": {"type": "boolean"},
        "jsonldContext": {"type": "string", "description": "the @context notifications refer to (default: the one "
                                                           "the subscription was created under)"},
    },
}


def _body_doc(required: list[str]) -> dict:
    schema = {**SUBSCRIPTION_SCHEMA, "required": required} if required else SUBSCRIPTION_SCHEMA
    return {"requestBody": {"required": True, "content": {t: {"schema": schema} for t in JSON_TYPES[:2]}}}


def _param(name: str, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": {"type": "string"}}


def _int(request: Request, name: str, default: int, hi: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"\d{1,9}", raw.strip()):
        raise NgsiError("BadRequestData", f"{name}: {raw[:40]!r} is not a whole number from 0")
    v = int(raw)
    if hi is not None and v > hi:
        raise NgsiError("TooManyResults", f"{name}: {v} is more than {hi}")
    return v


def _sys_attrs(request: Request) -> bool:
    opts = {o.strip() for o in request.query_params.get("options", "").split(",") if o.strip()}
    bad = opts - {"sysAttrs"}
    if bad:
        raise NgsiError("BadRequestData", f"options: unknown value {sorted(bad)[0]!r} (known: sysAttrs)")
    return "sysAttrs" in opts


def creation_context(request: Request, doc: Any) -> str:
    """The @context a new subscription's notifications refer to when it names none (5.2.12: the one it was
    created under): the body's @context URL, the request's Link header, else CityLink's own.  Named, not
    fetched: the notifications only refer to it."""
    given = doc.get("@context") if isinstance(doc, dict) else None
    for url in [*(given if isinstance(given, list) else [given]), ldcontext.linked_context(request)]:
        if isinstance(url, str) and re.match(r"https?://[^\s/]", url) and len(url) <= 2000:
            return url
    return str(request.base_url).rstrip("/") + context.CONTEXT_PATH


def owner(request: Request) -> str | None:
    """The API key a request acts for — a subscription it creates is that key's; None for the bootstrap admin
    key (or --insecure-no-auth)."""
    v = viewer(request)
    if v.key_id is None and not v.admin:
        raise NgsiError("Forbidden", "Authorization: a subscription belongs to an API key; send one as "
                                     "'Authorization: Bearer <key>'")
    return v.key_id


def reachable(request: Request) -> str | None:
    """Whose subscriptions a request may list and change: its key's own, or every one (None) for an admin."""
    return None if viewer(request).admin else owner(request)


def router(platform) -> APIRouter:
    r = scoped_router("reader", prefix="/ngsi-ld/v1", tags=["NGSI-LD subscriptions"])
    subs = platform.subscriptions
    max_body = platform.settings.max_body_bytes

    def show(request: Request, body, status: int = 200, headers: dict | None = None) -> JSONResponse:
        if "application/ld+json" in request.headers.get("accept", ""):
            add = (lambda b: {**b, "@context": b.get("jsonldContext") or str(request.base_url).rstrip("/")
                              + context.CONTEXT_PATH})
            body = [add(b) for b in body] if isinstance(body, list) else add(body)
            return JSONResponse(body, status, headers, media_type="application/ld+json")
        return JSONResponse(body, status, headers, media_type="application/json")

    @r.post("/subscriptions", summary="Create a subscription", status_code=201,
            openapi_extra=_body_doc(["type", "notification"]))
    async def create(request: Request):
        doc = await json_body(request, max_body)
        if isinstance(doc, dict) and "jsonldContext" not in doc:
            doc = {**doc, "jsonldContext": creation_context(request, doc)}
        row = subs.create(doc, caller(request), owner(request))
        return Response(status_code=201, headers={"Location": f"/ngsi-ld/v1/subscriptions/{quote(row.id, safe=':')}"})

    @r.get("/subscriptions", summary="Query subscriptions",
           openapi_extra={"parameters": [_param("limit", f"page size (at most {MAX_LIMIT:,})"),
                                         _param("offset", "subscriptions to skip"),
                                         _param("count", "true: the total in the NGSILD-Results-Count header"),
                                         _param("options", "sysAttrs: createdAt and modifiedAt")]})
    def query(request: Request):
        limit, offset = _int(request, "limit", 20, MAX_LIMIT), _int(request, "offset", 0)
        sys_attrs = _sys_attrs(request)
        rows, total = subs.list(limit, offset, reachable(request))
        now = platform.clock.now_us()
        headers = {"NGSILD-Results-Count": str(total)} if request.query_params.get("count") == "true" else None
        return show(request, [representation(x, now, sys_attrs=sys_attrs) for x in rows], headers=headers)

    @r.get("/subscriptions/{subscription_id:path}", summary="Retrieve a subscription",
           openapi_extra={"parameters": [_param("options", "sysAttrs: createdAt and modifiedAt")]})
    def retrieve(subscription_id: str, request: Request):
        sys_attrs = _sys_attrs(request)
        return show(request, representation(subs.get(subscription_id, reachable(request)), platform.clock.now_us(),
                                            sys_attrs=sys_attrs))

    @r.patch("/subscriptions/{subscription_id:path}", summary="Update a subscription", status_code=204,
             openapi_extra=_body_doc([]))
    async def update(subscription_id: str, request: Request):
        fragment = await json_body(request, max_body)
        subs.update(subscription_id, fragment, reachable(request))
        return Response(status_code=204)

    @r.delete("/subscriptions/{subscription_id:path}", summary="Delete a subscription", status_code=204)
    def delete(subscription_id: str, request: Request):
        subs.delete(subscription_id, reachable(request))
        return Response(status_code=204)

    return r
