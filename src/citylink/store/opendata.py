"""The open data reads and writes of the store, written once for both engines (``Store`` exposes them:
:meth:`~citylink.store.base.Store.history_chunks`, :meth:`~citylink.store.base.Store.put_open_table`, …).

A download reads history through :meth:`~citylink.store.base.Store.stream` — a connection of its own and,
on PostgreSQL, a server-side cursor — a chunk of rows at a time, so that a year of a service's data is never
in memory at once.  It reads a day at a time (``WINDOW_US``), each day in time order: the database sorts a
day, never the year."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import orjson

WINDOW_US = 86_400_000_000   # history is read a day at a time, each day sorted by the database
CHUNK = 2000                 # rows handed over at a time


@dataclass(frozen=True)
class HistoryScope:
    """The entities of one (service, type) and which of their attributes a download may read: any
    (``iris`` None), only these IRIs (``only``), or all but these."""
    service: str
    type: str
    iris: tuple[str, ...] | None = None
    only: bool = True


@dataclass(frozen=True)
class OpenTableRow:
    """An uploaded table as kept (its rows apart)."""
    id: str
    version: int
    meta: str             # the table/1 document as uploaded
    columns: list[str]
    row_count: int
    uploaded_at: int
    uploaded_by: str | None

    @classmethod
    def of(cls, r) -> "OpenTableRow":
        return cls(r[0], r[1], r[2], orjson.loads(r[3]), r[4], r[5], r[6])


# one row of history: entity id, type, observedAt (µs), attribute name, value type, number, JSON, unit, flags,
# datasetId
HISTORY_SQL = ("SELECT e.id, e.type, {us}, a.name, a.vtype, x.value_num, x.value_json, x.unit, x.flags, x.dataset_id "
               "FROM entities e JOIN observations x ON x.eid = e.eid JOIN attributes a ON a.aid = x.aid WHERE {where} "
               "ORDER BY x.observed_at, e.id, a.name, x.dataset_id")


def scope_sql(scopes: list[HistoryScope], ph: str) -> tuple[str, list]:
    parts, args = [], []
    for s in scopes:
        cond = f"e.service = {ph} AND e.type = {ph}"
        args += [s.service, s.type]
        if s.iris is not None:
            if s.iris:
                cond += f" AND a.iri {'' if s.only else 'NOT '}IN ({','.join([ph] * len(s.iris))})"
                args += list(s.iris)
            elif s.only:
                continue   # nothing of this pair may be read
        parts.append(f"({cond})")
    return ("(" + " OR ".join(parts) + ")" if parts else "(1 = 0)"), args


def history_statements(store, scopes: list[HistoryScope], start: int, end: int, *, bbox=None,
                       exclude_sources: Iterable[str] = ()) -> Iterator[tuple[str, list]]:
    """One statement per day of [start, end): the rows of these scopes observed that day, in time order;
    ``bbox`` (min lon, min lat, max lon, max lat): only entities whose position is in it."""
    ph = store.PH
    cond, cargs = scope_sql(scopes, ph)
    where, args = [f"x.observed_at >= {ph}", f"x.observed_at < {ph}", cond], cargs
    ex = sorted(exclude_sources)
    if ex:
        where.append(f"e.source NOT IN ({','.join([ph] * len(ex))})")
        args = args + ex
    if bbox is not None:
        where.append(f"e.lon BETWEEN {ph} AND {ph} AND e.lat BETWEEN {ph} AND {ph}")
        args = args + [bbox[0], bbox[2], bbox[1], bbox[3]]
    sql = HISTORY_SQL.format(us=store.US_SQL.format("x.observed_at"), where=" AND ".join(where))
    t = start
    while t < end:
        nxt = min(end, t + WINDOW_US)
        yield sql, [store.instant(t), store.instant(nxt), *args]
        t = nxt


_TABLE_COLS = "id, version, meta, columns, row_count, uploaded_at, uploaded_by"


def put_table(store, table_id: str, meta: str, columns: list[str], rows: Iterable[list], now: int,
              by: str | None) -> int:
    """Replace the table ``table_id`` (its rows: lists of cells) in one transaction; its new version."""
    ph = store.PH
    with store._tx() as c:
        old = c.execute(f"SELECT version FROM open_tables WHERE id={ph}", (table_id,)).fetchone()
        version = (old[0] if old else 0) + 1
        c.execute(f"DELETE FROM open_table_rows WHERE table_id={ph}", (table_id,))
        c.execute(f"DELETE FROM open_tables WHERE id={ph}", (table_id,))
        n = 0
        batch: list[tuple] = []
        insert = f"INSERT INTO open_table_rows(table_id, row_no, cells) VALUES ({ph},{ph},{ph})"
        for n, cells in enumerate(rows, 1):
            batch.append((table_id, n, orjson.dumps(cells).decode()))
            if len(batch) >= 1000:
                c.executemany(insert, batch)
                batch = []
        if batch:
            c.executemany(insert, batch)
        c.execute(f"INSERT INTO open_tables({_TABLE_COLS}) VALUES ({','.join([ph] * 7)})",
                  (table_id, version, meta, orjson.dumps(columns).decode(), n, now, by))
    return version


def tables(store, table_id: str | None = None) -> list[OpenTableRow]:
    ph = store.PH
    where, args = (f" WHERE id={ph}", [table_id]) if table_id is not None else ("", [])
    return [OpenTableRow.of(r) for r in
            store._r.execute(f"SELECT {_TABLE_COLS} FROM open_tables{where} ORDER BY id", args).fetchall()]


def delete_table(store, table_id: str) -> bool:
    ph = store.PH
    with store._tx() as c:
        found = c.execute(f"SELECT 1 FROM open_tables WHERE id={ph}", (table_id,)).fetchone()
        c.execute(f"DELETE FROM open_table_rows WHERE table_id={ph}", (table_id,))
        c.execute(f"DELETE FROM open_tables WHERE id={ph}", (table_id,))
    return bool(found)


def table_statement(store, table_id: str) -> tuple[str, list]:
    return f"SELECT cells FROM open_table_rows WHERE table_id={store.PH} ORDER BY row_no", [table_id]
