"""``/api/health/devices`` and ``/api/health/sources``: shapes, filters, errors that name the parameter,
and who sees which services' health.  Both store engines."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cltest import ACME, EXAMPLE_US, NOW_US, admin_client, manual_clock, started_platform, submit_examples
from citylink.api.app import create_app
from citylink.clock import US, iso
from citylink.config import BUNDLED_SPECS

PARKING, HOMES = "dparking-vision-http", "safety-keeper-carelink-http"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request, tmp_path_factory):
    clock = manual_clock()
    with started_platform(request.param, tmp_path_factory.mktemp("data"), clock, BUNDLED_SPECS) as p:
        submit_examples(p, ACME, PARKING, HOMES)
        keys = {name: p.issue_api_key(name, **kw)[1] for name, kw in {
            "sanitation": {"department": "sanitation"}, "welfare": {"department": "welfare"},
            "staff": {"scopes": ["staff"]}}.items()}
        yield p, keys


def get(p, key, path, **params):
    with TestClient(create_app(p)) as c:
        return c.get(path, params=params, headers={"Authorization": f"Bearer {key}"} if key else {})


def test_devices_with_filters_and_pages(world):
    p, keys = world
    with admin_client(p) as c:
        body = c.get("/api/health/devices", params={"service": "waste-bins"}).json()
        assert body["total"] == len(body["devices"]) >= 3
        states = {d["id"].rsplit(":", 1)[-1]: d["state"] for d in body["devices"]}
        assert states["A-18"] == "never_reported"
        never = c.get("/api/health/devices", params={"service": "waste-bins", "state": "never_reported"}).json()
        assert {d["state"] for d in never["devices"]} == {"never_reported"} and never["devices"][0]["registry"]
        page = c.get("/api/health/devices", params={"limit": 1, "offset": 1}).json()
        assert len(page["devices"]) == 1 and page["total"] > 1
        r = c.get("/api/health/devices", params={"state": "asleep"})
        assert r.status_code == 400 and "state: 'asleep'" in r.json()["detail"]
        r = c.get("/api/health/devices", params={"service": "nope"})
        assert r.status_code == 400 and r.json()["detail"].startswith("service: 'nope'")
        sources = {s["source"]: s for s in c.get("/api/health/sources").json()}
        acme = sources[ACME]
        assert acme["state"] == "active" and acme["lastHour"]["received"] == 1
        assert acme["silentAfterSeconds"] == 3600 and acme["status"] == "live"
        assert sources["bins-bravo-gateway"]["state"] == "never_received"


def test_a_department_sees_its_own_services_staff_the_internal_ones(world):
    p, keys = world
    assert get(p, None, "/api/health/devices").status_code == 401
    mine = get(p, keys["sanitation"], "/api/health/devices").json()["devices"]
    assert mine and {d["service"] for d in mine} == {"waste-bins"}
    assert {s["service"] for s in get(p, keys["sanitation"], "/api/health/sources").json()} == {"waste-bins"}
    staff = {d["service"] for d in get(p, keys["staff"], "/api/health/devices").json()["devices"]}
    assert {"waste-bins", "disabled-parking"} <= staff and "safety-keeper" not in staff   # restricted
    welfare = get(p, keys["welfare"], "/api/health/devices").json()["devices"]
    assert {d["service"] for d in welfare} == {"safety-keeper"}
    assert get(p, keys["sanitation"], "/api/health/devices", service="safety-keeper").json()["devices"] == []


def test_going_offline_shows(world):
    p, _ = world
    p.clock.set(NOW_US + 7200 * US + 1)
    with admin_client(p) as c:
        d = {d["id"].rsplit(":", 1)[-1]: d for d in c.get("/api/health/devices",
                                                         params={"service": "waste-bins"}).json()["devices"]}
        assert d["A-17"]["state"] == "offline" and d["A-17"]["since"] == iso(EXAMPLE_US + 3600 * US + 1)
        s = {s["source"]: s for s in c.get("/api/health/sources", params={"state": "silent"}).json()}
        assert ACME in s
