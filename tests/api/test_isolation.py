"""Isolation, walked over the application's routes: every route the API has is called by the public, by a
key of another department and by a district staff key, with its path filled with the ids of another
department's entities, raw messages, subscriptions and datasets — and no answer may hold what that reader
may not see (a plate or a household number, as sent or pseudonymised; the welfare sensors' ids; a camera's
internal event reference).  A route whose path this walk does not know how to fill fails it: a new route
is walked from the day it is added.  A key of the owning department walks the same routes and does see the
pseudonyms, so the walk could tell a leak if there were one.  Both store engines."""
from __future__ import annotations

import json
import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from cltest import admin_client, manual_clock, started_platform, submit_and_wait, submit_examples
from citylink.alarms import Raise
from citylink.api.app import create_app
from citylink.config import BUNDLED_SPECS
from citylink.normalize.compiler import pseudonymiser

PARKING, HOMES = "dparking-vision-http", "safety-keeper-carelink-http"
PLATE, HOUSEHOLD = "12가3456", "DB-WF-2210"
EVENT = "NV-20261126-000381"                       # the camera's event reference: internal
DURING = {"timerel": "between", "timeAt": "2026-11-25T00:00:00Z", "endTimeAt": "2026-11-27T00:00:00Z"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request, tmp_path_factory):
    with started_platform(request.param, tmp_path_factory.mktemp("data"), manual_clock(), BUNDLED_SPECS) as p:
        raw = submit_examples(p, PARKING, HOMES)
        # a quarantined camera message: the plate is in its body
        bad = dict(p.specs.sources[PARKING].payload["example"], permit="perhaps")
        (qid, _), = submit_and_wait(p, PARKING, [json.dumps(bad, ensure_ascii=False).encode()]).items()
        admin = admin_client(p)
        ids = {t: admin.get("/ngsi-ld/v1/entities", params={"type": t}).json()[0]["id"]
               for t in ("ParkingSpot", "HomeSafetySensor")}
        keys = {name: p.issue_api_key(name, **kw)[1] for name, kw in {
            "parking": {"department": "welfare-mobility"}, "welfare": {"department": "welfare"},
            "sanitation": {"department": "sanitation"}, "staff": {"scopes": ["staff"]}}.items()}
        subs = {}
        for owner in ("parking", "welfare"):
            with client(p, keys[owner]) as c:
                r = c.post("/ngsi-ld/v1/subscriptions", json={
                    "type": "Subscription", "entities": [{"type": "ParkingSpot" if owner == "parking" else
                                                          "HomeSafetySensor"}],
                    "notification": {"endpoint": {"uri": "http://127.0.0.1:9/nowhere"}}})
            assert r.status_code == 201, r.text
            subs[owner] = r.headers["Location"].rsplit("/", 1)[-1]
        # an alarm of each: the bay's (internal to welfare-mobility) and the home's (restricted to welfare)
        alarms = {owner: p.alarms.raise_alarm(Raise(
            f"{service}/walk", ids[etype], etype, service, dept, "high", p.clock.now_us(), f"경보 {ids[etype]}",
            f"alarm of {ids[etype]}", {"eventRef": EVENT} if owner == "parking" else {},
            "internal" if owner == "parking" else "restricted")).alarm.id
            for owner, service, dept, etype in (("parking", "disabled-parking", "welfare-mobility", "ParkingSpot"),
                                                ("welfare", "safety-keeper", "welfare", "HomeSafetySensor"))}
        pz = pseudonymiser(b"test-key")
        yield {"platform": p, "raw": raw, "quarantined": qid, "ids": ids, "keys": keys, "subs": subs, "alarms": alarms,
               "secrets": {"restricted": {PLATE, pz(PLATE), HOUSEHOLD, pz(HOUSEHOLD), ids["HomeSafetySensor"]},
                           "internal": {EVENT}}}


def client(platform, key: str | None = None) -> TestClient:
    """Use it in a ``with``: one event loop and thread pool for all its requests (without, each request
    starts its own, and its threads' store connections add up)."""
    c = TestClient(create_app(platform))
    if key:
        c.headers["Authorization"] = f"Bearer {key}"
    return c


# How the walk fills each path parameter: with what belongs to another department (the camera's bay,
# raw message and subscription: welfare-mobility's; the home sensor: welfare's).  A parameter not here
# fails the walk — say here how to walk a new route.
def fillings(w) -> dict[str, list[str]]:
    return {
        "entity_id": [w["ids"]["ParkingSpot"], w["ids"]["HomeSafetySensor"]],
        "type_name": ["ParkingSpot", "HomeSafetySensor"],
        "attr_name": ["vehiclePlate", "householdRef", "eventRef"],
        "attr": ["vehiclePlate"],
        "raw_id": [str(w["raw"][PARKING]), str(w["raw"][HOMES]), str(w["quarantined"])],
        "subscription_id": [w["subs"]["parking"], w["subs"]["welfare"]],
        "source": [PARKING, HOMES],
        "dataset_id": ["disabled-parking", "safety-keeper"],
        "fmt": ["csv", "json", "parquet"],
        "alarm_id": [w["alarms"]["parking"], w["alarms"]["welfare"]],
        "service_id": ["disabled-parking", "safety-keeper"],
    }


