"""Alarms for readers (:mod:`citylink.alarms`), scope ``reader``:

* ``GET /api/alarms`` — filtered, newest first; ``GET /api/alarms/{id}`` — one, with its history;
* ``POST /api/alarms/{id}/acknowledge`` and ``/clear`` — ``{"comment": "…"}``;
* ``GET /api/alarms/stream`` — the live events (Server-Sent Events), as the dashboard follows them.

An alarm is internal data of its service (restricted, when the service is): the departments it was sent to
see it, staff see internal ones, admins all; anyone else gets 404, as if it did not exist.  Acknowledging and
clearing is the responsible department's (or an admin's): a staff key that may read it gets 403.
Each alarm in these answers says whether its reader may acknowledge and clear it (``mayAct``), so that a page
offers only what would be accepted.
"""
from __future__ import annotations

import asyncio

import orjson
from fastapi import Body, Query, Request
from sse_starlette.sse import EventSourceResponse

from ..access.readers import Viewer
from ..alarms import OPEN_STATES, SEVERITIES, STATES, Alarm, AlarmError, AlarmEvent
from ..clock import iso
from ..store import alarms as stored
from ..store import deliveries as delivery_log
from . import params
from .auth import scoped_router, viewer
from .problems import NgsiError

STATE_FILTERS = {"open": OPEN_STATES, "all": None, **{s: (s,) for s in STATES}}
ERROR_KINDS = {404: "ResourceNotFound", 400: "BadRequestData"}   # else 409 Conflict
PAGE = 500
PING_S = 15


def may_see(v: Viewer, a: Alarm) -> bool:
    if v.admin:
        return True
    if a.department in v.departments:
        return True
    if a.visibility == "restricted":
        return False
    return v.staff or any(d in v.departments for d in a.recipients)


def may_act(v: Viewer, a: Alarm) -> bool:
    return v.admin or a.department in v.departments or (a.visibility != "restricted"
                                                         and any(d in v.departments for d in a.recipients))


def _for_reader(v: Viewer, a: Alarm) -> dict:
    """The alarm as its reader gets it: :meth:`Alarm.as_json` and whether the reader may act on it."""
    return {**a.as_json(), "mayAct": may_act(v, a)}


def _bad(param: str, value, known) -> NgsiError:
    return NgsiError("BadRequestData", f"{param}: {value!r} is not one of {', '.join(known)}")


def _visible_alarm(platform, request: Request, alarm_id: str) -> tuple[Viewer, Alarm]:
    v = viewer(request)
    a = stored.alarm(platform.store, alarm_id)
    if a is None or not may_see(v, a):
        raise NgsiError("ResourceNotFound", f"alarm_id: no alarm {alarm_id}")
    return v, a


