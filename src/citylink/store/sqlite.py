"""The embedded store: one SQLite file in WAL mode, through apsw.

apsw (rather than the standard library's ``sqlite3``) because it binds parameters
and steps ``executemany`` about 1.6 times faster, which is most of the ingest
path's store time, and because it ships a current SQLite whatever the system has.

All writes go through one connection guarded by a lock (SQLite has one writer
at a time anyway); every reading thread gets its own connection, which WAL lets
read while a write is under way.
"""
from __future__ import annotations

import json
import threading
from itertools import islice
from pathlib import Path

import apsw
import orjson

from ..errors import StoreError
from ..normalize.records import OUTCOME_NAMES, QUARANTINED, NormalizedBatch, RawMessage
from ..query import qlang
from ..query.geo import sqlite_geo
from ..query.sql import SQLITE, compile_q, sqlite_regexp
from ..spec.devices import Device
from .base import (AGG_METHODS, MAX_PERIODS, AttrRow, EntityRow, SpecRow, Store, SubscriptionRow, attr_ids,
                   cached_key, ensured_key, having_condition, latest_per_key, ledger_view, migrations,
                   scope_condition, series_from_rows)

_CHUNK = 900  # host parameters per IN (...) list


def _chunks(seq, n=_CHUNK):
    seq = list(seq)
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


