"""A real HTTP receiver for notifications: a threaded ``http.server`` on 127.0.0.1 at a free port that
records every POST.  It answers with ``statuses`` in turn (the last one repeats; default 200), or, with
``hang``, never answers until it is closed — to show retries and timeouts without mocking anything."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict
    at: float            # time.monotonic() on arrival
    raw: bytes = b""     # the body as it came (a signature is over these bytes)


class Receiver:
    def __init__(self, statuses: list[int] | None = None, *, hang: bool = False):
        self.statuses = list(statuses or [200])
        self.hang = hang
        self.received: list[Received] = []
        self.attempts = 0
        self._cond = threading.Condition()
        self._release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                with outer._cond:
                    outer.attempts += 1
                    status = outer.statuses[min(outer.attempts, len(outer.statuses)) - 1]
                    outer._cond.notify_all()
                if outer.hang:
                    outer._release.wait(30)
                    return
                if 200 <= status < 300:
                    with outer._cond:
                        outer.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                       json.loads(raw), time.monotonic(), raw))
                        outer._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                """Quiet: the tests read what arrived, not the server's log."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, n: int, timeout: float = 15.0) -> list[Received]:
        """The first ``n`` notifications received, waiting up to ``timeout`` s for them (fails if fewer)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < n:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.received)} notifications received, {n} expected"
                self._cond.wait(left)
            return list(self.received[:n])

    def wait_attempts(self, n: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.attempts < n:
                left = deadline - time.monotonic()
                assert left > 0, f"{self.attempts} requests arrived, {n} expected"
                self._cond.wait(left)

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
