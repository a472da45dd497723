"""Delivering notifications: HTTP POSTs on threads of their own, never on the normalizer's.

The matcher hands in (subscription id, {entity id: attribute IRIs changed}).  Per subscription the
notifier keeps the entities waiting, with what changed on each; a dispatcher thread gives a subscription's
set to a delivery worker when the subscription is not being delivered already and its throttling period
is over.  Changes that arrive meanwhile gather in the next set — coalesced, not lost — so a subscription
with ``throttling: 60`` gets at most one notification a minute, with every entity that changed in it, as
it is at sending time.

A delivery asks the store which of the entities still match (``q``, ``geoQ``, and what the
subscription's owner may see — :meth:`Matcher.select`), renders them in the subscription's format, and
POSTs the NGSI-LD Notification, retrying a failure that may pass (a timeout, no connection, 5xx, 408, 429)
a bounded number of times with exponential backoff; then it records the result in the store
(``timesSent``, ``lastSuccess`` or ``lastFailure`` and why).
A receiver that never answers costs a worker at most ``attempts × timeout`` plus the backoff, and
ingestion nothing.  Waiting notifications live in memory: a restart loses them (the data is in the
store; the temporal API has it).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from typing import Callable

import httpx
import orjson

from ..api import render
from ..clock import Clock, iso
from ..store.base import EntityRow, Store
from .model import Subscription

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429})   # and every 5xx


def notification(sub: Subscription, entities: list[EntityRow], at_us: int) -> dict:
    """The NGSI-LD Notification (5.3.1) of these entities, rendered as the subscription asks."""
    attrs = set(sub.attributes) if sub.attributes else None
    body = {"id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}", "type": "Notification", "subscriptionId": sub.id,
            "notifiedAt": iso(at_us),
            "data": [render.entity(e, fmt=sub.format, sys_attrs=sub.sys_attrs, attrs=attrs) for e in entities]}
    if sub.accept == "application/ld+json" and sub.jsonld_context:
        body["@context"] = sub.jsonld_context
    return body


class Notifier:
    def __init__(self, store: Store, clock: Clock, *, lookup: Callable[[str], Subscription | None],
                 select: Callable[[Subscription, dict[str, set[str]]], list[EntityRow]], timeout: float = 10.0,
                 attempts: int = 3, backoff: float = 1.0, workers: int = 4):
        self.store, self.clock = store, clock
        self.lookup, self.select = lookup, select
        self.timeout, self.attempts, self.backoff = timeout, max(1, attempts), backoff
        self._cond = threading.Condition()
        self._pending: dict[str, dict[str, set[str]]] = {}   # subscription id → entities changed, not yet
        #                                                        notified → the attribute IRIs changed on each
        self._busy: set[str] = set()                # subscriptions being delivered now
        self._not_before: dict[str, float] = {}     # subscription id → monotonic time of its next notification
        self._work: queue.Queue = queue.Queue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._workers = workers
        self._client: httpx.Client | None = None

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> "Notifier":
        if self._threads:
            return self
        self._client = httpx.Client(follow_redirects=False, headers={"User-Agent": "CityLink notifier"})
        self._threads = [threading.Thread(target=self._dispatch, name="citylink-notify-dispatch", daemon=True)]
        self._threads += [threading.Thread(target=self._deliver_loop, name=f"citylink-notify-{i}", daemon=True)
                          for i in range(self._workers)]
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop dispatching; deliveries under way finish (their retries are cut short) within ``timeout``.
        Notifications still waiting are dropped."""
        if not self._threads:
            return
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        for _ in range(self._workers):
            self._work.put(None)
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads = []
        if self._client is not None:
            self._client.close()

    # -- what the matcher and the API call ----------------------------------------------------------
    def enqueue(self, sub_id: str, changes: dict[str, set[str]]) -> None:
        """Entities (id → attribute IRIs changed) to notify to a subscription, merged into what waits."""
        with self._cond:
            waiting = self._pending.setdefault(sub_id, {})
            for eid, iris in changes.items():
                waiting.setdefault(eid, set()).update(iris)
            self._cond.notify_all()

    def forget(self, sub_id: str) -> None:
        """A subscription deleted or changed: what waited for it goes, and so does its throttling pause."""
        with self._cond:
            self._pending.pop(sub_id, None)
            self._not_before.pop(sub_id, None)
            self._cond.notify_all()

    def idle(self, timeout: float) -> bool:
        """Wait until nothing waits to be sent or is being sent (True), or ``timeout`` seconds (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    # -- threads -----------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        with self._cond:
            while not self._stopping.is_set():
                now = time.monotonic()
                wait = None
                for sub_id in list(self._pending):
                    if sub_id in self._busy:
                        continue
                    due = self._not_before.get(sub_id, 0.0)
                    if due <= now:
                        self._busy.add(sub_id)
                        self._work.put((sub_id, self._pending.pop(sub_id)))
                    else:
                        wait = due - now if wait is None else min(wait, due - now)
                self._cond.wait(wait)

    def _deliver_loop(self) -> None:
        while True:
            job = self._work.get()
            if job is None:
                return
            sub_id, changes = job
            throttle = 0.0
            try:
                throttle = self._deliver(sub_id, changes)
            except Exception:
                log.exception("subscription %s: the notification failed", sub_id)
            finally:
                with self._cond:
                    self._busy.discard(sub_id)
                    if throttle:  # counted from the end of this one: the receiver gets that much quiet
                        self._not_before[sub_id] = time.monotonic() + throttle
                    self._cond.notify_all()

    def _deliver(self, sub_id: str, changes: dict[str, set[str]]) -> float:
        """Send one notification if the subscription still wants it; its throttling (seconds) if one was sent."""
        sub = self.lookup(sub_id)
        if sub is None or self._stopping.is_set() or not sub.live(self.clock.now_us()):
            return 0.0
        entities = self.select(sub, changes)
        if not entities:
            return 0.0
        at = self.clock.now_us()
        error = self._post(sub, notification(sub, entities, at))
        if error:
            log.warning("subscription %s: notifying %s failed: %s", sub.id, sub.uri, error)
        self.store.record_notification(sub.id, at, error)
        return sub.throttling

    def _post(self, sub: Subscription, body: dict) -> str | None:
        """POST with retries; None on success, else why the last attempt failed."""
        headers = {**sub.headers, "Content-Type": sub.accept}
        if sub.accept == "application/json" and sub.jsonld_context:
            headers["Link"] = f'<{sub.jsonld_context}>; rel="http://www.w3.org/ns/json-ld#context"; ' \
                              'type="application/ld+json"'
        content = orjson.dumps(body)
        error = "not sent"
        for attempt in range(self.attempts):
            try:
                r = self._client.post(sub.uri, content=content, headers=headers, timeout=self.timeout)
                if 200 <= r.status_code < 300:
                    return None
                error = f"HTTP {r.status_code} {r.reason_phrase}".strip()
                if r.status_code < 500 and r.status_code not in RETRY_STATUSES:
                    return error  # the receiver refuses it: sending it again changes nothing
            except httpx.TimeoutException as e:
                error = f"no answer within {self.timeout:g} s ({type(e).__name__})"
            except httpx.HTTPError as e:
                error = f"{type(e).__name__}: {e}"[:500]
            if attempt + 1 < self.attempts and self._stopping.wait(self.backoff * 2 ** attempt):
                break  # stopping: no more retries
        return error
