"""From a commit to a receiver: matching (entities, watchedAttributes, q, geoQ), rendering, throttling,
retries, timeouts and the recorded status — on both engines, against a real local HTTP server."""
from __future__ import annotations

import time

from clreceiver import Receiver
from cltest import ACME, acme_body, acme_urn, submit_and_wait

A17, A18, A19 = acme_urn("A-17"), acme_urn("A-18"), acme_urn("A-19")
NOTIFY_WAIT = 15.0


def subscribe(platform, uri: str, **kw) -> str:
    notification = kw.pop("notification", {})
    d = {"type": "Subscription", "entities": [{"type": "WasteContainer"}],
         "notification": {**notification, "endpoint": {"uri": uri, **notification.get("endpoint", {})}}}
    d.update(kw)
    return platform.subscriptions.create(d, "admin").id


def settle(platform) -> None:
    """Every notification the commits so far cause has been sent (or given up on) and recorded."""
    assert platform.subscriptions.notifier.idle(NOTIFY_WAIT)


def ids(notification) -> list[str]:
    return sorted(e["id"] for e in notification.body["data"])


def test_an_ingested_value_is_notified(platform, receiver):
    sid = subscribe(platform, receiver.url)
    submit_and_wait(platform, ACME, [acme_body(fill=73)])
    [n] = receiver.wait_for(1)
    assert n.headers["content-type"] == "application/json"
    assert n.body["type"] == "Notification" and n.body["id"].startswith("urn:ngsi-ld:Notification:")
    assert n.body["subscriptionId"] == sid and n.body["notifiedAt"] == "2026-11-26T00:30:00.000Z"
    [e] = n.body["data"]
    assert e["id"] == A17 and e["type"] == "WasteContainer"
    assert e["fillingLevel"] == {"type": "Property", "value": 0.73, "unitCode": "C62",
                                 "observedAt": "2026-11-26T00:00:00.000Z"}
    settle(platform)
    row = platform.store.subscription(sid)
    assert (row.times_sent, row.times_failed, row.last_notification, row.last_success) == (1, 0, row.created_at,
                                                                                           row.created_at)


def test_key_values_and_attribute_projection(platform, receiver):
    subscribe(platform, receiver.url, notification={"format": "keyValues", "attributes": ["fillingLevel"]})
    submit_and_wait(platform, ACME, [acme_body(fill=40)])
    [n] = receiver.wait_for(1)
    assert n.body["data"] == [{"id": A17, "type": "WasteContainer", "fillingLevel": 0.4}]


def test_concise_and_receiver_info_headers(platform, receiver):
    subscribe(platform, receiver.url, notification={
        "format": "concise", "endpoint": {"receiverInfo": [{"key": "X-Auth-Token", "value": "s3cret"}]}})
    submit_and_wait(platform, ACME, [acme_body(fill=40)])
    [n] = receiver.wait_for(1)
    assert n.headers["x-auth-token"] == "s3cret"
    assert n.body["data"][0]["fillingLevel"] == {"value": 0.4, "unitCode": "C62",
                                                 "observedAt": "2026-11-26T00:00:00.000Z"}


def test_watched_attributes_by_name_or_iri(platform, receiver):
    with Receiver() as by_iri:
        subscribe(platform, receiver.url, watchedAttributes=["fillingLevel"])
        subscribe(platform, by_iri.url, watchedAttributes=["https://smartdatamodels.org/dataModel.WasteManagement/"
                                                           "fillingLevel"])
        # only the temperature changes: no fill_pct, battery, state or compactions in the message
        submit_and_wait(platform, ACME, [acme_body(fill=None, battery=None, state=None, compactions=None, temp=3)])
        settle(platform)
        assert receiver.received == [] and by_iri.received == []
        submit_and_wait(platform, ACME, [acme_body(fill=55, battery=None, state=None, compactions=None, temp=None)])
        assert ids(receiver.wait_for(1)[0]) == [A17] and ids(by_iri.wait_for(1)[0]) == [A17]


def test_q_filters_on_the_current_values(platform, receiver):
    subscribe(platform, receiver.url, q="fillingLevel>0.8")
    submit_and_wait(platform, ACME, [acme_body(fill=50), acme_body("A-18", fill=90)])
    [n] = receiver.wait_for(1)
    assert ids(n) == [A18]
    settle(platform)
    submit_and_wait(platform, ACME, [acme_body(fill=20, ts="2026-11-26T09:10:00+09:00")])
    settle(platform)
    assert len(receiver.received) == 1


def test_geo_q(platform, receiver):
    # A-17 is at Chang-dong station (127.0471, 37.6688); A-18 is 1.7 km south
    subscribe(platform, receiver.url, geoQ={"georel": "near;maxDistance==300", "geometry": "Point",
                                            "coordinates": [127.0470, 37.6690]})
    submit_and_wait(platform, ACME, [acme_body(fill=50), acme_body("A-18", fill=90)])
    assert ids(receiver.wait_for(1)[0]) == [A17]


def test_entities_by_id_pattern_and_by_id(platform, receiver):
    with Receiver() as by_id:
        subscribe(platform, receiver.url, entities=[{"type": "WasteContainer", "idPattern": ".*:A-1[89]$"}])
        subscribe(platform, by_id.url, entities=[{"type": "WasteContainer", "id": A19}])
        submit_and_wait(platform, ACME, [acme_body(fill=50), acme_body("A-18", fill=90), acme_body("A-19", fill=5)])
        assert ids(receiver.wait_for(1)[0]) == [A18, A19]
        assert ids(by_id.wait_for(1)[0]) == [A19]
        settle(platform)
        assert len(receiver.received) == 1 and len(by_id.received) == 1


