"""The running platform: store + specs + bus + normalizer, wired together.

    adapters ──archive──► store (raw, pending)
        └──publish──► bus ──► normalizer ──apply──► store (observations, state, quarantine, ledger)

The platform owns the one clock, reloads specs and device registries when the
store's configuration revision moves (``citylink spec apply`` in another
process), re-queues messages left pending by a crash, and lets callers wait for
the outcome of the messages they handed in.
"""
from __future__ import annotations

import gc
import logging
import secrets
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import yaml

from .access import KEY_SCOPES, AuditLog, KeyRing, RateLimit, Visibility, hash_password, new_key, secret_hash
from .access.accounts import LOGIN, MIN_PASSWORD
from .access.sessions import Sessions
from .bus import Bus, open_bus
from .clock import Clock, SystemClock
from .config import Settings
from .errors import CityLinkError, SpecError, SpecProblem, UnknownSource
from .alarms import AlarmService
from .alarms.entities import AlertEntities
from .alarms.notify import Notifier
from .alarms.stream import AlarmStream
from .health import HealthMonitor
from .rules.engine import RuleEngine
from .ids import RawIdGenerator
from .normalize.pipeline import Limits, Normalizer
from .normalize.records import PENDING, NormalizedBatch, RawMessage
from .spec.devices import load_registry
from .spec.loader import FORMATS, load_paths, load_texts, spec_files
from .spec.model import SpecSet
from .store import Store, open_store
from .store.base import ApiKeyRow, UserRow
from .subscriptions import Subscriptions

log = logging.getLogger(__name__)


def tune_gc() -> None:
    """Collect young objects less often: the normalizer makes millions of short-lived tuples, and
    CPython's default (every 700 allocations) spends a third of its time in the collector.
    Called by the long-running commands (serve, import, replay), not on import."""
    gc.freeze()
    gc.set_threshold(500_000, 50, 100)


