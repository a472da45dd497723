"""The device page's reads (:mod:`citylink.dashboard.device`), written once for both engines like
:mod:`.dashboard`: how many numbers each attribute of one entity has in a time range (to choose between
raw points and periods aggregated by :meth:`Store.aggregate`), the changes of its other values, and the raw
messages that fed it.  They return what the entity has; the caller decides what its reader may see."""
from __future__ import annotations

from typing import Iterable

from .base import marks


def number_counts(store, entity_id: str, iris: Iterable[str], start: int, end: int) -> dict[tuple[str, str], int]:
    """(attribute IRI, datasetId) → how many numbers the entity has of it observed in [start, end)."""
    iris = list(iris)
    if not iris:
        return {}
    p = store.PH
    sql = ("SELECT a.iri, x.dataset_id, count(*) FROM observations x JOIN attributes a ON a.aid = x.aid "
           f"WHERE x.eid = (SELECT eid FROM entities WHERE id = {p}) AND a.iri IN ({marks(store, iris)}) "
           f"AND x.observed_at >= {p} AND x.observed_at < {p} AND x.value_json IS NULL "
           "GROUP BY a.iri, x.dataset_id")
    rows = store._r.execute(sql, (entity_id, *iris, store.instant(start), store.instant(end))).fetchall()
    return {(r[0], r[1]): int(r[2]) for r in rows}


def changes(store, entity_id: str, iris: Iterable[str], start: int, end: int, limit: int
            ) -> list[tuple[str, str, int, str | None, float | None]]:
    """(attribute IRI, datasetId, observedAt µs, value_json, value_num) of each instance observed in [start,
    end) whose value differs from the one before it (the first in the range counts as a change): the newest
    ``limit`` + 1 per attribute and datasetId (one more than asked: the caller tells there are more), by
    attribute and time."""
    iris = list(iris)
    if not iris:
        return []
    p = store.PH
    value = "coalesce(x.value_json, CAST(x.value_num AS TEXT))"
    sql = (f"SELECT iri, dataset_id, t, value_json, value_num FROM ("
           f" SELECT c.*, row_number() OVER (PARTITION BY c.iri, c.dataset_id ORDER BY c.t DESC) AS rn FROM ("
           f"  SELECT a.iri, x.dataset_id, {store.US_SQL.format('x.observed_at')} AS t, x.value_json, x.value_num,"
           f"   {value} AS cur, lag({value}) OVER (PARTITION BY x.aid, x.dataset_id ORDER BY x.observed_at) AS prev"
           f"  FROM observations x JOIN attributes a ON a.aid = x.aid"
           f"  WHERE x.eid = (SELECT eid FROM entities WHERE id = {p}) AND a.iri IN ({marks(store, iris)})"
           f"  AND x.observed_at >= {p} AND x.observed_at < {p}) c"
           f" WHERE c.prev IS NULL OR c.prev <> c.cur) d "
           f"WHERE rn <= {p} ORDER BY iri, dataset_id, t")
    rows = store._r.execute(sql, (entity_id, *iris, store.instant(start), store.instant(end), limit + 1)).fetchall()
    return [(r[0], r[1], int(r[2]), r[3], r[4]) for r in rows]


def raw_ids(store, entity_id: str, limit: int) -> list[int]:
    """The ids of the newest ``limit`` raw messages that gave the entity an observation, newest first (raw
    ids are in order of arrival)."""
    p = store.PH
    sql = (f"SELECT x.raw_id FROM observations x WHERE x.eid = (SELECT eid FROM entities WHERE id = {p}) "
           f"GROUP BY x.raw_id ORDER BY x.raw_id DESC LIMIT {p}")
    return [int(r[0]) for r in store._r.execute(sql, (entity_id, limit)).fetchall()]
