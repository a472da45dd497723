"""HTTP poll: fetch a vendor's REST API on an interval, from where the last poll got to.

Each poll is ``GET transport.url`` with ``transport.cursor_param=<cursor>`` (when the source
has one).  The response body is cut into messages by the source's payload format (a JSON
array: one message per element), archived and published like any other transport.  The next
cursor is the largest value of ``transport.cursor_from`` among the records received; it is
kept in the store, so a restart goes on from there.  A vendor that returns the boundary
record again only makes a duplicate.

A failing vendor (no answer, 5xx, a body that is not its format) is retried with exponential
back-off up to ``max_backoff`` seconds and reported unhealthy in :attr:`HttpPoll.health`;
a body that arrived is archived whatever it holds (the normalizer quarantines what it must).
Header values may name environment variables (``${VENDOR_API_KEY}``): secrets stay out of specs.
"""
from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass, field

import httpx
import orjson

from .. import payload
from ..spec.model import duration_seconds
from . import Transport, register

log = logging.getLogger(__name__)

register(Transport(
    name="http_poll",
    title={"ko": "HTTP 조회(폴링)", "en": "HTTP poll"},
    profile=(
        "The vendor offers a REST endpoint (`transport.url`) that CityLink polls every `transport.interval`. "
        "It answers `GET` with the messages since a cursor: CityLink sends `transport.cursor_param=<cursor>` "
        "and takes the next cursor from the largest `transport.cursor_from` value of what it received, so the "
        "endpoint should return records strictly after the cursor, oldest first. Answer 200 with the body in the "
        "source's payload format (a JSON array of messages, or JSON lines). On 5xx or no answer CityLink retries "
        "with back-off. Credentials go in `transport.headers` as `${ENVIRONMENT_VARIABLE}` references."),
    keys={"url": "the endpoint, e.g. https://api.vendor.example/v1/readings",
          "interval": "how often to poll, ISO 8601 (PT1M) or seconds (default 60)",
          "cursor_param": "the query parameter that carries the cursor, e.g. since",
          "cursor_from": "the record field whose largest value is the next cursor, e.g. ts or id",
          "headers": "request headers; values may be ${ENV_VAR} references",
          "timeout": "seconds to wait for an answer (default 10)"},
    required=("url",),
))

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class PollHealth:
    ok: bool = True
    polls: int = 0
    failures: int = 0              # consecutive
    last_error: str | None = None
    last_success_us: int | None = None
    messages: int = 0


@dataclass
class _Poller:
    source: str
    url: str
    interval: float
    cursor_param: str | None
    cursor_from: str | None
    headers: dict[str, str]
    timeout: float
    health: PollHealth = field(default_factory=PollHealth)


