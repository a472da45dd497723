"""The store's part of NGSI-LD subscriptions: keep, read, page, replace and delete them, count their
deliveries, and keep whose they are — the same on both engines (see conftest.py)."""
from __future__ import annotations

from datetime import datetime, timezone

from citylink.clock import to_us
from citylink.store.base import ApiKeyRow, SubscriptionRow

T0 = to_us(datetime(2026, 11, 26, 0, 0, tzinfo=timezone.utc))
SEC = 1_000_000


def sub(n: int, **kw) -> SubscriptionRow:
    body = {"id": f"urn:ngsi-ld:Subscription:s{n}", "type": "Subscription", "entities": [{"type": "WasteContainer"}],
            "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify", "accept": "application/json"},
                             "format": "normalized"}, "description": "빈 통 알림"}
    kw.setdefault("expires_at", None)
    return SubscriptionRow(body["id"], body, "admin", T0 + n * SEC, T0 + n * SEC, kw.pop("is_active", True), **kw)


def test_put_and_get_round_trip(store):
    row = sub(1, expires_at=T0 + 3600 * SEC)
    assert store.put_subscription(row) is True
    got = store.subscription(row.id)
    assert got == row  # body, creator, times, flags; counters at zero
    assert got.times_sent == 0 and got.last_notification is None and got.last_failure_reason is None
    assert store.subscription("urn:ngsi-ld:Subscription:nope") is None


def test_a_taken_id_is_refused_and_left_alone(store):
    assert store.put_subscription(sub(1))
    other = sub(1, is_active=False)
    other.created_by = "someone else"
    assert store.put_subscription(other) is False
    got = store.subscription(sub(1).id)
    assert got.created_by == "admin" and got.is_active is True


def test_list_in_creation_order_with_paging_and_total(store):
    for n in (3, 1, 2):
        store.put_subscription(sub(n))
    rows, total = store.subscriptions()
    assert total == 3 and [r.id[-2:] for r in rows] == ["s1", "s2", "s3"]
    rows, total = store.subscriptions(limit=1, offset=1)
    assert total == 3 and [r.id[-2:] for r in rows] == ["s2"]
    assert store.subscriptions(limit=0)[0] == []
    assert store.subscriptions(offset=5) == ([], 3)


def test_update_replaces_the_document_and_keeps_the_status(store):
    row = sub(1)
    store.put_subscription(row)
    store.record_notification(row.id, T0 + 5 * SEC, None)
    body = dict(row.body, q="fillingLevel>0.8")
    assert store.update_subscription(row.id, body, False, T0 + 99 * SEC, T0 + 10 * SEC) is True
    got = store.subscription(row.id)
    assert got.body["q"] == "fillingLevel>0.8" and got.is_active is False and got.expires_at == T0 + 99 * SEC
    assert got.modified_at == T0 + 10 * SEC and got.created_at == row.created_at and got.times_sent == 1
    assert store.update_subscription(row.id, body, True, None, T0 + 11 * SEC)
    assert store.subscription(row.id).expires_at is None
    assert store.update_subscription("urn:ngsi-ld:Subscription:nope", body, True, None, T0) is False


def test_delete(store):
    row = sub(1)
    store.put_subscription(row)
    store.record_notification(row.id, T0, "HTTP 500")
    assert store.delete_subscription(row.id) is True
    assert store.subscription(row.id) is None and store.subscriptions() == ([], 0)
    assert store.delete_subscription(row.id) is False
    store.record_notification(row.id, T0, None)  # a delivery finishing after the delete: nothing comes back
    assert store.subscription(row.id) is None
    assert store.put_subscription(row)  # the id is free again, with fresh counters
    assert store.subscription(row.id).times_sent == 0


def test_deliveries_are_counted(store):
    row = sub(1)
    store.put_subscription(row)
    store.record_notification(row.id, T0 + 1 * SEC, None)
    store.record_notification(row.id, T0 + 2 * SEC, "HTTP 500 Internal Server Error")
    got = store.subscription(row.id)
    assert (got.times_sent, got.times_failed) == (2, 1)
    assert (got.last_notification, got.last_success, got.last_failure) == (T0 + 2 * SEC, T0 + 1 * SEC, T0 + 2 * SEC)
    assert got.last_failure_reason == "HTTP 500 Internal Server Error"
    store.record_notification(row.id, T0 + 3 * SEC, None)
    got = store.subscription(row.id)
    assert (got.times_sent, got.times_failed, got.last_success, got.last_failure) == (3, 1, T0 + 3 * SEC, T0 + 2 * SEC)
    assert got.last_failure_reason == "HTTP 500 Internal Server Error"  # the last failure's, kept


def test_the_owner_is_kept_and_lists_are_per_owner(store):
    store.put_subscription(sub(1))                  # the bootstrap admin's: no owner
    store.put_subscription(sub(2, owner="k1"))
    store.put_subscription(sub(3, owner="k2"))
    store.put_subscription(sub(4, owner="k1"))
    assert store.subscription(sub(1).id).owner is None and store.subscription(sub(2).id).owner == "k1"
    rows, total = store.subscriptions(owner="k1")
    assert total == 2 and [r.id[-2:] for r in rows] == ["s2", "s4"] and {r.owner for r in rows} == {"k1"}
    assert store.subscriptions(limit=1, offset=1, owner="k1") == ([store.subscription(sub(4).id)], 2)
    assert store.subscriptions(owner="nobody") == ([], 0)
    assert store.subscriptions()[1] == 4
    store.update_subscription(sub(2).id, sub(2).body, False, None, T0 + 9 * SEC)
    assert store.subscription(sub(2).id).owner == "k1"   # an update keeps it


def test_a_key_by_its_id_while_it_is_valid(store):
    """Whom a subscription acts for: found by the key's id until the key is revoked."""
    store.add_api_key(ApiKeyRow("k1", "parking office", "welfare-mobility", ("staff",), T0), "ab" * 32)
    got = store.api_key_by_id("k1")
    assert (got.id, got.holder, got.department, got.scopes) == ("k1", "parking office", "welfare-mobility", ("staff",))
    assert store.api_key_by_id("k2") is None
    assert store.revoke_api_key("k1", T0 + SEC)
    assert store.api_key_by_id("k1") is None
