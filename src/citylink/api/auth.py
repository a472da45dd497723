"""Who may call what.  Every route has one scope: its router is made by :func:`scoped_router` (or a route
takes another with ``route_class_override=ROUTES[name]``), and a test walks the application's routes so
that a route without one fails it.  The scopes of routes are:

* ``public`` — anyone, with or without a key (the NGSI-LD reads, health, the API documentation); what a
  read then shows depends on the reader (:func:`viewer`, :mod:`citylink.access`);
* ``source`` — a vendor's ingest token, which the ingest route checks itself against its source;
* ``reader`` — any valid key: a reader's API key (a department's, staff, admin) or the bootstrap admin key
  (the NGSI-LD subscriptions, which act for the key that made them and show what it may see), or a staff
  member signed in to the dashboard; without either, or with a key not valid, a 401;
* ``admin`` — the bootstrap admin key (``CITYLINK_ADMIN_KEY``, or the key made once in the data
  directory, ``admin.key``, and printed by ``citylink demo``), or a reader's key with the ``admin`` scope, or
  a signed-in account with it.

A signed-in browser (:mod:`citylink.access.sessions`) reads as its account, like a key of the account; a
request of it that is not a read (not GET, HEAD or OPTIONS) must carry the session's CSRF token in
``X-CSRF-Token``, or it is a 403.  A key sent with a request wins over the session.

The scope is a property of the route's class, checked in the route's handler before the endpoint runs —
not a FastAPI dependency: resolving one costs a fifth of an entity retrieval (measured: 2,450 → 3,000
retrievals/s without it).

``--insecure-no-auth`` (refused on a non-loopback address) lets every request through, for a local
NGSI-LD conformance tool or a broker behind its own policy proxy.
"""
from __future__ import annotations

import math
import secrets
from typing import Any, Callable

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute

from ..access import ADMIN, ANONYMOUS, Viewer
from ..access.sessions import COOKIE, CSRF_HEADER, Session
from .problems import NgsiError

SCOPES = ("public", "source", "reader", "admin")


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key")


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def session(request: Request) -> Session | None:
    """The live dashboard session of the request's cookie, if any (looked up once per request)."""
    if not hasattr(request.state, "citylink_session"):
        sid = request.cookies.get(COOKIE)
        request.state.citylink_session = request.app.state.platform.sessions.get(sid) if sid else None
    return request.state.citylink_session


def _anonymous(request: Request) -> bool:
    """Neither a key nor a live session (and not --insecure-no-auth)."""
    return (presented_key(request) is None and session(request) is None
            and not request.app.state.platform.settings.insecure_no_auth)


def check_admin(request: Request) -> None:
    """Let an admin through — the bootstrap admin key, a key or an account with the ``admin`` scope (or anyone,
    with --insecure-no-auth); no key or a key not valid is a 401, a valid key without the scope a 403."""
    if _anonymous(request):
        raise NgsiError("Unauthorized", "Authorization: send an admin key as 'Authorization: Bearer <key>'")
    if not viewer(request).admin:
        raise NgsiError("Forbidden", "Authorization: this key has no admin scope")


def check_reader(request: Request) -> None:
    """Let any valid key through — a reader's API key or the bootstrap admin key — or a signed-in account (or
    anyone, with --insecure-no-auth); no key is a 401, and so is a key that is not valid (:func:`viewer`)."""
    if _anonymous(request):
        raise NgsiError("Unauthorized", "Authorization: this route acts for a reader's API key; anonymous requests "
                                        "may not use it — send one as 'Authorization: Bearer <key>'")
    viewer(request)


# scope → the check a request must pass first (None: nothing to check here; the ingest route checks the
# source's token itself)
CHECKS: dict[str, Callable[[Request], None] | None] = {"public": None, "source": None, "reader": check_reader,
                                                       "admin": check_admin}


class ScopedRoute(APIRoute):
    """A route of one scope (``citylink_scope``, set by the subclasses in :data:`ROUTES`)."""
    citylink_scope = ""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()
        check = CHECKS[self.citylink_scope]
        if check is None:
            return handler

        async def checked(request: Request):
            check(request)
            return await handler(request)
        return checked


ROUTES: dict[str, type[ScopedRoute]] = {
    name: type(f"{name.capitalize()}Route", (ScopedRoute,), {"citylink_scope": name}) for name in SCOPES}


def scoped_router(name: str, **kw) -> APIRouter:
    """A router whose routes are all of scope ``name``."""
    if name not in ROUTES:
        raise ValueError(f"unknown scope {name!r} (known: {', '.join(SCOPES)})")
    return APIRouter(route_class=ROUTES[name], **kw)


def viewer(request: Request) -> Viewer:
    """Who reads (:mod:`citylink.access`): the admin (the bootstrap key, or anyone with
    --insecure-no-auth), a reader's API key (``citylink keys create``), a signed-in account or, without
    either, the anonymous public; a key that is not valid here is a 401, not a quiet fall back to public
    data, and a change sent by a signed-in browser without its CSRF token a 403."""
    settings = request.app.state.platform.settings
    if settings.insecure_no_auth:
        return ADMIN
    v = getattr(request.state, "citylink_viewer", None)   # a request is counted once, however often asked
    if v is not None:
        return v
    key = presented_key(request)
    platform = request.app.state.platform
    if key is None:
        s = session(request)
        if s is None:
            return ANONYMOUS
        if request.method not in SAFE_METHODS and not secrets.compare_digest(
                request.headers.get(CSRF_HEADER, "").encode(), s.csrf.encode()):
            raise NgsiError("Forbidden", f"{CSRF_HEADER}: a change from a signed-in browser must carry the "
                                         f"session's CSRF token (GET /api/session gives it)")
        v = s.viewer
    elif _bootstrap(settings, key):
        request.state.citylink_viewer = ADMIN   # for the audit log (api/audit.py)
        return ADMIN
    else:
        v = platform.keys.viewer(key)
        if v is None:
            raise NgsiError("Unauthorized", "Authorization: the key is not valid here (unknown or revoked)")
    wait = platform.key_rate.retry_after(v.name)
    if wait is not None:
        raise NgsiError("TooManyRequests", f"Authorization: this reader may make {platform.key_rate.per_minute} "
                                           f"requests a minute; retry in {math.ceil(wait)} s",
                        headers={"Retry-After": str(math.ceil(wait))})
    request.state.citylink_viewer = v
    return v


def _bootstrap(settings, key: str | None) -> bool:
    """Is ``key`` the bootstrap admin key (compared in constant time)."""
    return key is not None and secrets.compare_digest(key.encode(), settings.resolved_admin_key().encode())


INSECURE_CALLER = "anonymous (insecure-no-auth)"


def caller(request: Request) -> str:
    """Who made a request that its route's scope let through, as recorded with what it creates (a
    subscription's ``createdBy``): ``admin`` for the bootstrap admin key, a reader's key by its id and
    holder, the insecure switch's anonymous caller otherwise."""
    settings = request.app.state.platform.settings
    if settings.insecure_no_auth and not _bootstrap(settings, presented_key(request)):
        return INSECURE_CALLER
    return viewer(request).name


def loopback(host: str) -> bool:
    return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")
