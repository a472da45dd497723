"""The store interface: one narrow seam, two engines (SQLite, PostgreSQL).

Both engines hold the same tables (see ``migrations/``) and pass the same test
suite (``tests/store/``).  Writes of the pipeline go through two calls only:
``archive`` (adapters, before they acknowledge a message) and ``apply`` (the
normalizer's result for a batch, in one transaction).  Everything the API reads
comes back as the plain rows defined here; rendering them as NGSI-LD is the
API's job.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib import resources
from typing import Iterable

from ..errors import StoreError
from ..normalize.compiler import LOCATION_IRI
from ..normalize.records import OUTCOME_NAMES, EntityInfo, NormalizedBatch, RawMessage
from ..spec.devices import Device


@dataclass
class AttrRow:
    iri: str
    name: str
    kind: str
    vtype: str
    dataset_id: str
    value_num: float | None
    value_json: str | None
    unit: str | None
    observed_at: int
    flags: int
    raw_id: int | None
    spec_version: int | None
    modified_at: int | None = None


@dataclass
class EntityRow(EntityInfo):
    """An entity as stored: what the normalizer announced, plus times and attribute rows."""

    created_at: int = 0
    modified_at: int = 0
    attrs: list[AttrRow] = field(default_factory=list)


@dataclass(frozen=True)
class ApiKeyRow:
    """A reader's API key as kept (its hash apart): who holds it, for which department, with which scopes;
    ``user``: the staff account it belongs to, if any (the key stops working when the account is disabled)."""
    id: str
    holder: str
    department: str | None
    scopes: tuple[str, ...]
    created_at: int
    revoked_at: int | None = None
    user: str | None = None

    @classmethod
    def of(cls, row) -> "ApiKeyRow":
        return cls(row[0], row[1], row[2], tuple(row[3].split()), row[4], row[5], row[6])


@dataclass(frozen=True)
class UserRow:
    """A staff account (its password hash apart): its department (None: district-wide) and scopes."""
    login: str
    name: str
    department: str | None
    scopes: tuple[str, ...]
    created_at: int
    disabled_at: int | None = None
    has_password: bool = False

    @classmethod
    def of(cls, row) -> "UserRow":
        return cls(row[0], row[1], row[2], tuple(row[3].split()), row[4], row[5], bool(row[6]))


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log: who (``reader``, and the key's id) asked what, and what they got."""
    at: int
    reader: str
    key_id: str | None
    method: str
    path: str
    query: str
    status: int
    purpose: str | None = None


@dataclass(slots=True)
class AggSeries:
    """The periods of one attribute (and datasetId) of one entity, aggregated in the database: one item
    per period that has instances, in time order, in parallel lists (a request may cover a million
    periods: lists of plain numbers cost a fraction of an object per period)."""
    entity_id: str
    name: str
    iri: str
    kind: str
    dataset_id: str
    starts: list[int]            # µs: each period is [start, start + period)
    values: dict[str, list]      # method asked (AGG_METHODS) → one figure per period


# what Store.aggregate computes: avg, min, max and sum of numbers only (not true/false, date-times or
# texts; None where a period has no number); total and distinct counts of every instance
AGG_METHODS = ("avg", "min", "max", "sum", "total", "distinct")


@dataclass
class SpecRow:
    id: int
    kind: str
    name: str
    version: str
    sha256: str
    file: str | None
    body: str
    applied_at: int


@dataclass
class SubscriptionRow:
    """An NGSI-LD subscription as stored: its document (the API validated it) and its delivery status."""

    id: str
    body: dict                 # the subscription document, without the members the system keeps
    created_by: str
    created_at: int
    modified_at: int
    is_active: bool
    expires_at: int | None
    times_sent: int = 0        # notifications sent, whatever became of them
    times_failed: int = 0
    last_notification: int | None = None
    last_success: int | None = None
    last_failure: int | None = None
    last_failure_reason: str | None = None
    owner: str | None = None   # the reader's API key it acts for (api_keys.id); None: the bootstrap admin


def marks(store, values: list) -> str:
    """The placeholders of an ``IN (…)`` list of ``values`` (``NULL`` for none: an empty list matches nothing)."""
    return ", ".join([store.PH] * len(values)) if values else "NULL"