@contextmanager
def gc_paused():
    """No cyclic garbage collection while a batch is processed: its millions of short-lived tuples
    are freed by reference counting as soon as the batch is done, so a collector pass in the middle
    only walks objects about to die.  The collector runs again between batches."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class Platform:
    def __init__(self, settings: Settings, *, store: Store | None = None, clock: Clock | None = None,
                 bus: Bus | None = None):
        self.settings = settings
        self.clock = clock or SystemClock()
        self.store = store or open_store(settings.resolved_store_url())
        self.bus = bus or open_bus(settings.bus)
        self.ids = RawIdGenerator(self.clock)
        self.limits = Limits(int(settings.max_clock_skew_seconds * 1e6), int(settings.max_future_seconds * 1e6),
                             int(settings.late_after_seconds * 1e6))
        self._key = settings.resolved_pseudonym_key()
        self.normalizer: Normalizer | None = None
        self._revision = -1
        self._cond = threading.Condition()
        self._results: dict[int, int] = {}
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._listeners: list[Callable[[NormalizedBatch], None]] = []
        self.started = False
        self.subscriptions = Subscriptions(self)   # NGSI-LD subscriptions: a commit listener and a notifier
        self._visibility: Visibility | None = None
        self.keys = KeyRing(self.store)             # readers' API keys → who they stand for
        self.key_rate = RateLimit(settings.key_requests_per_minute)
        self.sessions = Sessions(self.store, self.clock)   # staff signed in to the dashboard
        self.audit = AuditLog(self.store)           # who read what
        self.health = HealthMonitor(self)           # device and source health: a commit listener and a scheduler
        self.alarms = AlarmService(self)            # the alarms' lifecycle, in the store
        self.rules = RuleEngine(self, self.alarms)  # the specs' rules and device health → alarms
        self.alarm_stream = AlarmStream()           # alarm events, live (SSE)
        self.alarms.on_events(self.alarm_stream.on_events)
        self.alarms.on_events(AlertEntities(self).on_events)  # alarms as NGSI-LD Alert entities
        self.notifier = Notifier(self)              # departments' webhooks and e-mail, retried, logged
        self.alarms.on_events(self.notifier.on_events)

    # -- specs ------------------------------------------------------------------------------
    @property
    def revision(self) -> int:
        """The configuration revision in force (specs and registries); adapters follow it."""
        return self._revision

    @property
    def specs(self) -> SpecSet:
        return self.normalizer.specs if self.normalizer else SpecSet()

    @property
    def visibility(self) -> Visibility:
        """Who may see what under the specs in force (rebuilt when they change)."""
        specs = self.specs
        vis = self._visibility
        if vis is None or vis.specs is not specs:
            vis = self._visibility = Visibility(specs)
        return vis

    def apply_specs(self, paths: list[Path]) -> list[tuple[str, str, str, bool]]:
        """Validate spec files and store each changed one as a new version, with the device
        registries they name; returns (kind, name, version, created) per spec.

        The files are checked together with the specs in force that they do not replace, so one
        changed source file can be applied alone (its service is in the store), and a service change
        that would break a source in force is refused."""
        specs, given = self._with_specs_in_force(paths)
        now = self.clock.now_us()
        out = []
        registries = {}
        for sid, src in specs.sources.items():
            if src.origin.file in given and src.devices:
                path = Path(src.origin.file).parent / src.devices
                if not path.is_file():
                    raise SpecError([SpecProblem("registry_missing", src.origin.file, src.origin.line(("devices",)),
                                                 "devices", f"no device registry file {path}")])
                try:
                    registries[sid] = load_registry(path)
                except SpecError as e:
                    raise SpecError([SpecProblem(p.type, p.file, p.line, p.path, p.msg) for p in e.problems]) from None
        for kind, items in (("service", specs.services), ("source", specs.sources),
                            ("departments", specs.department_lists)):
            for name, spec in items.items():
                sf = spec.origin
                if sf.file not in given:
                    continue  # in force already, here only to check the new ones against
                _, created = self.store.put_spec(kind, name, spec.version, sf.sha256, sf.file, sf.text, now)
                out.append((kind, name, spec.version, created))
        for sid, devices in registries.items():
            self.store.put_devices(sid, devices, now)
        return out

    def _with_specs_in_force(self, paths: list[Path]) -> tuple[SpecSet, set[str]]:
        """The specs in ``paths`` plus those in force they do not replace, validated together;
        and the labels (file names) of the given ones."""
        files = spec_files(paths)
        try:
            docs = [(str(f), f.read_text(encoding="utf-8")) for f in files]
        except (OSError, UnicodeDecodeError):
            docs = []
        if not docs:  # nothing readable: load_paths says why
            specs = load_paths(paths)
            return specs, {s.origin.file for s in [*specs.services.values(), *specs.sources.values()]}
        given = set()
        for _, text in docs:
            try:
                d = yaml.safe_load(text)
            except yaml.YAMLError:
                continue  # load_texts reports it with its line
            if isinstance(d, dict) and d.get("citylink") in FORMATS:
                given.add((FORMATS[d["citylink"]], d.get("id")))
        context = [(r.file or f"{r.kind}:{r.name}", r.body) for r in self.store.specs_in_force()
                   if (r.kind, r.name) not in given]
        labels = {label for label, _ in docs}
        context = [(label, body) for label, body in context if label not in labels]
        return load_texts(docs + context), labels

    def load_specs_in_force(self) -> SpecSet:
        rows = self.store.specs_in_force()
        specs = load_texts([(r.file or f"{r.kind}:{r.name}", r.body) for r in rows])
        specs.version_ids = {(r.kind, r.name): r.id for r in rows}
        return specs

    def reload(self, force: bool = False) -> bool:
        rev = self.store.config_revision()
        if rev == self._revision and not force:
            return False
        specs = self.load_specs_in_force()
        norm = Normalizer(specs, deployment=self.settings.deployment, pseudonym_key=self._key,
                          clock=self.clock, limits=self.limits, registries=self.store.devices())
        self.store.register_attributes(norm.attr_catalog())
        self.normalizer = norm  # swapped whole: a batch in flight keeps the one it started with
        self._revision = rev
        log.info("specs in force: %d services, %d sources (config revision %d)",
                 len(specs.services), len(specs.sources), rev)
        return True

    # -- life cycle ---------------------------------------------------------------------------
    def start(self, *, specs_dir: Path | None = None, watch: bool = True) -> "Platform":
        if specs_dir is not None:
            self.apply_specs([specs_dir])
        self.reload(force=True)
        self.notifier.start()        # sends what a previous run left pending
        self.subscriptions.start()   # listens for commits before the first batch (recovered ones too)
        self.rules.listen()          # so do the rules; and they hear the health changes found since the last run
        self.health.start()
        self.bus.consume(self._handle)
        self.recover()
        self.rules.start()           # after recovery: the Alert entities it writes are not recovered twice
        if watch:
            self._watcher = threading.Thread(target=self._watch, name="citylink-spec-watch", daemon=True)
            self._watcher.start()
        self.started = True
        return self

    def stop(self) -> None:
        self._stop.set()
        self.bus.drain(timeout=30)
        self.health.stop()
        self.rules.stop()            # judges the last commits; the Alert entities it writes are drained too
        self.notifier.stop()         # deliveries not sent yet stay pending in the store
        self.bus.drain(timeout=30)
        self.bus.close()
        self.subscriptions.stop()    # after the last commit, before the store it records deliveries in
        self.audit.close()
        self.store.close()

    def _watch(self) -> None:
        while not self._stop.wait(self.settings.spec_poll_seconds):
            try:
                self.reload()
            except SpecError as e:  # the specs in the store stay as they were
                log.error("spec reload refused:\n%s", e)
            except Exception:
                log.exception("spec reload failed")

    def recover(self) -> int:
        """Re-queue messages archived but never normalized (a crash between archive and apply)."""
        if not any(d.get("pending") for d in self.store.ledger().values()):
            return 0  # the ledger knows: no need to look through the whole archive
        n, after = 0, 0
        while True:
            batch = self.store.raw_messages(status=PENDING, after_id=after, limit=5000)
            if not batch:
                return n
            self.bus.publish(batch)
            n += len(batch)
            after = batch[-1].id

    # -- ingest (adapters call these) -----------------------------------------------------------
    def source_names(self) -> list[str]:
        return sorted(self.specs.sources)

    def check_source(self, source: str) -> None:
        if source not in self.specs.sources:
            raise UnknownSource(source, self.source_names())

    def authorize(self, source: str, token: str | None) -> bool:
        if not token:
            return False
        return source in self.store.token_sources(secret_hash(token))

    def issue_token(self, source: str, label: str | None = None) -> str:
        self.check_source(source)
        token = "cl_" + secrets.token_urlsafe(32)
        self.store.add_token(source, secret_hash(token), label, self.clock.now_us())
        return token

    # -- readers: API keys and staff accounts ----------------------------------------------------
    def _check_reader(self, department: str | None, scopes) -> None:
        """A key or an account reads for a department of the specs in force, or with a scope, or both."""
        departments = sorted(self.specs.departments)
        if department is not None and department not in departments:
            raise CityLinkError(f"department: {department!r} is not a department of the specs in force "
                                f"(known: {', '.join(departments) or 'none'})")
        bad = [x for x in scopes if x not in KEY_SCOPES]
        if bad:
            raise CityLinkError(f"scope: {bad[0]!r} is not a scope (known: {', '.join(KEY_SCOPES)})")
        if department is None and not scopes:
            raise CityLinkError(f"department: give a department or a scope ({', '.join(KEY_SCOPES)}; public "
                                f"reads what anyone reads, as a known reader)")

    def issue_api_key(self, holder: str | None = None, department: str | None = None, scopes=(),
                      user: str | None = None) -> tuple[ApiKeyRow, str]:
        """A reader's API key: (what is kept, the key — shown once, only its hash is stored).  The department
        must be one of the specs in force; scopes are among :data:`citylink.access.KEY_SCOPES`.  A key of a
        ``user`` reads for the user's department with the user's scopes (or fewer), and stops working when
        the account is disabled."""
        if user is not None:
            found = self.store.user(user)
            if found is None or found[0].disabled_at is not None:
                raise CityLinkError(f"user: no enabled account {user!r} (see: citylink users list)")
            account = found[0]
            if department is not None and department != account.department:
                raise CityLinkError(f"department: {user!r} reads for {account.department or 'no department'}, "
                                    f"not {department!r}")
            beyond = sorted(set(scopes) - set(account.scopes))
            if beyond:
                raise CityLinkError(f"scope: {user!r} has no scope {beyond[0]!r}; a key carries its user's "
                                    f"scopes or fewer")
            holder = holder or account.name
            department = account.department
            scopes = scopes or account.scopes
        if not (holder or "").strip():
            raise CityLinkError("holder: say who the key is for")
        self._check_reader(department, scopes)
        key_id, key, sha = new_key()
        row = ApiKeyRow(key_id, holder.strip(), department, tuple(sorted(set(scopes))), self.clock.now_us(),
                        user=user)
        self.store.add_api_key(row, sha)
        return row, key

    def add_user(self, login: str, name: str, department: str | None = None, scopes=(),
                 password: str | None = None) -> UserRow:
        """A staff account; without a password it may hold API keys but not sign in."""
        if not LOGIN.match(login):
            raise CityLinkError(f"login: {login!r} must be 2–63 lower-case letters, digits, '.', '_' or '-', "
                                f"starting with a letter")
        if not name.strip():
            raise CityLinkError("name: say whose account it is")
        self._check_reader(department, scopes)
        if password is not None and len(password) < MIN_PASSWORD:
            raise CityLinkError(f"password: at least {MIN_PASSWORD} characters")
        row = UserRow(login, name.strip(), department, tuple(sorted(set(scopes))), self.clock.now_us(),
                      has_password=password is not None)
        if not self.store.add_user(row, hash_password(password) if password is not None else None):
            raise CityLinkError(f"login: {login!r} is taken (a disabled account keeps its login)")
        return row

    def make_messages(self, source: str, bodies: list[tuple[bytes, dict]], transport: str) -> list[RawMessage]:
        now = self.clock.now_us()
        ids = self.ids.next_ids(len(bodies))
        return [RawMessage(i, source, now, b, transport, m) for i, (b, m) in zip(ids, bodies)]

    def submit(self, messages: list[RawMessage]) -> list[int]:
        """Archive (durably), then publish on the bus.  Returns the raw ids."""
        self.store.archive(messages)
        self.bus.publish(messages)
        return [m.id for m in messages]

    def wait(self, ids: list[int], timeout: float) -> dict[int, int]:
        """Outcome codes of these raw ids, waiting up to ``timeout`` s for the normalizer."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = {i: self._results[i] for i in ids if i in self._results}
                left = deadline - time.monotonic()
                if len(got) == len(ids) or left <= 0:
                    return got
                self._cond.wait(left)

    def replay(self, source: str | None, *, everything: bool = False, ids: list[int] | None = None) -> int:
        """Re-run quarantined (or all) archived messages of a source through the specs in force."""
        from .normalize.records import QUARANTINED
        n, after = 0, 0
        while True:
            batch = self.store.raw_messages(source=source, ids=ids, status=None if everything or ids else QUARANTINED,
                                            after_id=after, limit=5000)
            if not batch:
                return n
            with self._cond:   # wait() answers the outcome of this run, not of the one before
                for m in batch:
                    m.replay = True
                    self._results.pop(m.id, None)
            self.bus.publish(batch)
            n += len(batch)
            after = batch[-1].id

    def on_commit(self, listener: Callable[[NormalizedBatch], None]) -> None:
        """Call ``listener(batch)`` after every batch the store has committed (adapters' values and API
        writes alike), on the normalizer's thread: it must be quick and hand slow work (HTTP) elsewhere.
        A listener that raises is logged and never holds ingestion up."""
        self._listeners.append(listener)

    # -- the normalizer's side of the bus ---------------------------------------------------------
    def _handle(self, batch: list[RawMessage]) -> None:
        try:
            self.process_batch(batch)
        except Exception:
            if len(batch) == 1:
                raise  # the bus logs it; the message stays pending
            # one bad message must not keep a whole batch pending: the failed transaction was rolled
            # back, so try again message by message
            log.exception("a batch of %d messages failed; retrying them one by one", len(batch))
            for m in batch:
                try:
                    self.process_batch([m])
                except Exception:
                    log.exception("raw message %d (%s) failed; it stays pending", m.id, m.source)

    def process_batch(self, batch: list[RawMessage], timings: dict[str, float] | None = None) -> None:
        """Normalize a batch and apply it to the store; ``timings`` (if given) adds up the seconds of each."""
        norm = self.normalizer
        t0 = time.perf_counter()
        with gc_paused():
            result = norm.run(batch, self.store.find_dedupe)
            t1 = time.perf_counter()
            self.store.apply(result, self.clock.now_us())
        norm.confirm(result)
        for listener in self._listeners:
            try:
                listener(result)
            except Exception:
                log.exception("a commit listener failed on a batch of %d messages", len(batch))
        if timings is not None:
            timings["normalize"] = timings.get("normalize", 0.0) + t1 - t0
            timings["apply"] = timings.get("apply", 0.0) + time.perf_counter() - t1
        with self._cond:
            if len(self._results) > 200_000:
                self._results.clear()
            for rid, _, outcome, *_ in result.outcomes:
                self._results[rid] = outcome
            self._cond.notify_all()
