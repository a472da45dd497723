"""The raw archive and the quarantine, as the owning department and admins see them: every field that
feeds a personal attribute is shown as its pseudonym (:mod:`citylink.access.redaction`).  An admin may read
a message as it came by giving a purpose, which the audit log keeps with the read.

A raw message is restricted data of its source's service: the reader's key must be of the owning
department, or an admin's.  To anyone else a message answers 404, as one that does not exist."""
from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request

from ..access.archive import RawArchive
from ..access.redaction import unredacted
from ..clock import iso
from .audit import PURPOSE
from .auth import scoped_router, viewer
from .problems import NgsiError

MIN_PURPOSE = 10   # characters: a reason someone can read later, not "x"


def router(platform) -> APIRouter:
    r = scoped_router("reader", tags=["operations"])
    archive = RawArchive(platform)

    @r.get("/api/raw/{raw_id}", summary="A raw message as archived, personal fields pseudonymised")
    def raw(request: Request, raw_id: int = Path(..., ge=0, le=2**63 - 1, description="The raw message's id."),
            purpose: str | None = Query(None, description="Admins only: read the message as it came, personal "
                                                          "values included. The purpose is kept in the audit log.")):
        v = viewer(request)
        found = platform.store.raw_messages(ids=[raw_id], limit=1)
        if not found or not archive.readable(v, found[0].source):
            raise NgsiError("ResourceNotFound", f"raw_id: no raw message {raw_id} here")
        shown, = archive.shown(found)
        if purpose is None:
            return shown
        if not v.admin:
            raise NgsiError("Forbidden", "purpose: reading raw personal values is for admins")
        if len(purpose.strip()) < MIN_PURPOSE:
            raise NgsiError("BadRequestData", f"purpose: say why, in at least {MIN_PURPOSE} characters "
                                              f"(it is kept in the audit log)")
        setattr(request.state, PURPOSE, purpose.strip())
        return {k: v for k, v in shown.items() if k not in ("records", "body", "withheld")} | unredacted(found[0].body)

    @r.get("/api/quarantine", summary="Quarantined messages with their reasons, personal fields pseudonymised")
    def quarantine(request: Request, source: str | None = Query(None, description="Only this source's."),
                   after: int = Query(0, ge=0, le=2**63 - 1,
                                      description="Messages after this raw id (the last one seen)."),
                   limit: int = Query(100, ge=1, le=1000)):
        v = viewer(request)
        if source is not None and not archive.readable(v, source):
            raise NgsiError("ResourceNotFound", f"source: no source {source!r} whose quarantine this key may read")
        out = []
        while len(out) < limit:
            rows = platform.store.quarantined(source, limit=limit, after_id=after)
            if not rows:
                break
            after = rows[-1]["raw_id"]
            rows = [q for q in rows if archive.readable(v, q["source"])]
            bodies = {m.id: m.body for m in platform.store.raw_messages(ids=[q["raw_id"] for q in rows],
                                                                        limit=len(rows))} if rows else {}
            for q in rows:
                problems = archive.problems(q["source"], q["problems"])
                first = problems[0] if problems else {}
                out.append({"rawId": q["raw_id"], "source": q["source"], "reason": q["reason"], "field": q["field"],
                            "detail": first.get("detail", ""), "problems": problems,
                            "receivedAt": iso(q["received_at"]), "quarantinedAt": iso(q["quarantined_at"]),
                            **archive.body(q["source"], bodies.get(q["raw_id"], b""))})
        return out[:limit]

    return r
