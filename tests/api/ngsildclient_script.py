"""Drives a running CityLink with the PyPI NGSI-LD client ``ngsildclient`` (Orange's, written by no one
here) and prints what it got back as one JSON document on stdout.

It runs in a virtual environment of its own (ngsildclient pins httpx<0.24 and other old versions that
clash with CityLink's), started by tests/api/test_ngsildclient.py with that environment's python:

    python ngsildclient_script.py '{"port": 8080, "key": "…", "id": "urn:…", "times": [t0, t1, t2]}'

It imports nothing of CityLink's.  Every step uses the client's own API (no hand-made request): create,
retrieve, query by type and by ``q``, two updates through the client's batch operations (ngsildclient has
no call for ``POST /entities/{id}/attrs`` or ``PATCH``: ``Client.update`` deletes and re-creates), and
the temporal representation, simplified and normalized.  The first step that raises stops the run; the
summary then names it with the error and the HTTP exchanges so far.  Exit status: 0 when every step ran.
"""
from __future__ import annotations

import contextlib
import json
import sys
import traceback

import requests
from requests.auth import AuthBase

EXCHANGES: list[dict] = []
_send = requests.Session.send


def _recording_send(self, request, **kw):
    """Every HTTP exchange of the client, the broker probes of ``Client()`` included."""
    entry = {"request": f"{request.method} {request.path_url}",
             "headers": {k: v for k, v in request.headers.items()
                         if k.lower() in ("accept", "content-type", "link", "ngsild-tenant")}}
    if request.body:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        entry["body"] = body if len(body) <= 600 else body[:600] + "…"
    EXCHANGES.append(entry)
    try:
        r = _send(self, request, **kw)
    except Exception as e:
        entry["error"] = repr(e)
        raise
    entry["status"] = r.status_code
    for h in ("Content-Type", "Location", "Link", "NGSILD-Results-Count"):
        if h in r.headers:
            entry.setdefault("response_headers", {})[h] = r.headers[h]
    if r.status_code >= 300 and r.content:
        entry["response"] = r.text[:600]
    return r


requests.Session.send = _recording_send


class Bearer(AuthBase):
    """The admin key as ``Authorization: Bearer`` on every request (``Client(custom_auth=…)``)."""

    def __init__(self, key: str):
        self.key = key

    def __call__(self, r):
        r.headers["Authorization"] = f"Bearer {self.key}"
        return r


def main(cfg: dict) -> dict:
    import ngsildclient
    from ngsildclient import Client, Entity
    from ngsildclient.model.constants import CORE_CONTEXT

    host, port, eid = cfg.get("host", "127.0.0.1"), cfg["port"], cfg["id"]
    t0, t1, t2 = cfg["times"]
    # CityLink's own @context (served by the broker itself): with it "WasteContainer" and "fillingLevel" are
    # the Smart Data Models terms of the platform's waste-bins service, not the core context's defaults.
    ctx = f"http://{host}:{port}/ngsi-ld/v1/jsonldContexts/citylink"
    out: dict = {"ngsildclient": ngsildclient.__version__, "context": ctx, "results": {}, "failed": None,
                 "http": EXCHANGES}
    res = out["results"]
    step = "connect"

    def entity(fill: float, at: str) -> Entity:
        e = Entity("WasteContainer", eid, ctx=[ctx, CORE_CONTEXT])
        return e.prop("fillingLevel", fill, observedat=at, unitcode="C62")

    def batch(r) -> dict:
        d = {"op": r.op, "success": list(r.success), "errors": list(r.errors)}
        if not r.ok:
            raise RuntimeError(f"batch {r.op}: errors {r.errors!r}")
        return d

    def ids(entities) -> list[str]:
        return sorted(e.id for e in entities)

    try:
        # Client() probes GET /ngsi-ld/v1/entities?type=None&limit=0&count=true and raises if that fails,
        # then guesses the vendor from GET /version (Orion-LD) and GET /actuator/health, /actuator/info.
        client = Client(host, port, custom_auth=Bearer(cfg["key"]), verbose=False)
        res[step] = {"vendor": client.broker.vendor.value, "version": client.broker.version}

        step = "create"  # POST /ngsi-ld/v1/entities/ (trailing slash), application/ld+json, @context in the body
        first = entity(0.7, t0)
        first.gprop("location", (37.6688, 127.0471))  # (lat, lon): the client writes GeoJSON [lon, lat]
        res[step] = client.create(first)

        step = "retrieve"
        res[step] = client.get(eid, ctx=ctx, asdict=True)

        step = "query_type"  # a count request (limit=0&count=true) then pages of 100
        res[step] = ids(client.query(type="WasteContainer", ctx=ctx))

        step = "query_q"
        res[step] = ids(client.query(type="WasteContainer", q="fillingLevel>0.5", ctx=ctx))

        step = "update"  # POST /ngsi-ld/v1/entityOperations/update/ : the attributes given replace theirs
        res[step] = batch(client.batch.update([entity(0.3, t1)]))

        step = "query_q_after_update"
        res[step] = ids(client.query(type="WasteContainer", q="fillingLevel>0.5", ctx=ctx))

        step = "upsert"  # POST /ngsi-ld/v1/entityOperations/upsert/?options=update
        res[step] = batch(client.batch.upsert([entity(0.9, t2)], update=True))

        step = "query_q_after_upsert"
        res[step] = ids(client.query(type="WasteContainer", q="fillingLevel>0.5", ctx=ctx))

        step = "retrieve_after_upsert"
        res[step] = client.get(eid, ctx=ctx, asdict=True)

        step = "temporal"  # GET /ngsi-ld/v1/temporal/entities/{id}?options=temporalValues
        res[step] = client.temporal.get(eid, ctx=ctx)

        step = "temporal_normalized"  # GET /ngsi-ld/v1/temporal/entities/{id}?attrs=fillingLevel
        res[step] = client.temporal.get(eid, attrs=["fillingLevel"], ctx=ctx, verbose=True)
        client.close()
    except Exception as e:
        out["failed"] = {"step": step, "error": f"{type(e).__name__}: {e}",
                         "traceback": traceback.format_exc(limit=-4)}
    return out


if __name__ == "__main__":
    config = json.loads(sys.argv[1])
    with contextlib.redirect_stdout(sys.stderr):  # the client prints progress ("Entities updated : 1/1")
        summary = main(config)
    print(json.dumps(summary, default=str))
    sys.exit(1 if summary["failed"] else 0)
