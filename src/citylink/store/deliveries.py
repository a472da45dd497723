"""The alarm delivery log of the store (``alarm_deliveries``, ``alarm_delivery_attempts``), written once for
both engines: each function takes the store first and uses its ``PH``, ``_tx()`` and ``_r`` only.

A delivery is one alarm event to one department through one channel target.  Its row is its whole state:
``pending`` (due at ``next_at``), ``delivered`` or ``failed``.  The notifier (:mod:`citylink.alarms.notify`)
enqueues rows, claims the due ones, and records each attempt; the API and the CLI list them.

Claiming is a lease: :func:`claim_due` moves ``next_at`` of the rows it returns past ``lease_until`` in the
transaction that selects them, so no other sender (another thread, another process on the same PostgreSQL)
takes them meanwhile, and a sender that dies mid-send leaves rows that fall due again by themselves.  Times
are integers, µs since the epoch (UTC), on both engines."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
STATUSES = (PENDING, DELIVERED, FAILED)
CHANNELS = ("webhook", "email")     # what the log may hold; the senders are registered in alarms/notify
MAX_LIST = 1000                     # deliveries() returns at most this many rows

_COLS = ("id, alarm_id, event_seq, event_kind, event_at, channel, department, target, secret_env, body, status, "
         "attempts, next_at, last_status, last_error, created_at, delivered_at")


@dataclass(frozen=True)
class NewDelivery:
    """A delivery to queue: one event to one department through one channel target."""
    alarm_id: str
    event_seq: int | None
    event_kind: str
    event_at: int
    channel: str
    department: str
    target: str                  # the URL, or the department's addresses joined by ", "
    body: str                    # the JSON text as it will be sent
    secret_env: str | None = None


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    alarm_id: str
    event_seq: int | None
    event_kind: str
    event_at: int
    channel: str
    department: str
    target: str
    secret_env: str | None
    body: str
    status: str
    attempts: int
    next_at: int
    last_status: int | None
    last_error: str | None
    created_at: int
    delivered_at: int | None

    @classmethod
    def of(cls, r) -> "DeliveryRow":
        return cls(*r)


@dataclass(frozen=True)
class AttemptRow:
    """One attempt of a delivery: ``n`` counts from 1; ``error`` None when it was delivered."""
    delivery_id: int
    n: int
    at: int
    status: int | None
    error: str | None


def enqueue(store, rows: Iterable[NewDelivery], now: int) -> list[int]:
    """Queue deliveries, due at ``now``, in one transaction; the ids of those queued.  A delivery queued before
    (the same alarm, event kind and time, channel, department and target) is not queued again."""
    ph = store.PH
    sql = (f"INSERT INTO alarm_deliveries(alarm_id, event_seq, event_kind, event_at, channel, department, target, "
           f"secret_env, body, status, attempts, next_at, created_at) VALUES ({','.join([ph] * 13)}) "
           "ON CONFLICT DO NOTHING RETURNING id")
    ids = []
    with store._tx() as c:
        for d in rows:
            row = c.execute(sql, (d.alarm_id, d.event_seq, d.event_kind, d.event_at, d.channel, d.department,
                                  d.target, d.secret_env, d.body, PENDING, 0, now, now)).fetchone()
            if row is not None:
                ids.append(row[0])
    return ids


def claim_due(store, now: int, lease_until: int, *, limit: int = 100,
              exclude_targets: Iterable[str] = ()) -> list[DeliveryRow]:
    """The pending deliveries due at ``now`` (oldest due first, at most ``limit``, none to ``exclude_targets``),
    each leased to the caller: its ``next_at`` becomes ``lease_until`` until :func:`record_attempt` or
    :func:`release` says otherwise."""
    ph = store.PH
    ex = sorted(set(exclude_targets))
    not_busy = f" AND target NOT IN ({','.join([ph] * len(ex))})" if ex else ""
    # next_at is checked again outside the sub-select: a row another transaction claimed meanwhile no longer
    # matches when PostgreSQL re-reads it after the other's commit (READ COMMITTED), so it is not taken twice
    sql = (f"UPDATE alarm_deliveries SET next_at = {ph} WHERE status = {ph} AND next_at <= {ph} AND id IN "
           f"(SELECT id FROM alarm_deliveries WHERE status = {ph} AND next_at <= {ph}{not_busy} "
           f"ORDER BY next_at, id LIMIT {ph}) RETURNING {_COLS}")
    with store._tx() as c:
        rows = c.execute(sql, (lease_until, PENDING, now, PENDING, now, *ex, limit)).fetchall()
    return sorted((DeliveryRow.of(r) for r in rows), key=lambda d: (d.next_at, d.id))


def release(store, ids: Iterable[int], next_at: int) -> None:
    """Give leased deliveries back, due at ``next_at``, without counting an attempt (a sender stopping, or a
    target found down by an earlier delivery of the same claim)."""
    ph = store.PH
    with store._tx() as c:
        c.executemany(f"UPDATE alarm_deliveries SET next_at = {ph} WHERE id = {ph} AND status = {ph}",
                      [(next_at, i, PENDING) for i in ids])


def record_attempt(store, delivery_id: int, now: int, status: str, *, code: int | None = None,
                   error: str | None = None, next_at: int | None = None) -> None:
    """Record an attempt made at ``now`` and what the delivery becomes: ``status`` delivered, failed, or
    pending again (due at ``next_at``); ``code`` the HTTP status or SMTP reply code if one came back,
    ``error`` why it failed."""
    if status not in STATUSES:
        raise ValueError(f"status: {status!r} is not one of {', '.join(STATUSES)}")
    if status == PENDING and next_at is None:
        raise ValueError("next_at: a delivery left pending needs the time it is due again")
    ph = store.PH
    with store._tx() as c:
        row = c.execute(f"UPDATE alarm_deliveries SET attempts = attempts + 1, status = {ph}, last_status = {ph}, "
                        f"last_error = {ph}, next_at = {ph}, delivered_at = {ph} WHERE id = {ph} RETURNING attempts",
                        (status, code, error, next_at if status == PENDING else now,
                         now if status == DELIVERED else None, delivery_id)).fetchone()
        if row is None:
            raise ValueError(f"delivery_id: no delivery {delivery_id}")
        c.execute(f"INSERT INTO alarm_delivery_attempts(delivery_id, n, at, status, error) "
                  f"VALUES ({ph},{ph},{ph},{ph},{ph})", (delivery_id, row[0], now, code, error))


def next_due(store, exclude_targets: Iterable[str] = ()) -> int | None:
    """When the first pending delivery (to none of ``exclude_targets``) is due; None when none is pending."""
    ph = store.PH
    ex = sorted(set(exclude_targets))
    not_busy = f" AND target NOT IN ({','.join([ph] * len(ex))})" if ex else ""
    row = store._r.execute(f"SELECT min(next_at) FROM alarm_deliveries WHERE status = {ph}{not_busy}",
                           (PENDING, *ex)).fetchone()
    return row[0] if row else None


def deliveries(store, *, alarm_id: str | None = None, status: str | None = None, department: str | None = None,
               channel: str | None = None, since: int | None = None, limit: int = 100) -> list[DeliveryRow]:
    """The delivery log, newest first: deliveries of one alarm, in one status, to one department, through one
    channel, queued at or after ``since`` (µs); at most ``limit`` (1 to :data:`MAX_LIST`).  A ValueError names
    the parameter that is wrong."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"status: {status!r} is not one of {', '.join(STATUSES)}")
    if channel is not None and channel not in CHANNELS:
        raise ValueError(f"channel: {channel!r} is not one of {', '.join(CHANNELS)}")
    if not 1 <= limit <= MAX_LIST:
        raise ValueError(f"limit: {limit} is not between 1 and {MAX_LIST}")
    ph = store.PH
    where, args = [], []
    for col, value in (("alarm_id", alarm_id), ("status", status), ("department", department),
                       ("channel", channel)):
        if value is not None:
            where.append(f"{col} = {ph}")
            args.append(value)
    if since is not None:
        where.append(f"created_at >= {ph}")
        args.append(since)
    sql = (f"SELECT {_COLS} FROM alarm_deliveries" + (" WHERE " + " AND ".join(where) if where else "")
           + f" ORDER BY created_at DESC, id DESC LIMIT {ph}")
    return [DeliveryRow.of(r) for r in store._r.execute(sql, (*args, limit)).fetchall()]


def delivery(store, delivery_id: int) -> DeliveryRow | None:
    row = store._r.execute(f"SELECT {_COLS} FROM alarm_deliveries WHERE id = {store.PH}", (delivery_id,)).fetchone()
    return DeliveryRow.of(row) if row else None


def attempts(store, delivery_id: int) -> list[AttemptRow]:
    """Every attempt of a delivery, first first."""
    rows = store._r.execute(f"SELECT delivery_id, n, at, status, error FROM alarm_delivery_attempts "
                            f"WHERE delivery_id = {store.PH} ORDER BY n", (delivery_id,)).fetchall()
    return [AttemptRow(*r) for r in rows]