def migrations(engine: str) -> list[tuple[int, str, str]]:
    """The migration scripts of an engine (``migrations/<engine>/NNNN_name.sql``): (version, file name, SQL)."""
    folder = resources.files("citylink.store").joinpath(f"migrations/{engine}")
    out = []
    for f in sorted(folder.iterdir(), key=lambda f: f.name):
        if f.name.endswith(".sql"):
            out.append((int(f.name.split("_", 1)[0]), f.name, f.read_text()))
    return out


def cached_key(c, cache: dict, sql: str, key: str, missing: str) -> int:
    """An integer key from ``cache``, else from the database (``sql`` selects it by ``key``)."""
    hit = cache.get(key)
    if hit is None:
        row = c.execute(sql, (key,)).fetchone()
        if row is None:
            raise StoreError(missing)
        hit = cache[key] = row[0]
    return hit


def ensured_key(c, cache: dict, insert_sql: str, select_sql: str, key: str) -> int:
    """An integer key from ``cache``, else from the database, inserting the row first if it is new."""
    hit = cache.get(key)
    if hit is None:
        c.execute(insert_sql, (key,))
        hit = cache[key] = c.execute(select_sql, (key,)).fetchone()[0]
    return hit


def attr_ids(rows: Iterable[tuple[str, str, int]], names: Iterable[str]) -> dict[str, list[int]]:
    """(name, iri, aid) rows → for each wanted name (a term or an IRI), the ids it may stand for."""
    wanted = set(names)
    out: dict[str, list[int]] = {n: [] for n in wanted}
    for name, iri, aid in rows:
        for key in (name, iri):
            if key in wanted and aid not in out[key]:
                out[key].append(aid)
    return out


def scope_condition(scope: list[tuple[str, str]], ph: str) -> tuple[str, list]:
    """Entities of these (service, type) pairs (a reader's :meth:`citylink.access.View.scope`)."""
    by_service: dict[str, list[str]] = {}
    for service, type_name in scope:
        by_service.setdefault(service, []).append(type_name)
    if not by_service:
        return "(1 = 0)", []
    parts, args = [], []
    for service, types in sorted(by_service.items()):
        parts.append(f"(e.service = {ph} AND e.type IN ({','.join([ph] * len(types))}))")
        args += [service, *types]
    return "(" + " OR ".join(parts) + ")", args


def having_condition(names: list[str], aids: dict[str, list[int]]) -> str:
    """Entities that have at least one of these attributes (``attrs=`` of a query)."""
    ids = sorted({a for n in names for a in aids.get(n, [])})
    if not ids:
        return "(1 = 0)"
    return f"EXISTS (SELECT 1 FROM entity_attrs x WHERE x.eid = e.eid AND x.aid IN ({','.join(map(str, ids))}))"


def latest_per_key(rows: Iterable[tuple]) -> dict[tuple, tuple]:
    """Observation rows (eid, aid, ds, observed_at, ...) → the newest per (eid, aid, ds)."""
    best: dict[tuple, tuple] = {}
    for r in rows:
        k = (r[0], r[1], r[2])
        cur = best.get(k)
        if cur is None or r[3] >= cur[3]:
            best[k] = r
    return best


