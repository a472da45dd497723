"""Who may call what.  Every route declares one scope with :func:`scope`, and a test walks the
application's routes so that a route without one fails it.  Until department and staff keys arrive
(issue 5, which adds them here), the scopes are:

* ``public`` — anyone, no key (the NGSI-LD reads of published data, health, the API documentation);
* ``source`` — a vendor's ingest token, which the ingest route checks itself against its source;
* ``admin`` — the bootstrap admin key: ``CITYLINK_ADMIN_KEY``, or the key made once in the data
  directory (``admin.key``) and printed by ``citylink demo``.

``--insecure-no-auth`` (refused on a non-loopback address) lets every request through, for a local
NGSI-LD conformance tool or a broker behind its own policy proxy.
"""
from __future__ import annotations

import secrets

from fastapi import Depends, Request

from .problems import NgsiError

SCOPES = ("public", "source", "admin")


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key")


def scope(name: str):
    """The dependency that lets a request through to a route of scope ``name``, or answers 401."""
    if name not in SCOPES:
        raise ValueError(f"unknown scope {name!r} (known: {', '.join(SCOPES)})")

    async def check(request: Request) -> None:
        if name in ("public", "source"):
            return
        settings = request.app.state.platform.settings
        if settings.insecure_no_auth:
            return
        key = presented_key(request)
        if key is None:
            raise NgsiError("Unauthorized", "Authorization: send the admin key as 'Authorization: Bearer <key>'")
        if not secrets.compare_digest(key.encode(), settings.resolved_admin_key().encode()):
            raise NgsiError("Unauthorized", "Authorization: the key is not valid here")

    check.citylink_scope = name
    return Depends(check)


INSECURE_CALLER = "anonymous (insecure-no-auth)"


def caller(request: Request) -> str:
    """Who made a request that its route's scope let through, as recorded with what it creates (a
    subscription's ``createdBy``): ``admin`` for the bootstrap admin key, the insecure switch's
    anonymous caller otherwise.  Department and staff keys (issue 5) will name themselves here."""
    settings = request.app.state.platform.settings
    key = presented_key(request)
    if key is not None and secrets.compare_digest(key.encode(), settings.resolved_admin_key().encode()):
        return "admin"
    if settings.insecure_no_auth:
        return INSECURE_CALLER
    return "anonymous"


def loopback(host: str) -> bool:
    return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")