def router(platform):
    r = scoped_router("reader", tags=["alarms"])

    @r.get("/api/alarms", summary="Alarms, newest first")
    def list_alarms(request: Request,
                    state: str = Query("open", description=f"One of {', '.join(STATE_FILTERS)}."),
                    service: str | None = Query(None), department: str | None = Query(None),
                    severity: str | None = Query(None, description=f"One of {', '.join(SEVERITIES)}."),
                    rule: str | None = Query(None, description="A rule id, e.g. waste-bins/fill-high."),
                    entity: str | None = Query(None),
                    since: str | None = Query(None, description="Raised at or after (ISO 8601)."),
                    until: str | None = Query(None, description="Raised before (ISO 8601)."),
                    limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)):
        if state not in STATE_FILTERS:
            raise _bad("state", state, STATE_FILTERS)
        if severity is not None and severity not in SEVERITIES:
            raise _bad("severity", severity, SEVERITIES)
        specs = platform.specs
        if service is not None and service not in specs.services:
            raise _bad("service", service, sorted(specs.services))
        if department is not None and department not in specs.departments:
            raise _bad("department", department, sorted(specs.departments))
        v = viewer(request)
        kw = dict(states=STATE_FILTERS[state], rule=rule, entity=entity,
                  services=None if service is None else [service],
                  departments=None if department is None else [department],
                  severities=None if severity is None else [severity],
                  since=params.time("since", since), until=params.time("until", until))
        out, skipped, at = [], 0, 0
        while len(out) < limit:   # filtered page by page: what a reader may see is decided per alarm
            rows = stored.alarms(platform.store, limit=PAGE, offset=at, **kw)
            for a in rows:
                if not may_see(v, a):
                    continue
                if skipped < offset:
                    skipped += 1
                elif len(out) < limit:
                    out.append(_for_reader(v, a))
            if len(rows) < PAGE:
                break
            at += PAGE
        return {"limit": limit, "offset": offset, "alarms": out}

    @r.get("/api/alarms/stream", summary="Alarm events as they happen (Server-Sent Events)")
    async def stream(request: Request):
        v = viewer(request)
        listener = platform.alarm_stream.add(lambda e: may_see(v, e.alarm))

        async def events():
            try:
                yield {"event": "hello", "data": orjson.dumps({"clients": platform.alarm_stream.clients}).decode()}
                while True:
                    try:
                        e: AlarmEvent = await asyncio.wait_for(listener.queue.get(), PING_S)
                    except asyncio.TimeoutError:
                        continue   # sse-starlette sends its own pings; look at the connection again
                    if listener.lagged:
                        yield {"event": "lagged", "data": orjson.dumps({"lost": listener.lagged}).decode()}
                        listener.lagged = 0
                    doc = {**e.as_json(), "alarm": _for_reader(v, e.alarm)}
                    yield {"event": e.kind, "id": str(e.seq), "data": orjson.dumps(doc).decode()}
            finally:
                platform.alarm_stream.remove(listener)

        return EventSourceResponse(events(), ping=PING_S)

    @r.get("/api/alarms/deliveries", summary="The notification delivery log (webhooks, e-mail)")
    def deliveries(request: Request,
                   alarm: str | None = Query(None, description="Only this alarm's deliveries."),
                   status: str | None = Query(None, description="pending, delivered or failed."),
                   department: str | None = Query(None), channel: str | None = Query(None),
                   since: str | None = Query(None, description="Queued at or after (ISO 8601)."),
                   limit: int = Query(100, ge=1, le=1000)):
        """A department sees its own deliveries, an admin every one: where each went, every attempt's
        answer, and what is still to be retried."""
        v = viewer(request)
        if not v.admin and (department is None or department not in v.departments):
            mine = sorted(v.departments)
            if department is not None or len(mine) != 1:
                raise NgsiError("Forbidden", f"department: a key may read the deliveries of its own department "
                                             f"({', '.join(mine) or 'none'}) only")
            department = mine[0]
        try:
            rows = delivery_log.deliveries(platform.store, alarm_id=alarm, status=status, department=department,
                                           channel=channel, since=params.time("since", since), limit=limit)
        except ValueError as e:
            raise NgsiError("BadRequestData", str(e)) from None
        return [{"id": d.id, "alarm": d.alarm_id, "event": d.event_kind, "eventAt": iso(d.event_at),
                 "channel": d.channel, "department": d.department, "target": d.target, "status": d.status,
                 "attempts": [{"n": a.n, "at": iso(a.at), "status": a.status, "error": a.error}
                              for a in delivery_log.attempts(platform.store, d.id)],
                 "nextAttemptAt": iso(d.next_at) if d.status == "pending" else None,
                 "deliveredAt": iso(d.delivered_at) if d.delivered_at else None} for d in rows]

    @r.get("/api/alarms/{alarm_id}", summary="One alarm and its history")
    def one(request: Request, alarm_id: str):
        v, a = _visible_alarm(platform, request, alarm_id)
        history = [{"seq": seq, "kind": kind, "at": iso(at), "by": by, "comment": comment, "severity": sev,
                    "state": st} for seq, kind, at, by, comment, sev, st in stored.history(platform.store, a.id)]
        return {**_for_reader(v, a), "history": history}

    def act(request: Request, alarm_id: str, comment: str | None, verb: str) -> dict:
        v, a = _visible_alarm(platform, request, alarm_id)
        if not may_act(v, a):
            raise NgsiError("Forbidden", f"alarm_id: only the department responsible ({a.department}) or an "
                                         f"admin may {verb} this alarm")
        try:
            done = getattr(platform.alarms, verb)(a.id, v.name, comment)
        except AlarmError as e:
            raise NgsiError(ERROR_KINDS.get(e.status, "Conflict"), str(e), e.status) from None
        return _for_reader(v, done)

    @r.post("/api/alarms/{alarm_id}/acknowledge", summary="Acknowledge an alarm (stops its escalation)")
    def acknowledge(request: Request, alarm_id: str,
                    body: dict | None = Body(None, examples=[{"comment": "crew on the way"}])):
        return act(request, alarm_id, _comment(body), "acknowledge")

    @r.post("/api/alarms/{alarm_id}/clear", summary="Clear an alarm by hand")
    def clear(request: Request, alarm_id: str,
              body: dict | None = Body(None, examples=[{"comment": "bin emptied"}])):
        return act(request, alarm_id, _comment(body), "clear")

    return r


def _comment(body: dict | None) -> str | None:
    if body is None:
        return None
    if not isinstance(body, dict) or set(body) - {"comment"}:
        raise NgsiError("BadRequestData", "body: only {\"comment\": \"…\"} is taken")
    c = body.get("comment")
    if c is not None and not isinstance(c, str):
        raise NgsiError("BadRequestData", "body.comment: a text is expected")
    return c
