"""HTTP push: ``POST /ingest/{source}`` with the source's token.

The body is one message or a JSON array of messages (for ``json``; CSV and JSON
lines bodies are cut by rows/lines).  The answer comes only after every message
is durably archived.  The endpoint then waits briefly for the normalizer and
answers with each message's outcome:

* 200 – every message was stored (possibly with quality flags) or a duplicate;
* 207 – some were quarantined (each with its problems); 422 when all were;
* 202 – archived, the normalizer had not finished within ``ingest_wait_seconds``;
* 401 bad or missing token, 404 unknown source (the known ones are not listed),
  409 a source whose spec declares another transport, 413 body over the limit,
  415 a content type the source's format does not take.  These are refused at the
  transport: nothing is archived, and the refusal is counted per source (unknown
  names share the row ``(unknown)``).
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .. import payload
from ..errors import TransportRefused
from ..normalize.records import OUTCOME_NAMES, QUARANTINED
from ..api.auth import scoped_router
from ..api.bodies import read_limited
from . import Transport, register

register(Transport(
    name="http_push",
    title={"ko": "HTTP 푸시", "en": "HTTP push"},
    profile=(
        "`POST {base}/ingest/{source}` over HTTPS with the header `Authorization: Bearer <token>` "
        "(tokens are issued by the district with `citylink sources token <source>`). "
        "The body is one message or a JSON array of messages; `Content-Type: application/json` "
        "(`text/csv` or `application/x-ndjson` for those formats). Bodies above the size limit are refused "
        "with 413. A 2xx answer means the messages are archived; the body lists each message's outcome "
        "(`stored`, `stored_flagged`, `duplicate`, `quarantined` with its problems). Retry on 5xx or "
        "network errors only: redelivered messages are recognised as duplicates."),
    keys={"path": "informative: the path the vendor posts to (always /ingest/<source id>)"},
))

JSON_TYPES = ("application/json", "application/ld+json", "text/json")
FORMAT_TYPES = {"json": JSON_TYPES, "jsonl": ("application/x-ndjson", "application/jsonl", "application/json-lines",
                                              "text/plain", *JSON_TYPES),
                "csv": ("text/csv", "text/plain", "application/csv")}


def router(platform) -> APIRouter:
    r = scoped_router("source", tags=["ingest"])  # the route checks the source token
    settings = platform.settings

    def refuse(source: str, reason: str, detail: str, status: int, **extra) -> JSONResponse:
        platform.store.count_refused(source, reason, platform.clock.now_us())
        return JSONResponse({"type": f"https://w3id.org/citylink/errors/{reason}", "title": reason,
                             "status": status, "detail": detail, "source": source, **extra}, status_code=status)

    @r.post("/ingest/{source}", summary="Push vendor messages for one source")
    def ingest(source: str, request: Request):
        if source not in platform.specs.sources:
            # counted under one name: a caller cannot add ledger rows by inventing sources, nor learn ours
            return refuse("(unknown)", "unknown_source", f"unknown source {source!r}: check the path "
                          "/ingest/<source id> against your source spec", 404)
        spec = platform.specs.sources[source]
        if spec.transport["type"] != "http_push":
            return refuse(source, "wrong_transport", f"source {source!r} is declared for transport "
                          f"{spec.transport['type']!r} in its spec (transport.type), not http_push", 409)
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else request.headers.get("x-citylink-token")
        if not platform.authorize(source, token):
            return refuse(source, "bad_token",
                          "missing or wrong token (header Authorization: Bearer <token>)" if token is not None else
                          "missing token: send the header Authorization: Bearer <token>", 401)
        limit = int(spec.payload.get("max_bytes", settings.max_body_bytes))
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            return refuse(source, "too_large", f"body of {declared} bytes is over the limit of {limit} bytes", 413,
                          limit=limit)
        body = read_limited(request, limit)
        if body is None:
            return refuse(source, "too_large", f"body is over the limit of {limit} bytes", 413, limit=limit)
        if not body:
            return refuse(source, "empty_body", "the request body is empty", 400)
        fmt = spec.payload["format"]
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype and ctype not in FORMAT_TYPES.get(fmt, (ctype,)):
            return refuse(source, "unsupported_media_type",
                          f"Content-Type {ctype!r} does not fit payload.format {fmt!r} "
                          f"(use {FORMAT_TYPES[fmt][0]})", 415)
        parts = list(payload.get(fmt).split(body, spec.payload))
        messages = platform.make_messages(source, parts, "http_push")
        for m in messages:
            m.meta["remote"] = request.client.host if request.client else None
        ids = platform.submit(messages)
        got = platform.wait(ids, settings.ingest_wait_seconds)
        if len(got) < len(ids):
            got.update({k: v[0] for k, v in platform.store.outcomes([i for i in ids if i not in got]).items() if v[0]})
        problems = platform.store.outcomes([i for i, o in got.items() if o == QUARANTINED]) if QUARANTINED in got.values() else {}
        results = []
        for i in ids:
            item = {"id": str(i), "outcome": OUTCOME_NAMES.get(got.get(i, 0), "pending")}
            if i in problems and problems[i][1]:
                item["problems"] = problems[i][1]
            results.append(item)
        nq = sum(1 for x in results if x["outcome"] == "quarantined")
        pending = sum(1 for x in results if x["outcome"] == "pending")
        status = 202 if pending else (422 if results and nq == len(results) else 207 if nq else 200)
        return JSONResponse({"source": source, "received": len(ids), "results": results}, status_code=status)

    return r


__all__ = ["TransportRefused", "router"]