def test_another_type_is_not_notified(platform, receiver):
    subscribe(platform, receiver.url, entities=[{"type": "ParkingSpot"}])
    submit_and_wait(platform, ACME, [acme_body(fill=50)])
    settle(platform)
    assert receiver.received == []


def test_throttling_coalesces_changes_into_the_next_notification(platform, receiver):
    sid = subscribe(platform, receiver.url, throttling=1)
    submit_and_wait(platform, ACME, [acme_body(fill=10)])
    first = receiver.wait_for(1)[0]
    # within the throttling period: held back, then sent together, with the newest values
    submit_and_wait(platform, ACME, [acme_body("A-18", fill=20)])
    submit_and_wait(platform, ACME, [acme_body(fill=30, ts="2026-11-26T09:10:00+09:00")])
    second = receiver.wait_for(2)[1]
    assert second.at - first.at >= 1.0
    assert ids(second) == [A17, A18]
    assert {e["id"]: e["fillingLevel"]["value"] for e in second.body["data"]}[A17] == 0.3
    settle(platform)
    assert len(receiver.received) == 2 and platform.store.subscription(sid).times_sent == 2


def test_expired_and_paused_subscriptions_are_quiet(platform, receiver):
    expired = subscribe(platform, receiver.url, expiresAt="2026-11-26T00:29:59Z")  # the clock says 00:30
    paused = subscribe(platform, receiver.url, isActive=False)
    submit_and_wait(platform, ACME, [acme_body(fill=50)])
    settle(platform)
    assert receiver.received == []
    assert platform.store.subscription(expired).times_sent == 0 and platform.store.subscription(paused).times_sent == 0


def test_update_and_delete_take_effect_at_once(platform, receiver):
    sid = subscribe(platform, receiver.url, isActive=False)
    subs = platform.subscriptions
    subs.update(sid, {"isActive": True, "notification": {"format": "keyValues"}})
    submit_and_wait(platform, ACME, [acme_body(fill=50)])
    assert receiver.wait_for(1)[0].body["data"][0]["fillingLevel"] == 0.5
    settle(platform)
    subs.delete(sid)
    submit_and_wait(platform, ACME, [acme_body(fill=60, ts="2026-11-26T09:10:00+09:00")])
    settle(platform)
    assert len(receiver.received) == 1


def test_a_failure_is_retried_with_backoff_and_recorded(platform):
    with Receiver([500, 200]) as rx:
        sid = subscribe(platform, rx.url)
        submit_and_wait(platform, ACME, [acme_body(fill=50)])
        assert ids(rx.wait_for(1)[0]) == [A17]
        settle(platform)
        assert rx.attempts == 2
        row = platform.store.subscription(sid)
        assert (row.times_sent, row.times_failed, row.last_failure) == (1, 0, None)   # the retry made it
    with Receiver([503]) as rx:
        sid = subscribe(platform, rx.url)
        submit_and_wait(platform, ACME, [acme_body(fill=60, ts="2026-11-26T09:10:00+09:00")])
        settle(platform)
        assert rx.attempts == 3   # notify_attempts
        row = platform.store.subscription(sid)
        assert (row.times_sent, row.times_failed, row.last_success) == (1, 1, None)
        assert row.last_failure == row.last_notification and row.last_failure_reason == "HTTP 503 Service Unavailable"
    with Receiver([404]) as rx:   # the receiver refuses it: no point in sending it again
        sid = subscribe(platform, rx.url)
        submit_and_wait(platform, ACME, [acme_body(fill=70, ts="2026-11-26T09:20:00+09:00")])
        settle(platform)
        assert rx.attempts == 1 and platform.store.subscription(sid).last_failure_reason == "HTTP 404 Not Found"


def test_a_receiver_that_never_answers_times_out_without_holding_ingestion_up(platform):
    with Receiver(hang=True) as rx, Receiver() as ok:
        stuck = subscribe(platform, rx.url)
        fine = subscribe(platform, ok.url)
        submit_and_wait(platform, ACME, [acme_body(fill=50)])
        rx.wait_attempts(1)
        ok.wait_for(1)
        t0 = time.monotonic()
        # while the notifier waits for the stuck receiver, messages are taken in and others are notified
        submit_and_wait(platform, ACME, [acme_body("A-18", fill=60)], timeout=5)
        assert time.monotonic() - t0 < 1.2   # the stuck delivery has more than 1.5 s to go
        ok.wait_for(2)
        settle(platform)
        row = platform.store.subscription(stuck)
        assert row.times_failed >= 1 and row.last_failure is not None and row.last_success is None
        assert row.last_failure_reason.startswith("no answer within 0.5 s")
        assert platform.store.subscription(fine).times_failed == 0


def test_no_subscriptions_costs_the_commit_nothing(platform):
    assert platform.subscriptions.matcher._subs == ()
    submit_and_wait(platform, ACME, [acme_body(fill=50)])
    assert platform.subscriptions.notifier.idle(0)


def test_subscriptions_survive_a_restart_of_the_platform_object(platform, receiver):
    sid = subscribe(platform, receiver.url)
    platform.subscriptions.refresh()   # as a new process would read them at start
    assert platform.subscriptions.lookup(sid) is not None
    submit_and_wait(platform, ACME, [acme_body(fill=50)])
    assert receiver.wait_for(1)[0].body["subscriptionId"] == sid