class Store(ABC):
    url: str
    PH: str            # the driver's parameter mark: ? or %s

    # -- life cycle -------------------------------------------------------------------
    @abstractmethod
    def migrate(self, target: int | None = None) -> list[int]:
        """Apply pending migrations (up to ``target``); return the versions applied."""

    @abstractmethod
    def schema_version(self) -> int: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def ping(self) -> None:
        """Raise if the store cannot answer (used by /readyz)."""

    # -- specs and configuration ---------------------------------------------------------
    @abstractmethod
    def put_spec(self, kind: str, name: str, version: str, sha256: str, file: str | None,
                 body: str, now: int) -> tuple[int, bool]:
        """Store a spec text; returns (version id, created).  Same text again → same id."""

    @abstractmethod
    def specs_in_force(self) -> list[SpecRow]:
        """The newest non-retired version of every spec."""

    @abstractmethod
    def spec_history(self, kind: str | None = None, name: str | None = None) -> list[SpecRow]: ...

    @abstractmethod
    def config_revision(self) -> int:
        """Bumped by every spec apply and device import: the running platform reloads on change."""

    # -- readers' API keys, staff accounts, the audit log (the SQL is the same on both engines) -----------
    def add_api_key(self, row: "ApiKeyRow", sha256: str) -> None:
        with self._tx() as c:
            c.execute(f"INSERT INTO api_keys(id, sha256, holder, department, scopes, created_at, user_login) "
                      f"VALUES ({','.join([self.PH] * 7)})",
                      (row.id, sha256, row.holder, row.department, " ".join(row.scopes), row.created_at, row.user))

    _KEY_COLS = "k.id, k.holder, k.department, k.scopes, k.created_at, k.revoked_at, k.user_login"

    def api_key(self, sha256: str) -> "ApiKeyRow | None":
        """The key with this hash, unless it is revoked or its user is disabled."""
        row = self._r.execute(f"SELECT {self._KEY_COLS} FROM api_keys k LEFT JOIN users u ON u.login = k.user_login "
                              f"WHERE k.sha256={self.PH} AND k.revoked_at IS NULL AND u.disabled_at IS NULL",
                              (sha256,)).fetchone()
        return ApiKeyRow.of(row) if row else None

    def api_keys(self) -> "list[ApiKeyRow]":
        return [ApiKeyRow.of(r) for r in
                self._r.execute(f"SELECT {self._KEY_COLS} FROM api_keys k ORDER BY k.created_at, k.id").fetchall()]

    def api_key_by_id(self, key_id: str) -> "ApiKeyRow | None":
        """The key with this id while it is valid, as :meth:`api_key` finds keys (not revoked, its user not
        disabled): whom a subscription acts for."""
        row = self._r.execute(f"SELECT {self._KEY_COLS} FROM api_keys k LEFT JOIN users u ON u.login = k.user_login "
                              f"WHERE k.id={self.PH} AND k.revoked_at IS NULL AND u.disabled_at IS NULL",
                              (key_id,)).fetchone()
        return ApiKeyRow.of(row) if row else None

    def revoke_api_key(self, key_id: str, now: int) -> bool:
        """False when no unrevoked key has this id."""
        return self._stamp_once("api_keys", "id", key_id, "revoked_at", now)

    def _stamp_once(self, table: str, key_col: str, key: str, col: str, now: int) -> bool:
        """Set the time ``col`` of the row whose ``key_col`` is ``key``, if it is not set yet; False when no
        such row is without it."""
        with self._tx() as c:
            found = c.execute(f"SELECT 1 FROM {table} WHERE {key_col}={self.PH} AND {col} IS NULL", (key,)).fetchone()
            if found:
                c.execute(f"UPDATE {table} SET {col}={self.PH} WHERE {key_col}={self.PH}", (now, key))
        return bool(found)

    _USER_COLS = "login, name, department, scopes, created_at, disabled_at, password_hash IS NOT NULL"

    def add_user(self, row: "UserRow", password_hash: str | None) -> bool:
        """False when the login is taken (by an account, disabled or not)."""
        with self._tx() as c:
            if c.execute(f"SELECT 1 FROM users WHERE login={self.PH}", (row.login,)).fetchone():
                return False
            c.execute(f"INSERT INTO users(login, name, department, scopes, password_hash, created_at) "
                      f"VALUES ({','.join([self.PH] * 6)})",
                      (row.login, row.name, row.department, " ".join(row.scopes), password_hash, row.created_at))
        return True

    def user(self, login: str) -> "tuple[UserRow, str | None] | None":
        """An account and its password hash (disabled accounts too: the caller decides)."""
        row = self._r.execute(f"SELECT {self._USER_COLS}, password_hash FROM users WHERE login={self.PH}",
                              (login,)).fetchone()
        return (UserRow.of(row), row[7]) if row else None

    def users(self) -> "list[UserRow]":
        return [UserRow.of(r) for r in
                self._r.execute(f"SELECT {self._USER_COLS} FROM users ORDER BY login").fetchall()]

    def disable_user(self, login: str, now: int) -> bool:
        """False when no enabled account has this login."""
        return self._stamp_once("users", "login", login, "disabled_at", now)

    def add_audit(self, entries: "list[AuditEntry]") -> None:
        with self._tx() as c:
            c.executemany(f"INSERT INTO audit_log(at, reader, key_id, method, path, query, status, purpose) "
                          f"VALUES ({','.join([self.PH] * 8)})",
                          [(e.at, e.reader, e.key_id, e.method, e.path, e.query, e.status, e.purpose) for e in entries])

    def audit(self, *, since: int | None = None, key_id: str | None = None, path_prefix: str | None = None,
              limit: int = 100) -> "list[AuditEntry]":
        """The newest entries first, filtered by time, key and path."""
        where, args = [], []
        for cond, arg in ((f"at >= {self.PH}", since), (f"key_id = {self.PH}", key_id),
                          (f"path LIKE {self.PH} ESCAPE '\\'", None if path_prefix is None else
                           path_prefix.replace("%", r"\%").replace("_", r"\_") + "%")):
            if arg is not None:
                where.append(cond)
                args.append(arg)
        sql = ("SELECT at, reader, key_id, method, path, query, status, purpose FROM audit_log"
               + (" WHERE " + " AND ".join(where) if where else "") + f" ORDER BY at DESC, id DESC LIMIT {self.PH}")
        return [AuditEntry(*r) for r in self._r.execute(sql, (*args, limit)).fetchall()]

    # -- device health (issue 6; the SQL is the same on both engines, times in µs) -------------------------
    def health_rows(self) -> "dict[tuple[str, str], tuple[str, int, int | None]]":
        """(kind, id) → (state, since, last_seen) as the health monitor last recorded them."""
        rows = self._r.execute("SELECT kind, id, state, since, last_seen FROM device_health").fetchall()
        return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}

    def put_health(self, rows: "list[tuple[str, str, str, int, int | None]]", now: int) -> None:
        """Record (kind, id, state, since, last_seen) rows, replacing what was recorded of each."""
        p = self.PH
        with self._tx() as c:
            c.executemany(f"INSERT INTO device_health(kind, id, state, since, last_seen, changed_at) "
                          f"VALUES ({p},{p},{p},{p},{p},{p}) ON CONFLICT (kind, id) DO UPDATE SET "
                          f"state=excluded.state, since=excluded.since, last_seen=excluded.last_seen, "
                          f"changed_at=excluded.changed_at", [(*r, now) for r in rows])

    def delete_health(self, kind: str, ids: "list[str]") -> None:
        with self._tx() as c:
            c.executemany(f"DELETE FROM device_health WHERE kind={self.PH} AND id={self.PH}", [(kind, i) for i in ids])

    def entities_last_seen(self) -> "list[tuple[str, str, str, str, str, int]]":
        """(id, type, service, department, source, newest observedAt of its current state in µs) of every
        entity that has a current state: where the health monitor resumes after a restart."""
        from ..clock import to_us
        rows = self._r.execute("SELECT e.id, e.type, e.service, e.department, e.source, max(x.observed_at) "
                               "FROM entities e JOIN entity_attrs x ON x.eid = e.eid "
                               "GROUP BY e.eid, e.id, e.type, e.service, e.department, e.source").fetchall()
        return [(*r[:5], r[5] if isinstance(r[5], int) else to_us(r[5])) for r in rows]

    @abstractmethod
    def add_token(self, source: str, sha256: str, label: str | None, now: int) -> int: ...

    @abstractmethod
    def token_sources(self, sha256: str) -> set[str]:
        """The sources an (unrevoked) token hash may push to."""

    @abstractmethod
    def revoke_tokens(self, source: str, now: int) -> int: ...

    @abstractmethod
    def poll_cursor(self, source: str) -> str | None:
        """Where polling a source got to (None: from the start)."""

    @abstractmethod
    def set_poll_cursor(self, source: str, cursor: str, now: int) -> None: ...

    @abstractmethod
    def set_transport_health(self, source: str, error: str | None, now: int) -> None:
        """Record one attempt of a pulling adapter: ``error`` None is a success (failures reset)."""

    @abstractmethod
    def transport_health(self) -> dict[str, dict]:
        """source → {ok, failures, last_error, last_success_at, last_failure_at (µs)}."""

    @abstractmethod
    def put_devices(self, source: str, devices: list[Device], now: int) -> int: ...

    @abstractmethod
    def devices(self, source: str | None = None) -> dict[str, list[Device]]: ...

    # -- the pipeline --------------------------------------------------------------------
    @abstractmethod
    def archive(self, messages: list[RawMessage]) -> None:
        """Durably keep raw messages (status pending) before anyone acknowledges them."""

    @abstractmethod
    def register_attributes(self, catalog: dict[str, tuple[str, str, str, str | None]]) -> None: ...

    @abstractmethod
    def find_dedupe(self, keys: list[tuple[int, int]]) -> dict[tuple[int, int], int]:
        """Which of these duplicate keys (dedupe_ts, dedupe_key) an accepted message already has → its raw id."""

    @abstractmethod
    def apply(self, batch: NormalizedBatch, now: int) -> None:
        """Write a normalizer result in one transaction: observations, current state,
        entities, message outcomes, quarantine, ledger.  Replayed messages first lose
        what they produced before."""

    def _delete(self, c, deletions: list[tuple], at) -> None:
        """Apply NGSI-LD deletions (see NormalizedBatch) in ``apply``'s transaction: current state goes,
        the history (observations) stays.  ``at``: the engine's time value for modified_at."""
        p = self.PH
        for _, entity_id, iri, ds in deletions:
            row = c.execute(f"SELECT eid FROM entities WHERE id={p}", (entity_id,)).fetchone()
            if row is None:
                continue
            eid = row[0]
            if iri is None:
                c.execute(f"DELETE FROM entity_attrs WHERE eid={p}", (eid,))
                c.execute(f"DELETE FROM entities WHERE eid={p}", (eid,))
                self._eids.pop(entity_id, None)
                continue
            aid = self._aids.get(iri)
            if aid is None:
                row = c.execute(f"SELECT aid FROM attributes WHERE iri={p}", (iri,)).fetchone()
                if row is None:
                    continue   # never written: nothing to delete
                aid = self._aids[iri] = row[0]
            if ds is None:
                c.execute(f"DELETE FROM entity_attrs WHERE eid={p} AND aid={p}", (eid, aid))
            else:
                c.execute(f"DELETE FROM entity_attrs WHERE eid={p} AND aid={p} AND dataset_id={p}", (eid, aid, ds))
            moved = ", lon=NULL, lat=NULL" if iri == LOCATION_IRI and not ds else ""
            c.execute(f"UPDATE entities SET modified_at={p}{moved} WHERE eid={p}", (at, eid))

    @abstractmethod
    def count_refused(self, source: str, reason: str, now: int) -> None: ...

    # -- reading the archive ---------------------------------------------------------------
    @abstractmethod
    def raw_messages(self, *, source: str | None = None, ids: list[int] | None = None,
                     status: int | None = None, after_id: int = 0, limit: int = 1000) -> list[RawMessage]: ...

    @abstractmethod
    def outcomes(self, ids: list[int]) -> dict[int, tuple[int, list[dict] | None]]:
        """raw id → (outcome code, quarantine problems or None)."""

    @abstractmethod
    def quarantined(self, source: str | None = None, limit: int = 100, after_id: int = 0) -> list[dict]: ...

    @abstractmethod
    def ledger(self) -> dict[str, dict[str, int]]:
        """source → {pending, stored, stored_flagged, duplicate, quarantined, received, refused_*,
        last_received_at (µs)}."""

    # -- reading the context ----------------------------------------------------------------
    @abstractmethod
    def entity(self, entity_id: str) -> EntityRow | None: ...

    @abstractmethod
    def entities(self, *, types: list[str] | None = None, ids: list[str] | None = None,
                 limit: int = 20, offset: int = 0, exclude_sources: set[str] | None = None,
                 q=None, id_pattern: str | None = None, having: list[str] | None = None,
                 geo=None, count: bool = True, scope: list[tuple[str, str]] | None = None
                 ) -> tuple[list[EntityRow], int | None]:
        """Entities in creation order with their current attributes, and the total that match (None
        unless ``count``: counting every match costs a full pass).
        ``q``: a :mod:`citylink.query.qlang` tree; ``id_pattern``: a regular expression on the id;
        ``having``: attribute names of which an entity must have at least one; ``geo``: a
        :class:`citylink.query.geo.GeoQuery` on the entity's position; ``scope``: the (service, type)
        pairs a reader may see (:meth:`citylink.access.View.scope`; None: every entity)."""

    # The API's entity reads, awaited on its event loop.  By default they answer at once: an in-process
    # engine reads an entity in tens of µs, less than a hop to a worker thread costs (measured on SQLite:
    # 1,390 retrievals/s through the thread pool, 2,830 on the loop).  An engine that waits on a server
    # overrides them to await it without holding the loop, so that requests overlap.
    async def aentity(self, entity_id: str) -> EntityRow | None:
        """:meth:`entity`, awaitable."""
        return self.entity(entity_id)

    async def aentities(self, **kw) -> tuple[list[EntityRow], int | None]:
        """:meth:`entities`, awaitable."""
        return self.entities(**kw)

    @abstractmethod
    def temporal(self, entity_id: str, *, attrs: list[str] | None = None, start: int | None = None,
                 end: int | None = None, last_n: int | None = None) -> EntityRow | None:
        """The entity with every attribute instance in [start, end) (newest ``last_n`` per attribute)."""

    def catalogue(self, exclude_sources: set[str] | None = None, scope: list[tuple[str, str]] | None = None
                  ) -> tuple[dict[str, int], list[tuple]]:
        """What is in the store, for type and attribute discovery: {type: entity count}, and rows of
        (service, type, attribute name, IRI, kind, entities having it) — by service, as what a reader may
        see of a type depends on the service; ``scope`` as for :meth:`entities`."""
        ex = sorted(exclude_sources or ())
        where, args = ([f"e.source NOT IN ({','.join([self.PH] * len(ex))})"] if ex else []), list(ex)
        if scope is not None:
            cond, sargs = scope_condition(scope, self.PH)
            where.append(cond)
            args += sargs
        w = (" WHERE " + " AND ".join(where)) if where else ""
        r = self._r
        types = dict(r.execute(f"SELECT e.type, count(*) FROM entities e{w} GROUP BY e.type", args).fetchall())
        attrs = r.execute("SELECT e.service, e.type, a.name, a.iri, a.kind, count(DISTINCT x.eid) "
                          f"FROM entity_attrs x JOIN entities e ON e.eid = x.eid JOIN attributes a ON a.aid = x.aid{w} "
                          "GROUP BY e.service, e.type, a.name, a.iri, a.kind ORDER BY a.name, e.type, e.service",
                          args).fetchall()
        return types, [tuple(a) for a in attrs]

    @abstractmethod
    def aggregate(self, entity_ids: list[str], *, attrs: list[str] | None, start: int | None, end: int | None,
                  period: int, origin: int, methods: Iterable[str] = AGG_METHODS) -> list[AggSeries]:
        """Per entity, attribute and datasetId, the periods of ``period`` µs counted from ``origin`` that
        have instances in [start, end), with the ``methods`` (of :data:`AGG_METHODS`) computed in the
        database.  An entity's series come together, by attribute name and datasetId.  More than
        :data:`MAX_PERIODS` periods in all raise :class:`TooManyPeriods`."""

    # -- open data (the SQL is shared: store/opendata.py) ---------------------------------------
    US_SQL = "{}"   # an instant column as integer µs (SQLite keeps them so; PostgreSQL converts)

    def instant(self, us: int):
        """An instant (µs) as this engine's driver takes it."""
        return us

    @abstractmethod
    def stream(self, statements, chunk: int = 2000):
        """The rows of each read statement ``(sql, args)`` in turn, ``chunk`` at a time, from a connection of
        the caller's own (PostgreSQL: through a server-side cursor), so that a long read is never in memory
        whole; the connection is closed when the generator is."""

    def history_chunks(self, scopes, start: int, end: int, *, bbox=None, exclude_sources=(), chunk: int = 2000):
        """Chunks of history rows (:data:`citylink.store.opendata.HISTORY_SQL`) of these
        :class:`~citylink.store.opendata.HistoryScope` in [start, end), in time order, read a day at a time."""
        from . import opendata
        return self.stream(opendata.history_statements(self, scopes, start, end, bbox=bbox,
                                                       exclude_sources=exclude_sources), chunk)

    def put_open_table(self, table_id: str, meta: str, columns: list[str], rows, now: int, by: str | None) -> int:
        """Replace an uploaded table (its rows: lists of cells) in one transaction; returns its version."""
        from . import opendata
        return opendata.put_table(self, table_id, meta, columns, rows, now, by)

    def open_tables(self, table_id: str | None = None):
        """The uploaded tables (:class:`~citylink.store.opendata.OpenTableRow`), or the one of this id."""
        from . import opendata
        return opendata.tables(self, table_id)

    def delete_open_table(self, table_id: str) -> bool:
        from . import opendata
        return opendata.delete_table(self, table_id)

    def open_table_chunks(self, table_id: str, chunk: int = 2000):
        """Chunks of an uploaded table's rows: 1-tuples of the cells as JSON text, in upload order."""
        from . import opendata
        return self.stream([opendata.table_statement(self, table_id)], chunk)

    # -- subscriptions -----------------------------------------------------------------------
    @abstractmethod
    def put_subscription(self, row: SubscriptionRow) -> bool:
        """Keep a new subscription (its status counters start at zero); False, and nothing written,
        when its id is taken."""

    @abstractmethod
    def subscription(self, sub_id: str) -> SubscriptionRow | None: ...

    @abstractmethod
    def subscriptions(self, limit: int | None = None, offset: int = 0, owner: str | None = None
                      ) -> tuple[list[SubscriptionRow], int]:
        """Subscriptions in creation order (``limit`` None: all of them), and how many there are; ``owner``:
        only those of this API key."""

    @abstractmethod
    def update_subscription(self, sub_id: str, body: dict, is_active: bool, expires_at: int | None,
                            now: int) -> bool:
        """Replace a subscription's document (its status stays); False when there is no such subscription."""

    @abstractmethod
    def delete_subscription(self, sub_id: str) -> bool: ...

    @abstractmethod
    def record_notification(self, sub_id: str, at: int, error: str | None) -> None:
        """Count one notification sent at ``at``: ``error`` None is a success, else why it failed.
        A subscription deleted meanwhile is left deleted."""


