"""The raw archive and the quarantine, as the owning department and admins see them: every field that
feeds a personal attribute is shown as its pseudonym (:mod:`citylink.access.redaction`).  An admin may read
a message as it came by giving a purpose, which the audit log keeps with the read.

A raw message is restricted data of its source's service: the reader's key must be of the owning
department, or an admin's.  To anyone else a message answers 404, as one that does not exist."""
from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request

from ..access.redaction import SourceRedaction, unredacted
from ..clock import iso
from ..normalize.compiler import pseudonymiser
from ..normalize.records import OUTCOME_NAMES
from .audit import PURPOSE
from .auth import scoped_router, viewer
from .problems import NgsiError

MIN_PURPOSE = 10   # characters: a reason someone can read later, not "x"


def router(platform) -> APIRouter:
    r = scoped_router("reader", tags=["operations"])
    pz = pseudonymiser(platform.settings.resolved_pseudonym_key())
    cache: dict = {"specs": None, "by_source": {}}

    def redaction(source: str) -> SourceRedaction | None:
        specs = platform.specs
        if cache["specs"] is not specs:
            cache["specs"], cache["by_source"] = specs, {}
        got = cache["by_source"].get(source)
        if got is None and source in specs.sources:
            src = specs.sources[source]
            got = cache["by_source"][source] = SourceRedaction(src, specs.services[src.service], pz)
        return got

    def may_read(v, source: str) -> bool:
        """Raw messages are restricted data of the source's service (of a source no longer in force: the
        admins')."""
        if v.admin:
            return True
        specs = platform.specs
        src = specs.sources.get(source)
        return src is not None and v.may_see("restricted", specs.services[src.service].department)

    def shown(source: str, body: bytes) -> dict:
        red = redaction(source)
        return red.message(body) if red else {"withheld": "the source is not in force; admins may read the "
                                                          "message through an audited read"}

    @r.get("/api/raw/{raw_id}", summary="A raw message as archived, personal fields pseudonymised")
    def raw(request: Request, raw_id: int = Path(..., ge=0, le=2**63 - 1, description="The raw message's id."),
            purpose: str | None = Query(None, description="Admins only: read the message as it came, personal "
                                                          "values included. The purpose is kept in the audit log.")):
        v = viewer(request)
        found = platform.store.raw_messages(ids=[raw_id], limit=1)
        if not found or not may_read(v, found[0].source):
            raise NgsiError("ResourceNotFound", f"raw_id: no raw message {raw_id} here")
        m = found[0]
        outcome = platform.store.outcomes([raw_id]).get(raw_id)
        out = {"id": m.id, "source": m.source, "receivedAt": iso(m.received_at), "transport": m.transport,
               "meta": m.meta, "outcome": OUTCOME_NAMES.get(outcome[0], "pending") if outcome else "pending"}
        if purpose is None:
            return out | shown(m.source, m.body)
        if not v.admin:
            raise NgsiError("Forbidden", "purpose: reading raw personal values is for admins")
        if len(purpose.strip()) < MIN_PURPOSE:
            raise NgsiError("BadRequestData", f"purpose: say why, in at least {MIN_PURPOSE} characters "
                                              f"(it is kept in the audit log)")
        setattr(request.state, PURPOSE, purpose.strip())
        return out | unredacted(m.body)

    @r.get("/api/quarantine", summary="Quarantined messages with their reasons, personal fields pseudonymised")
    def quarantine(request: Request, source: str | None = Query(None, description="Only this source's."),
                   after: int = Query(0, ge=0, le=2**63 - 1,
                                      description="Messages after this raw id (the last one seen)."),
                   limit: int = Query(100, ge=1, le=1000)):
        v = viewer(request)
        if source is not None and not may_read(v, source):
            raise NgsiError("ResourceNotFound", f"source: no source {source!r} whose quarantine this key may read")
        out = []
        while len(out) < limit:
            rows = platform.store.quarantined(source, limit=limit, after_id=after)
            if not rows:
                break
            after = rows[-1]["raw_id"]
            rows = [q for q in rows if may_read(v, q["source"])]
            bodies = {m.id: m.body for m in platform.store.raw_messages(ids=[q["raw_id"] for q in rows],
                                                                        limit=len(rows))} if rows else {}
            for q in rows:
                red = redaction(q["source"])
                problems = red.problems(q["problems"]) if red else []
                first = problems[0] if problems else {}
                out.append({"rawId": q["raw_id"], "source": q["source"], "reason": q["reason"], "field": q["field"],
                            "detail": first.get("detail", "") if red else "", "problems": problems,
                            "receivedAt": iso(q["received_at"]), "quarantinedAt": iso(q["quarantined_at"]),
                            **shown(q["source"], bodies.get(q["raw_id"], b""))})
        return out[:limit]

    return r
