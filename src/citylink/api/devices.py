"""The device page's API (issue 7, :mod:`citylink.dashboard.device`): one device as its reader may see it.

* ``GET /api/devices/{entity_id}`` — the device: its visible attributes' current values, service, location,
  and for readers of the service's operations its health and registry entries (scope ``public``);
* ``GET /api/devices/{entity_id}/series?from=&to=&attribute=`` — each visible attribute's history in
  [from, to) (default: the day before the server's now): numbers as points, averaged in the database into at
  most :data:`~citylink.dashboard.device.MAX_POINTS` periods when there are more; other values as their
  changes (scope ``public``);
* ``GET /api/devices/{entity_id}/messages?limit=`` — the newest raw messages that fed it, each as
  ``GET /api/raw/{raw_id}`` shows it (personal fields pseudonymised), for the readers of the raw archive: the
  owning department and admins (scope ``reader``, :class:`citylink.access.archive.RawArchive`).

A device the reader may see nothing of answers 404 as one that does not exist, and so do its series and
messages; its messages answer 404 as well to a reader who may see the device but not its raw messages.
"""
from __future__ import annotations

from fastapi import APIRouter, Query, Request

from ..clock import iso
from ..dashboard import device as figures
from ..access.archive import RawArchive
from . import params
from .auth import ROUTES, scoped_router, viewer
from .problems import NgsiError

DEFAULT_SPAN_US = 86_400 * 1_000_000    # the series' range when none is given: the day before now


def router(platform) -> APIRouter:
    r = scoped_router("public", tags=["dashboard"])
    archive = RawArchive(platform)

    def reading(request: Request, entity_id: str) -> figures.Reading:
        """The device as the reader may see it; 404 alike when it does not exist, is not published (a source in
        testing) or is hidden from the reader."""
        e = figures.visible_device(platform, viewer(request), entity_id)
        if e is None:
            raise NgsiError("ResourceNotFound", f"entity_id: no device {entity_id} that this reader may see")
        return figures.Reading(platform, viewer(request), e)

    # the longer paths first: {entity_id:path} would take their tails
    @r.get("/api/devices/{entity_id:path}/series", summary="A device's history: every visible attribute's values")
    def series(request: Request, entity_id: str,
               start: str | None = Query(None, alias="from", description="From (ISO 8601; default: a day before "
                                                                         "to)."),
               end: str | None = Query(None, alias="to", description="Up to, not included (ISO 8601; default: "
                                                                     "now)."),
               attribute: str | None = Query(None, description="Only this attribute (its short name).")):
        """Per attribute (and datasetId) the reader may see, the location apart: numbers as ``points``
        ``[[ms, value], …]`` oldest first — when there are more than ``maxPoints`` in the range, the averages
        of equal periods (``periodMs``) drawn at each period's middle, with their ``spread`` ``[[min, max],
        …]``; other values as their ``changes`` ``[[ms, value], …]`` (the newest, ``more`` when older ones
        are left out)."""
        rd = reading(request, entity_id)
        now = platform.clock.now_us()
        to = params.time("to", end)
        to = now if to is None else to
        since = params.time("from", start)
        since = to - DEFAULT_SPAN_US if since is None else since
        if since >= to:
            raise NgsiError("BadRequestData", f"from: {iso(since)} is not before to ({iso(to)})")
        rows = rd.attributes()
        if attribute is not None:
            rows = rd.find(attribute)
            if not rows:
                raise NgsiError("BadRequestData", f"attribute: device {entity_id} has no attribute {attribute!r} "
                                                  f"that this reader may see")
        return {"id": rd.entity.id, "now": iso(now), "from": iso(since), "to": iso(to),
                "maxPoints": figures.MAX_POINTS, "attributes": figures.series(rd, rows, since, to)}

    def messages(request: Request, entity_id: str,
                 limit: int = Query(figures.MESSAGES, ge=1, le=100, description="How many, newest first.")):
        """The newest raw messages that gave the device an observation, newest first, each as
        ``GET /api/raw/{raw_id}`` shows it (a message the reader may not read is left out)."""
        rd = reading(request, entity_id)
        if not rd.raw_messages:
            raise NgsiError("ResourceNotFound", f"entity_id: no raw messages of device {entity_id} that this "
                                                f"reader may read")
        v = viewer(request)
        ids = figures.message_ids(rd, limit)
        found = {m.id: m for m in platform.store.raw_messages(ids=ids, limit=len(ids))} if ids else {}
        readable = [found[i] for i in ids if i in found and archive.readable(v, found[i].source)]
        return {"id": rd.entity.id, "messages": archive.shown(readable)}

    r.add_api_route("/api/devices/{entity_id:path}/messages", messages, methods=["GET"],
                    route_class_override=ROUTES["reader"],
                    summary="The newest raw messages that fed a device, personal fields pseudonymised")

    @r.get("/api/devices/{entity_id:path}", summary="A device: its current values, service, location, health")
    def device(request: Request, entity_id: str):
        """The device with the attributes the reader may see (value, canonical unit, observedAt, code labels),
        its service, its location (if the reader may see it), the server's ``now``; to a reader of the
        service's operations its ``source``, ``health`` and ``registry`` entries.  ``operations`` and
        ``rawMessages`` say what else the reader may see (alarms, raw messages)."""
        return figures.document(reading(request, entity_id), platform.clock.now_us())

    return r
