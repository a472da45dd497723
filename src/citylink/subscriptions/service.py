"""The subscriptions of a running platform: kept in the store, cached in memory for the matcher, and
delivered by the notifier.  The platform owns one (``platform.subscriptions``), starts it with itself
and stops it before the store closes; the API's routes change subscriptions only through it, so the
matcher's cache is current after every change.

    Platform.on_commit ──► Matcher (cache of subscriptions) ──enqueue──► Notifier ──POST──► receiver
                                                                              └──record──► store

Each subscription acts for its owner, the API key that made it (:attr:`SubscriptionRow.owner`; None: the
bootstrap admin key).  Its notifications are selected and shown with the owner's view of the data
(``platform.visibility``, rebuilt when the specs change; the key looked up again every ``KeyRing.TTL_S``).
Once the key is revoked the subscription is paused on its next notification, and why is recorded as its
last failure.  The API passes ``owner`` to every call: a key that is not an admin's reaches only its own
subscriptions, and another's is "not found", as one that does not exist.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import replace

from ..access import ADMIN
from ..api.problems import NgsiError
from ..store.base import EntityRow, SubscriptionRow
from .matcher import Matcher
from .model import Subscription, from_row, merge, parse
from .notifier import Notifier

log = logging.getLogger(__name__)


class Subscriptions:
    def __init__(self, platform):
        self.platform = platform
        s = platform.settings
        self.matcher = Matcher(platform, self._enqueue)
        self.notifier = Notifier(platform.store, platform.clock, lookup=self.lookup, select=self._select,
                                 timeout=s.notify_timeout_seconds, attempts=s.notify_attempts,
                                 backoff=s.notify_backoff_seconds)
        self._cache: dict[str, Subscription] = {}
        self._lock = threading.Lock()
        self._listening = False

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> "Subscriptions":
        self.refresh()
        if not self._listening:
            self.platform.on_commit(self.matcher)
            self._listening = True
        self.notifier.start()
        return self

    def stop(self) -> None:
        self.notifier.stop()

    def refresh(self) -> None:
        """Read every subscription from the store into the matcher's cache."""
        rows, _ = self.platform.store.subscriptions()
        cache = {}
        for row in rows:
            try:
                cache[row.id] = from_row(row)
            except NgsiError as e:  # kept by an older version that checked less: skipped, and said so
                log.error("subscription %s is not valid any more and is not matched: %s", row.id, e.detail)
        with self._lock:
            self._cache = cache
            self.matcher.load(cache.values())

    def lookup(self, sub_id: str) -> Subscription | None:
        return self._cache.get(sub_id)

    def _enqueue(self, sub_id, changes) -> None:
        self.notifier.enqueue(sub_id, changes)

    def _select(self, sub: Subscription, changes: dict[str, set[str]]) -> list[EntityRow]:
        """What a notification of ``sub`` carries: the changed entities it wants, as its owner may see them."""
        reader = ADMIN if sub.owner is None else self.platform.keys.by_id(sub.owner)
        if reader is None:
            self._owner_gone(sub)
            return []
        return self.matcher.select(sub, changes, self.platform.visibility.view(reader))

    def _owner_gone(self, sub: Subscription) -> None:
        """The key a subscription acts for is revoked: the subscription is paused (status ``paused``) and the
        notification that was due recorded as failed, with why, so that an admin can tell what became of it."""
        store, now = self.platform.store, self.platform.clock.now_us()
        row = store.subscription(sub.id)
        if row is None:
            return
        paused = from_row(replace(row, body={**row.body, "isActive": False}))
        if store.update_subscription(sub.id, paused.doc, False, paused.expires_at, now):
            store.record_notification(sub.id, now, f"not sent: the API key it acts for ({sub.owner}) is revoked or "
                                                   "no longer valid; the subscription is paused")
            log.warning("subscription %s paused: the API key it acts for (%s) is not valid any more", sub.id, sub.owner)
            self._changed(paused, sub.id)

    def _changed(self, sub: Subscription | None, sub_id: str) -> None:
        with self._lock:
            if sub is None:
                self._cache.pop(sub_id, None)
            else:
                self._cache[sub_id] = sub
            self.matcher.load(self._cache.values())
        self.notifier.forget(sub_id)

    # -- what the API calls ------------------------------------------------------------------------
    # ``owner``: in create, the API key the new subscription acts for; in the others, the key whose
    # subscriptions the caller may reach (None: all of them, for an admin)
    def create(self, doc, created_by: str, owner: str | None = None) -> SubscriptionRow:
        sub = parse(doc)
        sub.owner = owner
        now = self.platform.clock.now_us()
        row = SubscriptionRow(sub.id, sub.doc, created_by, now, now, sub.is_active, sub.expires_at, owner=owner)
        if not self.platform.store.put_subscription(row):
            raise NgsiError("AlreadyExists", f"subscription {sub.id} exists already")
        self._changed(sub, sub.id)
        return row

    def get(self, sub_id: str, owner: str | None = None) -> SubscriptionRow:
        row = self.platform.store.subscription(sub_id)
        if row is None or (owner is not None and row.owner != owner):   # another's: as if there were none
            raise NgsiError("ResourceNotFound", f"subscription {sub_id} does not exist")
        return row

    def list(self, limit: int, offset: int, owner: str | None = None) -> tuple[list[SubscriptionRow], int]:
        return self.platform.store.subscriptions(limit=limit, offset=offset, owner=owner)

    def update(self, sub_id: str, fragment, owner: str | None = None) -> SubscriptionRow:
        row = self.get(sub_id, owner)
        sub = parse(merge(row.body, fragment), generate_id=False)
        sub.owner = row.owner
        if not self.platform.store.update_subscription(sub_id, sub.doc, sub.is_active, sub.expires_at,
                                                      self.platform.clock.now_us()):
            raise NgsiError("ResourceNotFound", f"subscription {sub_id} does not exist")
        self._changed(sub, sub_id)
        return self.get(sub_id)

    def delete(self, sub_id: str, owner: str | None = None) -> None:
        if owner is not None:
            self.get(sub_id, owner)
        if not self.platform.store.delete_subscription(sub_id):
            raise NgsiError("ResourceNotFound", f"subscription {sub_id} does not exist")
        self._changed(None, sub_id)
