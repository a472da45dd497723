"""The health monitor: per device (entity) and per source, the last-seen time and the state the rule
(:mod:`.rule`) gives it, kept up to date from the platform's commit hook and a deadline scheduler.

* **Reports** arrive through :meth:`Platform.on_commit`, on the ingest thread: per batch the monitor
  takes each entity's newest ``observedAt`` and each source's outcome counts — dictionary work, no store
  access unless a device changes state or is seen for the first time (``bench/health_overhead.py``).
* **Silence** is found by deadlines, not by sweeping: each device and source has at most one entry in a
  heap, at the first µs its state would change if nothing more is heard.  A thread sleeps until the
  earliest one (as the platform clock runs; at most :data:`MAX_SLEEP_S` real seconds, and woken when a
  commit brings a device back), and :meth:`HealthMonitor.process_due` handles everything due at the
  clock's current time — which tests call themselves under a ``ManualClock``.  A transition is recorded
  at the exact time the rule says it happened (``at``) and when the monitor noticed (``detected_at``).
* **State is in the store** (``device_health``, written at each change): a restart resumes from it, with
  each device's last-seen time taken from its current state (``entity_attrs``), so a device silent
  during the downtime turns offline at the time its last report sets, not at the restart.
* **Listeners** (:meth:`HealthMonitor.on_change`) get every :class:`Transition`, in order, under the
  monitor's lock: they must be quick (the alarm service queues).  Transitions of devices and sources of a
  source in ``testing`` status carry ``testing=True``: nothing is published (or alarmed) for them.
"""
from __future__ import annotations

import heapq
import logging
import threading
from dataclasses import dataclass
from typing import Callable

from ..clock import US
from ..normalize.records import QUARANTINED, NormalizedBatch
from ..spec.model import API_SOURCE
from .rates import HourlyCounts
from .rule import ACTIVE, NEVER_RECEIVED, NEVER_REPORTED, ONLINE, Timing

log = logging.getLogger(__name__)

MAX_SLEEP_S = 60.0      # re-read the heap's head at least this often (a clock that jumps, a spec change)
DEVICE, SOURCE = "device", "source"


@dataclass(frozen=True)
class Transition:
    """A device or source changed state: ``at`` when the rule says it did, ``detected_at`` when the monitor
    noticed (later only across a restart or a late wake-up).  ``id`` is the entity id (devices) or the
    source id (sources); ``old`` is None when it is first flagged (a registry device never heard of)."""
    kind: str
    id: str
    service: str
    department: str
    source: str
    old: str | None
    new: str
    at: int
    detected_at: int
    testing: bool = False


@dataclass
class DeviceHealth:
    id: str
    type: str
    service: str
    department: str
    source: str
    last_seen: int | None
    state: str
    since: int
    due: int | None = None             # the heap entry that is live for it
    registry: dict | None = None       # the registry entry of a device never heard of


@dataclass
class SourceHealth:
    id: str
    service: str
    department: str
    testing: bool
    last_message: int | None
    state: str
    since: int
    due: int | None = None


