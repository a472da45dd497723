"""HTTP poll against a real local HTTP server playing the vendor's REST API."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from cltest import acme_body, acme_variant, make_platform, wait_until
from citylink.adapters.http_poll import HttpPoll, _next_cursor

SOURCE = "bins-acme-poll"


class Vendor:
    """Readings with increasing ``seq``; ``GET /readings?since=N`` answers those after N (oldest first, at
    most ``page`` of them).  ``fail`` answers 500 that many times; ``garbage`` answers a broken body once."""

    def __init__(self):
        self.readings: list[dict] = []
        self.requests: list[dict] = []
        self.fail = 0
        self.garbage = False
        self.page = 50
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                q = parse_qs(urlsplit(self.path).query)
                vendor.requests.append({k: v[0] for k, v in q.items()} | {"auth": self.headers.get("Authorization")})
                if vendor.fail:
                    vendor.fail -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                if vendor.garbage:
                    vendor.garbage = False
                    body = b'[{"seq": 1, "deviceId": "oops"'
                else:
                    since = int(q.get("since", ["0"])[0])
                    body = json.dumps([r for r in vendor.readings if r["seq"] > since][:vendor.page]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/readings"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, n: int):
        start = len(self.readings)
        for i in range(start, start + n):
            r = json.loads(acme_body(f"P-{i % 7}", ts="2026-11-26T09:%02d:%02d+09:00" % (i // 60 % 60, i % 60), fill=i % 100))
            r["seq"] = i + 1
            self.readings.append(r)

    def close(self):
        self.server.shutdown()


@pytest.fixture
def vendor():
    v = Vendor()
    yield v
    v.close()


@pytest.fixture
def poll_platform(tmp_path, bins_dir, vendor, monkeypatch):
    monkeypatch.setenv("ACME_API_KEY", "s3cret")
    acme_variant(bins_dir, SOURCE, "acme-poll",
                 f"  type: http_poll\n  url: {vendor.url}\n  interval: 0.05\n  cursor_param: since\n"
                 "  cursor_from: seq\n  headers: {Authorization: 'Bearer ${ACME_API_KEY}'}")
    p = make_platform(tmp_path / "data")
    p.start(specs_dir=bins_dir.parent, watch=False)
    yield p
    p.stop()


def ledger(p):
    return p.store.ledger().get(SOURCE, {"received": 0, "pending": 0})


def done(p, n):
    return wait_until(lambda: ledger(p)["received"] == n and ledger(p)["pending"] == 0, 20)


def test_polls_page_by_page_and_never_twice(poll_platform, vendor):
    vendor.add(120)
    poller = HttpPoll(poll_platform).start()
    try:
        assert done(poll_platform, 120), ledger(poll_platform)
        vendor.add(30)
        assert done(poll_platform, 150)
        assert wait_until(lambda: len(vendor.requests) > 6, 10)  # it went on polling: nothing new, nothing twice
    finally:
        poller.stop()
    led = ledger(poll_platform)
    assert led["stored"] + led["stored_flagged"] == 150 and led["duplicate"] == 0
    assert poll_platform.store.poll_cursor(SOURCE) == "150"
    sinces = [r.get("since") for r in vendor.requests]
    assert sinces[0] is None and "50" in sinces and "100" in sinces
    assert all(r["auth"] == "Bearer s3cret" for r in vendor.requests)  # the secret came from the environment
    raw = poll_platform.store.raw_messages(source=SOURCE, limit=1)[0]
    assert raw.transport == "http_poll" and raw.meta["url"].startswith(vendor.url)


def test_a_restart_goes_on_from_the_stored_cursor(poll_platform, vendor):
    vendor.add(40)
    poller = HttpPoll(poll_platform).start()
    assert done(poll_platform, 40)
    poller.stop()
    vendor.add(10)
    again = HttpPoll(poll_platform).start()
    try:
        assert done(poll_platform, 50)
        assert wait_until(lambda: vendor.requests[-1].get("since") == "50", 10)
    finally:
        again.stop()
    assert ledger(poll_platform)["duplicate"] == 0


def test_errors_back_off_are_reported_and_recover(poll_platform, vendor):
    vendor.add(5)
    vendor.fail = 3
    poller = HttpPoll(poll_platform, max_backoff=0.2)
    poller.sync()
    p = poller.pollers[SOURCE]
    waits = [poller.poll(p) for _ in range(3)]
    assert waits == [0.05, 0.1, 0.2]  # doubling from the interval, capped
    assert not p.health.ok and p.health.failures == 3 and "500" in p.health.last_error
    stored = poll_platform.store.transport_health()[SOURCE]  # kept in the store, for every process to see
    assert not stored["ok"] and stored["failures"] == 3 and "500" in stored["last_error"]
    assert stored["last_failure_at"] and stored["last_success_at"] is None
    assert poller.poll(p) == 0.05 and p.health.ok and p.health.failures == 0
    stored = poll_platform.store.transport_health()[SOURCE]
    assert stored["ok"] and stored["failures"] == 0 and stored["last_success_at"] >= stored["last_failure_at"]
    assert done(poll_platform, 5)


def test_a_broken_answer_is_archived_and_quarantined_and_the_cursor_stays(poll_platform, vendor):
    vendor.add(5)
    vendor.garbage = True
    poller = HttpPoll(poll_platform)
    poller.sync()
    p = poller.pollers[SOURCE]
    poller.poll(p)
    assert not p.health.ok and poll_platform.store.poll_cursor(SOURCE) is None
    assert done(poll_platform, 1) and ledger(poll_platform)["quarantined"] == 1
    poller.poll(p)
    assert done(poll_platform, 6) and poll_platform.store.poll_cursor(SOURCE) == "5"


def test_no_answer_at_all_is_a_failure_not_a_crash(poll_platform, vendor):
    poller = HttpPoll(poll_platform)
    poller.sync()
    p = poller.pollers[SOURCE]
    p.url = "http://127.0.0.1:9/nothing-listens-here"
    p.timeout = 1
    assert poller.poll(p) > 0 and not p.health.ok and "ConnectError" in p.health.last_error


def test_next_cursor():
    cfg = {}
    assert _next_cursor(b'[{"seq": 3}, {"seq": 11}]', cfg, "seq", "2") == "11"
    assert _next_cursor(b'[{"seq": 3}]', cfg, "seq", "7") == "7"  # never backwards
    assert _next_cursor(b'[{"ts": "2026-11-26T09:00Z"}, {"ts": "2026-11-26T10:00Z"}]', cfg, "ts", None) == \
        "2026-11-26T10:00Z"
    assert _next_cursor(b"[]", cfg, "seq", "4") == "4"
    assert _next_cursor(b'[{"x": 1}]', cfg, "seq", "4") is None
    assert _next_cursor(b'{"data": {"items": [{"seq": 9}]}}', {"records": "data.items"}, "seq", None) == "9"
