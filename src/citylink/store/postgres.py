"""The server store: PostgreSQL through psycopg 3.

Same tables as the SQLite engine (``migrations/postgres/``) and the same semantics,
method by method.  Instants are ``timestamptz`` in the database and integer
microseconds (UTC) at the :class:`Store` interface; they are converted here, at
the boundary, with :func:`citylink.clock.from_us` / :func:`citylink.clock.to_us`.

``observations`` is partitioned by month of ``observed_at``.  The store creates a
month's partition before it writes the first rows of that month (see
:meth:`PostgresStore._ensure_months`), so the DEFAULT partition stays empty.

As in the SQLite engine, all writes go through one connection guarded by a lock
(one write transaction at a time per process keeps the id caches simple), and
every reading thread gets its own autocommit connection; the API's entity reads,
awaited on its event loop, borrow asynchronous ones (:class:`AsyncReaders`).  Bulk writes use COPY
(binary): straight into ``raw_messages``, ``raw_status`` and ``observations``; for
current state (``entity_attrs``), which merges with existing rows, into a temporary
staging table merged by one ``INSERT … ON CONFLICT``.
"""
from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import weakref
from contextlib import asynccontextmanager, contextmanager, suppress
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import orjson
import psycopg
from psycopg import sql as psql
from psycopg.types.json import Jsonb, set_json_dumps, set_json_loads

from ..clock import from_us, to_us
from ..errors import StoreError
from ..normalize.records import OUTCOME_NAMES, PENDING, QUARANTINED, RawMessage
from ..query import qlang
from ..query.geo import postgis_condition
from ..query.sql import POSTGRES, compile_q
from ..spec.devices import Device
from .base import (AGG_METHODS, MAX_PERIODS, AggSeries, AttrRow, EntityRow, SpecRow, Store, SubscriptionRow,
                   TooManyPeriods, attr_ids, cached_key, ensured_key, having_condition, latest_per_key, ledger_view,
                   migrations, scope_condition)

_LOCK_MIGRATE = 0x636C0001    # advisory lock keys: schema changes, partition creation
_LOCK_PARTITION = 0x636C0002
_DAY_US = 86_400_000_000
_MONTH_TABLE = re.compile(r"observations_y(\d{4})m(\d{2})$")
_OBS_COLS = "eid, aid, dataset_id, observed_at, raw_id, value_num, value_json, unit, flags, spec_version"
_OBS_TYPES = ["bigint", "integer", "text", "timestamptz", "bigint", "float8", "text", "text", "integer", "bigint"]
_STATE_COLS = _OBS_COLS + ", modified_at"
_RAW_COLS = "id, sid, received_at, transport, meta, body"
_RAW_TYPES = ["bigint", "integer", "timestamptz", "text", "jsonb", "bytea"]
_STATUS_COLS = "id, status, dedupe_ts, dedupe_key, spec_version, processed_at"
_STATUS_TYPES = ["bigint", "smallint", "bigint", "bigint", "bigint", "timestamptz"]
_KEYS = "unnest(%s::bigint[], %s::integer[], %s::text[]) AS k(eid, aid, ds)"
_KEY_MATCH = "x.eid = k.eid AND x.aid = k.aid AND x.dataset_id = k.ds"


def _us(dt: datetime | None) -> int | None:
    return None if dt is None else to_us(dt)


def _month(day: int) -> tuple[int, int]:
    d = from_us(day * _DAY_US)
    return d.year, d.month


def _partition(year: int, month: int) -> tuple[str, str, str]:
    """Name and bounds (UTC literals) of the partition holding one month of observations."""
    ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
    return (f"observations_y{year:04d}m{month:02d}", f"{year:04d}-{month:02d}-01 00:00:00+00",
            f"{ny:04d}-{nm:02d}-01 00:00:00+00")


