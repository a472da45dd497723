"""The subscriptions of a running platform: kept in the store, cached in memory for the matcher, and
delivered by the notifier.  The platform owns one (``platform.subscriptions``), starts it with itself
and stops it before the store closes; the API's routes change subscriptions only through it, so the
matcher's cache is current after every change.

    Platform.on_commit ──► Matcher (cache of subscriptions) ──enqueue──► Notifier ──POST──► receiver
                                                                              └──record──► store
"""
from __future__ import annotations

import logging
import threading

from ..api.problems import NgsiError
from ..store.base import SubscriptionRow
from .matcher import Matcher
from .model import Subscription, from_row, merge, parse
from .notifier import Notifier

log = logging.getLogger(__name__)


class Subscriptions:
    def __init__(self, platform):
        self.platform = platform
        s = platform.settings
        self.matcher = Matcher(platform, self._enqueue)
        self.notifier = Notifier(platform.store, platform.clock, lookup=self.lookup, select=self.matcher.select,
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

    def _enqueue(self, sub_id, entity_ids) -> None:
        self.notifier.enqueue(sub_id, entity_ids)

    def _changed(self, sub: Subscription | None, sub_id: str) -> None:
        with self._lock:
            if sub is None:
                self._cache.pop(sub_id, None)
            else:
                self._cache[sub_id] = sub
            self.matcher.load(self._cache.values())
        self.notifier.forget(sub_id)

    # -- what the API calls ------------------------------------------------------------------------
    def create(self, doc, created_by: str) -> SubscriptionRow:
        sub = parse(doc)
        now = self.platform.clock.now_us()
        row = SubscriptionRow(sub.id, sub.doc, created_by, now, now, sub.is_active, sub.expires_at)
        if not self.platform.store.put_subscription(row):
            raise NgsiError("AlreadyExists", f"subscription {sub.id} exists already")
        self._changed(sub, sub.id)
        return row

    def get(self, sub_id: str) -> SubscriptionRow:
        row = self.platform.store.subscription(sub_id)
        if row is None:
            raise NgsiError("ResourceNotFound", f"subscription {sub_id} does not exist")
        return row

    def list(self, limit: int, offset: int) -> tuple[list[SubscriptionRow], int]:
        return self.platform.store.subscriptions(limit=limit, offset=offset)

    def update(self, sub_id: str, fragment) -> SubscriptionRow:
        row = self.get(sub_id)
        sub = parse(merge(row.body, fragment), generate_id=False)
        if not self.platform.store.update_subscription(sub_id, sub.doc, sub.is_active, sub.expires_at,
                                                      self.platform.clock.now_us()):
            raise NgsiError("ResourceNotFound", f"subscription {sub_id} does not exist")
        self._changed(sub, sub_id)
        return self.get(sub_id)

    def delete(self, sub_id: str) -> None:
        if not self.platform.store.delete_subscription(sub_id):
            raise NgsiError("ResourceNotFound", f"subscription {sub_id} does not exist")
        self._changed(None, sub_id)
