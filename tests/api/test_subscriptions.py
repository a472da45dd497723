"""``/ngsi-ld/v1/subscriptions``: create, list, retrieve, update, delete, with ProblemDetails errors naming
the member at fault, a key wanted, and notifications delivered to a real local HTTP server after values
arrive through the ingest route — on both engines (conftest.py).  What a reader's key may subscribe to and
is notified of: test_subscriptions_visibility.py."""
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from clreceiver import Receiver
from cltest import ACME, acme_body, acme_urn, make_platform
from citylink.api.app import create_app

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
SUBS = "/ngsi-ld/v1/subscriptions"
A17, A18 = acme_urn("A-17"), acme_urn("A-18")


@pytest.fixture
def admin(platform):
    return {"Authorization": "Bearer " + platform.settings.resolved_admin_key()}


@pytest.fixture
def client(platform, admin):
    return TestClient(create_app(platform), headers=admin)


@pytest.fixture
def receiver():
    with Receiver() as rx:
        yield rx


@pytest.fixture
def push(platform, client):
    """Values in through the vendors' route, as an adapter takes them; waits for their outcomes."""
    token = platform.issue_token(ACME)

    def send(*bodies: bytes):
        for b in bodies:
            r = client.post(f"/ingest/{ACME}", content=b, headers={"Authorization": f"Bearer {token}",
                                                                   "Content-Type": "application/json"})
            assert r.status_code == 200, r.text
    return send


def sub_doc(uri: str, **kw) -> dict:
    d = {"type": "Subscription", "entities": [{"type": "WasteContainer"}], "notification": {"endpoint": {"uri": uri}}}
    d.update(kw)
    return d


def create(client, doc: dict) -> str:
    r = client.post(SUBS, json=doc)
    assert r.status_code == 201, r.text
    assert r.content == b""
    return r.headers["location"]


def settle(platform) -> None:
    assert platform.subscriptions.notifier.idle(15)


def problem(r, status: int, kind: str, field: str | None = None) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["type"] == ERR + kind and body["title"] == kind
    if field is not None:
        assert body["detail"].startswith(field + ":"), body["detail"]
    return body["detail"]


def test_create_then_retrieve(client, receiver):
    where = create(client, sub_doc(receiver.url, id="urn:ngsi-ld:Subscription:full-bins", q="fillingLevel>0.8",
                                   description="bins to empty"))
    assert where == SUBS + "/urn:ngsi-ld:Subscription:full-bins"
    r = client.get(where)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    s = r.json()
    assert s["id"] == "urn:ngsi-ld:Subscription:full-bins" and s["type"] == "Subscription"
    assert s["q"] == "fillingLevel>0.8" and s["description"] == "bins to empty"
    assert s["status"] == "active" and s["isActive"] is True and s["createdBy"] == "admin"
    assert s["notification"]["timesSent"] == 0 and "lastNotification" not in s["notification"]
    assert s["notification"]["format"] == "normalized"
    assert s["jsonldContext"].endswith("/ngsi-ld/v1/jsonldContexts/citylink")  # the one it was created under
    assert "createdAt" not in s
    s = client.get(where + "?options=sysAttrs").json()
    assert s["createdAt"] == s["modifiedAt"] == "2026-11-26T00:30:00.000Z"
    ld = client.get(where, headers={"Accept": "application/ld+json"})
    assert ld.headers["content-type"].startswith("application/ld+json") and ld.json()["@context"] == s["jsonldContext"]


def test_a_generated_id(client, receiver):
    where = create(client, sub_doc(receiver.url))
    sid = where.rsplit("/", 1)[1]
    assert sid.startswith("urn:ngsi-ld:Subscription:")
    assert client.get(where).json()["id"] == sid


def test_a_taken_id_is_409(client, receiver):
    d = sub_doc(receiver.url, id="urn:ngsi-ld:Subscription:one")
    create(client, d)
    detail = problem(client.post(SUBS, json=d), 409, "AlreadyExists")
    assert "urn:ngsi-ld:Subscription:one" in detail


def test_unknown_subscriptions_are_404(client):
    url = SUBS + "/urn:ngsi-ld:Subscription:nope"
    problem(client.get(url), 404, "ResourceNotFound")
    problem(client.patch(url, json={"isActive": False}), 404, "ResourceNotFound")
    problem(client.delete(url), 404, "ResourceNotFound")


def test_list_with_paging_and_count(client, receiver):
    made = [create(client, sub_doc(receiver.url, id=f"urn:ngsi-ld:Subscription:s{i}")) for i in range(3)]
    r = client.get(SUBS + "?count=true")
    assert r.headers["NGSILD-Results-Count"] == "3"
    assert [s["id"] for s in r.json()] == [m.rsplit("/", 1)[1] for m in made]
    r = client.get(SUBS + "?limit=1&offset=1&count=true")
    assert [s["id"] for s in r.json()] == ["urn:ngsi-ld:Subscription:s1"] and r.headers["NGSILD-Results-Count"] == "3"
    assert "NGSILD-Results-Count" not in client.get(SUBS).headers
    problem(client.get(SUBS + "?limit=-1"), 400, "BadRequestData", "limit")
    problem(client.get(SUBS + "?limit=5000"), 403, "TooManyResults", "limit")
    problem(client.get(SUBS + "?offset=x"), 400, "BadRequestData", "offset")
    problem(client.get(SUBS + "?options=keyValues"), 400, "BadRequestData", "options")


