"""The data quality page's reads (:mod:`citylink.dashboard.quality`), written once for both engines like
:mod:`.dashboard`: per source, what became of the messages received since a time, why the quarantined
ones were rejected, how late their values came, and how many readings each device gave.

A window of received messages is found by raw id first: ids are time-ordered (:mod:`citylink.ids`), so
the primary key narrows the scan to the window before ``received_at`` makes it exact."""
from __future__ import annotations

from ..ids import first_id_at
from .base import marks

MARGIN_US = 60_000_000   # ids are made just after received_at is read; a clock stepped back by a little


def _received(store, sources: list[str], since_us: int) -> tuple[str, list]:
    """The condition (on ``r`` raw_messages and ``s`` sources) and arguments of the messages of ``sources``
    received at or after ``since_us``."""
    return (f"r.id >= {store.PH} AND r.received_at >= {store.PH} AND s.name IN ({marks(store, sources)})",
            [first_id_at(since_us - MARGIN_US), store.instant(since_us), *sources])


def outcomes(store, sources: list[str], since_us: int) -> list[tuple[str, int, int]]:
    """(source, outcome code as it stands now — :data:`citylink.normalize.records.OUTCOME_NAMES`, 0 pending,
    number of messages) of the messages received at or after ``since_us``."""
    if not sources:
        return []
    where, args = _received(store, sources, since_us)
    sql = ("SELECT s.name, coalesce(x.status, 0), count(*) FROM raw_messages r JOIN sources s ON s.sid = r.sid "
           f"LEFT JOIN raw_status x ON x.id = r.id WHERE {where} GROUP BY s.name, coalesce(x.status, 0)")
    return [(r[0], int(r[1]), int(r[2])) for r in store._r.execute(sql, args).fetchall()]


def rejections(store, sources: list[str], since_us: int) -> list[tuple[str, str, str | None, int]]:
    """(source, reason, field, number of messages) of the messages received at or after ``since_us`` that
    are in the quarantine now (a message replayed and stored is no longer counted), by their first
    problem."""
    if not sources:
        return []
    where, args = _received(store, sources, since_us)
    sql = ("SELECT s.name, q.reason, q.field, count(*) FROM quarantine q JOIN raw_messages r ON r.id = q.raw_id "
           f"JOIN sources s ON s.sid = r.sid WHERE q.resolved_at IS NULL AND {where} "
           "GROUP BY s.name, q.reason, q.field ORDER BY s.name, count(*) DESC, q.reason")
    return [(r[0], r[1], r[2], int(r[3])) for r in store._r.execute(sql, args).fetchall()]


def quarantine_sizes(store) -> dict[str, int]:
    """source → how many of its messages are in the quarantine now, whenever they came."""
    rows = store._r.execute("SELECT s.name, count(*) FROM quarantine q JOIN sources s ON s.sid = q.sid "
                            "WHERE q.resolved_at IS NULL GROUP BY s.name").fetchall()
    return {r[0]: int(r[1]) for r in rows}


def latency(store, sources: list[str], since_us: int) -> dict[str, tuple[int, int, int, int]]:
    """source → (readings, p50, p95, max) of the delay in µs between a reading's ``observedAt`` and the
    arrival of its message, for the messages received at or after ``since_us``.  A reading is what one
    message says of one device at one instant (its values of several attributes count once).  The
    percentiles are nearest-rank (the value at rank ⌈p·n⌉), chosen in the database."""
    if not sources:
        return {}
    where, args = _received(store, sources, since_us)
    delay = f"{store.US_SQL.format('r.received_at')} - {store.US_SQL.format('o.observed_at')}"
    sql = (f"WITH d AS (SELECT DISTINCT s.name AS source, o.raw_id, o.eid, o.observed_at, {delay} AS delay "
           "FROM raw_messages r JOIN sources s ON s.sid = r.sid JOIN observations o ON o.raw_id = r.id "
           f"WHERE {where}), "
           "ranked AS (SELECT source, delay, row_number() OVER (PARTITION BY source ORDER BY delay) AS rn, "
           "count(*) OVER (PARTITION BY source) AS n FROM d) "
           "SELECT source, n, max(CASE WHEN rn = (n + 1) / 2 THEN delay END), "
           "max(CASE WHEN rn = (95 * n + 99) / 100 THEN delay END), max(delay) FROM ranked GROUP BY source, n")
    return {r[0]: (int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in store._r.execute(sql, args).fetchall()}


def readings(store, sources: list[str], since_us: int, until_us: int) -> list[tuple[str, str, int]]:
    """(source, entity id, readings) of the entities of ``sources``: how many distinct ``observedAt`` each
    has in (``since_us``, ``until_us``] — entities with none are not listed."""
    if not sources:
        return []
    p = store.PH
    sql = ("SELECT e.source, e.id, count(DISTINCT o.observed_at) FROM observations o JOIN entities e ON e.eid = o.eid "
           f"WHERE e.source IN ({marks(store, sources)}) AND o.observed_at > {p} AND o.observed_at <= {p} "
           "GROUP BY e.source, e.id")
    args = [*sources, store.instant(since_us), store.instant(until_us)]
    return [(r[0], r[1], int(r[2])) for r in store._r.execute(sql, args).fetchall()]
