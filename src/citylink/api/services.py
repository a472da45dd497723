"""A service's page over HTTP (issue 7), scope ``public``: each answer shows what its reader may see
(:mod:`citylink.dashboard.service`); a service the reader may see nothing of is a 404, as its page is.

* ``GET /api/services/{service_id}`` — names, department, the server's time, whether the reader may see the
  service's operations, its entity types and the attributes the reader may see (units, code labels);
* ``GET /api/services/{service_id}/devices?q=&limit=&offset=`` — a page of the devices table;
* ``GET /api/services/{service_id}/series?attribute=&from=&to=`` — one numeric attribute over the service's
  devices, aggregated per time bucket (min, mean, max, observations).

The page reads the service's alarms and sources from ``/api/alarms?service=`` and
``/api/health/sources?service=``.
"""
from __future__ import annotations

from fastapi import APIRouter, Query, Request

from ..clock import US
from ..dashboard import service as page
from ..dashboard.overview import Reading
from . import params
from .alarms import may_see
from .auth import scoped_router, viewer
from .dashboard import json_answer
from .problems import NgsiError


def router(platform) -> APIRouter:
    r = scoped_router("public", tags=["dashboard"])

    def reading(request: Request, service_id: str):
        """The reader's look at the service; a 404 when it may see nothing of it (or there is none)."""
        v = viewer(request)
        rd = Reading(platform, v, lambda a: may_see(v, a))
        svc = platform.specs.services.get(service_id)
        if svc is None or not rd.view.types_seen(svc):
            raise NgsiError("ResourceNotFound", f"service_id: no service {service_id} that you may see")
        return rd, svc

    @r.get("/api/services/{service_id}", summary="A service as its dashboard page shows it")
    def service(request: Request, service_id: str):
        """Names and department, ``now`` (the server's time: the page's ranges end there), ``operations``
        (may the reader see device health, alarms and sources), and the entity types with the attributes
        the reader may see: type, unit (UN/CEFACT code, symbol, label), numeric or not, code labels."""
        return json_answer(page.describe(*reading(request, service_id)))

    @r.get("/api/services/{service_id}/devices", summary="A page of a service's devices, latest values")
    def devices(request: Request, service_id: str,
                q: str = Query("", max_length=200, description="Only devices whose id holds this text (any case)."),
                limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0)):
        """``{"total", "fields": ["id", "type", "observedAt", "state", <attribute>…], "devices": [[…], …]}``,
        by id: each device's latest values of the attributes the reader may see, the time of its last
        observation, and its health state (null unless the reader may see the service's operations)."""
        return json_answer(page.devices(*reading(request, service_id), q, limit, offset))

    @r.get("/api/services/{service_id}/series", summary="An attribute over a service's devices, per time bucket")
    def series(request: Request, service_id: str,
               attribute: str | None = Query(None, description="A numeric attribute the reader may see (default: "
                                                               "the service's first)."),
               start: str | None = Query(None, alias="from", description="ISO 8601 (default: a day before `to`)."),
               end: str | None = Query(None, alias="to", description="ISO 8601 (default: now).")):
        """``{"attribute", "unit", "from", "to", "bucketSeconds", "buckets": [[start_ms, min, mean, max,
        count], …]}`` — the buckets with observations; at most 300 buckets, a range of at most 400 days."""
        rd, svc = reading(request, service_id)
        seen = page.attributes(rd, svc)
        if attribute is None:
            attribute = next((a.name for _, a in seen if page.chartable(a)), None)
            if attribute is None:
                raise NgsiError("ResourceNotFound", f"attribute: service {service_id} has no numeric attribute "
                                                    "that you may see")
        named = [a for _, a in seen if a.name == attribute]
        if not named:
            raise NgsiError("ResourceNotFound", f"attribute: service {service_id} has no attribute {attribute!r} "
                                                "that you may see")
        if not any(page.chartable(a) for a in named):
            raise NgsiError("BadRequestData", f"attribute: {attribute} is not a number ({named[0].type}): "
                                              "it has no series")
        until = params.time("to", end)
        if until is None:
            until = rd.now
        since = params.time("from", start)
        if since is None:
            since = until - page.DEFAULT_RANGE_S * US
        if since >= until:
            raise NgsiError("BadRequestData", "from: must be before to")
        if until - since > page.MAX_RANGE_S * US:
            raise NgsiError("BadRequestData", f"to: at most {page.MAX_RANGE_S // 86400} days after from")
        return json_answer(page.series(rd, svc, attribute, since, until))

    return r
