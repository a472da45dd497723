"""Alarm notifications to departments: each event of a kind in :data:`NOTIFIED_KINDS` is told to every
department among the alarm's recipients (a restricted alarm: its own department only) through each of the
department's channels in the departments spec — webhooks (:mod:`.webhook`) and e-mail (:mod:`.email`),
registered by name in :data:`CHANNELS`.

* **The delivery log is the queue.**  :meth:`Notifier.on_events` (the alarm service's thread) renders each
  event once (:meth:`AlarmEvent.as_json`) and writes one ``pending`` row per department and channel target
  (``alarm_deliveries``, :mod:`citylink.store.deliveries`), then wakes the scheduler; it never sends and
  never raises.  What was pending when the platform stopped is sent when it starts again.
* **Sending is on a small pool of threads** (:data:`WORKERS`), one job per target at a time: a webhook that
  hangs holds one worker for at most ``alarm_notify_timeout_seconds``, never the other departments.  After a
  failure that may pass, the job's other deliveries to the same target wait for its next try.
* **Retries by the platform clock**: a failure that may pass (a timeout, no connection, HTTP 5xx/408/429,
  SMTP 4xx) is tried again ``alarm_notify_backoff_seconds`` later, doubling each time, up to
  ``alarm_notify_attempts`` tries in all; one that will not (another HTTP 4xx, a missing secret, SMTP 5xx)
  fails at once.  Every attempt is recorded.  A scheduler thread sleeps until the next delivery is due (as
  the platform clock runs; at most :data:`MAX_SLEEP_S`), and :meth:`Notifier.process_due` sends what is due
  at the clock's current time — which tests call themselves under a ``ManualClock``.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait

import orjson

from ...clock import US
from ...store import deliveries
from ...store.deliveries import DELIVERED, FAILED, PENDING, DeliveryRow, NewDelivery
from ..model import NOTIFIED_KINDS, AlarmEvent
from .channel import Channel, Outcome
from .email import EmailChannel
from .webhook import WebhookChannel

log = logging.getLogger(__name__)

CHANNELS: dict[str, type[Channel]] = {WebhookChannel.name: WebhookChannel, EmailChannel.name: EmailChannel}
WORKERS = 4           # deliveries sent at once (to as many targets)
MAX_SLEEP_S = 60.0    # the scheduler looks at the log at least this often (another process may queue)
CLAIM = 100           # deliveries claimed at a time
LEASE_S = 300.0       # a claimed delivery is due again after this (platform clock) if its sender died
RESTRICTED = "restricted"
LOG_EVERY_S = 600.0   # a failing target is logged at most this often (real seconds); the store keeps every failure

__all__ = ["CHANNELS", "Notifier"]


class Notifier:
    def __init__(self, platform, *, workers: int = WORKERS):
        self.platform = platform
        self.clock = platform.clock
        s = platform.settings
        self.attempts = s.alarm_notify_attempts
        self.backoff_us = int(s.alarm_notify_backoff_seconds * US)
        self.timeout = s.alarm_notify_timeout_seconds
        self.channels: dict[str, Channel] = {name: cls(s) for name, cls in CHANNELS.items()}
        self._workers = workers
        self._lock = threading.Lock()
        self._dispatching = threading.Lock()
        self._busy: set[str] = set()            # targets a job is sending to
        self._quiet: dict[str, tuple[float, int]] = {}   # target → (log its failures again after, failures since)
        self._inflight: set[Future] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> "Notifier":
        """Say which channels are off, then send what is due (what a previous run left pending too) and
        follow the log."""
        if self._thread is not None:
            return self
        for name, ch in self.channels.items():
            reason = ch.off()
            if reason:
                log.warning("alarm notifications by %s are off: %s", name, reason)
        self._thread = threading.Thread(target=self._run, name="citylink-alarm-notify", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop sending: deliveries under way finish (within ``timeout``, default the delivery timeout and a
        few seconds); those not started stay pending for the next start.  Call before the store is closed."""
        deadline = time.monotonic() + (self.timeout + 5.0 if timeout is None else timeout)
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
            self._thread = None
        with self._lock:
            inflight = list(self._inflight)
        wait(inflight, timeout=max(0.0, deadline - time.monotonic()))
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)
        for ch in self.channels.values():
            ch.close()

    # -- what the alarm service calls -----------------------------------------------------------
    def on_events(self, events: list[AlarmEvent]) -> None:
        """Queue the deliveries of events (quick: one transaction) and wake the scheduler.  Never raises:
        a failure is logged."""
        try:
            planned = [d for e in events if e.kind in NOTIFIED_KINDS for d in self.planned(e)]
            if planned and deliveries.enqueue(self.platform.store, planned, self.clock.now_us()):
                self._wake.set()
        except Exception:
            log.exception("alarms %s: queuing the notifications of their events failed",
                          ", ".join(sorted({getattr(e.alarm, "id", "?") for e in events})))

    def planned(self, event: AlarmEvent) -> list[NewDelivery]:
        """The deliveries an event makes: per recipient department (a restricted alarm: its own only) and
        per channel that is on, one per target the department declares."""
        a = event.alarm
        if a.visibility == RESTRICTED:
            wanted = (a.department,)
        else:
            wanted = a.recipients or (a.department,)
        known = self.platform.specs.departments
        body = orjson.dumps(event.as_json()).decode()
        out = []
        for dep_id in dict.fromkeys(wanted):
            dep = known.get(dep_id)
            if dep is None:
                log.warning("alarm %s: department %r (recipients) is not in the departments spec: not notified",
                            a.id, dep_id)
                continue
            for name, ch in self.channels.items():
                if ch.off():
                    continue
                for t in ch.targets(dep):
                    out.append(NewDelivery(a.id, event.seq, event.kind, event.at, name, dep_id, t.target, body,
                                           t.secret_env))
        return out

    def process_due(self) -> int:
        """Send every delivery due at the clock's current time (to targets not being sent to already) and
        wait for them; the number of attempts made."""
        futures = self._dispatch()
        wait(futures)
        return sum(f.result() for f in futures)

    # -- the scheduler -----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self._dispatch()
                sleep = self._sleep_s()
            except Exception:
                log.exception("alarm notifications: the scheduler failed; trying again")
                sleep = 1.0
            self._wake.wait(sleep)

    def _sleep_s(self) -> float:
        with self._lock:
            busy = set(self._busy)
        due = deliveries.next_due(self.platform.store, busy)
        if due is None:
            return MAX_SLEEP_S
        until = getattr(self.clock, "real_seconds_until", None)
        s = until(due) if until else (due - self.clock.now_us()) / US
        return max(0.0, min(s, MAX_SLEEP_S))

    def _dispatch(self) -> list[Future]:
        """Claim what is due and hand it to the pool, one job per target; the jobs."""
        if self._stopping.is_set():
            return []
        with self._dispatching:
            with self._lock:
                busy = set(self._busy)
            now = self.clock.now_us()
            rows = deliveries.claim_due(self.platform.store, now, now + int(LEASE_S * US), limit=CLAIM,
                                        exclude_targets=busy)
            groups: dict[str, list[DeliveryRow]] = {}
            for d in rows:
                groups.setdefault(d.target, []).append(d)
            futures = []
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="citylink-alarm-send")
                for target, group in groups.items():
                    self._busy.add(target)
                    f = self._pool.submit(self._send_group, target, group)
                    self._inflight.add(f)
                    f.add_done_callback(self._done)
                    futures.append(f)
            return futures

    def _done(self, f: Future) -> None:
        with self._lock:
            self._inflight.discard(f)

    # -- sending -------------------------------------------------------------------------------
    def _send_group(self, target: str, group: list[DeliveryRow]) -> int:
        """Send a target's claimed deliveries in turn; the number of attempts made."""
        store = self.platform.store
        n = 0
        try:
            for i, d in enumerate(group):
                rest = [x.id for x in group[i + 1:]]
                if self._stopping.is_set():
                    deliveries.release(store, [d.id, *rest], self.clock.now_us())
                    break
                outcome = self._attempt(d)
                self._record(d, outcome)
                n += 1
                if not outcome.ok and outcome.retry and rest:   # the target is down: the rest wait for it
                    deliveries.release(store, rest, self.clock.now_us() + self.backoff_us)
                    break
        except Exception:
            log.exception("alarm notifications to %s failed", target)
        finally:
            with self._lock:
                self._busy.discard(target)
            self._wake.set()
        return n

    def _attempt(self, d: DeliveryRow) -> Outcome:
        ch = self.channels.get(d.channel)
        if ch is None:
            return Outcome.permanent(f"channel: {d.channel!r} is not one of {', '.join(self.channels)}")
        reason = ch.off()
        if reason:
            return Outcome.permanent(f"alarm notifications by {d.channel} are off: {reason}")
        try:
            return ch.send(d)
        except Exception as e:
            log.exception("alarm notification %d (%s to %s) failed", d.id, d.channel, d.target)
            return Outcome.transient(f"internal error: {type(e).__name__}: {e}"[:500])

    def _record(self, d: DeliveryRow, outcome: Outcome) -> None:
        now = self.clock.now_us()
        tried = d.attempts + 1
        error, next_at = outcome.error, None
        if outcome.ok:
            status = DELIVERED
        elif outcome.retry and tried < self.attempts:
            status, next_at = PENDING, now + self.backoff_us * 2 ** (tried - 1)
        else:
            status = FAILED
            if outcome.retry:
                error = f"{error} (gave up after {tried} attempts)"
        deliveries.record_attempt(self.platform.store, d.id, now, status, code=outcome.code, error=error,
                                  next_at=next_at)
        what = f"alarm {d.alarm_id} ({d.event_kind}) to {d.department} by {d.channel} ({d.target})"
        if status == DELIVERED:
            log.info("%s: delivered (delivery %d)", what, d.id)
            return
        # every failure is in the delivery log; the log says so once a while per target, not per delivery
        quiet = self._quiet.get(d.target)
        t = time.monotonic()
        if quiet is not None and t < quiet[0]:
            self._quiet[d.target] = (quiet[0], quiet[1] + 1)
            return
        more = f" ({quiet[1]} more failures to it since, in the delivery log)" if quiet and quiet[1] else ""
        self._quiet[d.target] = (t + LOG_EVERY_S, 0)
        if status == PENDING:
            log.warning("%s: attempt %d failed, tried again in %g s: %s%s", what, tried,
                        (next_at - now) / US, error, more)
        else:
            log.error("%s: failed (delivery %d): %s%s", what, d.id, error, more)
