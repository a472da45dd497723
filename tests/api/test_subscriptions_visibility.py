"""Subscriptions under the visibility model, on both engines with the shipped specs: any reader's key may
subscribe, a subscription acts for its key — its notifications carry only what that key may see, its
filters look only at that — another key's subscription is not found, and a revoked key's stops.

Two departments share the type ParkingSpot: welfare-mobility owns the disabled-parking bays (a camera's
plate, personal and restricted; the permit check, internal), climate-energy the EV-charging bays (its own
plates).  Both publish a bay's status and category; sanitation's bins are public but for their battery;
welfare's Safety Keeper homes are restricted throughout."""
from __future__ import annotations

import json
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient

from clreceiver import Receiver
from cltest import ACME, acme_body, acme_urn, started_platform, submit_and_wait
from citylink.api.app import create_app
from citylink.config import BUNDLED_SPECS
from citylink.normalize.records import FLAGGED, STORED

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
SUBS = "/ngsi-ld/v1/subscriptions"
A17 = acme_urn("A-17")
BAYS, EV, HOMES = "dparking-vision-http", "evpark-ecocharge-mqtt", "safety-keeper-carelink-http"
PLATE, EV_PLATE, HOUSEHOLD = "12가3456", "34나5678", "DB-WF-2210"   # in the vendors' examples
EVERYTHING = [{"type": t} for t in ("ParkingSpot", "HomeSafetySensor", "WasteContainer")]
FAST = {"notify_timeout_seconds": 0.5, "notify_attempts": 2, "notify_backoff_seconds": 0.05}


@pytest.fixture(params=["sqlite", "postgres"])
def platform(request, tmp_path, clock):
    with started_platform(request.param, tmp_path / "data", clock, BUNDLED_SPECS, **FAST) as p:
        yield p


def keyed(platform, **kw) -> TestClient:
    _, key = platform.issue_api_key("test", **kw)
    return TestClient(create_app(platform), headers={"Authorization": f"Bearer {key}"})


def example(platform, source: str, **change) -> dict:
    return {**platform.specs.sources[source].payload["example"], **change}


def report(platform, source: str, **change) -> None:
    """A vendor's example message (changed as given) in, normalized and stored."""
    assert set(submit_and_wait(platform, source, [example(platform, source, **change)]).values()) <= {STORED, FLAGGED}


def report_all(platform, n: int = 0) -> None:
    """Every department's example, the ``n``-th time (later, so that it is not a duplicate)."""
    report(platform, BAYS, eventId=f"NV-20261126-00038{n}", occurredAt=f"2026-11-26T09:1{n}:30+09:00")
    report(platform, EV, ts=1795652100000 + n * 60_000)
    report(platform, HOMES, motion=14 + n)
    assert set(submit_and_wait(platform, ACME, [acme_body(fill=30 + n, battery=40,
                                                          ts=f"2026-11-26T09:0{n}:00+09:00")]).values()) == {STORED}


def subscribe(client, uri: str, **kw) -> str:
    doc = {"type": "Subscription", "entities": [{"type": "ParkingSpot"}],
           "notification": {"format": "keyValues", "endpoint": {"uri": uri}}}
    doc.update(kw)
    r = client.post(SUBS, json=doc)
    assert r.status_code == 201, r.text
    return r.headers["location"]


def settle(platform) -> None:
    assert platform.subscriptions.notifier.idle(15)


def notified(rx: Receiver) -> dict[str, dict]:
    """Entity id → the entity as last notified, over every notification received."""
    return {e["id"]: e for n in rx.received for e in n.body["data"]}


def one_id(admin, type_name: str, q: str = "") -> str:
    (e,) = admin.get(f"/ngsi-ld/v1/entities?type={type_name}{q}").json()
    return e["id"]


def pseudonym(admin, entity_id: str, attr: str) -> str:
    return admin.get(f"/ngsi-ld/v1/entities/{entity_id}?options=keyValues").json()[attr]


