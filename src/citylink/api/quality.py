"""Data quality for readers (issue 7, the dashboard's ``/quality`` page), scope ``reader``:

* ``GET /api/quality?window=PT1H|P1D|P7D`` — per source the reader may see the operations of: messages and
  their outcomes, completeness, latency and rejection reasons over the window (:mod:`citylink.dashboard.quality`);
* ``POST /api/quarantine/{raw_id}/replay`` — run one quarantined message again through the specs in force;
* ``POST /api/quarantine/replay`` — ``{"source": "…"}`` (its oldest quarantined messages, :data:`MAX_REPLAY`
  at a time, after ``"after"``: the ``next`` of the previous answer) or ``{"ids": […]}``.

Raw ids are 63-bit integers, beyond what a JavaScript number holds exactly (2⁵³): the bodies take them as
integers or as strings of digits, and ``next`` is given as a string.

A replay is allowed to whoever may read the message (:class:`citylink.access.archive.RawArchive`); to anyone
else the message is a 404,
as one that does not exist.  It answers each message's new outcome: stored, or quarantined again with the
reason (personal values in a problem's detail pseudonymised, as ``GET /api/quarantine`` shows them)."""
from __future__ import annotations

from fastapi import APIRouter, Body, Path, Query, Request

from ..access.archive import RawArchive
from ..access.readers import Viewer
from ..dashboard.quality import WINDOWS, figures
from ..normalize.records import OUTCOME_NAMES, QUARANTINED, RawMessage
from .auth import scoped_router, viewer
from .problems import NgsiError

MAX_REPLAY = 1000        # messages per request: an answer in seconds, not minutes
REPLAY_WAIT_S = 30.0     # how long a replay waits for the normalizer before answering "pending"
RAW_ID = dict(ge=0, le=2**63 - 1)


def _raw_id(value) -> int | None:
    """A raw id given in a body (an integer, or its digits as a string); None if it is not one."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63 else None


def router(platform) -> APIRouter:
    r = scoped_router("reader", tags=["operations"])
    archive = RawArchive(platform)

    @r.get("/api/quality", summary="Data quality per source: outcomes, completeness, latency, rejection reasons")
    def quality(request: Request, window: str = Query("PT1H", description=f"The window ending now: "
                                                                          f"{', '.join(WINDOWS)}.")):
        """Per source whose service's operations the reader may see, over the window: messages received and
        their outcomes (and the rejection rate), completeness (readings received ÷ expected from the service's
        reporting interval, per device, averaged), latency (observedAt to arrival: p50, p95, max in seconds),
        rejection reasons by field, and the quarantine's size (docs/dashboard.md)."""
        if window not in WINDOWS:
            raise NgsiError("BadRequestData", f"window: {window!r} is not one of {', '.join(WINDOWS)}")
        v = viewer(request)
        return figures(platform, v, window, lambda source: archive.readable(v, source))

    @r.post("/api/quarantine/{raw_id}/replay", summary="Run a quarantined message again through the specs in force")
    def replay_one(request: Request, raw_id: int = Path(..., **RAW_ID, description="The raw message's id.")):
        found = platform.store.raw_messages(ids=[raw_id], limit=1)
        if not found or not archive.readable(viewer(request), found[0].source):
            raise NgsiError("ResourceNotFound", f"raw_id: no raw message {raw_id} here")
        return replay(found)

    @r.post("/api/quarantine/replay", summary="Run a source's quarantined messages (or chosen ones) again")
    def replay_many(request: Request, body: dict | None = Body(None, examples=[{"source": "bins-acme-http"},
                                                                               {"ids": [401288357479890959]}])):
        v = viewer(request)
        if not isinstance(body, dict) or not body.keys() & {"source", "ids"} or \
                body.keys() - {"source", "after", "ids"}:
            raise NgsiError("BadRequestData", 'body: give {"source": "…"} (and "after": a raw id) or {"ids": […]}')
        if "ids" in body:
            return replay(chosen(v, body))
        source = body["source"]
        if not isinstance(source, str) or not archive.readable(v, source):
            raise NgsiError("ResourceNotFound", f"source: no source {source!r} whose quarantine this reader may read")
        after = _raw_id(body.get("after", 0))
        if after is None:
            raise NgsiError("BadRequestData", "after: a raw id (an integer, or its digits as a string) is expected")
        rows = platform.store.quarantined(source, limit=MAX_REPLAY + 1, after_id=after)
        ids = [q["raw_id"] for q in rows[:MAX_REPLAY]]
        done = replay(platform.store.raw_messages(ids=ids, limit=len(ids)) if ids else [])
        return done | {"next": str(ids[-1]) if len(rows) > MAX_REPLAY else None}

    def chosen(v: Viewer, body: dict) -> list[RawMessage]:
        given = body["ids"]
        ids = [_raw_id(i) for i in given] if isinstance(given, list) else []
        if set(body) != {"ids"} or not ids or len(ids) > MAX_REPLAY or None in ids:
            raise NgsiError("BadRequestData", f"ids: a list of 1 to {MAX_REPLAY} raw ids (integers, or their digits "
                                              f"as strings) is expected, without source or after")
        found = {m.id: m for m in platform.store.raw_messages(ids=sorted(set(ids)), limit=len(ids))}
        for i in ids:
            if i not in found or not archive.readable(v, found[i].source):
                raise NgsiError("ResourceNotFound", f"ids: no raw message {i} here")
        return [found[i] for i in sorted(found)]

    def replay(messages: list[RawMessage]) -> dict:
        """Replay those of ``messages`` that are quarantined and answer every one's outcome now."""
        ids = [m.id for m in messages]
        todo = {i for i, (outcome, _) in platform.store.outcomes(ids).items() if outcome == QUARANTINED}
        done = {}
        if todo:
            platform.replay(None, ids=sorted(todo))
            done = platform.wait(sorted(todo), REPLAY_WAIT_S)
        now = platform.store.outcomes(ids)
        out, tally = [], {}
        for m in messages:
            outcome, problems = now[m.id]
            name = "pending" if m.id in todo and m.id not in done else OUTCOME_NAMES[outcome]
            tally[name] = tally.get(name, 0) + 1
            item = {"rawId": m.id, "source": m.source, "replayed": m.id in todo, "outcome": name}
            if name == "quarantined" and problems:
                first = archive.problems(m.source, problems)[0]
                item.update(reason=first["type"], field=first["field"], detail=first["detail"])
            out.append(item)
        return {"replayed": len(todo), "outcomes": tally, "messages": out}

    return r
