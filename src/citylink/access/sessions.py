"""Staff sign-in to the dashboard: a session per signed-in browser, with the same scopes as the account's API
keys (:func:`.accounts.user_viewer`).

The browser holds a random session id in a cookie that scripts cannot read (``HttpOnly``) and that other
sites' pages do not send (``SameSite=Strict``); the store keeps only its SHA-256.  Every request that changes
something sends the session's CSRF token back in a header (``X-CSRF-Token``), which a page of another origin
cannot read, so cannot send.  Failed sign-ins are limited per login and per client address (in memory, per
process); a failure says nothing about whether the login exists (:func:`.accounts.password_matches` takes as
long either way)."""
from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from ..store.sessions import end_session, live_session, open_session, prune_sessions
from .accounts import password_matches, user_viewer
from .readers import Viewer

COOKIE = "citylink_session"
CSRF_HEADER = "x-csrf-token"
LIFETIME_US = 12 * 3600 * 10**6          # a working day; then sign in again
FAILURES_PER_MINUTE = {"login": 5, "from": 30}   # failed sign-ins a minute, per login and per client address


@dataclass(frozen=True)
class Session:
    """A live session: who it reads as, and the token a change must carry."""
    viewer: Viewer
    login: str
    name: str
    department: str | None
    scopes: tuple[str, ...]
    csrf: str


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Sessions:
    def __init__(self, store, clock):
        self.store, self.clock = store, clock
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)   # (kind, who) → when
        self._lock = threading.Lock()

    def throttled(self, login: str, client: str) -> float | None:
        """None if this login may try from this address now, else the seconds to wait."""
        now = time.monotonic()
        waits = []
        with self._lock:
            for key in (("login", login), ("from", client)):
                times = self._failures.get(key)
                while times and times[0] <= now - 60:
                    times.popleft()
                if times is not None and len(times) >= FAILURES_PER_MINUTE[key[0]]:
                    waits.append(times[0] + 60 - now)
                elif times is not None and not times:
                    del self._failures[key]
        return max(waits) if waits else None

    def sign_in(self, login: str, password: str, client: str = "") -> tuple[str, Session] | None:
        """A new session (its id, for the cookie; and the session) if ``password`` is the enabled account's;
        a failure counts against the login and the client's address (:meth:`throttled`)."""
        found = self.store.user(login)
        matches = password_matches(found[1] if found else None, password)
        if found is None or found[0].disabled_at is not None or not matches:
            now = time.monotonic()
            with self._lock:
                self._failures[("login", login)].append(now)
                self._failures[("from", client)].append(now)
            return None
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = self.clock.now_us()
        open_session(self.store, _hash(session_id), login, csrf, now, now + LIFETIME_US)
        prune_sessions(self.store, now - LIFETIME_US)
        return session_id, self._session(found[0], csrf)

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        found = live_session(self.store, _hash(session_id), self.clock.now_us())
        return self._session(*found) if found else None

    def sign_out(self, session_id: str) -> bool:
        return end_session(self.store, _hash(session_id), self.clock.now_us())

    @staticmethod
    def _session(row, csrf: str) -> Session:
        return Session(user_viewer(row), row.login, row.name, row.department, row.scopes, csrf)
