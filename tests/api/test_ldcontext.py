"""A client's own @context: given by URL in the Link header (fetched from a real HTTP server on this
machine, with a timeout and a cache), or in an application/ld+json body; the read side answers in its
terms.  On both store engines (tests/api/conftest.py)."""
from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from cltest import ACME, SDM, acme_body, acme_urn, admin_client, submit_and_wait
from citylink.api.app import create_app
from citylink.api.ldcontext import Contexts
from citylink.spec.model import NGSI_LD_CORE_CONTEXT_URL

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
REL = 'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
BINS = {"@context": [{"fill": SDM + "fillingLevel", "Bin": SDM + "WasteContainer", "temp": SDM + "temperature"},
                     NGSI_LD_CORE_CONTEXT_URL]}
DOCS = {"/bins.jsonld": json.dumps(BINS).encode(), "/not-json": b"<html>hello</html>",
        "/no-context": b'{"fill": "x"}'}


class ContextServer(ThreadingHTTPServer):
    """Serves DOCS on 127.0.0.1 (any query string) and counts the fetches of each URL; /slow answers
    after 3 s."""
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fetches: dict[str, int] = {}

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.fetches[self.path] = self.server.fetches.get(self.path, 0) + 1
        if self.path == "/slow":
            time.sleep(3)
        body = DOCS.get(self.path.split("?")[0])
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/ld+json")
        self.end_headers()
        self.wfile.write(body or b"{}")

    def log_message(self, *args):
        """Quiet: the tests read what was fetched, not the server's log."""


@pytest.fixture(scope="module")
def server():
    s = ContextServer()
    t = threading.Thread(target=s.serve_forever, daemon=True)
    t.start()
    yield s
    s.shutdown()
    s.server_close()


@pytest.fixture
def client(platform):
    got = submit_and_wait(platform, ACME, [acme_body(ts="2026-11-26T09:00:00+09:00", fill=30),
                                           acme_body("A-18", ts="2026-11-26T09:00:00+09:00", fill=80)])
    assert sorted(got.values()) == [1, 1]
    return admin_client(platform)   # every attribute (batteryLevel is internal)


def link(url: str) -> dict:
    return {"Link": f"<{url}>; {REL}"}


def get(client, url, status=200, **kw):
    r = client.get(url, **kw)
    assert r.status_code == status, r.text
    return r


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_query_in_the_users_terms(client, server):
    url = server.url("/bins.jsonld")
    r = get(client, "/ngsi-ld/v1/entities?type=Bin&q=fill>0.5", headers=link(url))
    (e,) = r.json()
    assert e["id"] == acme_urn("A-18") and e["type"] == "Bin"
    assert e["fill"]["value"] == 0.8 and "fillingLevel" not in e
    assert e["temp"]["value"] == 12.5
    assert e["location"]["type"] == "GeoProperty"  # a core term stays
    assert e[SDM + "batteryLevel"]["value"] == 0.88  # no term for it in the user's context: its IRI
    assert r.headers["link"] == f"<{url}>; {REL}"  # the request's context is echoed


def test_retrieve_pick_and_key_values_in_the_users_terms(client, server):
    url = server.url("/bins.jsonld")
    e = get(client, f"/ngsi-ld/v1/entities/{acme_urn('A-17')}?pick=fill,location&options=keyValues",
            headers=link(url)).json()
    assert e == {"id": acme_urn("A-17"), "type": "Bin", "fill": 0.3,
                 "location": {"type": "Point", "coordinates": [127.0471, 37.6688]}}
    e = get(client, f"/ngsi-ld/v1/entities/{acme_urn('A-17')}?omit=fill", headers=link(url)).json()
    assert "fill" not in e and "temp" in e
    ids = [x["id"] for x in get(client, "/ngsi-ld/v1/entities?attrs=fill&type=Bin", headers=link(url)).json()]
    assert sorted(ids) == [acme_urn("A-17"), acme_urn("A-18")]


