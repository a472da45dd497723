"""The alarm service: the lifecycle of every alarm (:mod:`.model`), kept in the store.

The rule engine (:mod:`citylink.rules.engine`) calls :meth:`AlarmService.raise_alarm` when a rule's
condition has held long enough, and :meth:`AlarmService.condition_ended` when it stops holding; people
call :meth:`acknowledge` and :meth:`clear` (API and CLI).  There is at most one open alarm per rule and
entity: raising it again is a *repeat* (its count and last-seen time go up).  An alarm not acknowledged
within its rule's ``escalate.after`` is escalated (:meth:`process_due`): its severity rises and the
escalation's department becomes a recipient.  Every step is recorded (``alarm_events``) before it is
handed to the listeners (notifications, the live stream, NGSI-LD ``Alert`` entities), in order.
"""
from __future__ import annotations

import hashlib
import heapq
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

from ..errors import CityLinkError
from ..store import alarms as stored
from .model import (ACKNOWLEDGED, ACKNOWLEDGED_EVENT, ACTIVE, CLEARED, CLEARED_EVENT, ESCALATED, RAISED, REPEATED,
                    SEVERITIES, Alarm, AlarmEvent)

log = logging.getLogger(__name__)

MAX_COMMENT = 2000
SYNC_S = 1.0      # process_due() takes in steps recorded by another process at least this often


class AlarmError(CityLinkError):
    """An acknowledgement or a clearing that cannot be done; ``status`` is the HTTP status it answers."""

    def __init__(self, msg: str, status: int = 409):
        super().__init__(msg)
        self.status = status


@dataclass(frozen=True)
class Raise:
    """What a rule (or device health) says when its condition has held long enough."""
    rule: str
    entity: str
    entity_type: str
    service: str
    department: str
    severity: str
    at: int
    message_ko: str
    message_en: str
    values: dict
    visibility: str = "internal"
    category: str | None = None
    lon: float | None = None
    lat: float | None = None
    escalate_after_us: int | None = None
    escalate_severity: str | None = None
    escalate_department: str | None = None


def alarm_id(rule: str, entity: str, at: int) -> str:
    digest = hashlib.sha256(f"{rule}\n{entity}\n{at}".encode()).hexdigest()[:20]
    return f"urn:ngsi-ld:Alert:{digest}"