def _masked(url: str) -> str:
    """The URL without its password (``self.url`` is printed by ``citylink serve``)."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _copy(c, table: str, cols: str, types: list[str], rows) -> None:
    """Binary COPY of rows (Python values, instants as datetimes) into some columns of a table."""
    with c.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT BINARY)") as cp:
        cp.set_types(types)
        for r in rows:
            cp.write_row(r)


class ReadCatalogue:
    """What a query needs to know before its statement is written, kept in memory rather than looked up
    by every request (one round trip of a ``q=`` query's two): the attributes (name, IRI, id) and the
    entity types the store holds.

    Attributes are reloaded when this process adds one, when a query names one the copy lacks (at most
    once per ``MISS_S``), and every ``MAX_AGE_S``: another process may have added an attribute whose short
    name a known one has too, and the copy would miss it for at most that long.  Types are only ever
    added (a type named here that has no entity left matches nothing, as it would anyway)."""
    MISS_S, MAX_AGE_S = 1.0, 10.0
    ATTRS_SQL = "SELECT name, iri, aid FROM attributes"
    # a skip scan of the (type, eid) index: one descent per type, however many entities there are
    TYPES_SQL = ("WITH RECURSIVE t(type) AS (SELECT min(type) FROM entities UNION ALL "
                 "SELECT (SELECT min(type) FROM entities WHERE type > t.type) FROM t WHERE t.type IS NOT NULL) "
                 "SELECT type FROM t WHERE type IS NOT NULL")

    def __init__(self):
        self._names: dict[str, tuple[int, ...]] = {}
        self._types: dict[str, str] = {}     # type → its SQL literal
        self._loaded = self._missed = -1e9

    def due(self, names, types) -> bool:
        now = time.monotonic()
        if now - self._loaded >= self.MAX_AGE_S:
            return True
        lacking = any(n not in self._names for n in names) or any(t not in self._types for t in types)
        return lacking and now - self._missed >= self.MISS_S

    def load(self, attr_rows, type_rows) -> None:
        names = attr_ids(attr_rows, {key for name, iri, _ in attr_rows for key in (name, iri)})
        self._names = {k: tuple(v) for k, v in names.items()}
        self.add_types(t for t, in type_rows)
        self._loaded = self._missed = time.monotonic()

    def add_types(self, types) -> None:
        new = {t: psql.Literal(t).as_string(None).replace("%", "%%") for t in types if t not in self._types}
        if new:
            self._types = {**self._types, **new}

    def attrs_changed(self) -> None:
        self._loaded = -1e9

    def aids(self, names) -> dict[str, list[int]]:
        return {n: list(self._names.get(n, ())) for n in names}

    def type_condition(self, types, fresh: bool) -> tuple[str, list]:
        """The condition on ``type``: the types this store holds written as literals, so that the statement's
        generic plan knows how many entities they have.  A type missing from a copy loaded for this very
        query has no entity; missing from an older copy, it is a parameter."""
        known = [self._types[t] for t in types if t in self._types]
        other = [] if fresh else [t for t in types if t not in self._types]
        parts = [f"type IN ({','.join(known)})"] if known else []
        if other:
            parts.append("type = ANY(%s::text[])")
        return ("(" + " OR ".join(parts) + ")" if parts else "(1 = 0)"), ([other] if other else [])


class AsyncReaders:
    """Connections (asyncpg) for the reads awaited on an event loop — the API's entity retrievals and
    queries: opened on demand, at most ``size`` per loop, each lent to one read at a time.  A connection
    whose read was interrupted (an error, a cancelled request) is closed rather than lent again: it may be
    mid-statement.

    asyncpg rather than psycopg's asynchronous connections: its protocol and waiting are compiled, and a
    retrieval cost the server 110 µs of CPU through psycopg against 64 µs (docs/benchmarks.md).

    Two kinds of connection: ``generic`` ones plan each statement once for all values (``plan_cache_mode``)
    — a ``q=`` query planned afresh for every execution cost PostgreSQL a third of the query; what such a
    plan could not know (entity types, attribute ids) is written into the statement
    (:class:`ReadCatalogue`) — and the others plan for the values at hand, as geo-queries need (a generic
    plan for one took 190 ms instead of 30)."""

    SETTINGS = {"TimeZone": "UTC"}
    GENERIC = {**SETTINGS, "plan_cache_mode": "force_generic_plan"}

    def __init__(self, dsn: str, url: str, size: int = 4):
        self._url, self._size = url, size
        self._dsn, self._timeout = _asyncpg_dsn(dsn)
        # loop → ({generic: idle connections}, semaphore)
        self._loops: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._opened: list[tuple[asyncio.AbstractEventLoop, asyncpg.Connection]] = []
        self._lock = threading.Lock()

    async def _open(self, generic: bool) -> asyncpg.Connection:
        try:
            c = await asyncpg.connect(self._dsn, timeout=self._timeout,
                                      server_settings=self.GENERIC if generic else self.SETTINGS)
        except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            raise StoreError(f"{self._url}: cannot connect to PostgreSQL: {e}") from None
        with self._lock:
            self._opened = [x for x in self._opened if not x[1].is_closed()] + [(asyncio.get_running_loop(), c)]
        return c

    @asynccontextmanager
    async def connection(self, generic: bool):
        loop = asyncio.get_running_loop()
        pools, slots = self._loops.get(loop) or self._loops.setdefault(
            loop, ({True: [], False: []}, asyncio.Semaphore(self._size)))
        idle = pools[generic]
        async with slots:
            c = idle.pop() if idle else None
            if c is None or c.is_closed():
                c = await self._open(generic)
            try:
                yield c
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, asyncio.CancelledError):
                c.terminate()
                raise
            except BaseException:
                idle.append(c)   # the plan failed between statements: the connection is idle
                raise
            idle.append(c)

    def close(self) -> None:
        """Close every connection, from any thread: a running loop's on its own thread; a stopped loop's here,
        turning the loop once so that the socket is closed; none of a closed loop's (they went with it)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for loop, c in opened:
            if loop.is_closed():
                continue
            # RuntimeError: the loop closed or started meanwhile, or this thread runs another loop — then the
            # connection goes with that loop
            with suppress(RuntimeError):
                if loop.is_running():
                    loop.call_soon_threadsafe(c.terminate)
                else:
                    c.terminate()
                    loop.run_until_complete(asyncio.sleep(0))


def _asyncpg_dsn(url: str) -> tuple[str, float]:
    """(URL for asyncpg, connect timeout): libpq's ``connect_timeout``, which asyncpg would send to the server
    as a setting, becomes the timeout (10 s when the URL names none)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    timeout = float(dict(query).get("connect_timeout") or 10)
    rest = urlencode([(k, v) for k, v in query if k != "connect_timeout"])
    return urlunsplit(parts._replace(query=rest)), timeout


@lru_cache(maxsize=1024)
def _numbered(sql: str) -> str:
    """psycopg's marks (``%s``, ``%%``) → asyncpg's (``$1``…, ``%``): the plans are written once for both."""
    n = 0

    def mark(m: re.Match) -> str:
        nonlocal n
        if m.group() == "%%":
            return "%"
        n += 1
        return f"${n}"
    return re.sub(r"%%|%s", mark, sql)


class PostgresStore(Store):
    PH = "%s"   # the driver's parameter mark, for SQL the engines share (Store.catalogue)

    def __init__(self, url: str):
        self._dsn = url
        self.url = _masked(url)
        self._wlock = threading.RLock()
        self._rlock = threading.Lock()
        self._local = threading.local()
        self._readers: list[psycopg.Connection] = []
        self._aio = AsyncReaders(url, self.url)
        self._w = self._connect()
        self._staged: psycopg.Connection | None = None   # the write connection that has the staging table
        self._months: set[tuple[int, int]] | None = None  # months that have an observations partition
        self._sids: dict[str, int] = {}
        self._eids: dict[str, int] = {}
        self._aids: dict[str, int] = {}
        self._cat = ReadCatalogue()

    def _connect(self) -> psycopg.Connection:
        try:
            c = psycopg.connect(self._dsn, autocommit=True,
                                **({} if "connect_timeout" in self._dsn else {"connect_timeout": 10}))
        except psycopg.Error as e:
            raise StoreError(f"{self.url}: cannot connect to PostgreSQL: {e}") from None
        c.execute("SET TIME ZONE 'UTC'")
        set_json_dumps(orjson.dumps, c)
        set_json_loads(orjson.loads, c)
        return c

    @property
    def _r(self) -> psycopg.Connection:
        c = getattr(self._local, "conn", None)
        if c is None or c.broken:
            c = self._local.conn = self._connect()
            with self._rlock:
                self._readers = [x for x in self._readers if not x.closed] + [c]
        return c

    @contextmanager
    def _tx(self):
        """A cursor of the write connection in a transaction, under the write lock.  A rollback also
        forgets the ids cached during it (they may name rows that never were)."""
        with self._wlock:
            if self._w.broken:
                self._w = self._connect()
            try:
                with self._w.transaction():
                    yield self._w.cursor()
            except BaseException:
                self._sids.clear()
                self._eids.clear()
                self._aids.clear()   # an API write may have added attributes (refilled on demand by _aid)
                self._staged = None
                raise

    # -- life cycle ----------------------------------------------------------------------
    def _schema_table(self, c) -> int:
        c.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_MIGRATE,))
        c.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                  "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        return c.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] or 0

    def schema_version(self) -> int:
        with self._tx() as c:
            return self._schema_table(c)

    def migrate(self, target: int | None = None) -> list[int]:
        applied = []
        current = self.schema_version()
        for version, name, sql in migrations("postgres"):
            if version <= current or (target is not None and version > target):
                continue
            with self._tx() as c:
                if self._schema_table(c) >= version:  # another process got there first
                    continue
                try:
                    c.execute(sql)
                except (psycopg.errors.UndefinedFile, psycopg.errors.FeatureNotSupported) as e:  # no such extension
                    raise StoreError(f"migration {name} needs what this PostgreSQL server lacks: {e.diag.message_primary}"
                                     " — install PostGIS (Debian: postgresql-15-postgis-3) on the database server") \
                        from None
                c.execute("INSERT INTO schema_migrations(version, name) VALUES (%s, %s)", (version, name))
            applied.append(version)
        return applied

    def close(self) -> None:
        with self._wlock:
            self._w.close()
        with self._rlock:
            for c in self._readers:
                c.close()
            self._readers = []
        self._aio.close()

    def ping(self) -> None:
        self._r.execute("SELECT 1").fetchone()

    # -- specs and configuration -----------------------------------------------------------
    def _bump(self, c) -> None:
        c.execute("UPDATE meta SET value = value + 1 WHERE key = 'config_rev'")

    _SPEC_COLS = "id, kind, name, version, sha256, file, body, applied_at"

    @staticmethod
    def _spec(r) -> SpecRow:
        return SpecRow(*r[:7], to_us(r[7]))

    def put_spec(self, kind, name, version, sha256, file, body, now):
        with self._tx() as c:
            row = c.execute("SELECT id, sha256, retired FROM spec_versions WHERE kind=%s AND name=%s "
                            "ORDER BY id DESC LIMIT 1", (kind, name)).fetchone()
            if row and row[1] == sha256 and not row[2]:
                return row[0], False
            vid = c.execute("INSERT INTO spec_versions(kind, name, version, sha256, file, body, applied_at) "
                            "VALUES (%s,%s,%s,%s,%s,%s,%s) RETURNING id",
                            (kind, name, version, sha256, file, body, from_us(now))).fetchone()[0]
            self._bump(c)
            return vid, True

    def specs_in_force(self):
        rows = self._r.execute(
            f"SELECT {self._SPEC_COLS} FROM spec_versions s "
            "WHERE id = (SELECT max(id) FROM spec_versions t WHERE t.kind = s.kind AND t.name = s.name) "
            "AND NOT retired ORDER BY kind, name").fetchall()
        return [self._spec(r) for r in rows]

    def spec_history(self, kind=None, name=None):
        q = f"SELECT {self._SPEC_COLS} FROM spec_versions WHERE true"
        args = []
        if kind:
            q += " AND kind = %s"
            args.append(kind)
        if name:
            q += " AND name = %s"
            args.append(name)
        return [self._spec(r) for r in self._r.execute(q + " ORDER BY id", args).fetchall()]

    def config_revision(self):
        return self._r.execute("SELECT value FROM meta WHERE key='config_rev'").fetchone()[0]

    def add_token(self, source, sha256, label, now):
        with self._tx() as c:
            return c.execute("INSERT INTO source_tokens(source, sha256, label, created_at) VALUES (%s,%s,%s,%s) "
                             "RETURNING id", (source, sha256, label, from_us(now))).fetchone()[0]

    def token_sources(self, sha256):
        rows = self._r.execute("SELECT source FROM source_tokens WHERE sha256=%s AND revoked_at IS NULL",
                               (sha256,)).fetchall()
        return {r[0] for r in rows}

    def revoke_tokens(self, source, now):
        with self._tx() as c:
            return c.execute("UPDATE source_tokens SET revoked_at=%s WHERE source=%s AND revoked_at IS NULL",
                             (from_us(now), source)).rowcount

    def poll_cursor(self, source):
        row = self._r.execute("SELECT cursor FROM poll_cursors WHERE source=%s", (source,)).fetchone()
        return row[0] if row else None

    def set_poll_cursor(self, source, cursor, now):
        with self._tx() as c:
            c.execute("INSERT INTO poll_cursors VALUES (%s,%s,%s) ON CONFLICT (source) DO UPDATE SET "
                      "cursor=excluded.cursor, updated_at=excluded.updated_at", (source, cursor, from_us(now)))

    def set_transport_health(self, source, error, now):
        at = from_us(now)
        with self._tx() as c:
            c.execute("INSERT INTO transport_health VALUES (%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (source) DO UPDATE SET "
                      "ok=excluded.ok, failures=CASE WHEN excluded.ok THEN 0 ELSE transport_health.failures + 1 END, "
                      "last_error=COALESCE(excluded.last_error, transport_health.last_error), "
                      "last_success_at=COALESCE(excluded.last_success_at, transport_health.last_success_at), "
                      "last_failure_at=COALESCE(excluded.last_failure_at, transport_health.last_failure_at), "
                      "updated_at=excluded.updated_at",
                      (source, error is None, int(error is not None), error, None if error else at,
                       at if error else None, at))

    def transport_health(self):
        rows = self._r.execute("SELECT source, ok, failures, last_error, last_success_at, last_failure_at "
                               "FROM transport_health").fetchall()
        return {r[0]: {"ok": r[1], "failures": r[2], "last_error": r[3], "last_success_at": _us(r[4]),
                       "last_failure_at": _us(r[5])} for r in rows}

    def put_devices(self, source, devices, now):
        at = from_us(now)
        with self._tx() as c:
            c.execute("DELETE FROM devices WHERE source=%s", (source,))
            with c.copy("COPY devices (source, local_id, entity_id, lon, lat, expected, name, attrs, updated_at) "
                        "FROM STDIN") as cp:
                for d in devices:
                    cp.write_row((source, d.local_id, d.entity_id, d.lon, d.lat, bool(d.expected), d.name,
                                  json.dumps(d.attrs, ensure_ascii=False), at))
            self._bump(c)
        return len(devices)

    def devices(self, source=None):
        q = "SELECT source, local_id, entity_id, lon, lat, expected, name, attrs FROM devices"
        rows = self._r.execute(q + (" WHERE source=%s" if source else "") + " ORDER BY source, local_id",
                               (source,) if source else ()).fetchall()
        out: dict[str, list[Device]] = {}
        for s, local, eid, lon, lat, exp, name, attrs in rows:
            out.setdefault(s, []).append(Device(local, eid, lon, lat, bool(exp), name, attrs))
        return out

    # -- the pipeline ----------------------------------------------------------------------
    def _sid(self, c, source: str) -> int:
        return ensured_key(c, self._sids, "INSERT INTO sources(name) VALUES (%s) ON CONFLICT (name) DO NOTHING",
                           "SELECT sid FROM sources WHERE name=%s", source)

    def archive(self, messages):
        if not messages:
            return
        with self._tx() as c:
            sids = {s: self._sid(c, s) for s in {m.source for m in messages}}
            counts: dict[int, int] = {}
            for m in messages:
                counts[sids[m.source]] = counts.get(sids[m.source], 0) + 1
            _copy(c, "raw_messages", _RAW_COLS, _RAW_TYPES,
                  ((m.id, sids[m.source], from_us(m.received_at), m.transport, m.meta or None, m.body) for m in messages))
            c.executemany("INSERT INTO ledger VALUES (%s, 'pending', %s) ON CONFLICT (sid, outcome) "
                          "DO UPDATE SET n = ledger.n + excluded.n", list(counts.items()))
            last: dict[int, int] = {}
            for m in messages:
                last[sids[m.source]] = max(last.get(sids[m.source], 0), m.received_at)
            c.executemany("UPDATE sources SET last_received_at = greatest(last_received_at, %s) WHERE sid = %s",
                          [(from_us(t), s) for s, t in last.items()])

    def register_attributes(self, catalog):
        with self._tx() as c:
            c.executemany("INSERT INTO attributes(iri, name, kind, vtype, unit) VALUES (%s,%s,%s,%s,%s) "
                          "ON CONFLICT (iri) DO UPDATE SET name=excluded.name, kind=excluded.kind, "
                          "vtype=excluded.vtype, unit=excluded.unit",
                          [(iri, *spec) for iri, spec in catalog.items()])
            aids = dict(c.execute("SELECT iri, aid FROM attributes").fetchall())
        self._aids = aids
        self._cat.attrs_changed()

    def find_dedupe(self, keys):
        keys = set(keys)
        if not keys:
            return {}
        rows = self._r.execute(
            "SELECT r.dedupe_ts, r.dedupe_key, r.id FROM unnest(%s::bigint[], %s::bigint[]) AS v(ts, k) "
            "JOIN raw_status r ON r.dedupe_ts = v.ts AND r.dedupe_key = v.k WHERE r.dedupe_key IS NOT NULL",
            [list(x) for x in zip(*keys)]).fetchall()
        return {(ts, key): rid for ts, key, rid in rows}

    def _ensure_months(self, stamps) -> None:
        """Create the monthly partitions these observation times need, before rows are written.

        Each month is created in its own short transaction, never inside ``apply``'s (creating a
        partition locks the parent table).  Rows of the month that sit in the DEFAULT partition
        (written behind the store's back, or into a partition dropped and re-created by hand) would
        make the CREATE fail, so they are moved out first and back in afterwards."""
        with self._wlock:
            if self._months is None:
                rows = self._r.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                                       "WHERE i.inhparent = 'observations'::regclass").fetchall()
                self._months = {(int(m[1]), int(m[2])) for (name,) in rows if (m := _MONTH_TABLE.match(name))}
            todo = {_month(day) for day in {us // _DAY_US for us in stamps}} - self._months
            if not todo:
                return
            with self._tx() as c:
                c.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_PARTITION,))
                c.execute("CREATE TEMP TABLE _obs_moving (LIKE observations) ON COMMIT DROP")
                for year, month in sorted(todo):
                    name, lo, hi = _partition(year, month)   # formatted from ints: safe to inline in DDL
                    moved = c.execute(f"WITH m AS (DELETE FROM observations_default WHERE observed_at >= '{lo}' "
                                      f"AND observed_at < '{hi}' RETURNING *) INSERT INTO _obs_moving SELECT * FROM m"
                                      ).rowcount
                    c.execute(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF observations "
                              f"FOR VALUES FROM ('{lo}') TO ('{hi}')")
                    if moved:
                        c.execute("INSERT INTO observations SELECT * FROM _obs_moving")
                        c.execute("TRUNCATE _obs_moving")
            self._months |= todo

    def _stage(self, c) -> None:
        """The staging table COPY fills before current state is merged (emptied at every commit)."""
        if self._staged is not c.connection:
            c.execute("CREATE TEMP TABLE IF NOT EXISTS _state_stage (LIKE entity_attrs) ON COMMIT DELETE ROWS")
            self._staged = c.connection

    def _eid_map(self, c, batch, at: datetime) -> dict[str, int]:
        eids = self._eids
        ents = list(batch.entities.values())
        new = [e for e in ents if e.id not in eids]
        if new:
            c.executemany("INSERT INTO entities(id, type, service, department, source, lon, lat, created_at, "
                          "modified_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (id) DO NOTHING",
                          [(e.id, e.type, e.service, e.department, e.source, e.lon, e.lat, at, at)
                           for e in new])
            eids.update(c.execute("SELECT id, eid FROM entities WHERE id = ANY(%s::text[])",
                                  ([e.id for e in new],)).fetchall())
            self._cat.add_types(e.type for e in new)
        moved = [(eids[e.id], e.lon, e.lat) for e in ents if e.lon is not None]
        if moved:
            c.execute("UPDATE entities e SET lon = v.lon, lat = v.lat, modified_at = %s "
                      "FROM unnest(%s::bigint[], %s::float8[], %s::float8[]) AS v(eid, lon, lat) "
                      "WHERE e.eid = v.eid AND (e.lon IS DISTINCT FROM v.lon OR e.lat IS DISTINCT FROM v.lat)",
                      (at, *[list(x) for x in zip(*moved)]))
        return eids

    def apply(self, batch, now):
        at = from_us(now)
        self._ensure_months(o[7] for o in batch.observations)
        with self._tx() as c:
            if batch.attributes:
                c.executemany("INSERT INTO attributes(iri, name, kind, vtype, unit) VALUES (%s,%s,%s,%s,%s) "
                              "ON CONFLICT (iri) DO NOTHING", [(iri, *a) for iri, a in batch.attributes.items()])
                self._aids = dict(c.execute("SELECT iri, aid FROM attributes").fetchall())
                self._cat.attrs_changed()
            if batch.deletions:
                self._delete(c, batch.deletions, at)
            eids = self._eid_map(c, batch, at)
            aids = self._aids
            stale = []
            if batch.replayed:
                replayed = (list(batch.replayed),)
                old = c.execute("SELECT r.sid, coalesce(x.status, 0), count(*) FROM raw_messages r LEFT JOIN "
                                "raw_status x USING (id) WHERE r.id = ANY(%s::bigint[]) GROUP BY 1, 2", replayed).fetchall()
                c.executemany("UPDATE ledger SET n = n - %s WHERE sid=%s AND outcome=%s",
                              [(n, s, OUTCOME_NAMES[st]) for s, st, n in old])
                c.executemany("UPDATE ledger SET n = n + %s WHERE sid=%s AND outcome='pending'",
                              [(n, s) for s, _, n in old])
                stale = c.execute("SELECT DISTINCT eid, aid, dataset_id FROM entity_attrs "
                                  "WHERE raw_id = ANY(%s::bigint[])", replayed).fetchall()
                c.execute("DELETE FROM observations WHERE raw_id = ANY(%s::bigint[])", replayed)
                c.execute("DELETE FROM raw_status WHERE id = ANY(%s::bigint[])", replayed)
            try:
                rows = [(eids[o[1]], aids[o[2]], o[3], o[7], o[0], o[4], o[5], o[6], o[8], o[9])
                        for o in batch.observations]
            except KeyError:
                rows = [(self._eid(c, o[1]), self._aid(c, o[2]), o[3], o[7], o[0], o[4], o[5], o[6], o[8], o[9])
                        for o in batch.observations]
            if rows:
                self._write_observations(c, rows, at)
            if stale:
                self._refresh_state(c, stale, at)
            _copy(c, "raw_status", _STATUS_COLS, _STATUS_TYPES,
                  ((o[0], o[2], *(o[3] or (None, None)), o[4], at) for o in batch.outcomes))
            if batch.quarantine:
                c.executemany("INSERT INTO quarantine(raw_id, sid, reason, field, detail, problems, created_at) "
                              "VALUES (%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (raw_id) DO UPDATE SET sid=excluded.sid, "
                              "reason=excluded.reason, field=excluded.field, detail=excluded.detail, "
                              "problems=excluded.problems, created_at=excluded.created_at, resolved_at=NULL",
                              [(rid, self._sid(c, src), probs[0]["type"], probs[0]["field"], probs[0]["detail"],
                                json.dumps(probs, ensure_ascii=False), at) for rid, src, probs in batch.quarantine])
            if batch.replayed:
                replayed_ids = set(batch.replayed)
                fixed = [o[0] for o in batch.outcomes if o[2] != QUARANTINED and o[0] in replayed_ids]
                if fixed:
                    c.execute("UPDATE quarantine SET resolved_at=%s WHERE raw_id = ANY(%s::bigint[]) "
                              "AND resolved_at IS NULL", (at, fixed))
            inc: dict[tuple[int, str], int] = {}
            for (source, outcome), n in batch.ledger().items():
                k = (self._sid(c, source), outcome)
                inc[k] = inc.get(k, 0) + n
            c.executemany("INSERT INTO ledger VALUES (%s,%s,%s) ON CONFLICT (sid, outcome) "
                          "DO UPDATE SET n = ledger.n + excluded.n", [(s, o, n) for (s, o), n in inc.items()])
            done: dict[int, int] = {}
            for (s, _), n in inc.items():
                done[s] = done.get(s, 0) + n
            c.executemany("UPDATE ledger SET n = n - %s WHERE sid=%s AND outcome='pending'",
                          [(n, s) for s, n in done.items()])

    def _write_observations(self, c, rows: list[tuple], at: datetime) -> None:
        """COPY the rows into ``observations``, then move current state forward (staging + upsert).

        Of equal keys in one batch the last wins (SQLite's INSERT OR REPLACE).  A message written
        a second time without being a replay is refused by the primary key, as SQLite refuses its
        second ``raw_status`` row: the whole batch fails."""
        _copy(c, "observations", _OBS_COLS, _OBS_TYPES,
              ((r[0], r[1], r[2], from_us(r[3]), *r[4:]) for r in {r[:5]: r for r in rows}.values()))
        self._stage(c)
        _copy(c, "_state_stage", _STATE_COLS, _OBS_TYPES + ["timestamptz"],
              ((r[0], r[1], r[2], from_us(r[3]), *r[4:], at) for r in latest_per_key(rows).values()))
        c.execute(f"INSERT INTO entity_attrs ({_STATE_COLS}) SELECT {_STATE_COLS} FROM _state_stage "
                  "ON CONFLICT (eid, aid, dataset_id) DO UPDATE SET observed_at=excluded.observed_at, "
                  "raw_id=excluded.raw_id, value_num=excluded.value_num, value_json=excluded.value_json, "
                  "unit=excluded.unit, flags=excluded.flags, spec_version=excluded.spec_version, "
                  "modified_at=excluded.modified_at WHERE excluded.observed_at >= entity_attrs.observed_at")

    def _refresh_state(self, c, keys, at: datetime) -> None:
        """Current state of these (eid, aid, dataset_id) from the newest observation left, or none."""
        cols = [list(x) for x in zip(*keys)]
        c.execute("UPDATE entity_attrs x SET observed_at=n.observed_at, raw_id=n.raw_id, value_num=n.value_num, "
                  "value_json=n.value_json, unit=n.unit, flags=n.flags, spec_version=n.spec_version, "
                  f"modified_at=%s FROM {_KEYS} CROSS JOIN LATERAL (SELECT * FROM observations o "
                  "WHERE o.eid = k.eid AND o.aid = k.aid AND o.dataset_id = k.ds "
                  f"ORDER BY o.observed_at DESC, o.raw_id DESC LIMIT 1) n WHERE {_KEY_MATCH}", (at, *cols))
        c.execute(f"DELETE FROM entity_attrs x USING {_KEYS} WHERE {_KEY_MATCH} AND NOT EXISTS "
                  "(SELECT 1 FROM observations o WHERE o.eid = k.eid AND o.aid = k.aid AND o.dataset_id = k.ds)",
                  cols)

    def _eid(self, c, entity_id):
        return cached_key(c, self._eids, "SELECT eid FROM entities WHERE id=%s", entity_id,
                          f"entity {entity_id} was never announced to the store")

    def _aid(self, c, iri):
        return cached_key(c, self._aids, "SELECT aid FROM attributes WHERE iri=%s", iri,
                          f"attribute {iri} is not registered (register_attributes)")

    def count_refused(self, source, reason, now):
        with self._tx() as c:
            c.execute("INSERT INTO transport_refusals VALUES (%s,%s,1,%s) ON CONFLICT (source, reason) "
                      "DO UPDATE SET n = transport_refusals.n + 1, last_at = excluded.last_at",
                      (source, reason, from_us(now)))

    # -- reading the archive -----------------------------------------------------------------
    def raw_messages(self, *, source=None, ids=None, status=None, after_id=0, limit=1000):
        q = ("SELECT r.id, s.name, r.received_at, r.body, r.transport, r.meta FROM raw_messages r "
             "JOIN sources s USING (sid) WHERE r.id > %s")
        args: list = [after_id]
        if source is not None:
            q += " AND s.name = %s"
            args.append(source)
        if status == PENDING:  # no status row yet
            q += " AND NOT EXISTS (SELECT 1 FROM raw_status x WHERE x.id = r.id)"
        elif status is not None:
            q += " AND EXISTS (SELECT 1 FROM raw_status x WHERE x.id = r.id AND x.status = %s)"
            args.append(status)
        if ids is not None:
            if not ids:
                return []
            q += " AND r.id = ANY(%s::bigint[])"
            args.append(list(ids))
        q += " ORDER BY r.id LIMIT %s"
        args.append(limit)
        return [RawMessage(i, s, to_us(rec), bytes(b), t, m or {})
                for i, s, rec, b, t, m in self._r.execute(q, args).fetchall()]

    def outcomes(self, ids):
        rows = self._r.execute("SELECT r.id, coalesce(x.status, 0), q.problems FROM raw_messages r "
                               "LEFT JOIN raw_status x USING (id) LEFT JOIN quarantine q "
                               "ON q.raw_id = r.id AND q.resolved_at IS NULL WHERE r.id = ANY(%s::bigint[])",
                               (list(ids),)).fetchall()
        return {rid: (status, probs) for rid, status, probs in rows}

    def quarantined(self, source=None, limit=100, after_id=0):
        q = ("SELECT q.raw_id, s.name, q.reason, q.field, q.detail, q.problems, q.created_at, r.received_at "
             "FROM quarantine q JOIN sources s USING (sid) JOIN raw_messages r ON r.id = q.raw_id "
             "WHERE q.resolved_at IS NULL AND q.raw_id > %s")
        args: list = [after_id]
        if source:
            q += " AND s.name = %s"
            args.append(source)
        rows = self._r.execute(q + " ORDER BY q.raw_id LIMIT %s", args + [limit]).fetchall()
        return [{"raw_id": r[0], "source": r[1], "reason": r[2], "field": r[3], "detail": r[4],
                 "problems": r[5], "quarantined_at": to_us(r[6]), "received_at": to_us(r[7])} for r in rows]

    def ledger(self):
        r = self._r
        rows = r.execute("SELECT s.name, l.outcome, l.n FROM ledger l JOIN sources s USING (sid)").fetchall()
        refusals = r.execute("SELECT source, reason, n FROM transport_refusals").fetchall()
        last = [(n, to_us(t)) for n, t in r.execute(
            "SELECT name, last_received_at FROM sources WHERE last_received_at IS NOT NULL").fetchall()]
        return ledger_view(rows, refusals, last)

    # -- reading the context -------------------------------------------------------------------
    _ATTR_SQL = ("SELECT a.iri, a.name, a.kind, a.vtype, x.dataset_id, x.value_num, x.value_json, x.unit, "
                 "x.observed_at, x.flags, x.raw_id, x.spec_version, {mod} FROM {table} x JOIN attributes a USING (aid) ")
    _ENTITY_COLS = "eid, id, type, service, department, source, lon, lat, created_at, modified_at"

    @staticmethod
    def _attr(r) -> AttrRow:
        return AttrRow(*r[:8], to_us(r[8]), r[9], r[10], r[11], _us(r[12]))

    @staticmethod
    def _entity(r) -> EntityRow:
        return EntityRow(r[1], r[2], r[3], r[4], r[5], r[6], r[7], to_us(r[8]), to_us(r[9]))

    # An entity (or a page of them) and its current attributes in one round trip (two cost 225 µs a
    # retrieval, one 90-145): a row per attribute, the entity's columns repeated.
    _WITH_ATTRS = ("SELECT e.eid, e.id, e.type, e.service, e.department, e.source, e.lon, e.lat, e.created_at, "
                   "e.modified_at, a.iri, a.name, a.kind, a.vtype, x.dataset_id, x.value_num, x.value_json, x.unit, "
                   "x.observed_at, x.flags, x.raw_id, x.spec_version, x.modified_at FROM {entities} e "
                   "LEFT JOIN entity_attrs x ON x.eid = e.eid LEFT JOIN attributes a ON a.aid = x.aid ")
    _ONE_SQL = _WITH_ATTRS.format(entities="entities") + "WHERE e.id = %s ORDER BY a.name, x.dataset_id"

    def _with_attrs(self, rows) -> list[EntityRow]:
        """Rows of :attr:`_WITH_ATTRS` (ordered by entity) → entities with their attributes."""
        out: list[EntityRow] = []
        eid = None
        for r in rows:
            if r[0] != eid:
                eid = r[0]
                out.append(self._entity(r))
            if r[10] is not None:
                out[-1].attrs.append(self._attr(r[10:]))
        return out

    # The entity reads are written once, as plans: generators that yield (sql, args, generic) and are sent
    # each statement's rows.  _run executes a plan on this thread's connection, _arun awaits it on the event
    # loop's (the API's reads: the loop serves other requests while PostgreSQL works), on a connection with
    # generic plans unless the statement's plan depends on its values (AsyncReaders).
    def _entity_plan(self, entity_id):
        ents = self._with_attrs((yield self._ONE_SQL, (entity_id,), True))
        return ents[0] if ents else None

    def _entities_plan(self, types, ids, limit, offset, exclude_sources, q, id_pattern, having, geo, count, scope):
        where, args = [], []
        if scope is not None:
            cond, sargs = scope_condition(scope, "%s")
            where.append(cond)
            args += sargs
        if geo is not None:
            cond, gargs = postgis_condition(geo)
            where.append(cond)
            args += gargs
        if id_pattern:
            where.append("id ~ %s")
            args.append(id_pattern)
        names = set(having or ()) | (qlang.attributes(q) if q is not None else set())
        cat = self._cat
        fresh = cat.due(names, types or ())
        if fresh:
            cat.load((yield cat.ATTRS_SQL, (), True), (yield cat.TYPES_SQL, (), True))
        if names:
            aids = cat.aids(names)
            if q is not None:
                cond, qargs = compile_q(q, aids, POSTGRES)
                where.append(cond)
                args += qargs
            if having:
                where.append(having_condition(having, aids))
        targs: list = []
        if types:
            cond, targs = cat.type_condition(types, fresh)
            where.append(cond)
            args += targs
        if exclude_sources:
            where.append("NOT (source = ANY(%s::text[]))")
            args.append(list(exclude_sources))
        if ids:
            where.append("id = ANY(%s::text[])")
            args.append(list(ids))
        w = (" WHERE " + " AND ".join(where)) if where else ""
        # a geometry, or a type only bound as a parameter, needs a plan made for the value
        generic = geo is None and not targs
        total = (yield f"SELECT count(*) FROM entities e{w}", args, generic)[0][0] if count else None
        page = f"(SELECT * FROM entities e{w} ORDER BY eid LIMIT %s OFFSET %s)"
        rows = yield self._WITH_ATTRS.format(entities=page) + "ORDER BY e.eid, a.name, x.dataset_id", \
            args + [limit, offset], generic
        return self._with_attrs(rows), total

    def _run(self, plan):
        c = self._r
        try:
            sql, args, _ = next(plan)
            while True:
                sql, args, _ = plan.send(c.execute(sql, args).fetchall())
        except StopIteration as done:
            return done.value

    async def _arun(self, plan):
        try:
            sql, args, generic = next(plan)
            while True:
                async with self._aio.connection(generic) as c:
                    rows = await c.fetch(_numbered(sql), *args)
                sql, args, generic = plan.send(rows)
        except StopIteration as done:
            return done.value

    def entity(self, entity_id):
        return self._run(self._entity_plan(entity_id))

    async def aentity(self, entity_id):
        return await self._arun(self._entity_plan(entity_id))

    def entities(self, *, types=None, ids=None, limit=20, offset=0, exclude_sources=None, q=None, id_pattern=None,
                 having=None, geo=None, count=True, scope=None):
        return self._run(self._entities_plan(types, ids, limit, offset, exclude_sources, q, id_pattern, having,
                                             geo, count, scope))

    async def aentities(self, *, types=None, ids=None, limit=20, offset=0, exclude_sources=None, q=None,
                        id_pattern=None, having=None, geo=None, count=True, scope=None):
        return await self._arun(self._entities_plan(types, ids, limit, offset, exclude_sources, q, id_pattern,
                                                    having, geo, count, scope))

    @staticmethod
    def _series_where(first: str, arg, attrs, start, end) -> tuple[list[str], list]:
        """Conditions on observations (x) and their attributes (a): ``first``, the attributes, [start, end)."""
        where, args = [first], [arg]
        if attrs:
            where.append("(a.name = ANY(%s::text[]) OR a.iri = ANY(%s::text[]))")
            args += [list(attrs)] * 2
        if start is not None:
            where.append("x.observed_at >= %s")
            args.append(from_us(start))
        if end is not None:
            where.append("x.observed_at < %s")
            args.append(from_us(end))
        return where, args

    # Temporal aggregation reads each entity's series in turn (a LATERAL subquery per entity) through the
    # indexes of migration 0008: numbers from observations_numeric alone (an index-only scan, no table page
    # read: 4.4 s → 1.3 s for 1,000 entities' 332,000 hours among 10 million observations), other values
    # through observations_other.  date_bin numbers the periods in integer microseconds.  An entity's groups
    # are few and arrive nearly in order, so they are sorted rather than hashed (SET LOCAL: 1.7 s → 1.3 s).
    # Each series comes back as one row of arrays, fetched in binary through a server-side cursor, which
    # stops the work when the periods pass MAX_PERIODS.
    _AGG_SQL = """SELECT e.id, g.name, g.iri, g.kind, g.dataset_id, g.starts{outer}
FROM entities e, LATERAL (
  SELECT a.name, a.iri, a.kind, s.dataset_id,
         array_agg(round(date_part('epoch', s.t) * 1000000)::bigint ORDER BY s.t) AS starts{arrays}
  FROM (SELECT v.aid, v.dataset_id, v.t{aggs}
        FROM (SELECT x.aid, x.dataset_id, date_bin(%(stride)s, x.observed_at, %(origin)s) AS t, x.value_num AS n,
                     NULL::text AS j
              FROM observations x WHERE x.value_json IS NULL AND x.eid = e.eid{cond}
              UNION ALL
              SELECT x.aid, x.dataset_id, date_bin(%(stride)s, x.observed_at, %(origin)s), NULL, x.value_json
              FROM observations x WHERE x.value_json IS NOT NULL AND x.eid = e.eid{cond}) v
        GROUP BY v.aid, v.dataset_id, v.t) s
  JOIN attributes a ON a.aid = s.aid
  GROUP BY s.aid, a.name, a.iri, a.kind, s.dataset_id ORDER BY a.name, s.aid, s.dataset_id) g
WHERE e.id = ANY(%(ids)s::text[])"""
    _AGG_EXPR = {"avg": "avg(v.n)", "min": "min(v.n)", "max": "max(v.n)", "sum": "sum(v.n)", "total": "count(*)",
                 "distinct": "count(DISTINCT coalesce(v.j, v.n::text))"}

    def aggregate(self, entity_ids, *, attrs=None, start=None, end=None, period, origin, methods=AGG_METHODS):
        if not entity_ids:
            return []
        methods = list(methods)
        r = self._r
        cond = ""
        args = {"ids": list(entity_ids), "origin": from_us(origin), "stride": timedelta(microseconds=period)}
        if attrs:
            args["aids"] = [a for a, in r.execute("SELECT aid FROM attributes WHERE name = ANY(%s::text[]) "
                                                  "OR iri = ANY(%s::text[])", [list(attrs)] * 2)]
            cond += " AND x.aid = ANY(%(aids)s::int[])"
        if start is not None:
            args["start"] = from_us(start)
            cond += " AND x.observed_at >= %(start)s"
        if end is not None:
            args["end"] = from_us(end)
            cond += " AND x.observed_at < %(end)s"
        sql = self._AGG_SQL.format(
            cond=cond, aggs="".join(f", {self._AGG_EXPR[m]} AS m_{m}" for m in methods),
            arrays="".join(f", array_agg(s.m_{m} ORDER BY s.t) AS m_{m}" for m in methods),
            outer="".join(f", g.m_{m}" for m in methods))
        out, n = [], 0
        with r.transaction():
            r.execute("SET LOCAL enable_hashagg = off")
            cur = r.cursor(name="citylink_aggregate", binary=True)
            cur.execute(sql, args)
            while rows := cur.fetchmany(100):
                for row in rows:
                    n += len(row[5])
                    if n > MAX_PERIODS:
                        raise TooManyPeriods(f"more than {MAX_PERIODS:,} periods")
                    out.append(AggSeries(*row[:6], dict(zip(methods, row[6:]))))
            cur.close()
        return out

    def temporal(self, entity_id, *, attrs=None, start=None, end=None, last_n=None):
        r = self._r
        row = r.execute(f"SELECT {self._ENTITY_COLS} FROM entities WHERE id=%s", (entity_id,)).fetchone()
        if row is None:
            return None
        ent = self._entity(row)
        where, args = self._series_where("x.eid = %s", row[0], attrs, start, end)
        base = self._ATTR_SQL.format(mod="NULL::timestamptz", table="observations") + "WHERE " + " AND ".join(where)
        if last_n:
            q = (f"SELECT * FROM (SELECT t.*, row_number() OVER (PARTITION BY t.iri, t.dataset_id "
                 f"ORDER BY t.observed_at DESC) AS rn FROM ({base}) t) w WHERE rn <= %s "
                 "ORDER BY name, dataset_id, observed_at")
            rows = [a[:-1] for a in r.execute(q, args + [last_n]).fetchall()]
        else:
            rows = r.execute(base + " ORDER BY a.name, x.dataset_id, x.observed_at", args).fetchall()
        ent.attrs = [self._attr(a) for a in rows]
        return ent

    # -- open data: long reads on a connection of their own ------------------------------------------
    US_SQL = "(extract(epoch FROM {}) * 1000000)::bigint"   # exact: extract gives a numeric

    def instant(self, us):
        return from_us(us)

    def stream(self, statements, chunk=2000):
        c = self._connect()
        try:
            with c.transaction():   # a server-side cursor lives in a transaction
                for i, (sql, args) in enumerate(statements):
                    with c.cursor(name=f"citylink_stream_{i}") as cur:
                        cur.execute(sql, args)
                        while rows := cur.fetchmany(chunk):
                            yield rows
        finally:
            c.close()

    # -- subscriptions -------------------------------------------------------------------------
    _SUB_SQL = ("SELECT s.id, s.body, s.created_by, s.created_at, s.modified_at, s.is_active, s.expires_at, "
                "coalesce(t.times_sent, 0), coalesce(t.times_failed, 0), t.last_notification, t.last_success, "
                "t.last_failure, t.last_failure_reason, s.owner "
                "FROM subscriptions s LEFT JOIN subscription_status t USING(id)")

    @staticmethod
    def _subscription(r) -> SubscriptionRow:
        return SubscriptionRow(r[0], r[1], r[2], to_us(r[3]), to_us(r[4]), r[5], _us(r[6]), r[7], r[8],
                               _us(r[9]), _us(r[10]), _us(r[11]), r[12], r[13])

    def put_subscription(self, row):
        with self._tx() as c:
            cur = c.execute("INSERT INTO subscriptions(id, body, created_by, created_at, modified_at, is_active, "
                            "expires_at, owner) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (id) DO NOTHING",
                            (row.id, Jsonb(row.body), row.created_by, from_us(row.created_at),
                             from_us(row.modified_at), row.is_active,
                             None if row.expires_at is None else from_us(row.expires_at), row.owner))
            if cur.rowcount == 0:
                return False
            c.execute("INSERT INTO subscription_status(id) VALUES (%s)", (row.id,))
            return True

    def subscription(self, sub_id):
        row = self._r.execute(self._SUB_SQL + " WHERE s.id=%s", (sub_id,)).fetchone()
        return self._subscription(row) if row else None

    def subscriptions(self, limit=None, offset=0, owner=None):
        r = self._r
        where, args = (" WHERE s.owner=%s", [owner]) if owner is not None else ("", [])
        total = r.execute("SELECT count(*) FROM subscriptions s" + where, args).fetchone()[0]
        rows = r.execute(self._SUB_SQL + where + " ORDER BY s.created_at, s.id LIMIT %s OFFSET %s",
                         [*args, limit, offset]).fetchall()
        return [self._subscription(x) for x in rows], total

    def update_subscription(self, sub_id, body, is_active, expires_at, now):
        with self._tx() as c:
            return c.execute("UPDATE subscriptions SET body=%s, is_active=%s, expires_at=%s, modified_at=%s "
                             "WHERE id=%s", (Jsonb(body), is_active, None if expires_at is None else from_us(expires_at),
                                             from_us(now), sub_id)).rowcount > 0

    def delete_subscription(self, sub_id):
        with self._tx() as c:  # its status goes with it (ON DELETE CASCADE)
            return c.execute("DELETE FROM subscriptions WHERE id=%s", (sub_id,)).rowcount > 0

    def record_notification(self, sub_id, at, error):
        ok, when = error is None, from_us(at)
        with self._tx() as c:
            c.execute("UPDATE subscription_status SET times_sent = times_sent + 1, "
                      "times_failed = times_failed + %s, last_notification = %s, "
                      "last_success = coalesce(%s, last_success), last_failure = coalesce(%s, last_failure), "
                      "last_failure_reason = coalesce(%s, last_failure_reason) WHERE id = %s",
                      (int(not ok), when, when if ok else None, None if ok else when, error, sub_id))
