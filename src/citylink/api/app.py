"""The web application: a thin assembly of routers over one running platform."""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..adapters import http_push
from . import archive, discovery, health, ngsi_ld, ngsi_ld_write
from . import alarms as alarms_api
from . import audit as audit_api
from . import dashboard, devices, guideline, quality, services, session
from . import device_health
from . import opendata as opendata_api
from . import subscriptions as subscriptions_api
from .auth import scoped_router
from .ldcontext import Contexts
from .problems import NgsiError, problem


STATIC = Path(__file__).resolve().parent / "static"


def create_app(platform) -> FastAPI:
    app = FastAPI(title="CityLink", version=__version__, docs_url=None, redoc_url=None,
                  description="Smart city data platform: vendor ingest, NGSI-LD context API.")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    pages = scoped_router("public")

    @pages.get("/docs", include_in_schema=False)
    def docs():
        """The OpenAPI documentation, with Swagger UI served from here (no CDN: it works offline)."""
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="CityLink API",
                                   swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger-ui/swagger-ui.css",
                                   swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
                                   oauth2_redirect_url="/static/swagger-ui/oauth2-redirect.html")

    app.state.platform = platform
    app.state.contexts = Contexts(platform, timeout=platform.settings.ld_context_timeout_seconds,
                                  ttl=platform.settings.ld_context_ttl_seconds)
    # every route of these routers has its scope (auth.scoped_router); tests walk them to make sure
    app.state.routers = [pages, health.router(platform), health.operations_router(platform), http_push.router(platform),
                         ngsi_ld.router(platform), ngsi_ld_write.router(platform, app.state.contexts),
                         discovery.router(platform), subscriptions_api.router(platform), audit_api.router(platform),
                         archive.router(platform)]
    app.state.routers.append(opendata_api.router(platform))
    app.state.routers.append(device_health.router(platform))
    app.state.routers.append(alarms_api.router(platform))
    app.state.routers.append(dashboard.router(platform))
    app.state.routers += [session.router(platform), services.router(platform), devices.router(platform),
                          quality.router(platform), guideline.router(platform)]
    for router in app.state.routers:
        app.include_router(router)
    app.add_middleware(audit_api.AuditMiddleware, platform=platform)   # who read what

    @app.exception_handler(NgsiError)
    async def ngsi_error(request: Request, exc: NgsiError):
        return problem(exc.kind, exc.detail, exc.status, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        return problem("BadRequestData", f"{where}: {first.get('msg')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        """The router's own answers (no such path, a method the path does not take) in the same problem
        form: NGSI-LD clients read the error's type."""
        kind = HTTP_KINDS.get(exc.status_code, "BadRequestData" if exc.status_code < 500 else "InternalError")
        detail = {404: f"{request.url.path}: no such resource here",
                  405: f"{request.method}: {request.url.path} does not take this method"
                  }.get(exc.status_code, exc.detail)
        answer = problem(kind, str(detail), exc.status_code)
        answer.headers.update(exc.headers or {})   # Allow, on a 405
        return answer

    return app


HTTP_KINDS = {401: "Unauthorized", 404: "ResourceNotFound", 405: "InvalidRequest", 406: "NotAcceptable",
              415: "InvalidRequest"}