def test_each_key_is_notified_only_of_what_it_may_see(platform, admin):
    readers = {"ev": keyed(platform, department="climate-energy"),
               "parking": keyed(platform, department="welfare-mobility"),
               "welfare": keyed(platform, department="welfare"),
               "staff": keyed(platform, scopes=["staff"]),
               "admin": admin}
    with ExitStack() as stack:
        rx = {name: stack.enter_context(Receiver()) for name in readers}
        for name, client in readers.items():
            subscribe(client, rx[name].url, entities=EVERYTHING)
        report_all(platform)
        settle(platform)
        seen = {name: notified(r) for name, r in rx.items()}
        bodies = {name: "".join(json.dumps(n.body, ensure_ascii=False) for n in r.received) for name, r in rx.items()}

    bay = one_id(admin, "ParkingSpot", "&q=category==%22forDisabled%22")
    ev_bay = one_id(admin, "ParkingSpot", "&q=category==%22forElectricalCharging%22")
    home = one_id(admin, "HomeSafetySensor")
    plate, ev_plate = pseudonym(admin, bay, "vehiclePlate"), pseudonym(admin, ev_bay, "vehiclePlate")
    household = pseudonym(admin, home, "householdRef")
    public_bay = {"id": bay, "type": "ParkingSpot", "status": "occupied", "category": "forDisabled"}
    public_ev_bay = {"id": ev_bay, "type": "ParkingSpot", "status": "occupied", "category": "forElectricalCharging"}

    assert set(seen["admin"]) == {bay, ev_bay, home, A17}
    assert seen["admin"][bay]["vehiclePlate"] == plate and seen["admin"][home]["householdRef"] == household
    # a department: its own entities whole (its plates pseudonymised), another's public attributes only
    assert set(seen["ev"]) == {bay, ev_bay, A17}
    assert seen["ev"][bay] == public_bay
    assert seen["ev"][ev_bay]["vehiclePlate"] == ev_plate and seen["ev"][ev_bay]["vehicleType"] == "nonEv"
    assert {"charging", "parkedMinutes", "location"} <= set(seen["ev"][ev_bay])
    assert set(seen["parking"]) == {bay, ev_bay, A17}
    assert seen["parking"][ev_bay] == public_ev_bay
    assert seen["parking"][bay]["vehiclePlate"] == plate and seen["parking"][bay]["permitValid"] is False
    assert seen["parking"][bay]["eventRef"] == "NV-20261126-000380"
    assert set(seen["welfare"]) == {bay, ev_bay, home, A17}
    assert seen["welfare"][bay] == public_bay and seen["welfare"][home]["householdRef"] == household
    # district staff: internal data of every department, nothing restricted
    assert set(seen["staff"]) == {bay, ev_bay, A17}
    assert seen["staff"][bay]["permitValid"] is False and "location" in seen["staff"][bay]
    assert seen["staff"][ev_bay]["vehicleType"] == "nonEv"
    assert "vehiclePlate" not in seen["staff"][bay] and "vehiclePlate" not in seen["staff"][ev_bay]
    assert seen["staff"][A17]["batteryLevel"] == 0.4
    assert seen["ev"][A17]["fillingLevel"] == 0.3 and "batteryLevel" not in seen["ev"][A17]
    # the plate of a disabled-parking bay reaches no other department, in no form
    for name, text in bodies.items():
        assert PLATE not in text and EV_PLATE not in text and HOUSEHOLD not in text, name
        assert (plate in text) == (name in ("parking", "admin")), name
        assert (ev_plate in text) == (name in ("ev", "admin")), name
        assert (household in text) == (name in ("welfare", "admin")), name


