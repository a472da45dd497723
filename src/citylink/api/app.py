"""The web application: a thin assembly of routers over one running platform."""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..adapters import http_push
from . import discovery, health, ngsi_ld
from .auth import scope
from .problems import NgsiError, problem


STATIC = Path(__file__).resolve().parent / "static"


def create_app(platform) -> FastAPI:
    app = FastAPI(title="CityLink", version=__version__, docs_url=None, redoc_url=None,
                  description="Smart city data platform: vendor ingest, NGSI-LD context API.")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False, dependencies=[scope("public")])
    def docs():
        """The OpenAPI documentation, with Swagger UI served from here (no CDN: it works offline)."""
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="CityLink API",
                                   swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger-ui/swagger-ui.css",
                                   swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
                                   oauth2_redirect_url="/static/swagger-ui/oauth2-redirect.html")

    app.state.platform = platform
    # every route of these routers declares its scope (auth.scope); tests walk them to make sure
    app.state.routers = [health.router(platform), http_push.router(platform), ngsi_ld.router(platform),
                         discovery.router(platform)]
    for router in app.state.routers:
        app.include_router(router)

    @app.exception_handler(NgsiError)
    async def ngsi_error(request: Request, exc: NgsiError):
        return problem(exc.kind, exc.detail, exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        return problem("BadRequestData", f"{where}: {first.get('msg')}")

    return app
