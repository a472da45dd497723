"""The dashboard over HTTP (issue 7), scope ``public``: what each route shows depends on its reader
(:mod:`citylink.access`; a key is sent by the page as ``Authorization: Bearer``, never in the URL).

* ``GET /`` — the overview page (the dashboard's shell with the page's module, ``static/dashboard/``);
* ``GET /api/overview`` — a tile's figures per service (:func:`citylink.dashboard.overview.overview`);
* ``GET /api/overview/devices`` — every device the reader may place on the map, as compact rows;
* ``GET /api/district`` — Dobong-gu's outline and its dongs (the bundled GeoJSON): the map's base, since no
  tile server is reachable.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ..dashboard import overview as figures
from ..district import dongs, outline
from .alarms import may_see
from .auth import scoped_router, viewer

PAGE = Path(__file__).resolve().parents[1] / "dashboard" / "page.html"
PAGES = {"overview": {"ko": "개요", "en": "Overview"}}   # page module → its title; later pages add theirs
# the page loads nothing from elsewhere and runs no inline script: a pasted key stays in this origin
SECURITY = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def _json(doc: dict) -> Response:
    return Response(orjson.dumps(doc), media_type="application/json", headers={"Cache-Control": "no-store"})


@lru_cache(maxsize=None)
def page(name: str) -> str:
    """The shell page for one page module (``static/dashboard/<name>.js``)."""
    return PAGE.read_text(encoding="utf-8").replace("{{page}}", name).replace("{{title}}", PAGES[name]["ko"])


@lru_cache(maxsize=1)
def district() -> bytes:
    return orjson.dumps({"district": outline(), "dongs": dongs()})


def router(platform) -> APIRouter:
    r = scoped_router("public", tags=["dashboard"])

    def alarm_visible(request: Request):
        v = viewer(request)
        return lambda a: may_see(v, a)

    @r.get("/", include_in_schema=False, response_class=HTMLResponse)
    def overview_page():
        """The dashboard's overview: a tile per service, the district's map with every device."""
        return HTMLResponse(page("overview"), headers=SECURITY)

    @r.get("/api/overview", summary="The dashboard's overview: a tile's figures per service")
    def overview(request: Request):
        """Per service the reader may see anything of: its names and department; its devices (with a key that may
        see the service's operations: by health state); messages in the last hour (and the rejection rate);
        open alarms by severity (operations readers only); and its headline figure (docs/dashboard.md)."""
        return _json(figures.overview(platform, viewer(request), alarm_visible(request)))

    @r.get("/api/overview/devices", summary="Every device the reader may place on the map, compact")
    def overview_devices(request: Request):
        """``{"fields": ["id", "service", "lon", "lat", "state", "alarm"], "devices": [[…], …]}``: one row per
        device whose location the reader may see; ``state`` (health) and ``alarm`` (the worst open alarm's
        severity) are null where the reader may not see them."""
        return _json(figures.devices(platform, viewer(request), alarm_visible(request)))

    @r.get("/api/district", summary="Dobong-gu's outline and its dongs (GeoJSON, WGS 84)")
    def district_map():
        return Response(district(), media_type="application/json",
                        headers={"Cache-Control": "public, max-age=86400"})

    return r