def test_a_filter_on_what_the_owner_may_not_see_matches_nothing(platform, admin):
    report_all(platform)
    bay = one_id(admin, "ParkingSpot", "&q=category==%22forDisabled%22")
    ev_bay = one_id(admin, "ParkingSpot", "&q=category==%22forElectricalCharging%22")
    plate, ev_plate = pseudonym(admin, bay, "vehiclePlate"), pseudonym(admin, ev_bay, "vehiclePlate")
    near_bay = admin.get(f"/ngsi-ld/v1/entities/{bay}?options=keyValues").json()["location"]["coordinates"]
    near = {"georel": "near;maxDistance==50", "geometry": "Point", "coordinates": near_bay}
    ev, parking, staff = (keyed(platform, department="climate-energy"), keyed(platform, department="welfare-mobility"),
                          keyed(platform, scopes=["staff"]))
    cases = {  # (reader, what the subscription filters on) → the entities it is notified of
        "ev: another's plate": (ev, {"q": f'vehiclePlate=="{plate}"'}, set()),
        "ev: its own plate": (ev, {"q": f'vehiclePlate=="{ev_plate}"'}, {ev_bay}),
        "ev: another's internal value": (ev, {"q": "permitValid==false"}, set()),
        "ev: watching another's internal value": (ev, {"watchedAttributes": ["permitValid"]}, set()),
        "ev: near another's bay": (ev, {"geoQ": near}, set()),
        "ev: another's plate, notified": (ev, {"notification": {"attributes": ["status", "vehiclePlate"]}}, {ev_bay}),
        "ev: public values": (ev, {"q": 'status=="occupied"'}, {bay, ev_bay}),
        "parking: its plate": (parking, {"q": f'vehiclePlate=="{plate}"'}, {bay}),
        "parking: watching its value": (parking, {"watchedAttributes": ["permitValid"]}, {bay}),
        "staff: a plate": (staff, {"q": f'vehiclePlate=="{plate}"'}, set()),
        "staff: an internal value": (staff, {"q": "permitValid==false"}, {bay}),
        "staff: near the bay": (staff, {"geoQ": near}, {bay}),
    }
    with ExitStack() as stack:
        rx = {case: stack.enter_context(Receiver()) for case in cases}
        for case, (client, filters, _) in cases.items():
            note = {"format": "keyValues", **filters.pop("notification", {}), "endpoint": {"uri": rx[case].url}}
            subscribe(client, rx[case].url, notification=note, **filters)
        report_all(platform, 1)
        settle(platform)
        got = {case: set(notified(r)) for case, r in rx.items()}
    assert got == {case: want for case, (_, _, want) in cases.items()}


def test_a_change_only_of_what_the_owner_may_not_see_is_not_notified(platform, admin):
    report_all(platform)
    bay = one_id(admin, "ParkingSpot", "&q=category==%22forDisabled%22")
    ev, parking = keyed(platform, department="climate-energy"), keyed(platform, department="welfare-mobility")
    with Receiver() as ev_rx, Receiver() as parking_rx:
        subscribe(ev, ev_rx.url)
        subscribe(parking, parking_rx.url)
        # the permit check of a disabled-parking bay changes (internal): its department hears of it
        r = admin.patch(f"/ngsi-ld/v1/entities/{bay}/attrs/permitValid", json={"type": "Property", "value": True})
        assert r.status_code == 204, r.text
        assert parking_rx.wait_for(1)[0].body["data"][0]["permitValid"] is True
        settle(platform)
        assert ev_rx.received == []   # the change of a value it may not see does not show as a notification
        # the car leaves: the bay's public status changes too
        report(platform, BAYS, eventId="NV-20261126-000390", occurredAt="2026-11-26T09:25:00+09:00", kind="LEAVE")
        [n] = ev_rx.wait_for(1)
        assert n.body["data"] == [{"id": bay, "type": "ParkingSpot", "status": "free", "category": "forDisabled"}]


