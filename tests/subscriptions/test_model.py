"""Checking a subscription document: normalised when right, refused naming the member when wrong."""
from __future__ import annotations

import pytest

from citylink.api.problems import NgsiError
from citylink.store.base import SubscriptionRow
from citylink.subscriptions.model import merge, parse, representation
from cltest import NOW_US

URI = "http://127.0.0.1:9/notify"


def doc(**kw) -> dict:
    d = {"type": "Subscription", "entities": [{"type": "WasteContainer"}], "notification": {"endpoint": {"uri": URI}}}
    d.update(kw)
    return d


def refused(d, member: str, kind: str = "BadRequestData") -> str:
    with pytest.raises(NgsiError) as e:
        parse(d)
    assert e.value.kind == kind, e.value.detail
    assert e.value.detail.startswith(member + ":"), e.value.detail
    return e.value.detail


def test_a_minimal_subscription_is_normalised():
    sub = parse(doc())
    assert sub.id.startswith("urn:ngsi-ld:Subscription:") and len(sub.id) > 40
    assert sub.doc == {"id": sub.id, "type": "Subscription", "entities": [{"type": "WasteContainer"}],
                       "notification": {"format": "normalized", "endpoint": {"uri": URI, "accept": "application/json"}},
                       "isActive": True}
    assert sub.watched is None and sub.q is None and sub.geo is None and sub.throttling == 0
    assert parse(doc()).id != sub.id


def test_every_member_is_read():
    sub = parse(doc(id="urn:ngsi-ld:Subscription:full", subscriptionName="full bins", description="80 %",
                    entities=[{"type": "WasteContainer", "idPattern": ".*acme.*"}, {"type": "X", "id": "urn:x:1"}],
                    watchedAttributes=["fillingLevel"], q="fillingLevel>0.8",
                    geoQ={"georel": "near;maxDistance==500", "geometry": "Point", "coordinates": "[127.0471,37.6688]"},
                    notification={"attributes": ["fillingLevel"], "format": "keyValues", "sysAttrs": True,
                                  "endpoint": {"uri": URI, "accept": "application/ld+json",
                                               "receiverInfo": [{"key": "X-Token", "value": "s3cret"}]}},
                    throttling=1.5, expiresAt="2026-12-01T09:00:00+09:00", isActive=False,
                    jsonldContext="http://127.0.0.1:8080/ngsi-ld/v1/jsonldContexts/citylink"))
    assert sub.id == "urn:ngsi-ld:Subscription:full" and sub.watched == {"fillingLevel"}
    assert sub.entities[0].matches_id("urn:ngsi-ld:WasteContainer:dobong:acme:A-17")
    assert not sub.entities[0].matches_id("urn:ngsi-ld:WasteContainer:dobong:bravo:B1")
    assert sub.entities[1].matches_id("urn:x:1") and not sub.entities[1].matches_id("urn:x:2")
    assert sub.geo.rel == "near" and sub.geo.max_distance == 500
    assert sub.doc["geoQ"]["coordinates"] == [127.0471, 37.6688]   # text or array in, an array kept
    assert sub.attributes == {"fillingLevel"} and sub.format == "keyValues" and sub.sys_attrs
    assert sub.accept == "application/ld+json" and sub.headers == {"X-Token": "s3cret"}
    assert sub.throttling == 1.5 and sub.doc["expiresAt"] == "2026-12-01T00:00:00.000Z"
    assert sub.status(NOW_US) == "paused" and sub.status(sub.expires_at) == "expired"
    assert parse(dict(sub.doc), generate_id=False).doc == sub.doc   # a kept document reads back the same


