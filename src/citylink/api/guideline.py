"""The linkage guideline page's API (issue 7), scope ``public``: vendors have no account.

* ``GET /api/guideline`` — the guideline for the specs in force (:func:`citylink.spec.doc.guideline_body`, what
  ``citylink spec doc`` writes), its HTML body and version; rendered once per spec set and reader class;
* ``GET /api/guideline/sources`` — the sources a sample can be checked against, with their services' names,
  payload format, content type and example payload;
* ``POST /api/check-feed?source=<id>`` — what a sample payload (the raw body, any content type) would become:
  :func:`citylink.normalize.check.check_feed`, as ``citylink check-feed`` reports it.  Nothing is stored.
  Limited per client address (:data:`CHECKS_PER_MINUTE`) and in size (:data:`MAX_SAMPLE_BYTES`).

What a reader may not see stays hidden (:mod:`citylink.access.visibility`): an example is shown to the readers
who may see its service's data, and never when it carries a personal value as sent; a check shows the values
of the attributes the reader may see (a personal one pseudonymised by ``check_feed``), the others withheld —
the device registry, which a check reads, is the district's data, not the vendor's.
"""
from __future__ import annotations

import html
import math
import threading

from fastapi import APIRouter, Query, Request

from ..access import RateLimit
from ..access.redaction import SourceRedaction
from ..adapters.http_push import FORMAT_TYPES
from ..normalize.check import PSEUDONYM_KEY, check_feed
from ..normalize.compiler import pseudonymiser
from ..payload import PayloadProblem
from ..spec.doc import example_payload, guideline_body
from .auth import scoped_router, viewer
from .bodies import read_limited
from .dashboard import json_answer
from .problems import NgsiError

CHECKS_PER_MINUTE = 30            # per client address: a check costs a normalizer's compilation and run
MAX_SAMPLE_BYTES = 1_048_576      # or the source's own payload.max_bytes, when smaller
# the guideline is rendered with this address and shows the one it is read at (a cache per spec set, not per host)
BASE_MARK = "https://citylink.invalid"
# check_feed's pseudonyms: a problem's personal value gets the same pseudonym as the value
CHECK_PSEUDONYM = pseudonymiser(PSEUDONYM_KEY)


def _mapped(src) -> set[str]:
    """The attributes a source writes: its fields, and a long format's quantities."""
    long = (src.long or {}).get("attributes", {})
    return set(src.fields) | {t if isinstance(t, str) else t["attribute"] for t in long.values()}


def _example_shown(specs, v, src) -> bool:
    """An example is data of its service; and a personal value in it is as sent (nothing pseudonymised)."""
    svc = specs.services[src.service]
    attrs = svc.entity_types[src.entity_type].attributes
    return v.may_see(svc.visibility, svc.department) and not any(attrs[n].personal for n in _mapped(src) if n in attrs)


