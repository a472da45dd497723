"""The rule engine: the service specs' alarm rules (:mod:`.compile`) applied to the store's stream of
committed changes, with every rule's state and timers kept in the store.

* **Input** is what the store has committed (:meth:`Platform.on_commit`) and device health's transitions
  (:meth:`HealthMonitor.on_change`) — never the adapters' raw input.  Both are queued by the committing
  thread (a list append) and handled in order on the engine's own thread, so a batch's observations are
  seen per entity in commit order and ingestion never waits for a rule.
* **Per entity** the engine keeps the current values of the attributes its rules read (loaded from the
  store at start, then from the commits; an observation older than the value held is ignored).
* **Per rule and entity** it keeps since when the condition has held, the deadline at which it must look
  again, and for rate-of-change and absence rules the values in the window or the last time seen
  (:class:`State`).  A change of state is written to the store (``rule_state``) at the end of each
  round, so a ``for 10 min`` window survives a restart: on start the engine reads the states back,
  evaluates every entity once more against its current values, and sets its timers from the recorded
  times — an alarm due during the downtime is raised at the time the rule says.
* **Timers** are deadlines in a heap (one live entry per rule and entity), handled when the platform
  clock reaches them (:meth:`RuleEngine.process_due`; a test calls it under a ``ManualClock``).
* **Alarms** are raised, repeated and cleared through the :class:`~citylink.alarms.AlarmService`.
  Sources in ``testing`` status raise none (their values are followed, quietly).
"""
from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..access.visibility import operations_visibility
from ..alarms.model import HEALTH_OFFLINE, HEALTH_SILENT
from ..alarms.service import AlarmService, Raise
from ..clock import US, iso
from ..health import ACTIVE, DEVICE, NEVER_REPORTED, OFFLINE, ONLINE, SILENT, Transition
from ..normalize.compiler import LOCATION_IRI
from ..store import alarms as stored
from .compile import CompiledRule, compile_rules

log = logging.getLogger(__name__)

MAX_SLEEP_S = 2.0   # look at least this often: timers under a clock that jumps, steps recorded by the CLI
ROUND = 64          # queued items handled per round before the timers are looked at
LINGER_S = 0.05     # under load a round waits this long for more commits (alarms 50 ms later)


@dataclass
class Entity:
    id: str
    service: str
    type: str
    source: str
    lon: float | None = None
    lat: float | None = None
    values: dict[str, Any] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)     # attribute → observedAt of the value held
    newest: int = 0


@dataclass
class State:
    """One rule's memory of one entity: the condition has held ``since``; look again at ``due``; ``last``:
    the last observation of an absence rule's attributes; ``history``: (t, value) pairs in the windows of
    the rule's ``delta()``s.  ``since`` and ``history`` are kept in the store; the rest follows from them
    and from the entity's stored values after a restart."""
    since: int | None = None
    due: int | None = None
    last: int | None = None
    history: dict[str, list] | None = None
    evaluated: int = 0         # the newest observation time evaluated (older ones are late: ignored)
    judged_on: tuple | None = None   # the values (and place) the condition was last judged on …
    held: bool = False         # … and what it gave: the same values give the same answer

    def data(self):
        return {"history": self.history} if self.history else None