def test_users_context_in_a_json_ld_body_and_geojson(client, server):
    url = server.url("/bins.jsonld")
    r = get(client, f"/ngsi-ld/v1/entities/{acme_urn('A-17')}",
            headers={**link(url), "Accept": "application/ld+json"})
    assert r.json()["@context"] == url and r.json()["type"] == "Bin"
    r = get(client, f"/ngsi-ld/v1/entities?type=Bin&geoproperty=location",
            headers={**link(url), "Accept": "application/geo+json"})
    assert {f["properties"]["type"] for f in r.json()["features"]} == {"Bin"}
    assert all(f["geometry"]["type"] == "Point" for f in r.json()["features"])


def test_temporal_and_discovery_in_the_users_terms(client, server):
    url = server.url("/bins.jsonld")
    t = get(client, f"/ngsi-ld/v1/temporal/entities/{acme_urn('A-17')}?attrs=fill", headers=link(url)).json()
    assert t["type"] == "Bin" and [i["value"] for i in t["fill"]] == [0.3]
    types = get(client, "/ngsi-ld/v1/types", headers=link(url)).json()
    # A-18 at 80 % raised a collect-soon alarm: its Alert entity's type, which the user's context does not name
    assert types["typeList"] == ["Bin", "https://smartdatamodels.org/dataModel.Alert/Alert"]
    info = get(client, "/ngsi-ld/v1/types/Bin", headers=link(url)).json()
    assert info["typeName"] == "Bin" and "fill" in {a["attributeName"] for a in info["attributeDetails"]}
    attrs = get(client, "/ngsi-ld/v1/attributes", headers=link(url)).json()["attributeList"]
    assert "fill" in attrs and "fillingLevel" not in attrs
    assert get(client, "/ngsi-ld/v1/attributes/fill", headers=link(url)).json()["id"] == SDM + "fillingLevel"


def test_a_context_is_fetched_once_then_cached(client, server):
    path = f"/bins.jsonld?{uuid.uuid4().hex}"  # a URL of this test's own
    for _ in range(3):
        assert len(get(client, "/ngsi-ld/v1/entities?type=Bin", headers=link(server.url(path))).json()) == 2
    assert server.fetches[path] == 1


def test_unreachable_context_is_503_naming_it(client):
    url = f"http://127.0.0.1:{closed_port()}/ctx.jsonld"
    started = time.monotonic()
    r = get(client, "/ngsi-ld/v1/entities?type=Bin", 503, headers=link(url))
    assert time.monotonic() - started < 5
    p = r.json()
    assert p["type"] == ERR + "LdContextNotAvailable" and url in p["detail"] and p["detail"].startswith("Link:")


def test_slow_context_times_out(platform, server):
    app = create_app(platform)
    app.state.contexts = Contexts(platform, timeout=0.5)
    started = time.monotonic()
    r = get(TestClient(app), "/ngsi-ld/v1/entities?type=Bin", 503, headers=link(server.url("/slow")))
    assert time.monotonic() - started < 2.5
    assert r.json()["type"] == ERR + "LdContextNotAvailable" and "0.5 s" in r.json()["detail"]


@pytest.mark.parametrize("path", ["/not-json", "/no-context", "/missing.jsonld"])
def test_a_document_that_is_no_context_is_503(client, server, path):
    r = get(client, "/ngsi-ld/v1/entities?type=Bin", 503, headers=link(server.url(path)))
    assert r.json()["type"] == ERR + "LdContextNotAvailable" and server.url(path) in r.json()["detail"]


def test_link_with_a_json_ld_body_is_400(client, server):
    r = get(client, "/ngsi-ld/v1/entities?type=Bin", 400,
            headers={**link(server.url("/bins.jsonld")), "Content-Type": "application/ld+json"})
    assert r.json()["type"] == ERR + "BadRequestData" and r.json()["detail"].startswith("Link:")