def router(platform) -> APIRouter:
    r = scoped_router("public", tags=["dashboard"])
    rate = RateLimit(CHECKS_PER_MINUTE)
    lock = threading.Lock()
    cache: dict = {"specs": None, "bodies": {}}    # withheld examples → (version, body), for one spec set

    def rendered(v) -> tuple[dict, str]:
        specs = platform.specs
        withheld = frozenset(sid for sid, src in specs.sources.items() if not _example_shown(specs, v, src))
        with lock:     # rendering takes a while: once per spec set (replaced whole on a reload) and reader class
            if cache["specs"] is not specs:
                cache["specs"], cache["bodies"] = specs, {}
            got = cache["bodies"].get(withheld)
            if got is None:
                got = cache["bodies"][withheld] = guideline_body(specs, BASE_MARK, withheld)
        return got

    @r.get("/api/guideline", summary="The linkage guideline for the specs in force (an HTML body)")
    def guideline(request: Request):
        """``{"version": {"id", "date", "digest"}, "html": "…"}``: the body of the guideline ``citylink spec doc``
        writes (Korean and English side by side), with the address it is read at in the transport profiles.
        The examples of sources whose data the reader may not see are withheld."""
        version, body = rendered(viewer(request))
        base = html.escape(str(request.base_url).rstrip("/"), quote=True)
        return json_answer({"version": version, "html": body.replace(BASE_MARK, base)})

    @r.get("/api/guideline/sources", summary="The sources a sample payload can be checked against")
    def sources(request: Request):
        """Per source in force (``testing`` ones too): its service and the service's names, vendor, status,
        payload format and encoding, the content type to send, and its example payload as text (null when the
        reader may not see it, or there is none)."""
        v = viewer(request)
        specs = platform.specs
        out = []
        for sid, src in sorted(specs.sources.items()):
            fmt = src.payload["format"]
            try:
                example = example_payload(src) if _example_shown(specs, v, src) else None
            except (UnicodeEncodeError, LookupError):    # an example its encoding cannot hold: spec check says so
                example = None
            out.append({"id": sid, "service": src.service, "vendor": src.vendor, "status": src.status,
                        "format": fmt, "encoding": src.payload.get("encoding", "utf-8"),
                        "contentType": FORMAT_TYPES.get(fmt, (None,))[0],
                        "example": example[0] if example else None})
        services = [{"id": k, "name": {"ko": s.name.ko, "en": s.name.en}} for k, s in sorted(specs.services.items())]
        return json_answer({"services": services, "sources": out})

    @r.post("/api/check-feed", summary="What a sample payload would become (nothing is stored)")
    def check(request: Request,
              source: str = Query(..., description="The source id the sample is for."),
              text: bool = Query(False, description="The body is UTF-8 text (a form's): written in the source's "
                                                    "payload.encoding before it is checked.")):
        """The raw body is checked as the source's vendor would send it: one report per message it holds (its
        outcome, the values it would store, or its problems) and the counts.  Values of attributes the reader
        may not see are withheld (``"withheld": true``)."""
        who = request.client.host if request.client else "unknown"
        wait = rate.retry_after(who)
        if wait is not None:
            raise NgsiError("TooManyRequests", f"client: {CHECKS_PER_MINUTE} checks a minute from one address; "
                                               f"retry in {math.ceil(wait)} s",
                            headers={"Retry-After": str(math.ceil(wait))})
        v = viewer(request)
        specs = platform.specs
        src = specs.sources.get(source)
        if src is None:
            raise NgsiError("ResourceNotFound", f"source: no source {source!r} is in force "
                                                f"(GET /api/guideline/sources lists them)")
        limit = min(MAX_SAMPLE_BYTES, int(src.payload.get("max_bytes", MAX_SAMPLE_BYTES)))
        declared = request.headers.get("content-length", "")
        body = None if declared.isdigit() and int(declared) > limit else read_limited(request, limit)
        if body is None:
            raise NgsiError("BadRequestData", f"body: over the limit of {limit:,} bytes for a sample", 413)
        if text:
            body = _encoded(body, src.payload.get("encoding", "utf-8"))
        try:
            reports = check_feed(specs, source, body, devices=platform.store.devices(source).get(source, []),
                                 clock=platform.clock, deployment=platform.settings.deployment)
        except PayloadProblem as e:     # a format that cannot even cut the body into messages
            raise NgsiError("BadRequestData", f"body: not {src.payload['format']} ({e})") from None
        if not reports:
            raise NgsiError("BadRequestData", f"body: holds no message to check (empty, or a {src.payload['format']} "
                                              f"without records)")
        _for_reader(reports, src, specs.services[src.service], platform.visibility.view(v))
        bad = sum(1 for rep in reports if rep["outcome"] == "quarantined")
        return json_answer({"source": source, "messages": len(reports), "stored": len(reports) - bad,
                            "quarantined": bad, "reports": reports})

    return r


def _for_reader(reports: list[dict], src, svc, view) -> None:
    """check_feed's reports as this reader may see them, in place: the values of attributes it may not see (and
    the entity of a type it sees nothing of) withheld, a problem's personal value pseudonymised."""
    scope = view.scope()
    entity_shown = scope is None or (src.service, src.entity_type) in scope
    redaction = SourceRedaction(src, svc, CHECK_PSEUDONYM)
    for rep in reports:
        rep["meta"] = {k: x for k, x in rep["meta"].items() if k != "backfill"}   # check_feed's own mark
        rep["problems"] = redaction.problems(rep["problems"])
        for val in rep["values"]:
            if not entity_shown:
                val["entity"] = None
            if not view.visible_in(src.service, src.entity_type, val["attribute"]):
                val.update(value=None, withheld=True)


def _encoded(body: bytes, encoding: str) -> bytes:
    """A form's UTF-8 text as the vendor's bytes in ``payload.encoding``."""
    try:
        return body.decode("utf-8").encode(encoding)
    except UnicodeDecodeError:
        raise NgsiError("BadRequestData", "body: not UTF-8 text (send the payload's bytes without text=true)") from None
    except (UnicodeEncodeError, LookupError) as e:
        raise NgsiError("BadRequestData", f"body: cannot be written in the source's payload.encoding {encoding!r} "
                                          f"({e})") from None
