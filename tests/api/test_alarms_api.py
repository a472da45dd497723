"""``/api/alarms``: listing with filters, one alarm with its history, acknowledge and clear, the live stream
(Server-Sent Events, read from a real HTTP server), and alarms as NGSI-LD ``Alert`` entities — and who sees
which: the departments told, staff the internal ones, nobody outside welfare the welfare alarms.  Both store
engines."""
from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from cltest import NOW_US, admin_client, manual_clock, serving, started_platform, wait_until
from citylink.alarms import Raise
from citylink.api.app import create_app
from citylink.clock import US, iso
from citylink.config import BUNDLED_SPECS

BIN = "urn:ngsi-ld:WasteContainer:dobong:acme:A-17"
HOME = "urn:ngsi-ld:HomeSafetySensor:dobong:carelink:H-0001"


def bin_full(at=NOW_US, entity=BIN, **kw):
    return Raise("waste-bins/test-full", entity, "WasteContainer", "waste-bins", "sanitation", "medium", at,
                 "가득 참", "full", {"fillingLevel": 0.97}, lon=127.0471, lat=37.6688, **kw)


def no_activity(at=NOW_US):
    return Raise("safety-keeper/test-quiet", HOME, "HomeSafetySensor", "safety-keeper", "welfare", "high", at,
                 "활동 없음", "no activity", {"motionCount": 0}, visibility="restricted")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request, tmp_path_factory):
    clock = manual_clock()
    with started_platform(request.param, tmp_path_factory.mktemp("data"), clock, BUNDLED_SPECS) as p:
        keys = {name: p.issue_api_key(name, **kw)[1] for name, kw in {
            "sanitation": {"department": "sanitation"}, "welfare": {"department": "welfare"},
            "environment": {"department": "environment"}, "staff": {"scopes": ["staff"]},
            "public": {"scopes": ["public"]}}.items()}
        ids = {"bin": p.alarms.raise_alarm(bin_full(escalate_after_us=60 * US, escalate_severity="high",
                                                    escalate_department="environment")).alarm.id,
               "home": p.alarms.raise_alarm(no_activity()).alarm.id}
        assert p.alarms.process_due(NOW_US + 60 * US) == 1        # the bin's alarm escalates to environment
        yield p, keys, ids


def call(p, key, method, path, **kw):
    with TestClient(create_app(p)) as c:
        return c.request(method, path, headers={"Authorization": f"Bearer {key}"} if key else {}, **kw)


def listed(p, key, **params):
    """The test's alarms listed (the registry devices never heard of have theirs too)."""
    r = call(p, key, "GET", "/api/alarms", params=params)
    assert r.status_code == 200, r.text
    return {a["id"]: a for a in r.json()["alarms"] if "/test-" in a["rule"]}


def test_who_sees_which_alarms(world):
    p, keys, ids = world
    assert call(p, None, "GET", "/api/alarms").status_code == 401
    assert set(listed(p, keys["sanitation"])) == {ids["bin"]}
    assert set(listed(p, keys["environment"])) == {ids["bin"]}          # told by the escalation
    assert set(listed(p, keys["welfare"])) == {ids["home"]}
    assert set(listed(p, keys["staff"])) == {ids["bin"]}                # internal, not restricted
    assert listed(p, keys["public"]) == {}
    with admin_client(p) as c:
        assert {ids["bin"], ids["home"]} <= {a["id"] for a in c.get("/api/alarms").json()["alarms"]}
    for who in ("sanitation", "staff", "public", "environment"):
        r = call(p, keys[who], "GET", f"/api/alarms/{ids['home']}")
        assert r.status_code == 404 and "no alarm" in r.json()["detail"], who
        assert call(p, keys[who], "POST", f"/api/alarms/{ids['home']}/acknowledge").status_code == 404


def test_one_alarm_with_history_and_filters(world):
    p, keys, ids = world
    a = call(p, keys["sanitation"], "GET", f"/api/alarms/{ids['bin']}").json()
    assert (a["rule"], a["entity"], a["severity"], a["recipients"], a["raisedAt"]) == \
        ("waste-bins/test-full", BIN, "high", ["sanitation", "environment"], iso(NOW_US))
    assert a["message"] == {"ko": "가득 참", "en": "full"} and a["location"]["coordinates"] == [127.0471, 37.6688]
    assert [h["kind"] for h in a["history"]][:2] == ["raised", "escalated"]
    assert listed(p, keys["sanitation"], severity="low") == {}
    assert set(listed(p, keys["sanitation"], service="waste-bins", rule="waste-bins/test-full")) == {ids["bin"]}
    assert listed(p, keys["sanitation"], since=iso(NOW_US + 1)) == {}
    for params, named in (({"state": "asleep"}, "state: 'asleep'"), ({"severity": "huge"}, "severity: 'huge'"),
                          ({"service": "nope"}, "service: 'nope'"), ({"since": "yesterday"}, "since: "),
                          ({"department": "nope"}, "department: 'nope'")):
        r = call(p, keys["sanitation"], "GET", "/api/alarms", params=params)
        assert r.status_code == 400 and r.json()["detail"].startswith(named), params


