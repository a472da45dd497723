"""The web application: a thin assembly of routers over one running platform."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

from .. import __version__
from ..adapters import http_push
from . import discovery, health, ngsi_ld
from .problems import NgsiError, problem


def create_app(platform) -> FastAPI:
    app = FastAPI(title="CityLink", version=__version__,
                  description="Smart city data platform: vendor ingest, NGSI-LD context API.")
    app.state.platform = platform
    app.include_router(health.router(platform))
    app.include_router(http_push.router(platform))
    app.include_router(ngsi_ld.router(platform))
    app.include_router(discovery.router(platform))

    @app.exception_handler(NgsiError)
    async def ngsi_error(request: Request, exc: NgsiError):
        return problem(exc.kind, exc.detail, exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        return problem("BadRequestData", f"{where}: {first.get('msg')}")

    return app