@pytest.mark.parametrize("member,value,field", [
    ("notification", {"endpoint": {"uri": "ftp://example.org/x"}}, "notification.endpoint.uri"),
    ("notification", {"endpoint": {"uri": "not a url"}}, "notification.endpoint.uri"),
    ("notification", {"endpoint": {"uri": "http://:80/"}}, "notification.endpoint.uri"),
    ("notification", {"endpoint": {}}, "notification.endpoint.uri"),
    ("notification", {"format": "xml", "endpoint": {"uri": URI}}, "notification.format"),
    ("notification", {"endpoint": {"uri": URI, "accept": "text/html"}}, "notification.endpoint.accept"),
    ("notification", {"attributes": [], "endpoint": {"uri": URI}}, "notification.attributes"),
    ("notification", {"endpoint": {"uri": URI, "receiverInfo": [{"key": "Bad Header", "value": "x"}]}},
     "notification.endpoint.receiverInfo[0].key"),
    ("notification", {"endpoint": {"uri": URI, "receiverInfo": [{"key": "X-A", "value": "a\r\nb"}]}},
     "notification.endpoint.receiverInfo[0].value"),
    ("notification", "http://x", "notification"),
    ("q", "fillingLevel>", "q"),
    ("q", "", "q"),
    ("q", 5, "q"),
    ("geoQ", {"georel": "near", "geometry": "Point", "coordinates": [127, 37]}, "geoQ.georel"),
    ("geoQ", {"georel": "within", "geometry": "Circle", "coordinates": [127, 37]}, "geoQ.geometry"),
    ("geoQ", {"georel": "within", "geometry": "Polygon", "coordinates": [1, 2]}, "geoQ.coordinates"),
    ("geoQ", {"georel": "within", "geometry": "Polygon"}, "geoQ.coordinates"),
    ("geoQ", "near", "geoQ"),
    ("throttling", -1, "throttling"),
    ("throttling", "60", "throttling"),
    ("throttling", True, "throttling"),
    ("expiresAt", "tomorrow", "expiresAt"),
    ("expiresAt", "2026-12-01T00:00:00", "expiresAt"),
    ("expiresAt", 1700000000, "expiresAt"),
    ("isActive", "yes", "isActive"),
    ("entities", [], "entities"),
    ("entities", [{"id": "urn:x:1"}], "entities[0].type"),
    ("entities", [{"type": "T", "idPattern": "("}], "entities[0].idPattern"),
    ("entities", [{"type": "T", "id": "no uri"}], "entities[0].id"),
    ("watchedAttributes", "fillingLevel", "watchedAttributes"),
    ("watchedAttributes", [""], "watchedAttributes[0]"),
    ("id", "not a uri", "id"),
    ("type", "Entity", "type"),
    ("jsonldContext", "file:///etc/passwd", "jsonldContext"),
    ("colour", "blue", "colour"),
])
def test_a_mistake_is_refused_naming_the_member(member, value, field):
    refused(doc(**{member: value}), field)


def test_what_it_is_about_is_required():
    d = doc()
    del d["entities"]
    refused(d, "entities")
    d["watchedAttributes"] = ["fillingLevel"]
    assert parse(d).entities == []
    refused({"type": "Subscription", "entities": [{"type": "T"}]}, "notification")
    refused([], "(body)")


def test_what_is_not_supported_yet_says_so():
    refused(doc(timeInterval=60), "timeInterval", "OperationNotSupported")
    refused(doc(temporalQ={"timerel": "after"}), "temporalQ", "OperationNotSupported")


def test_what_the_system_keeps_is_ignored_on_the_way_in():
    d = doc(status="expired", createdBy="mallory", notification={"endpoint": {"uri": URI}, "timesSent": 99,
                                                                   "lastFailure": "x"})
    sub = parse(d)
    assert "status" not in sub.doc and "createdBy" not in sub.doc and "timesSent" not in sub.doc["notification"]


def test_merge_replaces_members_and_merges_the_notification():
    stored = parse(doc(q="fillingLevel>0.8", notification={"format": "keyValues", "endpoint": {"uri": URI}})).doc
    merged = parse(merge(stored, {"q": None, "notification": {"format": "concise"}, "throttling": 5}),
                   generate_id=False).doc
    assert "q" not in merged and merged["throttling"] == 5
    assert merged["notification"] == {"format": "concise", "endpoint": {"uri": URI, "accept": "application/json"}}
    with pytest.raises(NgsiError, match="^id:"):
        merge(stored, {"id": "urn:ngsi-ld:Subscription:other"})
    with pytest.raises(NgsiError, match=r"^\(body\):"):
        merge(stored, {})


def test_representation_shows_status_counters_and_creator():
    sub = parse(doc(expiresAt="2026-11-26T00:00:00Z"))
    row = SubscriptionRow(sub.id, sub.doc, "admin", NOW_US, NOW_US, True, sub.expires_at, times_sent=3,
                          times_failed=1, last_notification=NOW_US, last_success=NOW_US - 10**6,
                          last_failure=NOW_US, last_failure_reason="HTTP 500 Internal Server Error")
    body = representation(row, NOW_US, sys_attrs=True)
    assert body["status"] == "expired" and body["createdBy"] == "admin"
    assert body["createdAt"] == body["modifiedAt"] == "2026-11-26T00:30:00.000Z"
    n = body["notification"]
    assert (n["timesSent"], n["timesFailed"], n["status"]) == (3, 1, "failed")
    assert n["lastNotification"] == n["lastFailure"] == "2026-11-26T00:30:00.000Z"
    assert n["lastSuccess"] == "2026-11-26T00:29:59.000Z" and n["lastFailureReason"].startswith("HTTP 500")
