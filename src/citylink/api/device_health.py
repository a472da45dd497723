"""Device and source health for readers (:mod:`citylink.health`): ``/api/health/devices`` and
``/api/health/sources``, scope ``reader``.

Health is ``internal`` data of its service (or ``restricted``, when the service's default is): a
department's key sees its own services' devices and sources, a staff key every service's internal ones,
an admin all; a device is listed only to a reader who may see its entity at all."""
from __future__ import annotations

from fastapi import APIRouter, Query, Request

from ..clock import iso
from ..access.visibility import operations_visibility
from ..health import DEVICE_STATES, SOURCE_STATES
from .auth import scoped_router, viewer
from .problems import NgsiError


def _services_seen(platform, request: Request, service: str | None) -> set[str]:
    specs = platform.specs
    if service is not None and service not in specs.services:
        raise NgsiError("BadRequestData", f"service: {service!r} is not a service of the specs in force "
                                          f"(known: {', '.join(sorted(specs.services))})")
    v = viewer(request)
    return {sid for sid, svc in specs.services.items() if (service is None or sid == service)
            and v.may_see(operations_visibility(svc.visibility), svc.department)}


def _when(us: int | None) -> str | None:
    return None if us is None else iso(us)


def router(platform) -> APIRouter:
    r = scoped_router("reader", tags=["operations"])

    @r.get("/api/health/devices", summary="Device health: online, stale, offline or never reported")
    def devices(request: Request,
                service: str | None = Query(None, description="Only this service's devices."),
                state: str | None = Query(None, description=f"Only devices in this state ({', '.join(DEVICE_STATES)})."),
                limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)):
        if state is not None and state not in DEVICE_STATES:
            raise NgsiError("BadRequestData", f"state: {state!r} is not a device state "
                                              f"(known: {', '.join(DEVICE_STATES)})")
        services = _services_seen(platform, request, service)
        view = platform.visibility.view(viewer(request))
        rows = [d for d in platform.health.devices() if d.service in services and (state is None or d.state == state)
                and view.entity_visible(d)]
        return {"total": len(rows), "limit": limit, "offset": offset, "devices": [
            {"id": d.id, "type": d.type, "service": d.service, "department": d.department, "source": d.source,
             "state": d.state, "since": iso(d.since), "lastSeen": _when(d.last_seen),
             "testing": platform.health.testing(d.source), **({"registry": d.registry} if d.registry else {})}
            for d in rows[offset:offset + limit]]}

    @r.get("/api/health/sources", summary="Source health: messages and rejections in the last hour, silence")
    def sources(request: Request, service: str | None = Query(None, description="Only this service's sources."),
                state: str | None = Query(None, description=f"Only sources in this state ({', '.join(SOURCE_STATES)}).")):
        if state is not None and state not in SOURCE_STATES:
            raise NgsiError("BadRequestData", f"state: {state!r} is not a source state "
                                              f"(known: {', '.join(SOURCE_STATES)})")
        services = _services_seen(platform, request, service)
        ledger = platform.store.ledger()
        out = []
        for s, received, quarantined in platform.health.sources():
            if s.service not in services or (state is not None and s.state != state):
                continue
            total = ledger.get(s.id, {})
            timing = platform.health.timing(s.service)
            out.append({"source": s.id, "service": s.service, "department": s.department,
                        "status": "testing" if s.testing else "live", "state": s.state, "since": iso(s.since),
                        "lastMessage": _when(s.last_message),
                        "silentAfterSeconds": timing.silent_after / 1e6 if timing else None,
                        "lastHour": {"received": received, "quarantined": quarantined,
                                     "perMinute": round(received / 60, 3),
                                     "rejectionRate": round(quarantined / received, 4) if received else None},
                        "total": {"received": total.get("received", 0), "quarantined": total.get("quarantined", 0),
                                  "rejectionRate": round(total["quarantined"] / total["received"], 4)
                                  if total.get("received") else None}})
        return out

    return r
