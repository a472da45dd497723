"""The dashboard over HTTP (issue 7), scope ``public``: what each route shows depends on its reader
(:mod:`citylink.access`: a staff member signed in, :mod:`.session`; or the public).

The pages (:data:`PAGES`) are one shell (``dashboard/page.html``) that loads the page's module
(``static/dashboard/<page>.js``) and style sheet; the module fetches what it shows from the API.  A page
route checks what it can before sending the shell: a service or a device the reader may see nothing of is a
404, and a page for staff sends the public to the sign-in page.

* ``GET /`` — the overview; ``/services/{id}``, ``/devices/{id}``, ``/alarms``, ``/quality``,
  ``/guideline``, ``/signin`` — the other pages;
* ``GET /api/overview`` — a tile's figures per service (:func:`citylink.dashboard.overview.overview`);
* ``GET /api/overview/devices`` — every device the reader may place on the map, as compact rows;
* ``GET /api/district`` — Dobong-gu's outline and its dongs (the bundled GeoJSON): the map's base, since no
  tile server is reachable.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..access import ANONYMOUS
from ..dashboard import overview as figures
from ..dashboard.device import visible_device
from ..district import dongs, outline
from .alarms import may_see
from .auth import scoped_router, viewer

PAGE = Path(__file__).resolve().parents[1] / "dashboard" / "page.html"


@dataclass(frozen=True)
class Page:
    """A page of the dashboard: its module (``static/dashboard/<name>.js`` and ``<name>.css``), its title, and
    whether it is for signed-in staff only."""
    name: str
    title: str
    staff: bool = False


PAGES = {p.name: p for p in [
    Page("overview", "개요"), Page("service", "서비스"), Page("device", "기기"),
    Page("alarms", "경보", staff=True), Page("quality", "데이터 품질", staff=True),
    Page("guideline", "연계 표준"), Page("signin", "로그인"), Page("missing", "찾을 수 없음")]}
# the page loads nothing from elsewhere and runs no inline script
SECURITY = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def json_answer(doc: dict) -> Response:
    """A JSON answer that no cache keeps (it depends on the reader and on now)."""
    return Response(orjson.dumps(doc), media_type="application/json", headers={"Cache-Control": "no-store"})


@lru_cache(maxsize=None)
def _shell(name: str) -> str:
    return PAGE.read_text(encoding="utf-8").replace("{{page}}", name).replace("{{title}}", PAGES[name].title)


def page(name: str, status: int = 200, **data: str) -> HTMLResponse:
    """The shell for one page module, with what it is about as ``data-*`` attributes of its body (a
    service's id, a device's)."""
    attrs = "".join(f' data-{k}="{html.escape(v, quote=True)}"' for k, v in data.items())
    return HTMLResponse(_shell(name).replace("{{data}}", attrs), status_code=status, headers=SECURITY)


@lru_cache(maxsize=1)
def district() -> bytes:
    return orjson.dumps({"district": outline(), "dongs": dongs()})


def router(platform) -> APIRouter:
    r = scoped_router("public", tags=["dashboard"])

    def alarm_visible(request: Request):
        v = viewer(request)
        return lambda a: may_see(v, a)

    def staff_page(request: Request, name: str):
        """A page for signed-in staff; the public is sent to sign in first, and back here after."""
        if viewer(request) is ANONYMOUS:
            back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/signin?next={quote(back, safe='/')}", status_code=303)
        return page(name)

    def missing(what: str, value: str) -> HTMLResponse:
        """Not there, or not for this reader: the same answer either way."""
        return page("missing", 404, what=what, value=value)

    @r.get("/", include_in_schema=False, response_class=HTMLResponse)
    def overview_page():
        """The dashboard's overview: a tile per service, the district's map with every device."""
        return page("overview")

    @r.get("/services/{service_id}", include_in_schema=False, response_class=HTMLResponse)
    def service_page(request: Request, service_id: str):
        """A service: its devices, charts, alarms and sources — what the reader may see of them."""
        svc = platform.specs.services.get(service_id)
        if svc is None or not platform.visibility.view(viewer(request)).types_seen(svc):
            return missing("service", service_id)
        return page("service", service=service_id)

    @r.get("/devices/{entity_id:path}", include_in_schema=False, response_class=HTMLResponse)
    def device_page(request: Request, entity_id: str):
        """A device: every attribute's history, its recent messages, alarms and location."""
        e = visible_device(platform, viewer(request), entity_id)
        if e is None:
            return missing("device", entity_id)
        return page("device", device=entity_id, service=e.service or "")

    @r.get("/alarms", include_in_schema=False, response_class=HTMLResponse)
    def alarms_page(request: Request):
        return staff_page(request, "alarms")

    @r.get("/quality", include_in_schema=False, response_class=HTMLResponse)
    def quality_page(request: Request):
        return staff_page(request, "quality")

    @r.get("/guideline", include_in_schema=False, response_class=HTMLResponse)
    def guideline_page():
        return page("guideline")

    @r.get("/signin", include_in_schema=False, response_class=HTMLResponse)
    def signin_page():
        return page("signin")

    @r.get("/api/overview", summary="The dashboard's overview: a tile's figures per service")
    def overview(request: Request):
        """Per service the reader may see anything of: its names and department; its devices (with a key that may
        see the service's operations: by health state); messages in the last hour (and the rejection rate);
        open alarms by severity (operations readers only); and its headline figure (docs/dashboard.md)."""
        return json_answer(figures.overview(platform, viewer(request), alarm_visible(request)))

    @r.get("/api/overview/devices", summary="Every device the reader may place on the map, compact")
    def overview_devices(request: Request):
        """``{"fields": ["id", "service", "lon", "lat", "state", "alarm"], "devices": [[…], …]}``: one row per
        device whose location the reader may see; ``state`` (health) and ``alarm`` (the worst open alarm's
        severity) are null where the reader may not see them."""
        return json_answer(figures.devices(platform, viewer(request), alarm_visible(request)))

    @r.get("/api/district", summary="Dobong-gu's outline and its dongs (GeoJSON, WGS 84)")
    def district_map():
        return Response(district(), media_type="application/json",
                        headers={"Cache-Control": "public, max-age=86400"})

    return r