def test_acknowledge_and_clear_by_the_responsible_department(world):
    p, keys, _ = world
    aid = p.alarms.raise_alarm(bin_full(NOW_US + 5 * US, entity=BIN + "-2")).alarm.id
    r = call(p, keys["staff"], "POST", f"/api/alarms/{aid}/acknowledge", json={"comment": "x"})
    assert r.status_code == 403 and "sanitation" in r.json()["detail"]
    r = call(p, keys["sanitation"], "POST", f"/api/alarms/{aid}/acknowledge", json={"comment": 5})
    assert r.status_code == 400 and r.json()["detail"].startswith("body.comment")
    r = call(p, keys["sanitation"], "POST", f"/api/alarms/{aid}/acknowledge", json={"comment": "crew sent"})
    assert r.status_code == 200, r.text
    by = r.json()["acknowledged"]["by"]                                # the key's holder, as the audit log names it
    assert (r.json()["state"], by, r.json()["acknowledged"]["comment"]) == \
        ("acknowledged", f"key {keys['sanitation'][4:12]} (sanitation)", "crew sent")
    r = call(p, keys["sanitation"], "POST", f"/api/alarms/{aid}/acknowledge")
    assert r.status_code == 409 and "acknowledged already" in r.json()["detail"]
    r = call(p, keys["sanitation"], "POST", f"/api/alarms/{aid}/clear", json={"comment": "emptied"})
    assert r.status_code == 200 and r.json()["state"] == "cleared" and r.json()["cleared"]["by"] == by
    assert call(p, keys["sanitation"], "POST", f"/api/alarms/{aid}/clear").status_code == 409
    assert aid in listed(p, keys["sanitation"], state="cleared") and aid not in listed(p, keys["sanitation"])
    h = call(p, keys["sanitation"], "GET", f"/api/alarms/{aid}").json()["history"]
    assert [(x["kind"], x["by"], x["comment"]) for x in h] == [
        ("raised", None, None), ("acknowledged", by, "crew sent"), ("cleared", by, "emptied")]


def test_alarms_are_alert_entities_seen_as_their_service(world):
    p, keys, ids = world

    def alerts(key):
        r = call(p, key, "GET", "/ngsi-ld/v1/entities", params={"type": "Alert", "limit": 100})
        assert r.status_code == 200, r.text
        return {e["id"]: e for e in r.json()}

    assert wait_until(lambda: ids["home"] in alerts(keys["welfare"]))
    mine = alerts(keys["sanitation"])
    assert ids["bin"] in mine and ids["home"] not in mine
    e = mine[ids["bin"]]
    assert e["alertSource"]["object"] == BIN and e["severity"]["value"] == "high"
    assert e["description"]["languageMap"] == {"ko": "가득 참", "en": "full"}
    assert ids["home"] not in alerts(keys["staff"]) and alerts(None) == {} and alerts(keys["public"]) == {}


@pytest.fixture(scope="module")
def server(world):
    with serving(create_app(world[0])) as url:
        yield url


def read_events(url, key, until, timeout=10.0):
    """Events of the stream as (event, data) until ``until(events)`` holds (in a thread: the stream never ends)."""
    events, done = [], threading.Event()

    def run():
        with httpx.stream("GET", url + "/api/alarms/stream", headers={"Authorization": f"Bearer {key}"},
                          timeout=timeout) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            kind = None
            for line in r.iter_lines():
                if line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    events.append((kind, json.loads(line.split(":", 1)[1])))
                    if until(events):
                        done.set()
                        return

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return events, done


def test_live_stream_brings_each_reader_its_own_alarms(world, server):
    p, keys, _ = world
    san, san_done = read_events(server, keys["sanitation"], lambda ev: any(k == "raised" for k, _ in ev))
    wel, wel_done = read_events(server, keys["welfare"], lambda ev: any(k == "raised" for k, _ in ev))
    assert wait_until(lambda: p.alarm_stream.clients >= 2, 10)
    home = p.alarms.raise_alarm(Raise("safety-keeper/test-quiet", HOME + "-2", "HomeSafetySensor", "safety-keeper",
                                      "welfare", "high", NOW_US + 10 * US, "활동 없음", "no activity", {},
                                      visibility="restricted")).alarm
    time.sleep(0.3)                                                    # the welfare alarm first: never to sanitation
    bin_ = p.alarms.raise_alarm(bin_full(NOW_US + 20 * US, entity=BIN + "-3")).alarm
    assert san_done.wait(10) and wel_done.wait(10)
    assert [d["alarm"]["id"] for k, d in san if k == "raised"] == [bin_.id]
    assert [d["alarm"]["id"] for k, d in wel if k == "raised"] == [home.id]
    assert san[0][0] == "hello"


def test_an_ngsi_ld_subscription_follows_the_alarms_it_may_see(world):
    from clreceiver import Receiver
    p, keys, _ = world
    receiver = Receiver()
    try:
        r = call(p, keys["sanitation"], "POST", "/ngsi-ld/v1/subscriptions", json={
            "type": "Subscription", "entities": [{"type": "Alert"}],
            "notification": {"endpoint": {"uri": receiver.url}}})
        assert r.status_code == 201, r.text
        home = p.alarms.raise_alarm(Raise("safety-keeper/test-quiet", HOME + "-9", "HomeSafetySensor",
                                          "safety-keeper", "welfare", "high", NOW_US + 30 * US, "활동 없음",
                                          "no activity", {}, visibility="restricted")).alarm
        bin_ = p.alarms.raise_alarm(bin_full(NOW_US + 40 * US, entity=BIN + "-9")).alarm
        got = receiver.wait_for(1)[0].body
        assert got["type"] == "Notification" and [e["id"] for e in got["data"]] == [bin_.id]
        assert got["data"][0]["alertSource"]["object"] == BIN + "-9"
        time.sleep(0.5)                                        # and nothing of the welfare alarm, ever
        assert all(e["id"] != home.id for x in receiver.received for e in x.body["data"])
    finally:
        receiver.close()