@pytest.mark.parametrize("change,field", [
    ({"notification": {"endpoint": {"uri": "mailto:ops@dobong.go.kr"}}}, "notification.endpoint.uri"),
    ({"q": "(fillingLevel>0.8"}, "q"),
    ({"geoQ": {"georel": "near;maxDistance==x", "geometry": "Point", "coordinates": [127, 37]}}, "geoQ.georel"),
    ({"geoQ": {"georel": "within", "geometry": "Polygon", "coordinates": "[[1,2]"}}, "geoQ.coordinates"),
    ({"notification": {"format": "simplified", "endpoint": {"uri": "http://127.0.0.1:9/"}}}, "notification.format"),
    ({"throttling": -5}, "throttling"),
    ({"expiresAt": "2026-13-01T00:00:00Z"}, "expiresAt"),
    ({"entities": [{"type": "WasteContainer", "idPattern": "[a-"}]}, "entities[0].idPattern"),
    ({"type": "Entity"}, "type"),
    ({"watchedAttribute": ["fillingLevel"]}, "watchedAttribute"),
])
def test_a_malformed_subscription_is_400_naming_the_member(client, receiver, change, field):
    problem(client.post(SUBS, json={**sub_doc(receiver.url), **change}), 400, "BadRequestData", field)
    assert client.get(SUBS).json() == []


def test_malformed_bodies(client):
    problem(client.post(SUBS, content=b"{not json", headers={"Content-Type": "application/json"}), 400,
            "InvalidRequest", "body")
    problem(client.post(SUBS, content=b"[]", headers={"Content-Type": "application/json"}), 400,
            "BadRequestData", "(body)")
    problem(client.post(SUBS, content=b"{}", headers={"Content-Type": "text/plain"}), 415, "InvalidRequest",
            "Content-Type")
    problem(client.post(SUBS, json={"type": "Subscription", "entities": [{"type": "T"}]}), 400, "BadRequestData",
            "notification")
    problem(client.post(SUBS, json=sub_doc("http://127.0.0.1:9/", timeInterval=60)), 422, "OperationNotSupported",
            "timeInterval")


def test_notified_after_an_ingest_with_the_status_recorded(platform, client, receiver, push):
    where = create(client, sub_doc(receiver.url, notification={"format": "keyValues", "attributes": ["fillingLevel"],
                                                               "endpoint": {"uri": receiver.url}}))
    push(acme_body(fill=55))
    [n] = receiver.wait_for(1)
    assert n.body["data"] == [{"id": A17, "type": "WasteContainer", "fillingLevel": 0.55}]
    assert n.body["subscriptionId"] == where.rsplit("/", 1)[1]
    assert "jsonldContexts/citylink" in n.headers["link"]
    settle(platform)
    note = client.get(where).json()["notification"]
    assert note["timesSent"] == 1 and note["status"] == "ok"
    assert note["lastNotification"] == note["lastSuccess"] == "2026-11-26T00:30:00.000Z"
    assert "lastFailure" not in note


def test_a_failed_delivery_shows_as_last_failure(platform, client, push):
    platform.subscriptions.notifier.backoff = 0.01
    with Receiver([500]) as rx:
        where = create(client, sub_doc(rx.url))
        push(acme_body(fill=55))
        rx.wait_attempts(platform.settings.notify_attempts)
        settle(platform)
    note = client.get(where).json()["notification"]
    assert (note["timesSent"], note["timesFailed"], note["status"]) == (1, 1, "failed")
    assert note["lastFailure"] == "2026-11-26T00:30:00.000Z" and "lastSuccess" not in note
    assert note["lastFailureReason"] == "HTTP 500 Internal Server Error"


def test_ld_json_notifications_carry_the_context(platform, client, receiver, push):
    create(client, sub_doc(receiver.url, notification={"endpoint": {"uri": receiver.url,
                                                                    "accept": "application/ld+json"}}))
    push(acme_body(fill=55))
    [n] = receiver.wait_for(1)
    assert n.headers["content-type"] == "application/ld+json"
    assert n.body["@context"].endswith("/ngsi-ld/v1/jsonldContexts/citylink")


