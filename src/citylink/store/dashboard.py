"""The dashboard's reads (:mod:`citylink.dashboard`), written once for both engines like :mod:`.alarms`:
entities counted and placed, current values of a few attributes, a sum over a recent time window.  They
return rows of every entity asked for; the caller decides what its reader may see."""
from __future__ import annotations

from typing import Iterable

from .base import marks


def entity_counts(store) -> list[tuple[str, str, str, int]]:
    """(service, type, source, how many entities) for every combination that has entities."""
    rows = store._r.execute("SELECT service, type, source, count(*) FROM entities GROUP BY service, type, source")
    return [tuple(r) for r in rows.fetchall()]


def positions(store, services: Iterable[str]) -> list[tuple[str, str, str, str, float, float]]:
    """(id, type, service, source, lon, lat) of the entities of ``services`` that have a position, by service
    and id."""
    services = list(services)
    if not services:
        return []
    sql = (f"SELECT id, type, service, source, lon, lat FROM entities WHERE service IN ({marks(store, services)}) "
           f"AND lon IS NOT NULL AND lat IS NOT NULL ORDER BY service, id")
    return [tuple(r) for r in store._r.execute(sql, services).fetchall()]


def current_values(store, service: str, types: list[str], iris: list[str]
                   ) -> list[tuple[str, str, str, float | None, float | None, str, float | None, str | None]]:
    """(id, type, source, lon, lat, attribute IRI, value_num, value_json) of the current value (default
    instance) of each of ``iris`` on the entities of ``service`` of ``types``."""
    if not types or not iris:
        return []
    p = store.PH
    sql = ("SELECT e.id, e.type, e.source, e.lon, e.lat, a.iri, x.value_num, x.value_json "
           "FROM entities e JOIN entity_attrs x ON x.eid = e.eid JOIN attributes a ON a.aid = x.aid "
           f"WHERE e.service = {p} AND e.type IN ({marks(store, types)}) AND a.iri IN ({marks(store, iris)}) "
           "AND x.dataset_id = ''")
    return [tuple(r) for r in store._r.execute(sql, (service, *types, *iris)).fetchall()]


def observed_sums(store, service: str, types: list[str], iri: str, since_us: int) -> list[tuple[str, float]]:
    """(source, sum of the values) of attribute ``iri`` (default instance) observed at or after ``since_us`` on
    the entities of ``service`` of ``types``, per source."""
    if not types:
        return []
    p = store.PH
    sql = ("SELECT e.source, sum(o.value_num) FROM observations o JOIN entities e ON e.eid = o.eid "
           "JOIN attributes a ON a.aid = o.aid "
           f"WHERE e.service = {p} AND e.type IN ({marks(store, types)}) AND a.iri = {p} "
           f"AND o.dataset_id = '' AND o.observed_at >= {p} GROUP BY e.source")
    rows = store._r.execute(sql, (service, *types, iri, store.instant(since_us))).fetchall()
    return [(r[0], float(r[1] or 0)) for r in rows]
