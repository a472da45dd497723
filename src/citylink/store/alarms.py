"""The alarm tables of the store (migrations ``*_alarms.sql``), written once for both engines:
rule state (:func:`put_rule_states`, :func:`rule_states`), alarms as they stand and their history
(:func:`save_alarms`, :func:`alarms`, :func:`history`).  ``Store`` exposes each as a method."""
from __future__ import annotations

from dataclasses import asdict, fields
from typing import Iterable

import orjson

from ..alarms.model import OPEN_STATES, Alarm, AlarmEvent

_COLUMNS = ("id", "rule", "entity", "entity_type", "service", "department", "severity", "state", "raised_at",
            "last_seen_at", "count", "cleared_at")
_BODY = tuple(f.name for f in fields(Alarm) if f.name not in _COLUMNS)


def _row(a: Alarm) -> tuple:
    d = asdict(a)
    return (*(d[c] for c in _COLUMNS), orjson.dumps({k: d[k] for k in _BODY}).decode())


def _alarm(r) -> Alarm:
    body = orjson.loads(r[12])
    body["recipients"] = tuple(body.get("recipients") or ())
    return Alarm(**dict(zip(_COLUMNS, r[:12])), **body)


_SELECT = f"SELECT {', '.join(_COLUMNS)}, body FROM alarms"


# -- rule state ------------------------------------------------------------------------------------
def put_rule_states(store, rows: Iterable[tuple], now: int) -> None:
    """Record (rule, entity, since, due, data) rows — ``data`` a JSON-able value or None — replacing what
    was recorded; a row whose since, due and data are all None is deleted (nothing to remember)."""
    p = store.PH
    keep, drop = [], []
    for rule, entity, since, due, data in rows:
        if since is None and due is None and data is None:
            drop.append((rule, entity))
        else:
            keep.append((rule, entity, since, due, None if data is None else orjson.dumps(data).decode(), now))
    with store._tx() as c:
        if drop:
            c.executemany(f"DELETE FROM rule_state WHERE rule={p} AND entity={p}", drop)
        if keep:
            c.executemany(f"INSERT INTO rule_state(rule, entity, since, due, data, updated_at) "
                          f"VALUES ({p},{p},{p},{p},{p},{p}) ON CONFLICT (rule, entity) DO UPDATE SET "
                          f"since=excluded.since, due=excluded.due, data=excluded.data, "
                          f"updated_at=excluded.updated_at", keep)


def rule_states(store) -> dict[tuple[str, str], tuple[int | None, int | None, object]]:
    """(rule, entity) → (since, due, data) as the rule engine last recorded them."""
    rows = store._r.execute("SELECT rule, entity, since, due, data FROM rule_state").fetchall()
    return {(r[0], r[1]): (r[2], r[3], None if r[4] is None else orjson.loads(r[4])) for r in rows}


def delete_rule_states(store, rules: Iterable[str]) -> None:
    """Forget the state of rules no longer in force."""
    with store._tx() as c:
        c.executemany(f"DELETE FROM rule_state WHERE rule={store.PH}", [(r,) for r in rules])


# -- alarms and their history ----------------------------------------------------------------------
def save_alarms(store, steps: list[tuple[str, Alarm, int, str | None, str | None]]) -> list[AlarmEvent]:
    """Record steps (kind, the alarm after it, at, by, comment) in one transaction: each alarm as it now
    stands, and the step in its history.  Returns the events, numbered."""
    p = store.PH
    cols = ", ".join(_COLUMNS)
    sets = ", ".join(f"{c}=excluded.{c}" for c in _COLUMNS[1:]) + ", body=excluded.body"
    upsert = (f"INSERT INTO alarms({cols}, body) VALUES ({', '.join([p] * (len(_COLUMNS) + 1))}) "
              f"ON CONFLICT (id) DO UPDATE SET {sets}")
    insert = (f"INSERT INTO alarm_events(alarm_id, kind, at, actor, comment, severity, state) "
              f"VALUES ({p},{p},{p},{p},{p},{p},{p}) RETURNING seq")
    out = []
    with store._tx() as c:
        for kind, a, at, by, comment in steps:
            c.execute(upsert, _row(a))
            seq = list(c.execute(insert, (a.id, kind, at, by, comment, a.severity, a.state)))[0][0]
            out.append(AlarmEvent(seq, kind, a, at, by, comment))
    return out


