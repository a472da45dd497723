"""Who may call what.  Every route has one scope: its router is made by :func:`scoped_router` (or a route
takes another with ``route_class_override=ROUTES[name]``), and a test walks the application's routes so
that a route without one fails it.  The scopes of routes are:

* ``public`` — anyone, with or without a key (the NGSI-LD reads, health, the API documentation); what a
  read then shows depends on the reader (:func:`viewer`, :mod:`citylink.access`);
* ``source`` — a vendor's ingest token, which the ingest route checks itself against its source;
* ``reader`` — any valid key: a reader's API key (a department's, staff, admin) or the bootstrap admin key
  (the NGSI-LD subscriptions, which act for the key that made them and show what it may see); without a
  key, or with one not valid, a 401;
* ``admin`` — the bootstrap admin key (``CITYLINK_ADMIN_KEY``, or the key made once in the data
  directory, ``admin.key``, and printed by ``citylink demo``), or a reader's key with the ``admin`` scope.

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
from .problems import NgsiError

SCOPES = ("public", "source", "reader", "admin")


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key")


def check_admin(request: Request) -> None:
    """Let an admin through — the bootstrap admin key, a key with the ``admin`` scope (or anyone, with
    --insecure-no-auth); no key or a key not valid is a 401, a valid key without the scope a 403."""
    if presented_key(request) is None and not request.app.state.platform.settings.insecure_no_auth:
        raise NgsiError("Unauthorized", "Authorization: send an admin key as 'Authorization: Bearer <key>'")
    if not viewer(request).admin:
        raise NgsiError("Forbidden", "Authorization: this key has no admin scope")


def check_reader(request: Request) -> None:
    """Let any valid key through — a reader's API key or the bootstrap admin key (or anyone, with
    --insecure-no-auth); no key is a 401, and so is a key that is not valid (:func:`viewer`)."""
    if presented_key(request) is None and not request.app.state.platform.settings.insecure_no_auth:
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
    --insecure-no-auth), a reader's API key (``citylink keys create``) or, without a key, the anonymous
    public; a key that is not valid here is a 401, not a quiet fall back to public data."""
    settings = request.app.state.platform.settings
    if settings.insecure_no_auth:
        return ADMIN
    key = presented_key(request)
    if key is None:
        return ANONYMOUS
    v = getattr(request.state, "citylink_viewer", None)   # a request is counted once, however often asked
    if v is not None:
        return v
    if _bootstrap(settings, key):
        request.state.citylink_viewer = ADMIN   # for the audit log (api/audit.py)
        return ADMIN
    platform = request.app.state.platform
    v = platform.keys.viewer(key)
    if v is None:
        raise NgsiError("Unauthorized", "Authorization: the key is not valid here (unknown or revoked)")
    wait = platform.key_rate.retry_after(v.name)
    if wait is not None:
        raise NgsiError("TooManyRequests", f"Authorization: this key may make {platform.key_rate.per_minute} "
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