class RuleEngine:
    def __init__(self, platform, alarms: AlarmService):
        self.platform = platform
        self.clock = platform.clock
        self.alarms = alarms
        self._lock = threading.RLock()
        self._queue: deque = deque()
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._busy = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._specs = None
        self._rules: dict[tuple[str, str], list[CompiledRule]] = {}     # (service, type) → its rules
        self._by_id: dict[str, CompiledRule] = {}
        self._names: dict[tuple[str, str], dict[str, str]] = {}         # (service, type) → IRI → name read
        self._personal: dict[tuple[str, str], set[str]] = {}
        self._testing: set[str] = set()
        self._entities: dict[str, Entity | None] = {}                   # None: an entity no rule reads
        self._states: dict[tuple[str, str], State] = {}
        self._heap: list[tuple[int, str, str]] = []
        self._dirty: set[tuple[str, str]] = set()
        self.loaded = False
        self.cpu_seconds = 0.0   # the CPU time its thread has spent judging (bench/rules_throughput.py)

    # -- life cycle ---------------------------------------------------------------------------
    def load(self) -> None:
        """Compile the rules in force, read the entities they read and the recorded rule states, and bring
        every rule up to the clock (alarms due while the platform was down are raised now)."""
        with self._lock:
            self.alarms.load()
            self._sync(force=True)
            self._load_entities()
            recorded = stored.rule_states(self.platform.store)
            for (rule, eid), (since, due, data) in recorded.items():
                if rule == HEALTH_OFFLINE and due is not None:   # a registry device's first report awaited
                    self._schedule(self._states.setdefault((rule, eid), State()), rule, eid, due)
                elif rule in self._by_id:
                    data = data or {}
                    # the deadline is worked out again below, from `since` and the rule in force
                    self._states[(rule, eid)] = State(since, None, None, data.get("history"))
            stale = {rule for rule, _ in recorded} - set(self._by_id) - {HEALTH_OFFLINE}
            if stale:
                stored.delete_rule_states(self.platform.store, stale)
            now = self.clock.now_us()
            with self.alarms.batch():
                for ent in self._entities.values():
                    if ent is not None:
                        for rule in self._rules.get((ent.service, ent.type), ()):
                            self._judge(rule, ent, ent.newest, now, observed=False)
            self._flush()
            self.loaded = True
        self.process_due()

    def listen(self) -> None:
        """Hear commits and health changes from now on (queued until :meth:`start`)."""
        self.platform.on_commit(self._enqueue)
        self.platform.health.on_change(self._enqueue)

    def start(self) -> None:
        """Load, then handle what was queued since :meth:`listen`, and follow."""
        self.load()
        self._thread = threading.Thread(target=self._run, name="citylink-rules", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            while self._queue:      # what was committed before the stop is judged and recorded
                self._handle_queued()

    def _enqueue(self, item) -> None:
        """The commit hook and the health listener: a list append, on the committing thread."""
        self._queue.append(item)
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                cpu = time.thread_time()
                with self._lock:
                    self._busy = True
                    self._handle_queued()
                if not self._queue:   # deadlines are judged once every commit before them has been seen
                    self.process_due()
                self.cpu_seconds += time.thread_time() - cpu
            except Exception:
                log.exception("rule engine: a round failed; going on")
            finally:
                with self._idle:
                    self._busy = False
                    self._idle.notify_all()
            if not self._queue:
                self._wake.wait(self._sleep_s())
            elif len(self._queue) < ROUND:   # commits came during the round: a busy stream, let it gather
                self._stop.wait(LINGER_S)    # (fewer, larger rounds); a commit after a quiet spell goes at once
            self._wake.clear()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every queued commit and transition has been handled (tests, benchmarks)."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._queue and not self._busy, timeout)

    def _sleep_s(self) -> float:
        due = self.next_due()
        if due is None:
            return MAX_SLEEP_S
        until = getattr(self.clock, "real_seconds_until", None)
        s = until(due) if until else (due - self.clock.now_us()) / US
        return max(0.0, min(s, MAX_SLEEP_S))

    def next_due(self) -> int | None:
        with self._lock:
            dues = [d for d in (self._heap[0][0] if self._heap else None, self.alarms.next_due()) if d is not None]
        return min(dues) if dues else None

    # -- the rules in force ------------------------------------------------------------------------
    def _sync(self, force: bool = False) -> None:
        specs = self.platform.specs
        if not force and specs is self._specs:
            return
        self._specs = specs
        departments = set(specs.departments) if specs.department_lists else None   # as the loader checked
        rules: dict[tuple[str, str], list[CompiledRule]] = {}
        for svc in specs.services.values():
            compiled = specs.compiled_rules.get(svc.id)   # the loader's (a spec set made by hand: none yet)
            for rule in compile_rules(svc, departments) if compiled is None else compiled:
                rules.setdefault((rule.service, rule.entity_type), []).append(rule)
        self._rules = rules
        old = set(self._by_id)
        self._by_id = {r.id: r for rs in rules.values() for r in rs}
        self._names, self._personal = {}, {}
        for (sid, tname), rs in rules.items():
            et = specs.services[sid].entity_types[tname]
            read = set().union(*(r.attrs for r in rs))
            self._names[(sid, tname)] = {a.iri: a.name for a in et.attributes.values() if a.name in read}
            self._personal[(sid, tname)] = {a.name for a in et.attributes.values() if a.personal}
        self._testing = specs.unpublished
        gone = old - set(self._by_id)
        if gone and self.loaded:
            for key in [k for k in self._states if k[0] in gone]:
                del self._states[key]
            stored.delete_rule_states(self.platform.store, gone)
        if self.loaded and not force:
            self._entities = {}     # the new rules may read other attributes, of other types: read them again
            self._load_entities()

    def _load_entities(self) -> None:
        store = self.platform.store
        scope = list(self._rules)
        if not scope:
            return
        offset = 0
        while True:
            rows, _ = store.entities(scope=scope, limit=1000, offset=offset, count=False)
            for row in rows:
                if row.id not in self._entities or self._entities[row.id] is None:
                    self._entities[row.id] = self._entity_of(row)
            if len(rows) < 1000:
                return
            offset += 1000

    def _entity_of(self, row) -> Entity | None:
        names = self._names.get((row.service, row.type))
        if names is None:
            return None
        ent = Entity(row.id, row.service, row.type, row.source, row.lon, row.lat)
        for a in getattr(row, "attrs", ()):
            ent.newest = max(ent.newest, a.observed_at)
            name = names.get(a.iri)
            if name is not None and a.dataset_id in ("", None):
                ent.values[name] = orjson.loads(a.value_json) if a.value_json is not None else a.value_num
                ent.seen[name] = a.observed_at
        return ent

    # -- the stream of commits ----------------------------------------------------------------------
    def _handle_queued(self) -> None:
        n = 0
        with self.alarms.batch():   # the round's alarm steps: one transaction
            while self._queue and n < ROUND:
                item = self._queue.popleft()
                n += 1
                self._sync()
                if isinstance(item, Transition):
                    self._on_health(item)
                else:
                    self._on_batch(item)
        self._flush()

    def _on_batch(self, batch) -> None:
        for eid, info in batch.entities.items():
            ent = self._entities.get(eid)
            if ent is not None:
                ent.lon, ent.lat = info.lon, info.lat
            elif (info.service, info.type) in self._rules:
                self._entities[eid] = Entity(eid, info.service, info.type, info.source, info.lon, info.lat)
            else:
                self._entities[eid] = None
        touched: dict[str, tuple[Entity, int, set]] = {}
        entities = self._entities
        for o in batch.observations:
            eid = o[1]
            ent = entities.get(eid, False)
            if ent is False:
                row = self.platform.store.entity(eid)
                ent = entities[eid] = self._entity_of(row) if row is not None else None
            if ent is None or o[3]:
                continue   # no rule reads it; or a dataset other than the default
            iri, t = o[2], o[7]
            name = self._names[(ent.service, ent.type)].get(iri)
            if name is None:
                if iri != LOCATION_IRI:
                    if t > ent.newest:
                        ent.newest = t
                    continue
                name = None
            hit = touched.get(eid)
            if hit is None:
                hit = touched[eid] = (ent, t, set())
            elif t > hit[1]:
                touched[eid] = hit = (ent, t, hit[2])
            if name is not None and t >= ent.seen.get(name, -1):
                ent.values[name] = orjson.loads(o[5]) if o[5] is not None else o[4]
                ent.seen[name] = t
                hit[2].add(name)
            if t > ent.newest:
                ent.newest = t
        now = self.clock.now_us()
        for eid, (ent, t, names) in touched.items():
            for rule in self._rules.get((ent.service, ent.type), ()):
                if names & rule.attrs:
                    self._judge(rule, ent, t, now, observed=True, names=names)

    # -- one rule, one entity -------------------------------------------------------------------------
    def _judge(self, rule: CompiledRule, ent: Entity, t: int, now: int, *, observed: bool,
               names: set | None = None) -> None:
        key = (rule.id, ent.id)
        st = self._states.get(key)
        if st is None:
            st = self._states[key] = State()
        if observed and t < st.evaluated:
            return   # late: the rule has judged newer values of this entity already
        st.evaluated = max(st.evaluated, t)
        # what a restart could not work out again is written: since when a condition has held, and the
        # windows of delta(); deadlines follow from them, an absence from the entity's stored values
        before = (st.since, repr(st.history) if rule.windows else None)
        if rule.absent is not None:
            self._judge_absence(rule, ent, st, t, now, observed, names)
        else:
            self._judge_condition(rule, ent, st, t, now, observed, names)
        if (st.since, repr(st.history) if rule.windows else None) != before:
            self._dirty.add(key)

    def _judge_condition(self, rule, ent, st, t, now, observed, names) -> None:
        if rule.windows and observed and names:
            self._remember(rule, ent, st, t, names)
        holds = self._holds(rule, ent, st, t)
        if not holds:
            st.since = st.due = None
            if rule.auto_clear and self.alarms.is_open(rule.id, ent.id):
                self.alarms.condition_ended(rule.id, ent.id, t)
            return
        if st.since is None:
            st.since = t
        fire = st.since + int(rule.hold_seconds(ent.values) * US)
        if self.alarms.is_open(rule.id, ent.id):
            st.due = None
            if observed:
                self._raise(rule, ent, t)   # a repeat: count and last-seen
        elif t >= fire if observed else now >= fire:
            # an observation proves the condition held until its own time; a later time is the timer's to
            # judge, once every commit before it has been seen (a backlog may hold the end of the condition)
            st.due = None
            self._raise(rule, ent, fire)
        else:
            self._schedule(st, rule.id, ent.id, fire)

    @staticmethod
    def _holds(rule, ent, st, t) -> bool:
        """The condition on the entity's values at ``t``; judged again only when a value it reads changed
        (or the place; always for one that reads the time or a delta() window)."""
        if rule.clock or rule.windows:
            return rule.in_scope(ent.lon, ent.lat) and rule.holds(ent.values, t, st.history)
        values = ent.values
        judged_on = (ent.lon, ent.lat, *(values.get(a) for a in rule.attrs))
        if judged_on != st.judged_on:
            st.judged_on = judged_on
            st.held = rule.in_scope(ent.lon, ent.lat) and rule.holds(values, t, None)
        return st.held

    def _judge_absence(self, rule, ent, st, t, now, observed, names) -> None:
        if observed and names and names & set(rule.absent):
            st.last = max(st.last or t, t)
            if rule.auto_clear and self.alarms.is_open(rule.id, ent.id):
                self.alarms.condition_ended(rule.id, ent.id, t)
        if st.last is None:   # (after a start) the newest of them stored, or absent since the entity was
            st.last = max((ent.seen[a] for a in rule.absent if a in ent.seen), default=ent.newest or t)
        if self.alarms.is_open(rule.id, ent.id):
            st.due = None
            return
        fire = st.last + int(rule.hold_seconds(ent.values) * US)
        if not observed and now >= fire:   # an observation never ends a silence: the timer judges it
            st.due = None
            if rule.in_scope(ent.lon, ent.lat):
                self._raise(rule, ent, fire)
        else:
            self._schedule(st, rule.id, ent.id, fire)

    def _remember(self, rule, ent, st, t, names) -> None:
        hist = st.history if st.history is not None else {}
        for name, window in rule.windows.items():
            if name in names and isinstance(ent.values.get(name), (int, float)):
                pts = hist.setdefault(name, [])
                pts.append([t, ent.values[name]])
                cut = t - int(window * US)
                while len(pts) > 1 and pts[1][0] <= cut:
                    pts.pop(0)
        st.history = hist

    def _schedule(self, st: State, rule_id: str, eid: str, due: int) -> None:
        if st.due != due:
            st.due = due
            heapq.heappush(self._heap, (due, rule_id, eid))

    def _raise(self, rule: CompiledRule, ent: Entity, at: int) -> None:
        if ent.source in self._testing:
            return
        personal = self._personal.get((ent.service, ent.type), ())
        values = {n: ent.values.get(n) for n in sorted(rule.attrs) if n not in personal}
        ko, en = rule.message(ent.values, ent.id)
        esc = rule.escalate
        self.alarms.raise_alarm(Raise(
            rule.id, ent.id, ent.type, rule.service, rule.department, rule.severity, at, ko, en, values,
            operations_visibility(rule.visibility), rule.category, ent.lon, ent.lat,
            int(esc.after_s * US) if esc else None, esc.severity if esc else None, esc.department if esc else None))

    # -- timers ----------------------------------------------------------------------------------------
    def process_due(self) -> int:
        """Handle every rule deadline and alarm escalation due at the clock's current time; how many."""
        with self._lock:
            if not self.loaded:
                return 0
            self._sync()
            now = self.clock.now_us()
            with self.alarms.batch():
                n = self._due(now) + self.alarms.process_due(now)
            self._flush()
        return n

    def _due(self, now: int) -> int:
        n = 0
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, rule_id, eid = heapq.heappop(heap)
            st = self._states.get((rule_id, eid))
            if rule_id == HEALTH_OFFLINE:
                if st is not None and st.due == due:
                    self._never_reported(eid, st, due)
                    n += 1
                continue
            rule = self._by_id.get(rule_id)
            ent = self._entities.get(eid)
            if st is None or st.due != due or rule is None or ent is None:
                continue   # superseded
            st.due = None
            self._dirty.add((rule_id, eid))
            if rule.absent is not None:
                self._judge_absence(rule, ent, st, due, now, False, None)
            elif st.since is not None:
                self._judge_condition(rule, ent, st, due, now, False, None)
            n += 1
        return n

    def _flush(self) -> None:
        if not self._dirty:
            return
        rows = []
        for key in self._dirty:
            st = self._states.get(key)
            rows.append((*key, *((st.since, st.due, st.data()) if st else (None, None, None))))
        self._dirty.clear()
        stored.put_rule_states(self.platform.store, rows, self.clock.now_us())

    # -- device health ---------------------------------------------------------------------------------
    def _on_health(self, t: Transition) -> None:
        if t.testing:
            return
        rule = HEALTH_OFFLINE if t.kind == DEVICE else HEALTH_SILENT
        if t.kind == DEVICE and (rule, t.id) in self._states:   # a first report awaited: it came, or it is gone
            self._states.pop((rule, t.id))
            self._dirty.add((rule, t.id))
        if t.new in (ONLINE, ACTIVE):
            self.alarms.condition_ended(rule, t.id, t.at)
            return
        if t.new == NEVER_REPORTED:
            # a device just put in a registry is given the interval and grace to report, as if it had
            # reported when registered; then it is alarmed, if it still has not
            timing = self.platform.health.timing(t.service)
            if timing is not None:
                st = self._states[(rule, t.id)] = State()
                self._schedule(st, rule, t.id, t.at + timing.silent_after)
                self._dirty.add((rule, t.id))
            return
        if t.new not in (OFFLINE, SILENT):
            return
        self._health_alarm(t)

    def _never_reported(self, eid: str, st: State, due: int) -> None:
        del self._states[(HEALTH_OFFLINE, eid)]
        self._dirty.add((HEALTH_OFFLINE, eid))
        d = self.platform.health.device(eid)
        if d is not None and d.state == NEVER_REPORTED:
            self._health_alarm(Transition(DEVICE, eid, d.service, d.department, d.source, None, NEVER_REPORTED,
                                          due, due))

    def _health_alarm(self, t: Transition) -> None:
        rule = HEALTH_OFFLINE if t.kind == DEVICE else HEALTH_SILENT
        svc = self.platform.specs.services.get(t.service)
        ent = self._entities.get(t.id) or None
        since = iso(t.at)
        if t.kind == DEVICE:
            dev = None if ent else self.platform.health.device(t.id)   # a registry device never heard of
            etype = ent.type if ent else dev.type if dev else "Device"
            if t.new == NEVER_REPORTED:
                ko, en = f"기기 {t.id}: 등록되었으나 한 번도 보고하지 않음", f"Device {t.id} is registered but has never reported"
            else:
                ko, en = f"기기 {t.id} 연락 끊김 ({since}부터)", f"Device {t.id} offline since {since}"
            severity = "medium"
        else:
            etype = "Source"
            ko, en = f"업체 연계 {t.id} 수신 없음 ({since}부터)", f"Source {t.id} silent since {since}"
            severity = "high"
        visibility = operations_visibility(svc.visibility if svc is not None else "internal")
        self.alarms.raise_alarm(Raise(rule, t.id, etype, t.service, t.department, severity, t.at, ko, en,
                                      {"state": t.new}, visibility, "health",
                                      ent.lon if ent else None, ent.lat if ent else None))