def alarm(store, alarm_id: str) -> Alarm | None:
    r = store._r.execute(f"{_SELECT} WHERE id={store.PH}", (alarm_id,)).fetchone()
    return _alarm(r) if r else None


def alarms(store, *, states: Iterable[str] | None = None, rule: str | None = None, entity: str | None = None,
           services: Iterable[str] | None = None, departments: Iterable[str] | None = None,
           severities: Iterable[str] | None = None, since: int | None = None, until: int | None = None,
           limit: int = 100, offset: int = 0) -> list[Alarm]:
    """Alarms, newest raised first, filtered: ``states`` (e.g. :data:`OPEN_STATES`), a rule, an entity,
    services, departments (the responsible one), severities, raised in [since, until)."""
    p = store.PH
    where, args = [], []

    def among(col, values):
        values = list(values)
        where.append(f"{col} IN ({', '.join([p] * len(values))})" if values else "1=0")
        args.extend(values)

    if states is not None:
        among("state", states)
    if services is not None:
        among("service", services)
    if departments is not None:
        among("department", departments)
    if severities is not None:
        among("severity", severities)
    for col, op, value in (("rule", "=", rule), ("entity", "=", entity), ("raised_at", ">=", since),
                           ("raised_at", "<", until)):
        if value is not None:
            where.append(f"{col} {op} {p}")
            args.append(value)
    sql = (_SELECT + (" WHERE " + " AND ".join(where) if where else "")
           + f" ORDER BY raised_at DESC, id LIMIT {p} OFFSET {p}")
    return [_alarm(r) for r in store._r.execute(sql, (*args, limit, offset)).fetchall()]


def open_alarms(store) -> list[Alarm]:
    sql = f"{_SELECT} WHERE state IN ({', '.join([store.PH] * len(OPEN_STATES))})"
    return [_alarm(r) for r in store._r.execute(sql, OPEN_STATES).fetchall()]


def history(store, alarm_id: str) -> list[tuple]:
    """Every step of an alarm, oldest first: (seq, kind, at, by, comment, severity, state)."""
    return [tuple(r) for r in store._r.execute(
        f"SELECT seq, kind, at, actor, comment, severity, state FROM alarm_events WHERE alarm_id={store.PH} "
        f"ORDER BY seq", (alarm_id,)).fetchall()]


def last_seq(store) -> int:
    return store._r.execute("SELECT max(seq) FROM alarm_events").fetchone()[0] or 0


def events_after(store, seq: int, limit: int = 1000) -> list[AlarmEvent]:
    """The steps recorded after ``seq`` (by any process), each with its alarm as it now stands."""
    p = store.PH
    rows = store._r.execute(f"SELECT seq, alarm_id, kind, at, actor, comment FROM alarm_events WHERE seq > {p} "
                            f"ORDER BY seq LIMIT {p}", (seq, limit)).fetchall()
    found: dict[str, Alarm | None] = {}
    out = []
    for s, aid, kind, at, by, comment in rows:
        if aid not in found:
            found[aid] = alarm(store, aid)
        if found[aid] is not None:
            out.append(AlarmEvent(s, kind, found[aid], at, by, comment))
    return out


def open_counts(store) -> dict[str, int]:
    """Open alarms per service."""
    sql = (f"SELECT service, count(*) FROM alarms WHERE state IN ({', '.join([store.PH] * len(OPEN_STATES))}) "
           f"GROUP BY service")
    return dict(store._r.execute(sql, OPEN_STATES).fetchall())