class SQLiteStore(Store):
    PH = "?"   # the driver's parameter mark, for SQL the engines share (Store.catalogue)

    def __init__(self, path: str | Path):
        self.path = str(path)
        self.url = f"sqlite:///{self.path}"
        self.memory = self.path == ":memory:"
        if not self.memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._wlock = threading.RLock()
        self._local = threading.local()
        try:
            self._w = self._connect()
        except apsw.Error as e:
            raise StoreError(f"{self.path}: cannot open the SQLite store: {e}") from None
        self._sids: dict[str, int] = {}
        self._eids: dict[str, int] = {}
        self._aids: dict[str, int] = {}

    def _connect(self) -> apsw.Connection:
        if self.memory:
            c = apsw.Connection("file:citylink-mem?mode=memory&cache=shared",
                                flags=apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE | apsw.SQLITE_OPEN_URI)
        else:
            c = apsw.Connection(self.path)
        c.setbusytimeout(30_000)
        c.execute("PRAGMA page_size=16384")  # on a new file only; fewer, fuller pages per commit
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=NORMAL")
        c.execute("PRAGMA foreign_keys=OFF")
        c.execute("PRAGMA cache_size=-262144")  # 256 MiB
        c.execute("PRAGMA mmap_size=1073741824")
        c.createscalarfunction("regexp", sqlite_regexp, 2, deterministic=True)  # for idPattern and q's ~=
        c.createscalarfunction("geo_rel", sqlite_geo, 6, deterministic=True)    # geo-queries
        return c

    @property
    def _r(self) -> apsw.Connection:
        if self.memory:
            return self._w
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._local.conn = self._connect()
        return c

    def _tx(self):
        return _Tx(self._w, self._wlock, self._forget)

    def _forget(self) -> None:
        """After a rollback: ids cached during it may name rows that never were (and SQLite reuses rowids)."""
        self._sids.clear()
        self._eids.clear()
        self._aids.clear()   # an API write may have added attributes (refilled on demand by _aid)

    # -- life cycle ----------------------------------------------------------------------
    def schema_version(self) -> int:
        with self._wlock:
            self._w.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
            row = self._w.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return row[0] or 0

    def migrate(self, target: int | None = None) -> list[int]:
        applied = []
        current = self.schema_version()
        for version, name, sql in migrations("sqlite"):
            if version <= current or (target is not None and version > target):
                continue
            with self._tx() as c:
                for stmt in _statements(sql):
                    c.execute(stmt)
                c.execute("INSERT INTO schema_migrations VALUES (?, ?, datetime('now'))", (version, name))
            applied.append(version)
        return applied

    def close(self) -> None:
        with self._wlock:
            self._w.close()

    def ping(self) -> None:
        self._r.execute("SELECT 1").fetchone()

    # -- specs and configuration -----------------------------------------------------------
    def _bump(self, c) -> None:
        c.execute("UPDATE meta SET value = value + 1 WHERE key = 'config_rev'")

    def put_spec(self, kind, name, version, sha256, file, body, now):
        with self._tx() as c:
            row = c.execute("SELECT id, sha256, retired FROM spec_versions WHERE kind=? AND name=? "
                            "ORDER BY id DESC LIMIT 1", (kind, name)).fetchone()
            if row and row[1] == sha256 and not row[2]:
                return row[0], False
            vid = c.execute("INSERT INTO spec_versions(kind, name, version, sha256, file, body, applied_at) "
                            "VALUES (?,?,?,?,?,?,?) RETURNING id", (kind, name, version, sha256, file, body,
                                                                    now)).fetchone()[0]
            self._bump(c)
            return vid, True

    def specs_in_force(self):
        rows = self._r.execute(
            "SELECT id, kind, name, version, sha256, file, body, applied_at FROM spec_versions s "
            "WHERE id = (SELECT max(id) FROM spec_versions t WHERE t.kind = s.kind AND t.name = s.name) "
            "AND retired = 0 ORDER BY kind, name").fetchall()
        return [SpecRow(*r) for r in rows]

    def spec_history(self, kind=None, name=None):
        q = "SELECT id, kind, name, version, sha256, file, body, applied_at FROM spec_versions WHERE 1=1"
        args = []
        if kind:
            q += " AND kind = ?"
            args.append(kind)
        if name:
            q += " AND name = ?"
            args.append(name)
        return [SpecRow(*r) for r in self._r.execute(q + " ORDER BY id", args).fetchall()]

    def config_revision(self):
        return self._r.execute("SELECT value FROM meta WHERE key='config_rev'").fetchone()[0]

    def add_token(self, source, sha256, label, now):
        with self._tx() as c:
            return c.execute("INSERT INTO source_tokens(source, sha256, label, created_at) VALUES (?,?,?,?) "
                             "RETURNING id", (source, sha256, label, now)).fetchone()[0]

    def token_sources(self, sha256):
        rows = self._r.execute("SELECT source FROM source_tokens WHERE sha256=? AND revoked_at IS NULL",
                               (sha256,)).fetchall()
        return {r[0] for r in rows}

    def revoke_tokens(self, source, now):
        with self._tx() as c:
            c.execute("UPDATE source_tokens SET revoked_at=? WHERE source=? AND revoked_at IS NULL", (now, source))
            return c.changes()

    def poll_cursor(self, source):
        row = self._r.execute("SELECT cursor FROM poll_cursors WHERE source=?", (source,)).fetchone()
        return row[0] if row else None

    def set_poll_cursor(self, source, cursor, now):
        with self._tx() as c:
            c.execute("INSERT INTO poll_cursors VALUES (?,?,?) ON CONFLICT(source) DO UPDATE SET "
                      "cursor=excluded.cursor, updated_at=excluded.updated_at", (source, cursor, now))

    def set_transport_health(self, source, error, now):
        with self._tx() as c:
            c.execute("INSERT INTO transport_health VALUES (?,?,?,?,?,?,?) ON CONFLICT(source) DO UPDATE SET "
                      "ok=excluded.ok, failures=CASE WHEN excluded.ok THEN 0 ELSE transport_health.failures + 1 END, "
                      "last_error=COALESCE(excluded.last_error, transport_health.last_error), "
                      "last_success_at=COALESCE(excluded.last_success_at, transport_health.last_success_at), "
                      "last_failure_at=COALESCE(excluded.last_failure_at, transport_health.last_failure_at), "
                      "updated_at=excluded.updated_at",
                      (source, int(error is None), int(error is not None), error, None if error else now,
                       now if error else None, now))

    def transport_health(self):
        rows = self._r.execute("SELECT source, ok, failures, last_error, last_success_at, last_failure_at "
                               "FROM transport_health").fetchall()
        return {r[0]: {"ok": bool(r[1]), "failures": r[2], "last_error": r[3], "last_success_at": r[4],
                       "last_failure_at": r[5]} for r in rows}

    def put_devices(self, source, devices, now):
        with self._tx() as c:
            c.execute("DELETE FROM devices WHERE source=?", (source,))
            c.executemany("INSERT INTO devices VALUES (?,?,?,?,?,?,?,?,?)",
                          [(source, d.local_id, d.entity_id, d.lon, d.lat, int(d.expected), d.name,
                            json.dumps(d.attrs, ensure_ascii=False), now) for d in devices])
            self._bump(c)
        return len(devices)

    def devices(self, source=None):
        q = "SELECT source, local_id, entity_id, lon, lat, expected, name, attrs FROM devices"
        rows = self._r.execute(q + (" WHERE source=?" if source else "") + " ORDER BY source, local_id",
                               (source,) if source else ()).fetchall()
        out: dict[str, list[Device]] = {}
        for s, local, eid, lon, lat, exp, name, attrs in rows:
            out.setdefault(s, []).append(Device(local, eid, lon, lat, bool(exp), name, json.loads(attrs)))
        return out

    # -- the pipeline ----------------------------------------------------------------------
    def _sid(self, c, source: str) -> int:
        return ensured_key(c, self._sids, "INSERT OR IGNORE INTO sources(name) VALUES (?)",
                           "SELECT sid FROM sources WHERE name=?", source)

    def archive(self, messages):
        if not messages:
            return
        with self._tx() as c:
            rows = []
            counts: dict[int, int] = {}
            last: dict[int, int] = {}
            for m in messages:
                sid = self._sid(c, m.source)
                counts[sid] = counts.get(sid, 0) + 1
                if m.received_at > last.get(sid, 0):
                    last[sid] = m.received_at
                rows.append((m.id, sid, m.received_at, m.transport,
                             orjson.dumps(m.meta).decode() if m.meta else None, m.body))
            c.executemany("INSERT INTO raw_messages(id, sid, received_at, transport, meta, body) "
                          "VALUES (?,?,?,?,?,?)", rows)
            c.executemany("INSERT INTO ledger VALUES (?, 'pending', ?) ON CONFLICT(sid, outcome) "
                          "DO UPDATE SET n = n + excluded.n", list(counts.items()))
            c.executemany("UPDATE sources SET last_received_at = max(coalesce(last_received_at, 0), ?) WHERE sid = ?",
                          [(t, s) for s, t in last.items()])

    def register_attributes(self, catalog):
        with self._tx() as c:
            for iri, (name, kind, vtype, unit) in catalog.items():
                c.execute("INSERT INTO attributes(iri, name, kind, vtype, unit) VALUES (?,?,?,?,?) "
                          "ON CONFLICT(iri) DO UPDATE SET name=excluded.name, kind=excluded.kind, "
                          "vtype=excluded.vtype, unit=excluded.unit", (iri, name, kind, vtype, unit))
            self._aids = dict(c.execute("SELECT iri, aid FROM attributes").fetchall())

    def find_dedupe(self, keys):
        out = {}
        r = self._w if self.memory else self._r
        for chunk in _chunks(set(keys), _CHUNK // 2):
            # a join with VALUES makes one index seek per key (an IN over row values would scan)
            q = (f"SELECT r.dedupe_ts, r.dedupe_key, r.id FROM (VALUES {','.join(['(?,?)'] * len(chunk))}) v "
                 "CROSS JOIN raw_status r ON r.dedupe_ts = v.column1 AND r.dedupe_key = v.column2 "
                 "WHERE r.dedupe_key IS NOT NULL")
            for ts, key, rid in r.execute(q, [x for k in chunk for x in k]).fetchall():
                out[(ts, key)] = rid
        return out

    def _eid_map(self, c, batch: NormalizedBatch, now: int) -> dict[str, int]:
        eids = self._eids
        for e in batch.entities.values():
            eid = eids.get(e.id)
            if eid is None:
                row = c.execute("SELECT eid FROM entities WHERE id=?", (e.id,)).fetchone()
                if row is None:
                    eid = c.execute("INSERT INTO entities(id, type, service, department, source, lon, lat, "
                                    "created_at, modified_at) VALUES (?,?,?,?,?,?,?,?,?) RETURNING eid",
                                    (e.id, e.type, e.service, e.department, e.source, e.lon, e.lat,
                                     now, now)).fetchone()[0]
                    eids[e.id] = eid
                    continue
                eid = eids[e.id] = row[0]
            if e.lon is not None:
                c.execute("UPDATE entities SET lon=?, lat=?, modified_at=? WHERE eid=? AND "
                          "(lon IS NOT ? OR lat IS NOT ?)", (e.lon, e.lat, now, eid, e.lon, e.lat))
        return eids

    def apply(self, batch, now):
        with self._tx() as c:
            if batch.attributes:
                c.executemany("INSERT INTO attributes(iri, name, kind, vtype, unit) VALUES (?,?,?,?,?) "
                              "ON CONFLICT(iri) DO NOTHING", [(iri, *a) for iri, a in batch.attributes.items()])
                self._aids.update(c.execute("SELECT iri, aid FROM attributes").fetchall())
            if batch.deletions:
                self._delete(c, batch.deletions, now)
            eids = self._eid_map(c, batch, now)
            aids = self._aids
            sid = self._sid
            if batch.replayed:
                old = []
                for chunk in _chunks(batch.replayed):
                    old += c.execute(f"SELECT r.id, s.name, coalesce(x.status, 0) FROM raw_messages r LEFT JOIN raw_status x USING(id) "
                                     f"JOIN sources s USING(sid) "
                                     f"WHERE r.id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
                dec: dict[tuple[int, str], int] = {}
                for _, source, status in old:
                    k = (sid(c, source), OUTCOME_NAMES[status])
                    dec[k] = dec.get(k, 0) + 1
                c.executemany("UPDATE ledger SET n = n - ? WHERE sid=? AND outcome=?",
                              [(n, s, o) for (s, o), n in dec.items()])
                c.executemany("UPDATE ledger SET n = n + ? WHERE sid=? AND outcome='pending'",
                              [(n, s) for (s, o), n in dec.items()])
                stale = []
                for chunk in _chunks(batch.replayed):
                    marks = ",".join("?" * len(chunk))
                    stale += c.execute(f"SELECT DISTINCT eid, aid, dataset_id FROM entity_attrs WHERE raw_id IN ({marks})",
                                       chunk).fetchall()
                    c.execute(f"DELETE FROM observations WHERE raw_id IN ({marks})", chunk)
                    c.execute(f"DELETE FROM raw_status WHERE id IN ({marks})", chunk)
            try:
                rows = [(eids[o[1]], aids[o[2]], o[3], o[7], o[0], o[4], o[5], o[6], o[8], o[9])
                        for o in batch.observations]
            except KeyError:
                rows = [(self._eid(c, o[1]), self._aid(c, o[2]), o[3], o[7], o[0], o[4], o[5], o[6], o[8], o[9])
                        for o in batch.observations]
            c.executemany("INSERT OR REPLACE INTO observations(eid, aid, dataset_id, observed_at, raw_id, value_num, "
                          "value_json, unit, flags, spec_version) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
            latest = latest_per_key(rows)
            c.executemany(
                "INSERT INTO entity_attrs(eid, aid, dataset_id, observed_at, raw_id, value_num, value_json, unit, "
                "flags, spec_version, modified_at) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(eid, aid, dataset_id) DO UPDATE SET observed_at=excluded.observed_at, "
                "raw_id=excluded.raw_id, value_num=excluded.value_num, value_json=excluded.value_json, "
                "unit=excluded.unit, flags=excluded.flags, spec_version=excluded.spec_version, "
                "modified_at=excluded.modified_at WHERE excluded.observed_at >= entity_attrs.observed_at",
                [r + (now,) for r in latest.values()])
            if batch.replayed and stale:
                # every key the replayed messages held, including those written again just now: the
                # upsert above keeps an old newest value that the replay moved earlier or removed
                self._refresh_state(c, stale, now)
            c.executemany("INSERT INTO raw_status(status, dedupe_ts, dedupe_key, spec_version, processed_at, id) "
                          "VALUES (?,?,?,?,?,?)", [(o[2], *(o[3] or (None, None)), o[4], now, o[0]) for o in batch.outcomes])
            if batch.quarantine:
                c.executemany("INSERT OR REPLACE INTO quarantine(raw_id, sid, reason, field, detail, problems, created_at) "
                              "VALUES (?,?,?,?,?,?,?)",
                              [(rid, sid(c, src), probs[0]["type"], probs[0]["field"], probs[0]["detail"],
                                json.dumps(probs, ensure_ascii=False), now) for rid, src, probs in batch.quarantine])
            if batch.replayed:
                fixed = [o[0] for o in batch.outcomes if o[2] != QUARANTINED and o[0] in set(batch.replayed)]
                c.executemany("UPDATE quarantine SET resolved_at=? WHERE raw_id=? AND resolved_at IS NULL",
                              [(now, r) for r in fixed])
            inc: dict[tuple[int, str], int] = {}
            for (source, outcome), n in batch.ledger().items():
                k = (sid(c, source), outcome)
                inc[k] = inc.get(k, 0) + n
            c.executemany("INSERT INTO ledger VALUES (?,?,?) ON CONFLICT(sid, outcome) DO UPDATE SET n = n + excluded.n",
                          [(s, o, n) for (s, o), n in inc.items()])
            done: dict[int, int] = {}
            for (s, _), n in inc.items():
                done[s] = done.get(s, 0) + n
            c.executemany("UPDATE ledger SET n = n - ? WHERE sid=? AND outcome='pending'",
                          [(n, s) for s, n in done.items()])

    def _refresh_state(self, c, keys, now):
        for eid, aid, ds in keys:
            row = c.execute("SELECT observed_at, raw_id, value_num, value_json, unit, flags, spec_version FROM observations "
                            "WHERE eid=? AND aid=? AND dataset_id=? ORDER BY observed_at DESC, raw_id DESC LIMIT 1",
                            (eid, aid, ds)).fetchone()
            if row is None:
                c.execute("DELETE FROM entity_attrs WHERE eid=? AND aid=? AND dataset_id=?", (eid, aid, ds))
            else:
                c.execute("UPDATE entity_attrs SET observed_at=?, raw_id=?, value_num=?, value_json=?, unit=?, flags=?, "
                          "spec_version=?, modified_at=? WHERE eid=? AND aid=? AND dataset_id=?",
                          row + (now, eid, aid, ds))

    def _eid(self, c, entity_id):
        return cached_key(c, self._eids, "SELECT eid FROM entities WHERE id=?", entity_id,
                          f"entity {entity_id} was never announced to the store")

    def _aid(self, c, iri):
        return cached_key(c, self._aids, "SELECT aid FROM attributes WHERE iri=?", iri,
                          f"attribute {iri} is not registered (register_attributes)")

    def count_refused(self, source, reason, now):
        with self._tx() as c:
            c.execute("INSERT INTO transport_refusals VALUES (?,?,1,?) ON CONFLICT(source, reason) "
                      "DO UPDATE SET n = n + 1, last_at = excluded.last_at", (source, reason, now))

    # -- reading the archive -----------------------------------------------------------------
    def raw_messages(self, *, source=None, ids=None, status=None, after_id=0, limit=1000):
        q = ("SELECT r.id, s.name, r.received_at, r.body, r.transport, r.meta FROM raw_messages r "
             "LEFT JOIN raw_status x USING(id) JOIN sources s USING(sid) WHERE r.id > ?")
        args: list = [after_id]
        if source is not None:
            q += " AND s.name = ?"
            args.append(source)
        if status is not None:
            q += " AND coalesce(x.status, 0) = ?"
            args.append(status)
        if ids is not None:
            if not ids:
                return []
            q += f" AND r.id IN ({','.join('?' * len(ids))})"
            args += list(ids)
        q += " ORDER BY r.id LIMIT ?"
        args.append(limit)
        r = self._w if self.memory else self._r
        return [RawMessage(i, s, rec, bytes(b), t, json.loads(m) if m else {})
                for i, s, rec, b, t, m in r.execute(q, args).fetchall()]

    def outcomes(self, ids):
        out = {}
        r = self._w if self.memory else self._r
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            for rid, status, probs in r.execute(
                    f"SELECT r.id, coalesce(x.status, 0), q.problems FROM raw_messages r LEFT JOIN raw_status x USING(id) "
                    f"LEFT JOIN quarantine q "
                    f"ON q.raw_id = r.id AND q.resolved_at IS NULL WHERE r.id IN ({marks})", chunk).fetchall():
                out[rid] = (status, json.loads(probs) if probs else None)
        return out

    def quarantined(self, source=None, limit=100, after_id=0):
        q = ("SELECT q.raw_id, s.name, q.reason, q.field, q.detail, q.problems, q.created_at, r.received_at "
             "FROM quarantine q JOIN sources s USING(sid) JOIN raw_messages r ON r.id = q.raw_id "
             "WHERE q.resolved_at IS NULL AND q.raw_id > ?")
        args: list = [after_id]
        if source:
            q += " AND s.name = ?"
            args.append(source)
        rows = self._r.execute(q + " ORDER BY q.raw_id LIMIT ?", args + [limit]).fetchall()
        return [{"raw_id": r[0], "source": r[1], "reason": r[2], "field": r[3], "detail": r[4],
                 "problems": json.loads(r[5]), "quarantined_at": r[6], "received_at": r[7]} for r in rows]

    def ledger(self):
        rows = self._r.execute("SELECT s.name, l.outcome, l.n FROM ledger l JOIN sources s USING(sid)").fetchall()
        refusals = self._r.execute("SELECT source, reason, n FROM transport_refusals").fetchall()
        last = self._r.execute("SELECT name, last_received_at FROM sources WHERE last_received_at IS NOT NULL").fetchall()
        return ledger_view(rows, refusals, last)

    # -- reading the context -------------------------------------------------------------------
    _ATTR_SQL = ("SELECT a.iri, a.name, a.kind, a.vtype, x.dataset_id, x.value_num, x.value_json, x.unit, "
                 "x.observed_at, x.flags, x.raw_id, x.spec_version, {mod} FROM {table} x JOIN attributes a USING(aid) ")

    def _entity_rows(self, rows) -> list[EntityRow]:
        return [EntityRow(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]) for r in rows]

    _ENTITY_COLS = "eid, id, type, service, department, source, lon, lat, created_at, modified_at"

    def entity(self, entity_id):
        r = self._r
        row = r.execute(f"SELECT {self._ENTITY_COLS} FROM entities WHERE id=?", (entity_id,)).fetchone()
        if row is None:
            return None
        ent = self._entity_rows([row])[0]
        q = self._ATTR_SQL.format(mod="x.modified_at", table="entity_attrs") + "WHERE x.eid=? ORDER BY a.name, x.dataset_id"
        ent.attrs = [AttrRow(*a) for a in r.execute(q, (row[0],)).fetchall()]
        return ent

    def entities(self, *, types=None, ids=None, limit=20, offset=0, exclude_sources=None, q=None, id_pattern=None,
                 having=None, geo=None, count=True, scope=None):
        r = self._r
        where, args = [], []
        if scope is not None:
            cond, sargs = scope_condition(scope, "?")
            where.append(cond)
            args += sargs
        if geo is not None:
            box = geo.prefilter()
            if box is not None:  # the (lon, lat) index narrows; shapely decides
                where.append("e.lon BETWEEN ? AND ? AND e.lat BETWEEN ? AND ?")
                args += [box[0], box[2], box[1], box[3]]
            where.append("geo_rel(?, ?, ?, ?, e.lon, e.lat) = 1")
            args += [geo.rel, geo.wkb, geo.max_distance, geo.min_distance]
        if id_pattern:
            where.append("id REGEXP ?")
            args.append(id_pattern)
        if q is not None or having:
            names = set(having or ()) | (qlang.attributes(q) if q is not None else set())
            marks = ",".join(["?"] * len(names))
            aids = attr_ids(r.execute(f"SELECT name, iri, aid FROM attributes WHERE name IN ({marks}) OR iri IN ({marks})",
                                      [*names, *names]).fetchall(), names)
            if q is not None:
                cond, qargs = compile_q(q, aids, SQLITE)
                where.append(cond)
                args += qargs
            if having:
                where.append(having_condition(having, aids))
        if types:
            where.append(f"type IN ({','.join('?' * len(types))})")
            args += types
        if exclude_sources:
            where.append(f"source NOT IN ({','.join('?' * len(exclude_sources))})")
            args += list(exclude_sources)
        if ids:
            where.append(f"id IN ({','.join('?' * len(ids))})")
            args += ids
        w = (" WHERE " + " AND ".join(where)) if where else ""
        total = r.execute(f"SELECT count(*) FROM entities e{w}", args).fetchone()[0] if count else None
        rows = r.execute(f"SELECT {self._ENTITY_COLS} FROM entities e{w} ORDER BY eid LIMIT ? OFFSET ?",
                         args + [limit, offset]).fetchall()
        ents = self._entity_rows(rows)
        by_eid = {row[0]: e for row, e in zip(rows, ents)}
        if by_eid:
            q = (self._ATTR_SQL.format(mod="x.modified_at", table="entity_attrs").replace("SELECT ", "SELECT x.eid, ", 1)
                 + f"WHERE x.eid IN ({','.join('?' * len(by_eid))}) ORDER BY a.name, x.dataset_id")
            for a in r.execute(q, list(by_eid)).fetchall():
                by_eid[a[0]].attrs.append(AttrRow(*a[1:]))
        return ents, total

    @staticmethod
    def _series_where(first: str, first_args, attrs, start, end) -> tuple[list[str], list]:
        """Conditions on observations (x) and their attributes (a): ``first``, the attributes, [start, end)."""
        where, args = [first], list(first_args)
        if attrs:
            marks = ",".join("?" * len(attrs))
            where.append(f"(a.name IN ({marks}) OR a.iri IN ({marks}))")
            args += list(attrs) * 2
        if start is not None:
            where.append("x.observed_at >= ?")
            args.append(start)
        if end is not None:
            where.append("x.observed_at < ?")
            args.append(end)
        return where, args

    # {bucket} numbers the period of an instance; {distinct} counts distinct values of any kind (numbers
    # written as text) or is NULL; numbers alone are averaged and summed
    _AGG_SQL = """SELECT e.id, a.name, a.iri, a.kind, x.dataset_id, {bucket} AS b,
       avg(CASE WHEN x.value_json IS NULL THEN x.value_num END), min(CASE WHEN x.value_json IS NULL THEN x.value_num END),
       max(CASE WHEN x.value_json IS NULL THEN x.value_num END), sum(CASE WHEN x.value_json IS NULL THEN x.value_num END),
       count(*), {distinct}
FROM observations x JOIN attributes a ON a.aid = x.aid JOIN entities e ON e.eid = x.eid"""

    def aggregate(self, entity_ids, *, attrs=None, start=None, end=None, period, origin, methods=AGG_METHODS):
        if not entity_ids:
            return []
        where, args = self._series_where(f"e.id IN ({','.join('?' * len(entity_ids))})", entity_ids, attrs, start, end)
        distinct = "count(DISTINCT coalesce(x.value_json, CAST(x.value_num AS TEXT)))" if "distinct" in methods else "NULL"
        sql = (self._AGG_SQL.format(bucket="(x.observed_at - ?) / ?", distinct=distinct)
               + " WHERE " + " AND ".join(where)
               + " GROUP BY x.eid, x.aid, x.dataset_id, b ORDER BY e.id, a.name, x.aid, x.dataset_id, b LIMIT ?")
        rows = self._r.execute(sql, [origin, period, *args, MAX_PERIODS + 1]).fetchall()
        return series_from_rows(rows, origin, period, methods)

    def temporal(self, entity_id, *, attrs=None, start=None, end=None, last_n=None):
        r = self._r
        row = r.execute(f"SELECT {self._ENTITY_COLS} FROM entities WHERE id=?", (entity_id,)).fetchone()
        if row is None:
            return None
        ent = self._entity_rows([row])[0]
        where, args = self._series_where("x.eid = ?", [row[0]], attrs, start, end)
        base = self._ATTR_SQL.format(mod="NULL", table="observations") + "WHERE " + " AND ".join(where)
        if last_n:
            q = (f"SELECT * FROM (SELECT t.*, row_number() OVER (PARTITION BY t.iri, t.dataset_id "
                 f"ORDER BY t.observed_at DESC) AS rn FROM ({base}) t) WHERE rn <= ? ORDER BY name, dataset_id, observed_at")
            rows = [a[:-1] for a in r.execute(q, args + [last_n]).fetchall()]
        else:
            rows = r.execute(base + " ORDER BY a.name, x.dataset_id, x.observed_at", args).fetchall()
        ent.attrs = [AttrRow(*a) for a in rows]
        return ent

    # -- open data: long reads on a connection of their own ------------------------------------------
    def stream(self, statements, chunk=2000):
        c = self._connect()   # a read transaction of its own (WAL): the writer goes on meanwhile
        # a long read passes through pages once: a small cache, no memory map (mapped pages would stay in the
        # process's resident set, growing with the range read)
        c.execute("PRAGMA cache_size=-8192")
        c.execute("PRAGMA mmap_size=0")
        try:
            for sql, args in statements:
                cur = c.execute(sql, args)
                while rows := list(islice(cur, chunk)):   # apsw steps the statement as rows are taken
                    yield rows
        finally:
            c.close(True)

    # -- subscriptions -------------------------------------------------------------------------
    _SUB_SQL = ("SELECT s.id, s.body, s.created_by, s.created_at, s.modified_at, s.is_active, s.expires_at, "
                "coalesce(t.times_sent, 0), coalesce(t.times_failed, 0), t.last_notification, t.last_success, "
                "t.last_failure, t.last_failure_reason, s.owner "
                "FROM subscriptions s LEFT JOIN subscription_status t USING(id)")

    @staticmethod
    def _subscription(r) -> SubscriptionRow:
        return SubscriptionRow(r[0], orjson.loads(r[1]), r[2], r[3], r[4], bool(r[5]), *r[6:])

    def put_subscription(self, row):
        with self._tx() as c:
            if c.execute("SELECT 1 FROM subscriptions WHERE id=?", (row.id,)).fetchone():
                return False
            c.execute("INSERT INTO subscriptions(id, body, created_by, created_at, modified_at, is_active, expires_at, "
                      "owner) VALUES (?,?,?,?,?,?,?,?)",
                      (row.id, orjson.dumps(row.body).decode(), row.created_by, row.created_at, row.modified_at,
                       int(row.is_active), row.expires_at, row.owner))
            c.execute("INSERT OR REPLACE INTO subscription_status(id) VALUES (?)", (row.id,))
            return True

    def subscription(self, sub_id):
        r = self._w if self.memory else self._r
        row = r.execute(self._SUB_SQL + " WHERE s.id=?", (sub_id,)).fetchone()
        return self._subscription(row) if row else None

    def subscriptions(self, limit=None, offset=0, owner=None):
        r = self._w if self.memory else self._r
        where, args = (" WHERE s.owner=?", [owner]) if owner is not None else ("", [])
        total = r.execute("SELECT count(*) FROM subscriptions s" + where, args).fetchone()[0]
        rows = r.execute(self._SUB_SQL + where + " ORDER BY s.created_at, s.id LIMIT ? OFFSET ?",
                         [*args, -1 if limit is None else limit, offset]).fetchall()
        return [self._subscription(x) for x in rows], total

    def update_subscription(self, sub_id, body, is_active, expires_at, now):
        with self._tx() as c:
            c.execute("UPDATE subscriptions SET body=?, is_active=?, expires_at=?, modified_at=? WHERE id=?",
                      (orjson.dumps(body).decode(), int(is_active), expires_at, now, sub_id))
            return c.changes() > 0

    def delete_subscription(self, sub_id):
        with self._tx() as c:
            c.execute("DELETE FROM subscriptions WHERE id=?", (sub_id,))
            gone = c.changes() > 0
            c.execute("DELETE FROM subscription_status WHERE id=?", (sub_id,))
            return gone

    def record_notification(self, sub_id, at, error):
        ok = error is None
        with self._tx() as c:
            c.execute("UPDATE subscription_status SET times_sent = times_sent + 1, "
                      "times_failed = times_failed + ?, last_notification = ?, "
                      "last_success = coalesce(?, last_success), last_failure = coalesce(?, last_failure), "
                      "last_failure_reason = coalesce(?, last_failure_reason) WHERE id = ?",
                      (int(not ok), at, at if ok else None, None if ok else at, error, sub_id))


def _statements(sql: str) -> list[str]:
    out, buf = [], []
    for line in sql.splitlines():
        stripped = line.split("--", 1)[0]
        buf.append(stripped)
        if stripped.rstrip().endswith(";"):
            stmt = "\n".join(buf).strip()
            if stmt.strip(";").strip():
                out.append(stmt)
            buf = []
    if "".join(buf).strip():
        out.append("\n".join(buf))
    return out


class _Tx:
    def __init__(self, conn, lock, on_rollback):
        self.c, self.lock, self.on_rollback = conn, lock, on_rollback

    def __enter__(self):
        self.lock.acquire()
        try:
            self.c.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise
        return self.c

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type:
                self.on_rollback()
            self.c.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.lock.release()
        return False
