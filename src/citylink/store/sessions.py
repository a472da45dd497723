"""The dashboard's sign-in sessions (``sessions``), written once for both engines: each function takes the store
first and uses its ``PH``, ``_tx()`` and ``_r`` only.  Only a hash of a session's id is kept; a session is
live while it has not ended, not expired and its account is enabled.  Times in µs since the epoch."""
from __future__ import annotations

from .base import UserRow

_USER = "u.login, u.name, u.department, u.scopes, u.created_at, u.disabled_at, u.password_hash IS NOT NULL"


def open_session(store, id_hash: str, login: str, csrf: str, now: int, expires_at: int) -> None:
    with store._tx() as c:
        c.execute(f"INSERT INTO sessions(id_hash, login, csrf, created_at, expires_at) "
                  f"VALUES ({','.join([store.PH] * 5)})", (id_hash, login, csrf, now, expires_at))


def live_session(store, id_hash: str, now: int) -> tuple[UserRow, str] | None:
    """The account of a live session and its CSRF token; None when there is no such session, or it ended,
    expired, or its account was disabled."""
    ph = store.PH
    row = store._r.execute(f"SELECT {_USER}, s.csrf FROM sessions s JOIN users u ON u.login = s.login "
                           f"WHERE s.id_hash={ph} AND s.ended_at IS NULL AND s.expires_at > {ph} "
                           f"AND u.disabled_at IS NULL", (id_hash, now)).fetchone()
    return (UserRow.of(row[:7]), row[7]) if row else None


def end_session(store, id_hash: str, now: int) -> bool:
    """Sign out: False when the session was not live."""
    with store._tx() as c:
        return c.execute(f"UPDATE sessions SET ended_at={store.PH} WHERE id_hash={store.PH} AND ended_at IS NULL "
                         f"RETURNING id_hash", (now, id_hash)).fetchone() is not None


def prune_sessions(store, before: int) -> None:
    """Forget the sessions that expired or ended before ``before``."""
    with store._tx() as c:
        c.execute(f"DELETE FROM sessions WHERE expires_at < {store.PH} OR ended_at < {store.PH}", (before, before))
