"""The audit log's two ends in the API: a middleware that records every request whose reader was a key
(or the bootstrap admin key) — see :mod:`citylink.access.audit` — and the admins' route to read it."""
from __future__ import annotations

from fastapi import APIRouter, Query

from ..access import ANONYMOUS
from ..clock import iso
from ..store.base import AuditEntry
from . import params
from .auth import scoped_router

VIEWER = "citylink_viewer"     # request.state: the reader auth.viewer resolved (none: it was not asked)
PURPOSE = "citylink_purpose"   # request.state: an admin's stated purpose for reading raw personal values


class AuditMiddleware:
    """Plain ASGI (no per-request objects when nobody is audited): after the answer has started, look for
    the reader the route resolved and queue an entry with the answer's status."""

    def __init__(self, app, platform):
        self.app = app
        self.platform = platform

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        state = scope.setdefault("state", {})   # shared with the route's request.state
        status = 500

        async def sending(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            v = state.get(VIEWER)
            if v is not None and v is not ANONYMOUS:
                self.platform.audit.record(AuditEntry(
                    self.platform.clock.now_us(), v.name, v.key_id, scope["method"], scope["path"],
                    scope.get("query_string", b"").decode("latin-1"), status, state.get(PURPOSE)))


def router(platform) -> APIRouter:
    r = scoped_router("admin", tags=["operations"])

    @r.get("/api/audit", summary="The audit log: who read what, newest first")
    def audit(key: str | None = Query(None, description="Only this API key's requests (its id)."),
              since: str | None = Query(None, description="From this time (ISO 8601 with offset)."),
              path: str | None = Query(None, description="Only paths that start with this."),
              limit: int = Query(100, ge=1, le=10_000)):
        since_us = params.time("since", since)
        platform.audit.flush()
        return [{"at": iso(e.at), "reader": e.reader, "key": e.key_id, "method": e.method, "path": e.path,
                 "query": e.query, "status": e.status, **({"purpose": e.purpose} if e.purpose else {})}
                for e in platform.store.audit(since=since_us, key_id=key, path_prefix=path, limit=limit)]

    return r