# streams that never end are not walked: the alarm stream's isolation is tested in test_alarms_api.py
STREAMS = {"/api/alarms/stream"}


# query parameters a route needs to answer with data rather than a 400
QUERIES = {
    "/ngsi-ld/v1/entities": [{"type": "ParkingSpot"}, {"type": "HomeSafetySensor"}, {"idPattern": ".*"},
                             {"q": f'vehiclePlate=="{PLATE}"'}],
    "/ngsi-ld/v1/temporal/entities": [dict(DURING, type="ParkingSpot"), dict(DURING, type="HomeSafetySensor")],
    "/ngsi-ld/v1/temporal/entities/{entity_id}": [DURING],
    "/ngsi-ld/v1/types": [{}, {"details": "true"}],
    "/ngsi-ld/v1/attributes": [{}, {"details": "true"}],
    "/api/quarantine": [{}, {"source": PARKING}],
    "/opendata/datasets/{dataset_id}/download.{fmt}": [{k: DURING[k] for k in ("timeAt", "endTimeAt")}],
    "/opendata/datasets/{dataset_id}/download": [{"timeAt": DURING["timeAt"], "endTimeAt": DURING["endTimeAt"],
                                                  "format": f} for f in ("csv", "json")],
}


def routes(platform, scopes=None):
    app = create_app(platform)
    for router in app.state.routers:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            if (scopes is None or route.citylink_scope in scopes) and route.path not in STREAMS:
                yield re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path), route.methods


def urls(w, path: str):
    names = re.findall(r"\{(\w+)\}", path)
    fill = fillings(w)
    unknown = [n for n in names if n not in fill]
    assert not unknown, f"{path}: say in fillings() how the isolation walk fills {unknown}"
    combos = [{}]
    for n in names:
        combos = [dict(c, **{n: v}) for c in combos for v in fill[n]]
    for c in combos:
        url = path
        for n, v in c.items():
            url = url.replace("{" + n + "}", v)
        for q in QUERIES.get(path, [{}]):
            yield url, q


def leaks(text: str, secrets: set[str]) -> set[str]:
    return {s for s in secrets if s in text}


@pytest.mark.parametrize("reader", ["public", "sanitation", "staff"])
def test_no_route_shows_a_reader_what_it_may_not_see(world, reader):
    p = world["platform"]
    hidden = set(world["secrets"]["restricted"])
    if reader != "staff":
        hidden |= world["secrets"]["internal"]
    with client(p, world["keys"].get(reader)) as c:
        walked = walk(world, c, reader, hidden)
    assert walked > 50


def walk(world, c, reader, hidden) -> int:
    walked = 0
    for path, methods in routes(world["platform"]):
        for url, query in urls(world, path):
            for method in methods - {"HEAD"}:
                r = c.request(method, url, params=query,
                              json={} if method in ("POST", "PUT", "PATCH") else None)
                walked += 1
                body = r.content.decode("utf-8", "replace")
                told = hidden - leaks(url + json.dumps(query, ensure_ascii=False), hidden)   # echoing it tells nothing
                assert not leaks(body, told), (reader, method, url, query, r.status_code, leaks(body, told))
                assert not leaks(json.dumps(dict(r.headers), ensure_ascii=False), told), (method, url)
                if method != "GET":   # nothing but a read gets through to another department's things
                    assert r.status_code in (400, 401, 403, 404, 405, 422), (reader, method, url, r.status_code)
    return walked


@pytest.mark.parametrize("owner", ["parking", "welfare"])
def test_the_owning_department_walks_the_same_routes_and_sees_its_pseudonyms(world, owner):
    """The walk can see a leak: each department finds its own pseudonyms (and the camera's department its
    event reference, the welfare department its homes) on the same routes — never a plate or a household
    number as sent, which only an admin's audited read shows."""
    p = world["platform"]
    pz = pseudonymiser(b"test-key")
    own = {"parking": {pz(PLATE), EVENT}, "welfare": {pz(HOUSEHOLD), world["ids"]["HomeSafetySensor"]}}[owner]
    seen: set[str] = set()
    answered: dict[str, set[int]] = {}
    with client(p, world["keys"][owner]) as c:
        for path, methods in routes(p, scopes=("public", "reader")):   # admin routes: 403, tested apart
            if "GET" not in methods:
                continue
            for url, query in urls(world, path):
                r = c.get(url, params=query)
                answered.setdefault(path, set()).add(r.status_code)
                body = r.content.decode("utf-8", "replace")
                assert PLATE not in body and HOUSEHOLD not in body, url
                seen |= leaks(body, own) - leaks(url, own)
    assert seen == own
    # and the walk reached data: every read answered the owner at least once (its own things exist)
    assert {path for path, codes in answered.items() if 200 not in codes} == set()