def test_bad_link_headers_are_400(client):
    r = get(client, "/ngsi-ld/v1/entities?type=Bin", 400, headers=link("ctx.jsonld"))
    assert r.json()["detail"].startswith("Link:")
    two = {"Link": f"<http://a.example/1>; {REL}, <http://a.example/2>; {REL}"}
    assert get(client, "/ngsi-ld/v1/entities?type=Bin", 400, headers=two).json()["detail"].startswith("Link:")
    # a link of another relation is no context
    other = {"Link": '<http://a.example/next>; rel="next"'}
    assert len(get(client, "/ngsi-ld/v1/entities?type=WasteContainer", headers=other).json()) == 2


def test_the_core_context_alone_is_served_locally(client):
    core = get(client, "/ngsi-ld/v1/jsonldContexts/core").json()
    assert core["@context"]["@vocab"] == "https://uri.etsi.org/ngsi-ld/default-context/"
    # under the core context alone, CityLink's terms are default-context IRIs: no such entities
    # the versioned URL and the unversioned one clients send (no internet here: both must be local)
    for url in (NGSI_LD_CORE_CONTEXT_URL, "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"):
        h = link(url)
        assert get(client, "/ngsi-ld/v1/entities?type=WasteContainer", headers=h).json() == []
        (e, _) = get(client, f"/ngsi-ld/v1/entities?type={SDM}WasteContainer", headers=h).json()
        assert e["type"] == SDM + "WasteContainer" and SDM + "fillingLevel" in e and "location" in e


def test_citylinks_own_context_url_is_the_default(client):
    own = "http://testserver/ngsi-ld/v1/jsonldContexts/citylink"
    r = get(client, "/ngsi-ld/v1/entities?type=WasteContainer&q=fillingLevel>0.5", headers=link(own))
    assert [e["id"] for e in r.json()] == [acme_urn("A-18")] and "jsonldContexts/citylink" in r.headers["link"]


def request_with(headers: dict) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "POST", "path": "/ngsi-ld/v1/entities", "headers": raw,
                    "query_string": b"", "server": ("testserver", 80), "scheme": "http", "root_path": ""})


def test_for_request_takes_a_json_ld_bodys_context(platform, server):
    """The helper the write side calls with the parsed body."""
    asyncio.run(_for_request_with_bodies(Contexts(platform), server))


async def _for_request_with_bodies(contexts: Contexts, server):
    ld = request_with({"Content-Type": "application/ld+json"})
    url = server.url("/bins.jsonld")
    tm = await contexts.for_request(ld, {"id": "urn:x", "type": "Bin", "@context": url})
    assert tm.expand("Bin") == SDM + "WasteContainer" and tm.link == url
    inline = await contexts.for_request(ld, [{"id": "urn:x", "@context": BINS["@context"]},
                                             {"id": "urn:y", "@context": BINS["@context"]}])
    assert inline.expand("fill") == SDM + "fillingLevel" and inline.link is None
    for body, where in (({"id": "urn:x"}, "@context"), ([{"@context": url}, {"@context": BINS["@context"]}], "@context")):
        with pytest.raises(Exception) as e:
            await contexts.for_request(ld, body)
        assert e.value.kind == "BadRequestData" and e.value.detail.startswith(where)
    plain = request_with({"Content-Type": "application/json"})
    with pytest.raises(Exception) as e:
        await contexts.for_request(plain, {"id": "urn:x", "@context": url})
    assert e.value.kind == "BadRequestData" and e.value.detail.startswith("@context:")
    assert await contexts.for_request(plain, {"id": "urn:x"}) is contexts.default
    both = request_with({"Content-Type": "application/ld+json", "Link": f"<{url}>; {REL}"})
    with pytest.raises(Exception) as e:
        await contexts.for_request(both, {"id": "urn:x", "@context": url})
    assert e.value.kind == "BadRequestData" and e.value.detail.startswith("Link:")