class HealthMonitor:
    def __init__(self, platform):
        self.platform = platform
        self.clock = platform.clock
        self._lock = threading.RLock()
        self._devices: dict[str, DeviceHealth] = {}
        self._sources: dict[str, SourceHealth] = {}
        self._heap: list[tuple[int, str, str]] = []
        self._listeners: list[Callable[[Transition], None]] = []
        self._counts = HourlyCounts()
        self._timings: dict[str, Timing | None] = {}     # service → its timing
        self._testing: set[str] = set()                  # sources in testing status
        self._specs = None
        self._revision = None
        self._persist = False
        self._pending: list[Transition] = []   # changes found before start(), sent by it
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.loaded = False

    # -- life cycle ---------------------------------------------------------------------------
    def on_change(self, listener: Callable[[Transition], None]) -> None:
        """Call ``listener(transition)`` at every change of a device's or a source's state."""
        self._listeners.append(listener)

    def load(self) -> None:
        """Read the recorded health and last-seen times from the store and bring every state up to the
        clock.  Alone (``citylink health``) this only looks: changes found are neither recorded nor sent."""
        with self._lock:
            self._devices.clear()
            self._sources.clear()
            self._heap.clear()
            self._pending = []
            self._sync(force=True, initial=True)
            self.loaded = True

    def start(self) -> None:
        """Load, record and send the changes that happened while the platform was down, then follow the
        commits and the clock."""
        self.load()
        with self._lock:
            self._persist = True
            rows = [self._row(DEVICE, d) for d in self._devices.values()]
            rows += [self._row(SOURCE, s) for s in self._sources.values() if s.last_message is not None]
            self.platform.store.put_health(rows, self.clock.now_us())
            pending, self._pending = self._pending, []
            self._emit(pending, record=False)
        self.platform.on_commit(self._on_commit)
        self._thread = threading.Thread(target=self._run, name="citylink-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.process_due()
                self._wake.wait(self._sleep_s())
            except Exception:
                log.exception("device health: the scheduler failed; trying again")
                self._stop.wait(1.0)
            self._wake.clear()

    def _sleep_s(self) -> float:
        with self._lock:
            if not self._heap:
                return MAX_SLEEP_S
            due = self._heap[0][0]
        until = getattr(self.clock, "real_seconds_until", None)
        s = until(due) if until else (due - self.clock.now_us()) / US
        return max(0.0, min(s, MAX_SLEEP_S))

    # -- specs and registries ----------------------------------------------------------------------
    def _sync(self, force: bool = False, initial: bool = False) -> None:
        """Follow the specs and device registries in force (a change of configuration revision)."""
        p = self.platform
        if not force and p.revision == self._revision and p.specs is self._specs:
            return
        self._revision, self._specs = p.revision, p.specs
        specs = self._specs
        self._timings = {sid: Timing.of(svc) for sid, svc in specs.services.items()}
        self._testing = specs.unpublished
        now = self.clock.now_us()
        store = p.store
        recorded = store.health_rows() if initial else {}
        if initial:
            for eid, etype, service, department, source, seen in store.entities_last_seen():
                if source == API_SOURCE:
                    continue   # written through the API (the alarms' Alert entities, say): not a device
                state, since, last = recorded.get((DEVICE, eid), (ONLINE, None, None))
                seen = min(max(seen, last or seen), now)
                self._devices[eid] = DeviceHealth(eid, etype, service, department, source, seen, state,
                                                  since if since is not None else seen)
            ledger = store.ledger()
            for sid, src in specs.sources.items():
                last = ledger.get(sid, {}).get("last_received_at")
                state, since, _ = recorded.get((SOURCE, sid), (ACTIVE if last else NEVER_RECEIVED, last or now, None))
                svc = specs.services[src.service]
                self._sources[sid] = SourceHealth(sid, src.service, svc.department, sid in self._testing, last,
                                                  state, since)
        else:
            for sid, src in specs.sources.items():
                if sid not in self._sources:
                    self._sources[sid] = SourceHealth(sid, src.service, specs.services[src.service].department,
                                                      False, None, NEVER_RECEIVED, now)
                self._sources[sid].testing = sid in self._testing
        for sid in [s for s in self._sources if s not in specs.sources]:
            del self._sources[sid]
        self._registry(recorded, now)
        # deadlines under the timings in force; changes the downtime (or a new timing) brought
        for d in self._devices.values():
            if d.last_seen is not None:
                self._judge_device(d, now)
        for s in self._sources.values():
            self._judge_source(s, now)

    def _registry(self, recorded: dict, now: int) -> None:
        """Flag the expected devices of the registries that have never reported."""
        norm = self.platform.normalizer
        if norm is None:
            return
        expected = {}
        for source, devices in self.platform.store.devices().items():
            cs = norm.compiled.get(source)
            if cs is None or self._timings.get(cs.service.id) is None:
                continue
            for dev in devices:
                if dev.expected:
                    expected[cs.resolve(dev.local_id)[0]] = (cs, source, dev)
        for eid in [e for e, d in self._devices.items() if d.last_seen is None and e not in expected]:
            del self._devices[eid]   # no longer in a registry (or no longer expected)
        for eid, (cs, source, dev) in expected.items():
            if eid in self._devices:
                continue
            state, since, _ = recorded.get((DEVICE, eid), (None, now, None))
            d = self._devices[eid] = DeviceHealth(eid, cs.entity_type, cs.service.id, cs.department, source,
                                                  None, NEVER_REPORTED, since, registry=dev.as_row())
            if state != NEVER_REPORTED:
                self._change(DEVICE, d, None, NEVER_REPORTED, now, now)

    # -- the rule applied ----------------------------------------------------------------------
    def _judge_device(self, d: DeviceHealth, now: int) -> None:
        """Bring a device's state up to ``now`` and give it its next deadline."""
        timing = self._timings.get(d.service)
        if timing is None:
            d.due = None
            return
        new = timing.state_at(d.last_seen, now)
        if new != d.state:
            at = d.last_seen if new == ONLINE else timing.since(new, d.last_seen)
            self._change(DEVICE, d, d.state, new, at, now)
        due = timing.next_change(d.last_seen, now)
        if due is not None and due != d.due:
            heapq.heappush(self._heap, (due, DEVICE, d.id))
        d.due = due

    def _judge_source(self, s: SourceHealth, now: int) -> None:
        timing = self._timings.get(s.service)
        if timing is None:
            s.due = None
            return
        new = timing.source_state_at(s.last_message, now)
        if new != s.state:
            at = s.last_message if new == ACTIVE else timing.silent_since(s.last_message)
            self._change(SOURCE, s, s.state, new, at, now)
        due = timing.source_next_change(s.last_message, now)
        if due is not None and due != s.due:
            heapq.heappush(self._heap, (due, SOURCE, s.id))
        s.due = due

    def _change(self, kind: str, x, old: str | None, new: str, at: int, now: int) -> None:
        x.state, x.since = new, at
        t = Transition(kind, x.id, x.service, x.department, x.source if kind == DEVICE else x.id, old, new, at, now,
                       (x.source if kind == DEVICE else x.id) in self._testing)
        if self._persist:
            self._emit([t])
        else:
            self._pending.append(t)

    def _emit(self, transitions: list[Transition], record: bool = True) -> None:
        if record:
            rows = [self._row(t.kind, (self._devices if t.kind == DEVICE else self._sources)[t.id])
                    for t in transitions]
            self.platform.store.put_health(rows, self.clock.now_us())
        for t in transitions:
            for listener in self._listeners:
                try:
                    listener(t)
                except Exception:
                    log.exception("a device health listener failed on %s %s", t.kind, t.id)

    @staticmethod
    def _row(kind: str, x) -> tuple:
        return (kind, x.id, x.state, x.since, x.last_seen if kind == DEVICE else x.last_message)

    def process_due(self) -> int:
        """Handle every deadline due at the clock's current time; the number handled."""
        n = 0
        with self._lock:
            if not self.loaded:
                return 0
            self._sync()
            now = self.clock.now_us()
            heap = self._heap
            while heap and heap[0][0] <= now:
                due, kind, key = heapq.heappop(heap)
                x = (self._devices if kind == DEVICE else self._sources).get(key)
                if x is None or x.due != due:
                    continue   # superseded
                x.due = None
                (self._judge_device if kind == DEVICE else self._judge_source)(x, now)
                n += 1
        return n

    # -- the commit hook (the ingest thread) ---------------------------------------------------------
    def _on_commit(self, batch: NormalizedBatch) -> None:
        newest: dict[str, int] = {}
        get = newest.get
        for o in batch.observations:
            t = o[7]
            if t > get(o[1], -1):
                newest[o[1]] = t
        outcomes = batch.outcomes
        with self._lock:
            self._sync()
            now = self.clock.now_us()
            if outcomes:
                self._count(outcomes, set(batch.replayed), now)
            if batch.deletions:
                self._deleted(batch)
            devices = self._devices
            first = []
            woke = False
            for eid, t in newest.items():
                d = devices.get(eid)
                if t > now:
                    t = now
                if d is None or d.last_seen is None:
                    info = batch.entities.get(eid)
                    if info is None or info.source == API_SOURCE or self._timings.get(info.service) is None:
                        continue   # not a device of a service with a reporting interval
                    old = d.state if d is not None else None
                    d = devices[eid] = DeviceHealth(eid, info.type, info.service, info.department, info.source,
                                                    t, ONLINE, t)
                    if old is not None:   # a registry device heard of at last
                        self._change(DEVICE, d, old, ONLINE, t, now)
                    else:
                        first.append(self._row(DEVICE, d))
                    self._judge_device(d, now)
                    woke = True
                    continue
                if t <= d.last_seen:
                    continue   # late data: nothing newer heard
                d.last_seen = t
                if d.state != ONLINE or d.due is None:
                    self._judge_device(d, now)
                    woke = True
                # else its deadline is in the heap already, earlier than the new one: judged then
            if first and self._persist:
                self.platform.store.put_health(first, now)
        if woke:
            self._wake.set()

    def _count(self, outcomes, replayed: set, now: int) -> None:
        per: dict[str, list[int]] = {}
        for o in outcomes:
            if replayed and o[0] in replayed:
                continue
            c = per.get(o[1])
            if c is None:
                c = per[o[1]] = [0, 0]
            c[0] += 1
            if o[2] == QUARANTINED:
                c[1] += 1
        for source, (received, quarantined) in per.items():
            self._counts.add(source, now, received, quarantined)
            s = self._sources.get(source)
            if s is not None:
                s.last_message = now
                if s.state != ACTIVE or s.due is None:
                    self._judge_source(s, now)

    def _deleted(self, batch: NormalizedBatch) -> None:
        gone = [eid for _, eid, iri, _ in batch.deletions if iri is None and eid in self._devices]
        for eid in gone:
            del self._devices[eid]
        if gone and self._persist:
            self.platform.store.delete_health(DEVICE, gone)

    # -- reading -------------------------------------------------------------------------------------
    def timing(self, service: str) -> Timing | None:
        return self._timings.get(service)

    def device(self, eid: str) -> DeviceHealth | None:
        """One device as last judged (None: not a monitored device)."""
        with self._lock:
            d = self._devices.get(eid)
            return DeviceHealth(**vars(d)) if d is not None else None

    def testing(self, source: str) -> bool:
        """Is the source in ``testing`` status (nothing it brings is published or alarmed)."""
        return source in self._testing

    def devices(self) -> list[DeviceHealth]:
        """Every monitored device as of now (deadlines due are handled first), by id."""
        self.process_due()
        with self._lock:
            return [DeviceHealth(**vars(d)) for _, d in sorted(self._devices.items())]

    def sources(self) -> list[tuple[SourceHealth, int, int]]:
        """Every source as of now, with (received, quarantined) in the last hour."""
        self.process_due()
        now = self.clock.now_us()
        with self._lock:
            return [(SourceHealth(**vars(s)), *self._counts.last_hour(sid, now))
                    for sid, s in sorted(self._sources.items())]
