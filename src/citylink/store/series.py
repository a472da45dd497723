"""The service page's reads (:mod:`citylink.dashboard.service`), written once for both engines like
:mod:`.dashboard`: the ids of a service's entities, and one attribute's observations over the service's
entities aggregated per time bucket in the database.  They return rows of every entity asked for; the caller
decides what its reader may see."""
from __future__ import annotations

from .base import marks


def _not_of(store, exclude_sources: list[str], column: str) -> str:
    return f" AND {column} NOT IN ({marks(store, exclude_sources)})" if exclude_sources else ""


def entity_ids(store, service: str, types: list[str], exclude_sources: list[str]) -> list[str]:
    """The ids of the entities of ``service`` of ``types`` that are not of ``exclude_sources``, in order."""
    if not types:
        return []
    sql = (f"SELECT id FROM entities WHERE service = {store.PH} AND type IN ({marks(store, types)})"
           f"{_not_of(store, exclude_sources, 'source')} ORDER BY id")
    return [r[0] for r in store._r.execute(sql, (service, *types, *exclude_sources)).fetchall()]


def buckets(store, service: str, types: list[str], iri: str, exclude_sources: list[str], *, start: int, end: int,
            width: int, origin: int) -> list[tuple[int, float, float, float, int]]:
    """(bucket, min, mean, max, count) of the numbers of attribute ``iri`` (default instance) observed in
    [start, end) on the entities of ``service`` of ``types`` that are not of ``exclude_sources``; bucket
    ``n`` is [origin + n·width, origin + (n+1)·width) (µs), and only buckets with observations come back,
    in order.  Numbers only (``value_json IS NULL``): PostgreSQL answers from its numeric index alone."""
    if not types:
        return []
    p = store.PH
    at = store.US_SQL.format("o.observed_at")
    sql = (f"SELECT ({at} - CAST({p} AS BIGINT)) / CAST({p} AS BIGINT) AS b, min(o.value_num), avg(o.value_num), "
           "max(o.value_num), count(*) FROM observations o JOIN entities e ON e.eid = o.eid "
           f"JOIN attributes a ON a.aid = o.aid WHERE e.service = {p} AND e.type IN ({marks(store, types)})"
           f"{_not_of(store, exclude_sources, 'e.source')} AND a.iri = {p} AND o.dataset_id = '' "
           f"AND o.value_json IS NULL AND o.observed_at >= {p} AND o.observed_at < {p} GROUP BY b ORDER BY b")
    args = (origin, width, service, *types, *exclude_sources, iri, store.instant(start), store.instant(end))
    return [(int(b), float(lo), float(mean), float(hi), int(n))
            for b, lo, mean, hi, n in store._r.execute(sql, args).fetchall()]