MAX_PERIODS = 1_000_000  # aggregated rows one temporal request may produce (1,000 entities × 30 days × 24 h fit)


class TooManyPeriods(ValueError):
    pass


def series_from_rows(rows: Iterable[tuple], origin: int, period: int, methods: Iterable[str]) -> list[AggSeries]:
    """Rows of (entity id, name, iri, kind, dataset, period number, avg, min, max, sum, total, distinct),
    ordered by entity, attribute and dataset, then period → series."""
    cols = [(m, 6 + AGG_METHODS.index(m)) for m in methods]
    out: list[AggSeries] = []
    key = None
    n = 0
    for r in rows:
        n += 1
        if n > MAX_PERIODS:
            raise TooManyPeriods(f"more than {MAX_PERIODS:,} periods")
        if r[:5] != key:
            key = r[:5]
            cur = AggSeries(*key, [], {m: [] for m, _ in cols})
            out.append(cur)
        cur.starts.append(origin + int(r[5]) * period)
        for m, i in cols:
            cur.values[m].append(r[i])
    return out


def ledger_view(rows: Iterable[tuple[str, str, int]], refusals: Iterable[tuple[str, str, int]],
                last_received: Iterable[tuple[str, int]] = ()) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for source, outcome, n in rows:
        d = out.setdefault(source, {k: 0 for k in OUTCOME_NAMES.values()})
        d[outcome] = d.get(outcome, 0) + n
    for d in out.values():
        d["received"] = sum(d[k] for k in OUTCOME_NAMES.values())
    for source, reason, n in refusals:
        d = out.setdefault(source, {k: 0 for k in OUTCOME_NAMES.values()} | {"received": 0})
        d[f"refused_{reason}"] = n
    for source, at in last_received:  # µs since the epoch of the newest message archived
        if source in out:
            out[source]["last_received_at"] = at
    return out