class HttpPoll:
    """Polls every ``http_poll`` source in force, each on its own interval (one thread for all)."""

    def __init__(self, platform, *, max_backoff: float = 300.0, client: httpx.Client | None = None):
        self.platform = platform
        self.max_backoff = max_backoff
        self.client = client or httpx.Client(follow_redirects=True)
        self._stop = threading.Event()
        self._due: dict[str, float] = {}
        self._lock = threading.Lock()  # one poll at a time: two with one cursor would fetch twice
        self.pollers: dict[str, _Poller] = {}
        self._thread = threading.Thread(target=self._run, name="citylink-http-poll", daemon=True)

    @property
    def health(self) -> dict[str, PollHealth]:
        return {sid: p.health for sid, p in self.pollers.items()}

    def start(self) -> "HttpPoll":
        self.sync()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def sync(self) -> None:
        """Follow the specs in force: a poller per ``http_poll`` source."""
        wanted = {}
        for sid, src in self.platform.specs.sources.items():
            t = src.transport
            if t["type"] != "http_poll":
                continue
            interval = t.get("interval", 60)
            seconds = duration_seconds(interval) if isinstance(interval, str) else float(interval)
            old = self.pollers.get(sid)
            wanted[sid] = _Poller(sid, t["url"], seconds, t.get("cursor_param"), t.get("cursor_from"),
                                  {k: _ENV.sub(lambda m: os.environ.get(m.group(1), ""), str(v))
                                   for k, v in (t.get("headers") or {}).items()},
                                  float(t.get("timeout", 10)), old.health if old else PollHealth())
        self.pollers = wanted
        self._due = {sid: self._due.get(sid, 0.0) for sid in wanted}

    def _run(self) -> None:
        import time
        revision = self.platform.revision
        while not self._stop.is_set():
            if self.platform.revision != revision:
                revision = self.platform.revision
                self.sync()
            now = time.monotonic()
            for sid, due in list(self._due.items()):
                if due <= now and sid in self.pollers:
                    self._due[sid] = now + self.poll(self.pollers[sid])
            wait = min(self._due.values(), default=now + 1.0) - time.monotonic()
            self._stop.wait(max(0.01, min(wait, 1.0)))

    def poll(self, p: _Poller) -> float:
        """One poll of one source; returns the seconds until the next one (the interval, or a back-off)."""
        with self._lock:
            return self._poll(p)

    def catch_up(self, max_polls: int = 1000) -> int:
        """Poll every source now, again and again until a poll brings nothing new (or fails); returns the
        messages fetched.  For a caller that knows the vendor has news, such as a simulator."""
        total = 0
        for p in list(self.pollers.values()):
            for _ in range(max_polls):
                before = p.health.messages
                self.poll(p)
                if p.health.messages == before or not p.health.ok:
                    break
                total += p.health.messages - before
        return total

    def _poll(self, p: _Poller) -> float:
        platform = self.platform
        p.health.polls += 1
        params = {}
        cursor = platform.store.poll_cursor(p.source)
        if p.cursor_param and cursor is not None:
            params[p.cursor_param] = cursor
        try:
            r = self.client.get(p.url, params=params, headers=p.headers, timeout=p.timeout)
            if r.status_code >= 500 or r.status_code in (408, 429):
                raise httpx.HTTPStatusError(f"{r.status_code} from the vendor", request=r.request, response=r)
            if r.status_code >= 400:  # the request is wrong: retrying soon will not help either
                raise httpx.HTTPStatusError(f"{r.status_code} from the vendor: {r.text[:200]}", request=r.request,
                                            response=r)
        except httpx.HTTPError as e:
            return self._failed(p, f"{type(e).__name__}: {e}")
        body = r.content
        spec = platform.specs.sources.get(p.source)
        if spec is None:
            return p.interval
        parts = list(payload.get(spec.payload["format"]).split(body, spec.payload)) if body.strip() else []
        if parts:
            messages = platform.make_messages(p.source, [(b, dict(m, url=str(r.url))) for b, m in parts], "http_poll")
            platform.submit(messages)
            p.health.messages += len(messages)
        nxt = _next_cursor(body, spec.payload, p.cursor_from, cursor)
        if nxt is not None and nxt != cursor:
            platform.store.set_poll_cursor(p.source, nxt, platform.clock.now_us())
        if body.strip() and parts and nxt is None and p.cursor_from:
            # archived (and the normalizer will say what is wrong), but the cursor cannot move on
            return self._failed(p, f"no {p.cursor_from!r} in the answer: the cursor stays at {cursor!r}")
        p.health.ok, p.health.failures, p.health.last_error = True, 0, None
        p.health.last_success_us = platform.clock.now_us()
        platform.store.set_transport_health(p.source, None, p.health.last_success_us)
        return p.interval

    def _failed(self, p: _Poller, error: str) -> float:
        p.health.ok = False
        p.health.failures += 1
        p.health.last_error = error
        self.platform.store.set_transport_health(p.source, error[:500], self.platform.clock.now_us())
        backoff = min(self.max_backoff, min(p.interval, 1.0) * 2 ** (p.health.failures - 1))
        log.warning("polling %s failed (%d in a row): %s; next try in %.1f s", p.source, p.health.failures, error,
                    backoff)
        return backoff


def _next_cursor(body: bytes, cfg: dict, cursor_from: str | None, current: str | None) -> str | None:
    """The largest ``cursor_from`` value among the records of a JSON answer, never behind ``current``
    (numbers compare as numbers, anything else as text); None when records came without one."""
    if not cursor_from:
        return current
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    for part in (cfg["records"].split(".") if cfg.get("records") else []):
        doc = doc.get(part) if isinstance(doc, dict) else None
    items = doc if isinstance(doc, list) else [doc]
    values = [r.get(cursor_from) for r in items if isinstance(r, dict) and r.get(cursor_from) is not None]
    if not values:
        return None if items else current
    if all(type(v) in (int, float) for v in values):
        best = max(values + ([float(current)] if current is not None and _numeric(current) else []))
        return str(int(best)) if float(best).is_integer() else str(best)
    best = max(str(v) for v in values)
    return max(best, current) if current is not None else best


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