def test_another_keys_subscription_is_not_found(platform, admin):
    ev, parking = keyed(platform, department="climate-energy"), keyed(platform, department="welfare-mobility")
    theirs = subscribe(parking, "http://127.0.0.1:9/bays", id="urn:ngsi-ld:Subscription:bays")
    mine = subscribe(ev, "http://127.0.0.1:9/ev", id="urn:ngsi-ld:Subscription:ev")
    nothing = SUBS + "/urn:ngsi-ld:Subscription:nothing"
    for call in (lambda c, u: c.get(u), lambda c, u: c.patch(u, json={"q": 'status=="free"'}),
                 lambda c, u: c.delete(u)):
        r, absent = call(ev, theirs), call(ev, nothing)
        assert r.status_code == absent.status_code == 404 and r.json()["type"] == ERR + "ResourceNotFound"
        assert r.json()["detail"].replace("bays", "nothing") == absent.json()["detail"]   # nothing tells them apart
    bays = parking.get(theirs).json()
    assert bays["id"] == "urn:ngsi-ld:Subscription:bays" and "q" not in bays   # untouched
    assert bays["createdBy"].startswith("key ") and bays["createdBy"].endswith(" (test)")
    r = ev.get(SUBS + "?count=true")
    assert [s["id"] for s in r.json()] == ["urn:ngsi-ld:Subscription:ev"] and r.headers["NGSILD-Results-Count"] == "1"
    assert [s["id"] for s in parking.get(SUBS).json()] == ["urn:ngsi-ld:Subscription:bays"]
    # admins reach every subscription: the bootstrap key and a key with the admin scope
    for client in (admin, keyed(platform, scopes=["admin"])):
        assert [s["id"] for s in client.get(SUBS).json()] == ["urn:ngsi-ld:Subscription:bays",
                                                               "urn:ngsi-ld:Subscription:ev"]
        assert client.get(mine).status_code == 200
    assert admin.patch(theirs, json={"isActive": False}).status_code == 204
    assert parking.get(theirs).json()["status"] == "paused"
    assert ev.delete(mine).status_code == 204 and admin.delete(theirs).status_code == 204
    assert admin.get(SUBS).json() == []


def test_anonymous_requests_may_not_subscribe(platform):
    public = TestClient(create_app(platform))
    doc = {"type": "Subscription", "entities": [{"type": "ParkingSpot"}],
           "notification": {"endpoint": {"uri": "http://127.0.0.1:9/"}}}
    for r in (public.post(SUBS, json=doc), public.get(SUBS), public.get(SUBS + "/urn:ngsi-ld:Subscription:x")):
        assert r.status_code == 401 and r.json()["type"] == ERR + "Unauthorized"
        assert "anonymous requests may not" in r.json()["detail"]
    r = public.post(SUBS, json=doc, headers={"Authorization": "Bearer not-a-key"})
    assert r.status_code == 401 and "not valid" in r.json()["detail"]
    assert platform.store.subscriptions() == ([], 0)


def test_a_revoked_keys_subscription_stops_and_says_why(platform, admin, clock):
    row, key = platform.issue_api_key("test", department="climate-energy")
    ev = TestClient(create_app(platform), headers={"Authorization": f"Bearer {key}"})
    with Receiver() as rx:
        where = subscribe(ev, rx.url)
        report(platform, EV)
        assert rx.wait_for(1)[0].body["data"][0]["vehicleType"] == "nonEv"
        clock.advance(60)
        assert platform.store.revoke_api_key(row.id, platform.clock.now_us())
        platform.keys.TTL_S = 0   # a revocation reaches every process within TTL_S (5 s); here at once
        report(platform, EV, ts=1795652160000)
        report(platform, EV, ts=1795652220000)
        settle(platform)
        assert len(rx.received) == 1
    s = admin.get(where).json()
    assert s["status"] == "paused" and s["isActive"] is False
    note = s["notification"]
    assert (note["timesSent"], note["timesFailed"], note["status"]) == (2, 1, "failed")   # counted once, then quiet
    assert note["lastFailure"] == note["lastNotification"] == "2026-11-26T00:31:00.000Z"
    assert note["lastSuccess"] == "2026-11-26T00:30:00.000Z"
    assert note["lastFailureReason"] == (f"not sent: the API key it acts for ({row.id}) is revoked or no longer "
                                         "valid; the subscription is paused")
    r = ev.get(where)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