class AlarmService:
    def __init__(self, platform):
        self.platform = platform
        self.clock = platform.clock
        self._lock = threading.RLock()
        self._open: dict[tuple[str, str], Alarm] = {}
        self._heap: list[tuple[int, str]] = []
        self._listeners: list[Callable[[AlarmEvent], None]] = []
        self._seq = 0          # the newest step this service knows of
        self._batch: list | None = None   # steps waiting for the end of a batch()
        self._next_sync = 0.0             # time.monotonic() of the next periodic sync()

    @property
    def store(self):
        return self.platform.store

    def on_events(self, listener: Callable[[list[AlarmEvent]], None]) -> None:
        """Call ``listener(events)`` with the steps of each transaction once recorded, in order, under the
        service's lock: it must be quick (queue, don't send)."""
        self._listeners.append(listener)

    @contextmanager
    def batch(self):
        """Record the steps taken inside in one transaction at the end (the rule engine's round): the open
        alarms change at once, the store and the listeners hear of them together.  Repeats of one alarm in
        a batch are recorded as one step (its count and last-seen time are cumulative)."""
        with self._lock:
            if self._batch is not None:
                yield
                return
            self._batch = []
            try:
                yield
            finally:
                steps, self._batch = self._batch, None
                self._save(steps)

    def load(self) -> None:
        """The open alarms as the store has them (after a restart), with their pending escalations."""
        with self._lock:
            self._seq = stored.last_seq(self.store)
            self._open = {(a.rule, a.entity): a for a in stored.open_alarms(self.store)}
            self._heap = [(a.escalation_due, a.id) for a in self._open.values()
                          if a.state == ACTIVE and a.escalation_due is not None]
            heapq.heapify(self._heap)

    def sync(self) -> int:
        """Take in the steps another process recorded (``citylink alarms ack`` and ``clear`` on the server's
        store): its open alarms as they now stand, and the events handed to this one's listeners, so that the
        departments are told from here.  Called before every change; the number of steps taken in."""
        with self._lock:
            self._next_sync = time.monotonic() + SYNC_S
            if stored.last_seq(self.store) <= self._seq:
                return 0
            events = stored.events_after(self.store, self._seq)
            for e in events:
                self._seq = max(self._seq, e.seq)
                a = e.alarm
                if a.open:
                    self._open[(a.rule, a.entity)] = a
                    if a.state == ACTIVE and a.escalation_due is not None:
                        heapq.heappush(self._heap, (a.escalation_due, a.id))
                elif self._open.get((a.rule, a.entity), a).id == a.id:
                    self._open.pop((a.rule, a.entity), None)
            if events:
                self._tell(events)
            return len(events)

    # -- what rules and health say ---------------------------------------------------------------
    def raise_alarm(self, r: Raise) -> AlarmEvent:
        """Raise an alarm, or repeat the open one of this rule and entity."""
        with self._lock:
            key = (r.rule, r.entity)
            if key in self._open:
                self.sync()   # another process may have cleared it (it cannot have raised one)
            a = self._open.get(key)
            if a is not None:
                a = a.but(count=a.count + 1, last_seen_at=max(a.last_seen_at, r.at), values=r.values,
                          message_ko=r.message_ko, message_en=r.message_en, lon=r.lon, lat=r.lat)
                return self._record(REPEATED, a, r.at)
            # the time to acknowledge runs from when people could know: a backlog's old alarm is not overdue
            due = max(r.at, self.clock.now_us()) + r.escalate_after_us if r.escalate_after_us is not None else None
            a = Alarm(alarm_id(r.rule, r.entity, r.at), r.rule, r.entity, r.entity_type, r.service, r.department,
                      r.severity, ACTIVE, r.at, r.at, 1, r.message_ko, r.message_en, r.values, (r.department,),
                      r.category, r.visibility, r.lon, r.lat, escalation_due=due,
                      escalate_severity=r.escalate_severity, escalate_department=r.escalate_department)
            if due is not None:
                heapq.heappush(self._heap, (due, a.id))
            return self._record(RAISED, a, r.at)

    def condition_ended(self, rule: str, entity: str, at: int) -> AlarmEvent | None:
        """The condition no longer holds: its open alarm (if any) is cleared, by the platform."""
        with self._lock:
            if (rule, entity) not in self._open:
                return None
            self.sync()
            a = self._open.get((rule, entity))
            if a is None:
                return None
            return self._record(CLEARED_EVENT, a.but(state=CLEARED, cleared_at=at, escalation_due=None), at)

    def is_open(self, rule: str, entity: str) -> bool:
        return (rule, entity) in self._open

    # -- what people do --------------------------------------------------------------------------
    def acknowledge(self, alarm_id_: str, by: str, comment: str | None = None) -> Alarm:
        with self._lock:
            self.sync()
            a = self._find_open(alarm_id_, "acknowledged")
            if a.state == ACKNOWLEDGED:
                raise AlarmError(f"alarm {alarm_id_} was acknowledged already by {a.acknowledged_by}")
            now, comment = self.clock.now_us(), _comment(comment)
            a = a.but(state=ACKNOWLEDGED, acknowledged_by=by, acknowledged_at=now, ack_comment=comment,
                      escalation_due=None)
            return self._record(ACKNOWLEDGED_EVENT, a, now, by, comment).alarm

    def clear(self, alarm_id_: str, by: str, comment: str | None = None) -> Alarm:
        with self._lock:
            self.sync()
            a = self._find_open(alarm_id_, "cleared")
            now, comment = self.clock.now_us(), _comment(comment)
            a = a.but(state=CLEARED, cleared_at=now, cleared_by=by, clear_comment=comment, escalation_due=None)
            return self._record(CLEARED_EVENT, a, now, by, comment).alarm

    def _find_open(self, alarm_id_: str, verb: str) -> Alarm:
        for a in self._open.values():
            if a.id == alarm_id_:
                return a
        if stored.alarm(self.store, alarm_id_) is None:
            raise AlarmError(f"no alarm {alarm_id_}", 404)
        raise AlarmError(f"alarm {alarm_id_} is cleared already: it cannot be {verb}")

    # -- escalation ------------------------------------------------------------------------------
    def next_due(self) -> int | None:
        with self._lock:
            return self._heap[0][0] if self._heap else None

    def process_due(self, now: int) -> int:
        """Escalate every active alarm whose escalation is due at ``now``; the number escalated."""
        n = 0
        with self._lock:
            if time.monotonic() >= self._next_sync:   # at least every SYNC_S: steps the CLI recorded
                self.sync()
            while self._heap and self._heap[0][0] <= now:
                due, aid = heapq.heappop(self._heap)
                a = next((x for x in self._open.values() if x.id == aid), None)
                if a is None or a.state != ACTIVE or a.escalation_due != due:
                    continue
                dept = a.escalate_department
                recipients = a.recipients + ((dept,) if dept and dept not in a.recipients else ())
                a = a.but(severity=_higher(a.severity, a.escalate_severity or a.severity), recipients=recipients,
                          escalated_at=due,
                          escalation_due=None)
                self._record(ESCALATED, a, due)
                n += 1
        return n

    # -- recording -------------------------------------------------------------------------------
    def _record(self, kind: str, a: Alarm, at: int, by: str | None = None, comment: str | None = None) -> AlarmEvent:
        """Take a step: the open alarms change now; the step is saved and told now, or at the end of the
        batch (then the event returned is not numbered yet: ``seq`` 0)."""
        if a.open:
            self._open[(a.rule, a.entity)] = a
        else:
            self._open.pop((a.rule, a.entity), None)
        step = (kind, a, at, by, comment)
        if self._batch is None:
            return self._save([step])[0]
        self._batch.append(step)
        return AlarmEvent(0, kind, a, at, by, comment)

    def _save(self, steps: list) -> list[AlarmEvent]:
        if not steps:
            return []
        if any(s[0] == REPEATED for s in steps):   # one step per alarm's repeats: the latest
            latest = {s[1].id: i for i, s in enumerate(steps) if s[0] == REPEATED}
            steps = [s for i, s in enumerate(steps) if s[0] != REPEATED or latest[s[1].id] == i]
        events = stored.save_alarms(self.store, steps)
        self._seq = max(self._seq, events[-1].seq)
        self._tell(events)
        return events

    def _tell(self, events: list[AlarmEvent]) -> None:
        for listener in self._listeners:
            try:
                listener(events)
            except Exception:
                log.exception("an alarm listener failed on %d steps (%s of %s first)", len(events), events[0].kind,
                              events[0].alarm.id)


def _higher(a: str, b: str) -> str:
    return max(a, b, key=SEVERITIES.index)


def _comment(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    text = text.strip()
    if len(text) > MAX_COMMENT:
        raise AlarmError(f"comment: at most {MAX_COMMENT} characters (this one has {len(text)})", 400)
    return text
