"""The OpenAPI description and its page at /docs, which must work with no internet."""
from __future__ import annotations

import re

from fastapi.testclient import TestClient

from citylink.api.app import create_app


def test_docs_page_loads_only_local_assets(platform):
    c = TestClient(create_app(platform))
    page = c.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/static/") for a in assets), assets
    assert "https://" not in page.text.split("<script>")[0]  # no CDN in the page's head
    for a in assets:
        assert c.get(a).status_code == 200, a


def test_openapi_lists_every_ngsi_ld_route(platform):
    paths = TestClient(create_app(platform)).get("/openapi.json").json()["paths"]
    for p in ("/ngsi-ld/v1/entities", "/ngsi-ld/v1/entities/{entity_id}", "/ngsi-ld/v1/temporal/entities",
              "/ngsi-ld/v1/temporal/entities/{entity_id}", "/ngsi-ld/v1/types", "/ngsi-ld/v1/attributes",
              "/ngsi-ld/v1/jsonldContexts", "/ingest/{source}"):
        assert p in paths, p