def test_patch_changes_what_is_notified(platform, client, receiver, push):
    where = create(client, sub_doc(receiver.url))
    r = client.patch(where, json={"q": "fillingLevel>0.8", "notification": {"format": "keyValues"}})
    assert r.status_code == 204, r.text
    s = client.get(where + "?options=sysAttrs").json()
    assert s["q"] == "fillingLevel>0.8" and s["notification"]["format"] == "keyValues"
    assert s["notification"]["endpoint"]["uri"] == receiver.url   # merged, not replaced
    push(acme_body(fill=50), acme_body("A-18", fill=90))
    [n] = receiver.wait_for(1)
    assert n.body["data"][0]["id"] == A18 and n.body["data"][0]["fillingLevel"] == 0.9
    settle(platform)
    assert len(receiver.received) == 1
    problem(client.patch(where, json={"throttling": -1}), 400, "BadRequestData", "throttling")
    problem(client.patch(where, json={"id": "urn:ngsi-ld:Subscription:other"}), 400, "BadRequestData", "id")
    assert client.get(where).json()["q"] == "fillingLevel>0.8"   # a refused update changes nothing
    assert client.patch(where, json={"isActive": False}).status_code == 204
    assert client.get(where).json()["status"] == "paused"
    push(acme_body("A-18", fill=95, ts="2026-11-26T09:10:00+09:00"))
    settle(platform)
    assert len(receiver.received) == 1
    assert client.patch(where, json={"expiresAt": "2026-11-26T00:00:00Z", "isActive": True}).status_code == 204
    assert client.get(where).json()["status"] == "expired"


def test_delete_stops_notifications(platform, client, receiver, push):
    where = create(client, sub_doc(receiver.url))
    push(acme_body(fill=50))
    receiver.wait_for(1)
    r = client.delete(where)
    assert r.status_code == 204 and r.content == b""
    problem(client.get(where), 404, "ResourceNotFound")
    push(acme_body(fill=60, ts="2026-11-26T09:10:00+09:00"))
    settle(platform)
    assert len(receiver.received) == 1


def test_every_subscription_route_wants_a_key(platform, receiver):
    bare = TestClient(create_app(platform))
    url = SUBS + "/urn:ngsi-ld:Subscription:x"
    for r in (bare.post(SUBS, json=sub_doc(receiver.url)), bare.get(SUBS), bare.get(url),
              bare.patch(url, json={"isActive": False}), bare.delete(url),
              bare.get(SUBS, headers={"Authorization": "Bearer wrong"})):
        problem(r, 401, "Unauthorized")


def test_insecure_no_auth_records_an_anonymous_creator(tmp_path, bins_dir, receiver):
    p = make_platform(tmp_path / "data", insecure_no_auth=True)
    p.start(specs_dir=bins_dir, watch=False)
    try:
        c = TestClient(create_app(p))
        where = create(c, sub_doc(receiver.url))
        assert c.get(where).json()["createdBy"] == "anonymous (insecure-no-auth)"
    finally:
        p.stop()


def test_the_context_notifications_refer_to(client, receiver):
    user = "https://example.org/my-context.jsonld"
    body = {**sub_doc(receiver.url), "@context": [user, "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"]}
    r = client.post(SUBS, content=json.dumps(body), headers={"Content-Type": "application/ld+json"})
    assert r.status_code == 201, r.text
    assert client.get(r.headers["location"]).json()["jsonldContext"] == user
    link = f'<{user}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    r = client.post(SUBS, json=sub_doc(receiver.url), headers={"Link": link})
    assert client.get(r.headers["location"]).json()["jsonldContext"] == user
    r = client.post(SUBS, json={**sub_doc(receiver.url), "@context": "not a url"})
    assert client.get(r.headers["location"]).json()["jsonldContext"].endswith("/ngsi-ld/v1/jsonldContexts/citylink")


def test_an_id_with_slashes_is_addressable(client, receiver):
    where = create(client, sub_doc(receiver.url, id="urn:ngsi-ld:Subscription:ops/full-bins"))
    assert client.get(where).json()["id"] == "urn:ngsi-ld:Subscription:ops/full-bins"
    assert client.delete(where).status_code == 204


def test_an_api_write_is_notified_like_an_adapter_value(platform, client, receiver, push):
    """One write path: an entity created through the NGSI-LD API reaches subscriptions as vendors' values do."""
    create(client, sub_doc(receiver.url, q="fillingLevel>0.8", notification={"format": "keyValues",
                                                                            "attributes": ["fillingLevel"],
                                                                            "endpoint": {"uri": receiver.url}}))
    written = "urn:ngsi-ld:WasteContainer:test:api-1"
    r = client.post("/ngsi-ld/v1/entities", json={
        "id": written, "type": "WasteContainer",
        "fillingLevel": {"type": "Property", "value": 0.95, "observedAt": "2026-11-26T00:10:00Z"}})
    assert r.status_code == 201, r.text
    assert receiver.wait_for(1)[0].body["data"] == [{"id": written, "type": "WasteContainer", "fillingLevel": 0.95}]
    push(acme_body("A-18", fill=90))
    assert receiver.wait_for(2)[1].body["data"] == [{"id": A18, "type": "WasteContainer", "fillingLevel": 0.9}]
