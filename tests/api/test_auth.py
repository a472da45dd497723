"""Every route declares who may call it; admin routes want the admin key; the insecure switch opens all."""
from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from citylink.api.app import create_app
from citylink.api.auth import ScopedRoute
from citylink.config import Settings
from citylink.platform import Platform

ERR = "https://uri.etsi.org/ngsi-ld/errors/"


def scopes_of(route: APIRoute) -> list[str]:
    """The scope a route has (its class's), as a list: empty for a route made without one."""
    return [route.citylink_scope] if isinstance(route, ScopedRoute) and route.citylink_scope else []


def test_every_route_declares_exactly_one_scope(platform):
    app = create_app(platform)
    walked = {}
    for router in app.state.routers:
        for route in router.routes:
            assert isinstance(route, APIRoute), route  # no nested routers to hide a route in
            walked[re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)] = scopes_of(route)  # as documented
    walked.update({r.path: scopes_of(r) for r in app.routes if isinstance(r, APIRoute)})  # /docs
    assert len(walked) > 10
    assert {p: s for p, s in walked.items() if len(s) != 1} == {}
    # and nothing was added beside them: every path the application documents was walked
    documented = set(TestClient(app).get("/openapi.json").json()["paths"])
    assert documented <= set(walked), documented - set(walked)
    others = {getattr(r, "path", None) for r in app.routes if not isinstance(r, APIRoute)
              and type(r).__name__ != "_IncludedRouter"}
    assert others <= {"/openapi.json", "/static"}, others  # the schema and the vendored UI files: public by nature


@pytest.fixture
def keyed(tmp_path):
    p = Platform(Settings(data_dir=tmp_path, pseudonym_key="k", admin_key="the-admin-key"))
    p.start(watch=False)
    yield TestClient(create_app(p))
    p.stop()


def test_admin_routes_want_the_admin_key(keyed):
    for path in ("/api/ledger", "/api/transport-health"):
        r = keyed.get(path)
        assert r.status_code == 401 and r.json()["type"] == ERR + "Unauthorized" and "Authorization" in r.json()["detail"]
        assert keyed.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert keyed.get(path, headers={"Authorization": "Bearer the-admin-key"}).status_code == 200
        assert keyed.get(path, headers={"X-Api-Key": "the-admin-key"}).status_code == 200
    assert keyed.get("/healthz").status_code == 200  # public


def test_the_admin_key_is_made_once_in_the_data_directory(tmp_path):
    s = Settings(data_dir=tmp_path)
    key = s.resolved_admin_key()
    assert key.startswith("cl_admin_") and Settings(data_dir=tmp_path).resolved_admin_key() == key
    assert oct((tmp_path / "admin.key").stat().st_mode & 0o777) == "0o600"


def test_insecure_no_auth_lets_everything_through(tmp_path):
    p = Platform(Settings(data_dir=tmp_path, pseudonym_key="k", insecure_no_auth=True))
    p.start(watch=False)
    try:
        assert TestClient(create_app(p)).get("/api/ledger").status_code == 200
    finally:
        p.stop()
