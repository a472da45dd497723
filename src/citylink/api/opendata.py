"""Open data over HTTP (scope ``public``; what a route shows depends on its reader, :mod:`citylink.access`):

* ``GET /opendata/catalog.jsonld`` — the DCAT catalogue, JSON-LD (``application/ld+json``);
* ``GET /opendata`` — the same catalogue as a page, Korean and English;
* ``GET /opendata/datasets/{dataset}/download.{format}`` (or ``…/download?format=``) — a dataset as CSV,
  JSON, JSON Lines or Parquet, streamed: a service's for ``timeAt``..``endTimeAt`` (required, at most
  ``opendata_max_days``) and optionally a ``bbox``; a table whole.

A dataset the reader may see nothing of answers 404 exactly as one that does not exist; an error names the
parameter at fault and the limit, never the data."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from ..clock import iso
from ..opendata import FORMATS, dataset, datasets, dcat, download, page
from .auth import scoped_router
from .ngsi_ld import _param, view_of
from .problems import NgsiError

DOWNLOAD_PARAMS = [
    _param("timeAt", "start of the time range, ISO 8601 with a time zone (required for a service's data)"),
    _param("endTimeAt", "end of the time range (excluded), ISO 8601 with a time zone; at most opendata_max_days "
                        "after timeAt"),
    _param("bbox", "minLon,minLat,maxLon,maxLat (WGS 84): entities positioned in it"),
]


def router(platform) -> APIRouter:
    r = scoped_router("public", tags=["Open data"])
    settings = platform.settings

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def departments() -> dict:
        return platform.specs.departments

    def reporting() -> dict:
        return {sid: svc.reporting_interval_s for sid, svc in platform.specs.services.items()}

    @r.get(dcat.CATALOG_PATH, summary="The open data catalogue (DCAT, JSON-LD)")
    def catalogue(request: Request):
        found = datasets(platform, view_of(request))
        doc = dcat.catalogue(base(request), list(found.values()), deployment=settings.deployment,
                             departments=departments(), reporting=reporting(), max_days=settings.opendata_max_days)
        return JSONResponse(doc, media_type="application/ld+json")

    @r.get(dcat.PAGE_PATH, summary="The open data catalogue, a page for people (Korean and English)",
           response_class=HTMLResponse)
    def catalogue_page(request: Request):
        found = datasets(platform, view_of(request))
        return HTMLResponse(page.render(base(request), list(found.values()), deployment=settings.deployment,
                                        departments=departments(), now_us=platform.clock.now_us(),
                                        max_days=settings.opendata_max_days,
                                        max_degrees=settings.opendata_max_bbox_degrees))

    async def start(request: Request, dataset_id: str, fmt: str | None):
        """Check the request, then answer with the download streaming."""
        if not fmt:
            raise NgsiError("BadRequestData", f"format: required ({', '.join(FORMATS.names())})")
        if fmt not in FORMATS.names():
            raise NgsiError("BadRequestData", f"format: {fmt!r} is not one of {', '.join(FORMATS.names())}")
        ds = await run_in_threadpool(dataset, platform, view_of(request), dataset_id)
        if ds is None:
            raise NgsiError("ResourceNotFound", f"dataset: no dataset {dataset_id!r} here (see {dcat.CATALOG_PATH})")
        qp = request.query_params
        try:
            if ds.time_series:
                t0, t1 = download.time_range(qp.get("timeAt"), qp.get("endTimeAt"), settings.opendata_max_days)
                box = download.bbox(qp.get("bbox"), settings.opendata_max_bbox_degrees)
                name = f"{ds.id}_{iso(t0)[:10]}_{iso(t1 - 1)[:10]}.{fmt}"
            else:
                given = [p for p in ("timeAt", "endTimeAt", "bbox") if p in qp]
                if given:
                    raise download.Refused(f"{given[0]}: {ds.id!r} is a table, downloaded whole (no time range "
                                           f"or area)")
                t0 = t1 = box = None
                name = f"{ds.id}_v{ds.version}.{fmt}"
        except download.Refused as e:
            raise NgsiError("BadRequestData", str(e)) from None
        body = download.stream(platform.store, ds, fmt, t0, t1, box, exclude_sources=platform.specs.unpublished)
        return StreamingResponse(body, media_type=FORMATS.get(fmt).media_type,
                                 headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @r.get("/opendata/datasets/{dataset_id}/download.{fmt}", summary="Download a dataset (streamed)",
           openapi_extra={"parameters": DOWNLOAD_PARAMS})
    async def download_file(dataset_id: str, fmt: str, request: Request):
        return await start(request, dataset_id, fmt)

    @r.get("/opendata/datasets/{dataset_id}/download", summary="Download a dataset, the format as a parameter",
           openapi_extra={"parameters": DOWNLOAD_PARAMS + [_param("format", ", ".join(FORMATS.names()))]})
    async def download_query(dataset_id: str, request: Request):
        return await start(request, dataset_id, request.query_params.get("format"))

    return r
