"""Staff sign-in to the dashboard (:mod:`citylink.access.sessions`), scope ``public``:

* ``GET /api/session`` — who this browser reads as: ``{"signedIn": false}``, or the account (login, name,
  department, scopes) and the CSRF token the page sends back with every change;
* ``POST /api/session`` — sign in with ``{"login", "password"}``: sets the session cookie (``HttpOnly``,
  ``SameSite=Strict``, ``Secure`` over HTTPS); a wrong login or password is one 401 for both;
* ``DELETE /api/session`` — sign out (with the CSRF token); without a live session, a 401.
"""
from __future__ import annotations

import math
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..access.sessions import COOKIE, LIFETIME_US, Session
from .auth import scoped_router, session, viewer
from .bodies import json_body
from .problems import NgsiError

MAX_BODY = 4096


def account(s: Session | None) -> dict:
    if s is None:
        return {"signedIn": False}
    return {"signedIn": True, "login": s.login, "name": s.name, "department": s.department,
            "scopes": list(s.scopes), "csrf": s.csrf}


def _same_origin(request: Request) -> None:
    """A sign-in posted by a page of another origin is refused (login CSRF: signing a victim in as the
    attacker); browsers send Origin with every POST."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host", request.url.netloc):
        raise NgsiError("Forbidden", f"Origin: {origin} is not this site; sign in from its own page")


def router(platform) -> APIRouter:
    r = scoped_router("public", tags=["dashboard"])

    @r.get("/api/session", summary="Who this browser is signed in as (and its CSRF token)")
    def current(request: Request):
        return JSONResponse(account(session(request)), headers={"Cache-Control": "no-store"})

    @r.post("/api/session", summary="Sign in to the dashboard with a staff account's login and password")
    async def sign_in(request: Request):
        _same_origin(request)
        body = await json_body(request, MAX_BODY)
        if not isinstance(body, dict):
            raise NgsiError("BadRequestData", "body: an object with login and password")
        for name in ("login", "password"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise NgsiError("BadRequestData", f"{name}: required (a string)")
        login = body["login"].strip().lower()
        client = request.client.host if request.client else "unknown"
        wait = platform.sessions.throttled(login, client)
        if wait is not None:
            raise NgsiError("TooManyRequests", f"login: too many failed attempts; retry in {math.ceil(wait)} s",
                            headers={"Retry-After": str(math.ceil(wait))})
        got = platform.sessions.sign_in(login, body["password"], client)
        if got is None:
            raise NgsiError("Unauthorized", "login, password: not an enabled account with this password")
        session_id, s = got
        answer = JSONResponse(account(s), headers={"Cache-Control": "no-store"})
        answer.set_cookie(COOKIE, session_id, max_age=LIFETIME_US // 10**6, path="/", httponly=True,
                          samesite="strict", secure=request.url.scheme == "https")
        return answer

    @r.delete("/api/session", summary="Sign out", status_code=204)
    def sign_out(request: Request):
        if session(request) is None:
            raise NgsiError("Unauthorized", f"{COOKIE}: not signed in (no live session)")
        viewer(request)   # the CSRF token is checked there
        platform.sessions.sign_out(request.cookies[COOKIE])
        answer = Response(status_code=204)
        answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return answer

    return r
