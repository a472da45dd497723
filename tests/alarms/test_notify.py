"""Alarm notifications to departments (alarms/notify/): signed webhooks to real local HTTP receivers, e-mail to
a real local SMTP server (aiosmtpd), retries with backoff under a ManualClock, a restart that sends what was
left pending, and the delivery log (store/deliveries.py) on both store engines.

The platforms here apply only a copy of the bundled ``departments.yaml`` (webhook URLs pointed at the test's
receivers): with no service specs, nothing but the events built by hand in the test is ever notified."""
from __future__ import annotations

import re
import socket
import threading
import time
from contextlib import contextmanager
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from clreceiver import Receiver
from cltest import NOW_US, make_platform, manual_clock, pg_database, wait_until
from citylink.alarms.model import Alarm, AlarmEvent
from citylink.alarms.notify import Notifier
from citylink.clock import US
from citylink.config import BUNDLED_SPECS
from citylink.store import deliveries, open_store
from citylink.store.deliveries import DELIVERED, FAILED, PENDING, NewDelivery

DOCS = Path(__file__).resolve().parents[2] / "docs" / "alarms.md"
WELFARE, MOBILITY, SANITATION = "welfare", "welfare-mobility", "sanitation"
SECRET_ENV = {WELFARE: "CITYLINK_WEBHOOK_SECRET_WELFARE", MOBILITY: "CITYLINK_WEBHOOK_SECRET_WELFARE_MOBILITY"}
BUNDLED_URL = {WELFARE: "https://welfare.example.org/citylink/alarms",
               MOBILITY: "https://welfare-mobility.example.org/citylink/alarms"}
SECRETS = {WELFARE: "welfare-test-secret", MOBILITY: "mobility-test-secret"}
ADDRESSES = {WELFARE: ["care-alarms@example.org"], SANITATION: ["bins-alarms@example.org"]}
FAST = {"alarm_notify_attempts": 3, "alarm_notify_backoff_seconds": 2.0, "alarm_notify_timeout_seconds": 1.0}


# -- events built by hand ----------------------------------------------------------------------------
_n = [0]


def alarm(department: str = WELFARE, recipients: tuple[str, ...] | None = None, **kw) -> Alarm:
    _n[0] += 1
    fields = dict(id=f"urn:ngsi-ld:Alert:test{_n[0]:04d}", rule="no-motion",
                  entity="urn:ngsi-ld:Device:dobong:keeper:H-0042", entity_type="Device", service="safety-keeper",
                  department=department, severity="high", state="active", raised_at=NOW_US, last_seen_at=NOW_US,
                  message_ko="H-0042 가구에서 6시간 동안 움직임이 없습니다",
                  message_en="No motion at household H-0042 for 6 hours", values={"hours": 6},
                  recipients=recipients if recipients is not None else (department,), lon=127.0471, lat=37.6688)
    fields.update(kw)
    return Alarm(**fields)


def event(a: Alarm, kind: str = "raised", at: int = NOW_US, **kw) -> AlarmEvent:
    return AlarmEvent(seq=_n[0], kind=kind, alarm=a, at=at, **kw)


# -- real local servers ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RawReceiver:
    """An HTTP receiver that keeps each POST's raw bytes and headers (a signature is over the raw body)."""

    def __init__(self):
        self.requests: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.requests.append(({k.lower(): v for k, v in self.headers.items()}, raw))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 at a free port.  It answers the ``replies`` in turn to each
    message's DATA (the last one repeats) and keeps the messages it accepts; ``logins`` (user → password) turns
    on AUTH LOGIN/PLAIN (without TLS: a loopback test)."""

    def __init__(self, replies=("250 OK",), logins: dict[str, str] | None = None):
        self.replies = list(replies)
        self.attempts = 0
        self.messages: list[tuple[str, list[str], object]] = []
        self.logged_in: list[str] = []
        self.port = free_port()
        kw = {}
        if logins is not None:
            def authenticate(server, session, envelope, mechanism, data):
                ok = isinstance(data, LoginPassword) and logins.get(data.login.decode()) == data.password.decode()
                if ok:
                    self.logged_in.append(data.login.decode())
                return AuthResult(success=ok)
            kw = {"authenticator": authenticate, "auth_require_tls": False, "auth_required": True}
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **kw)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's naming
        self.attempts += 1
        reply = self.replies[min(self.attempts, len(self.replies)) - 1]
        if reply.startswith("250"):
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                  message_from_bytes(envelope.content, policy=policy.default)))
        return reply

    def close(self):
        self.controller.stop()


# -- platforms ------------------------------------------------------------------------------------------
def departments_dir(tmp_path: Path, urls: dict[str, str]) -> Path:
    """A copy of the bundled departments spec, with these departments' webhook URLs replaced."""
    text = (BUNDLED_SPECS / "departments.yaml").read_text(encoding="utf-8")
    for dep, url in urls.items():
        assert BUNDLED_URL[dep] in text
        text = text.replace(BUNDLED_URL[dep], url)
    d = tmp_path / "specs"
    d.mkdir(exist_ok=True)
    (d / "departments.yaml").write_text(text, encoding="utf-8")
    return d


@pytest.fixture
def secrets_set(monkeypatch):
    for dep, env in SECRET_ENV.items():
        monkeypatch.setenv(env, SECRETS[dep])


@contextmanager
def running(tmp_path: Path, clock, urls: dict[str, str], *, store_url: str | None = None, **settings):
    """A started platform with the departments spec applied and a started notifier (the platform's own, if it
    has one): (platform, notifier)."""
    specs = departments_dir(tmp_path, urls)
    p = make_platform(tmp_path / "data", clock, **({"store_url": store_url} if store_url else {}), **settings)
    p.start(specs_dir=specs, watch=False)
    n = getattr(p, "notifier", None)
    own = n is None
    if own:
        n = Notifier(p).start()
    try:
        yield p, n
    finally:
        if own:
            n.stop()
        p.stop()
        if store_url:
            p.store.close()


def log_of(p, a: Alarm, **kw):
    return deliveries.deliveries(p.store, alarm_id=a.id, **kw)


def one(p, a: Alarm, department: str, channel: str = "webhook"):
    (d,) = log_of(p, a, department=department, channel=channel)
    return d


def settle(p, a: Alarm, department: str, pred, channel: str = "webhook", timeout: float = 10.0):
    """The delivery once ``pred(delivery)`` holds (fails after ``timeout`` s)."""
    got = wait_until(lambda: pred(d := one(p, a, department, channel)) and d, timeout)
    assert got, f"delivery to {department} by {channel} never got there: {one(p, a, department, channel)}"
    return got


def docs_verify():
    """The ``verify`` function of the Python example in docs/alarms.md's Notifications section."""
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## Notifications"):]
    section = section[:m.start()] if (m := re.search(r"^## (?!Notifications)", section[3:], re.M)) else section
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    ns: dict = {}
    exec(code, ns)
    return ns["verify"]


# -- webhooks -------------------------------------------------------------------------------------------
def test_webhook_is_signed_with_the_secret_and_verifies_as_the_docs_say(tmp_path, clock, secrets_set):
    raw = RawReceiver()
    try:
        with running(tmp_path, clock, {WELFARE: raw.url}) as (p, n):
            a = alarm(WELFARE)
            e = event(a)
            before = int(time.time())
            n.on_events([e])
            assert wait_until(lambda: raw.requests), "the webhook was not called"
            after = int(time.time())
            d = settle(p, a, WELFARE, lambda d: d.status == DELIVERED)
        (headers, body), = raw.requests
        assert headers["content-type"] == "application/json"
        assert headers["x-citylink-event"] == "raised"
        assert headers["x-citylink-delivery"] == str(d.id)
        assert body == d.body.encode()
        assert orjson.loads(body) == orjson.loads(orjson.dumps(e.as_json()))
        sig = headers["x-citylink-signature"]
        t = int(re.fullmatch(r"t=(\d+),v1=[0-9a-f]{64}", sig).group(1))
        assert before <= t <= after          # the real time of the attempt, not the (manual) platform clock
        verify = docs_verify()
        assert verify(SECRETS[WELFARE], sig, body)
        assert not verify(SECRETS[MOBILITY], sig, body)
        assert not verify(SECRETS[WELFARE], sig, body.replace(b'"high"', b'"low"'))
        assert not verify(SECRETS[WELFARE], sig, body, tolerance=-1)   # a replay outside the tolerance
        assert (d.last_status, d.attempts, d.last_error) == (204, 1, None)
    finally:
        raw.close()


def test_500_then_200_is_retried_with_doubling_backoff_on_the_platform_clock(tmp_path, clock, secrets_set):
    with Receiver([500, 503, 200]) as r, running(tmp_path, clock, {WELFARE: r.url}, **FAST) as (p, n):
        a = alarm(WELFARE)
        n.on_events([event(a)])
        n.process_due()
        d = settle(p, a, WELFARE, lambda d: d.attempts == 1)
        assert (d.status, d.last_status, d.next_at) == (PENDING, 500, NOW_US + 2 * US)
        assert "HTTP 500" in d.last_error and r.url in d.last_error
        clock.set(NOW_US + 2 * US - 1)
        n.process_due()
        time.sleep(0.2)
        assert r.attempts == 1 and one(p, a, WELFARE).attempts == 1     # not due yet: not tried
        clock.set(NOW_US + 2 * US)
        n.process_due()
        d = settle(p, a, WELFARE, lambda d: d.attempts == 2)
        assert (d.status, d.last_status, d.next_at) == (PENDING, 503, NOW_US + 2 * US + 4 * US)   # doubled
        clock.set(NOW_US + 6 * US)
        n.process_due()
        d = settle(p, a, WELFARE, lambda d: d.status == DELIVERED)
        assert (d.attempts, d.last_status, d.last_error, d.delivered_at) == (3, 200, None, NOW_US + 6 * US)
        tries = deliveries.attempts(p.store, d.id)
        assert [(x.n, x.at, x.status) for x in tries] == [(1, NOW_US, 500), (2, NOW_US + 2 * US, 503),
                                                          (3, NOW_US + 6 * US, 200)]
        assert tries[-1].error is None and "HTTP 503" in tries[1].error
        assert r.attempts == 3 and len(r.received) == 1
        assert r.received[0].body["alarm"]["id"] == a.id


def test_a_hanging_webhook_times_out_is_retried_and_never_delays_another_department(tmp_path, clock, secrets_set):
    with Receiver(hang=True) as slow, Receiver() as fast, \
            running(tmp_path, clock, {WELFARE: slow.url, MOBILITY: fast.url}, **FAST) as (p, n):
        a = alarm(WELFARE, recipients=(WELFARE, MOBILITY))
        t0 = time.monotonic()
        n.on_events([event(a)])
        slow.wait_attempts(1)
        fast.wait_for(1, timeout=5)
        # the slow one still hangs; another event to the other department goes straight through
        b = alarm(MOBILITY)
        n.on_events([event(b)])
        got = fast.wait_for(2, timeout=5)
        assert one(p, a, WELFARE).attempts == 0, "the hanging webhook was no longer hanging: the test proves nothing"
        assert got[1].at - t0 < 0.9 and got[1].body["alarm"]["id"] == b.id
        d = settle(p, a, WELFARE, lambda d: d.attempts == 1)
        assert time.monotonic() - t0 >= 1.0
        assert (d.status, d.last_status, d.next_at) == (PENDING, None, NOW_US + 2 * US)
        assert "no answer within 1 s" in d.last_error
        assert one(p, a, MOBILITY).status == DELIVERED and one(p, b, MOBILITY).status == DELIVERED
        slow.hang = False
        clock.advance(2)
        n.process_due()
        d = settle(p, a, WELFARE, lambda d: d.status == DELIVERED)
        assert d.attempts == 2 and [x.body["alarm"]["id"] for x in slow.received] == [a.id]


def test_404_fails_at_once(tmp_path, clock, secrets_set):
    with Receiver([404]) as r, running(tmp_path, clock, {WELFARE: r.url}, **FAST) as (p, n):
        a = alarm(WELFARE)
        n.on_events([event(a)])
        n.process_due()
        d = settle(p, a, WELFARE, lambda d: d.status != PENDING)
        assert (d.status, d.attempts, d.last_status) == (FAILED, 1, 404)
        assert "HTTP 404" in d.last_error and r.url in d.last_error
        clock.advance(600)
        n.process_due()
        time.sleep(0.2)
        assert r.attempts == 1


def test_a_missing_secret_fails_the_delivery_naming_the_variable(tmp_path, clock, monkeypatch):
    monkeypatch.setenv(SECRET_ENV[MOBILITY], SECRETS[MOBILITY])
    monkeypatch.delenv(SECRET_ENV[WELFARE], raising=False)
    with Receiver() as welfare, Receiver() as mobility, \
            running(tmp_path, clock, {WELFARE: welfare.url, MOBILITY: mobility.url}, **FAST) as (p, n):
        a = alarm(WELFARE, recipients=(WELFARE, MOBILITY))
        n.on_events([event(a)])
        n.process_due()
        d = settle(p, a, WELFARE, lambda d: d.status != PENDING)
        assert (d.status, d.attempts, d.last_status) == (FAILED, 1, None)
        assert SECRET_ENV[WELFARE] in d.last_error and "unsigned" in d.last_error
        assert settle(p, a, MOBILITY, lambda d: d.status != PENDING).status == DELIVERED
        assert welfare.attempts == 0, "sent unsigned"
        assert mobility.wait_for(1)[0].headers["x-citylink-signature"].startswith("t=")


def test_a_restricted_alarm_reaches_only_its_own_department(tmp_path, clock, secrets_set):
    with Receiver() as welfare, Receiver() as mobility, \
            running(tmp_path, clock, {WELFARE: welfare.url, MOBILITY: mobility.url}) as (p, n):
        shown = alarm(WELFARE, recipients=(WELFARE, MOBILITY))
        hidden = alarm(WELFARE, recipients=(WELFARE, MOBILITY), visibility="restricted")
        n.on_events([event(shown)])
        n.on_events([event(hidden)])
        welfare.wait_for(2)
        mobility.wait_for(1)
        time.sleep(0.3)
        assert {d.department for d in log_of(p, shown)} == {WELFARE, MOBILITY}
        assert {d.department for d in log_of(p, hidden)} == {WELFARE}
        assert sorted(x.body["alarm"]["id"] for x in welfare.received) == sorted([shown.id, hidden.id])
        assert [x.body["alarm"]["id"] for x in mobility.received] == [shown.id]


def test_only_notified_kinds_are_sent_and_an_event_is_queued_once(tmp_path, clock, secrets_set):
    with Receiver() as r, running(tmp_path, clock, {WELFARE: r.url}) as (p, n):
        a = alarm(WELFARE)
        for kind in ("repeated", "acknowledged"):
            n.on_events([event(a, kind, by="kim")])
        assert log_of(p, a) == []
        e = event(a, "cleared", at=NOW_US + 60 * US, by="kim", comment="센서 교체")
        n.on_events([e])
        n.on_events([e])          # handed in twice (the alarm service taking in another process's steps)
        got = r.wait_for(1)
        time.sleep(0.3)
        assert len(r.received) == 1 and len(log_of(p, a)) == 1
        assert (got[0].headers["x-citylink-event"], got[0].body["by"], got[0].body["comment"]) == \
            ("cleared", "kim", "센서 교체")


def test_on_event_never_raises(tmp_path, clock, caplog):
    with running(tmp_path, clock, {}) as (p, n):
        # an event without its alarm, on purpose: what the notifier cannot read is logged, never raised
        n.on_events([AlarmEvent(seq=1, kind="raised", alarm=None, at=NOW_US)])    # type: ignore[arg-type]
        a = alarm("no-such-department")
        n.on_events([event(a)])
        assert log_of(p, a) == []
    assert "queuing the notifications" in caplog.text
    assert "'no-such-department'" in caplog.text and "not in the departments spec" in caplog.text


# -- e-mail --------------------------------------------------------------------------------------------
def test_email_reaches_the_smtp_server_in_korean_and_english(tmp_path, clock, secrets_set):
    box = Mailbox()
    try:
        with Receiver() as r, running(tmp_path, clock, {WELFARE: r.url}, smtp_host="127.0.0.1", smtp_port=box.port,
                                      smtp_from="citylink@dobong.example.org") as (p, n):
            a = alarm(SANITATION, rule="bin-full", message_ko="A-17 쓰레기통이 가득 찼습니다 (95%)",
                      message_en="Bin A-17 is full (95%)", values={"fill": 95}, severity="medium")
            w = alarm(WELFARE)
            n.on_events([event(a)])
            n.on_events([event(w)])
            d = settle(p, a, SANITATION, lambda d: d.status != PENDING, channel="email")
            assert (d.status, d.last_status, d.target) == (DELIVERED, 250, "bins-alarms@example.org")
            assert log_of(p, a, channel="webhook") == []        # sanitation has no webhook
            settle(p, w, WELFARE, lambda d: d.status == DELIVERED, channel="email")
            settle(p, w, WELFARE, lambda d: d.status == DELIVERED, channel="webhook")
        mails = {tuple(rcpt): (sender, m) for sender, rcpt, m in box.messages}
        assert set(mails) == {tuple(ADDRESSES[SANITATION]), tuple(ADDRESSES[WELFARE])}
        sender, m = mails[tuple(ADDRESSES[SANITATION])]
        assert sender == "citylink@dobong.example.org" and m["From"] == "citylink@dobong.example.org"
        assert m["To"] == "bins-alarms@example.org"
        subject = str(m["Subject"])
        assert "경보 발생" in subject and "Alarm raised" in subject
        assert "A-17 쓰레기통이 가득 찼습니다" in subject and "Bin A-17 is full" in subject
        assert m["X-CityLink-Delivery"] == str(d.id) and m["X-CityLink-Event"] == "raised"
        text = m.get_body(("plain",)).get_content()
        assert text.index("A-17 쓰레기통이 가득 찼습니다 (95%)") < text.index("Bin A-17 is full (95%)")  # Korean first
        for line in ("심각도: 보통", "Severity: medium", "측정값: fill=95", "Values: fill=95",
                     "최초 발생: 2026-11-26 09:30:00 KST", "First raised: 2026-11-26T00:30:00.000Z", a.id):
            assert line in text
    finally:
        box.close()


def test_smtp_4xx_is_retried_and_5xx_fails_at_once(tmp_path, clock):
    box = Mailbox(["451 4.3.0 Try again later", "250 OK", "550 5.1.1 No such mailbox"])
    try:
        with running(tmp_path, clock, {}, smtp_host="127.0.0.1", smtp_port=box.port, **FAST) as (p, n):
            a = alarm(SANITATION)
            n.on_events([event(a)])
            n.process_due()
            d = settle(p, a, SANITATION, lambda d: d.attempts == 1, channel="email")
            assert (d.status, d.last_status, d.next_at) == (PENDING, 451, NOW_US + 2 * US)
            assert "Try again later" in d.last_error
            clock.advance(2)
            n.process_due()
            assert settle(p, a, SANITATION, lambda d: d.status != PENDING, channel="email").status == DELIVERED
            b = alarm(SANITATION)
            n.on_events([event(b)])
            n.process_due()
            d = settle(p, b, SANITATION, lambda d: d.status != PENDING, channel="email")
            assert (d.status, d.attempts, d.last_status) == (FAILED, 1, 550)
            assert "No such mailbox" in d.last_error
        assert box.attempts == 3 and len(box.messages) == 1
    finally:
        box.close()


def test_smtp_down_is_retried_then_failed(tmp_path, clock):
    port = free_port()      # nothing listens there
    with running(tmp_path, clock, {}, smtp_host="127.0.0.1", smtp_port=port, **FAST) as (p, n):
        a = alarm(SANITATION)
        n.on_events([event(a)])
        for k, at in enumerate((NOW_US, NOW_US + 2 * US, NOW_US + 6 * US), 1):
            clock.set(at)
            n.process_due()
            d = settle(p, a, SANITATION, lambda d: d.attempts == k, channel="email")
        assert (d.status, d.attempts, d.last_status) == (FAILED, 3, None)
        assert f"SMTP 127.0.0.1:{port}: cannot connect" in d.last_error and "gave up after 3 attempts" in d.last_error
        assert [x.at for x in deliveries.attempts(p.store, d.id)] == [NOW_US, NOW_US + 2 * US, NOW_US + 6 * US]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_login_takes_the_password_from_the_environment_only(tmp_path, clock, monkeypatch):
    box = Mailbox(logins={"citylink": "s3cret"})
    try:
        with running(tmp_path, clock, {}, smtp_host="127.0.0.1", smtp_port=box.port, smtp_user="citylink",
                     **FAST) as (p, n):
            a = alarm(SANITATION)
            n.on_events([event(a)])
            d = settle(p, a, SANITATION, lambda d: d.status != PENDING, channel="email")
            assert d.status == FAILED and "CITYLINK_SMTP_PASSWORD" in d.last_error and "smtp_user" in d.last_error
            monkeypatch.setenv("CITYLINK_SMTP_PASSWORD", "s3cret")
            b = alarm(SANITATION)
            n.on_events([event(b)])
            assert settle(p, b, SANITATION, lambda d: d.status != PENDING, channel="email").status == DELIVERED
        assert box.logged_in == ["citylink"] and len(box.messages) == 1
    finally:
        box.close()
    (tmp_path / "citylink.toml").write_text('smtp_password = "in a file"\n')
    from citylink.config import load_settings
    from citylink.errors import ConfigError
    with pytest.raises(ConfigError, match="smtp_password"):
        load_settings(tmp_path / "citylink.toml")


def test_without_smtp_host_email_is_off_and_says_so(tmp_path, clock, secrets_set, caplog):
    caplog.set_level("WARNING", logger="citylink.alarms.notify")
    with Receiver() as r, running(tmp_path, clock, {WELFARE: r.url}) as (p, n):
        a = alarm(WELFARE)
        n.on_events([event(a)])
        r.wait_for(1)
        assert [d.channel for d in log_of(p, a)] == ["webhook"]
    assert "alarm notifications by email are off: smtp_host (CITYLINK_SMTP_HOST) is not set" in caplog.text


# -- restart and the delivery log, both engines ------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request):
    if request.param == "sqlite":
        yield None
        return
    with pg_database(migrated=True) as url:
        yield url


def test_a_restart_sends_what_was_left_pending(tmp_path, secrets_set, store_url):
    clock = manual_clock()
    with Receiver([503, 200]) as r:
        with running(tmp_path, clock, {WELFARE: r.url}, store_url=store_url, **FAST) as (p, n):
            a = alarm(WELFARE)
            n.on_events([event(a)])
            d = settle(p, a, WELFARE, lambda d: d.attempts == 1)
            assert (d.status, d.next_at) == (PENDING, NOW_US + 2 * US)
        clock.advance(30)        # down for a while
        with running(tmp_path, clock, {WELFARE: r.url}, store_url=store_url, **FAST) as (p, n):
            d = settle(p, a, WELFARE, lambda d: d.status != PENDING)
            assert (d.status, d.attempts, d.delivered_at) == (DELIVERED, 2, NOW_US + 30 * US)
        assert r.attempts == 2 and [x.body["alarm"]["id"] for x in r.received] == [a.id]


def test_the_delivery_log_lists_every_delivery_with_filters(tmp_path, clock, secrets_set, store_url):
    box = Mailbox()
    try:
        with Receiver([404]) as bad, Receiver() as good, \
                running(tmp_path, clock, {WELFARE: bad.url, MOBILITY: good.url}, store_url=store_url,
                        smtp_host="127.0.0.1", smtp_port=box.port, **FAST) as (p, n):
            a = alarm(WELFARE, recipients=(WELFARE, MOBILITY))
            n.on_events([event(a)])
            for dep, ch in ((WELFARE, "webhook"), (WELFARE, "email"), (MOBILITY, "webhook"), (MOBILITY, "email")):
                settle(p, a, dep, lambda d: d.status != PENDING, channel=ch)
            clock.advance(60)
            b = alarm(SANITATION)
            n.on_events([event(b)])
            settle(p, b, SANITATION, lambda d: d.status != PENDING, channel="email")
            store = p.store
            everything = deliveries.deliveries(store)
            assert len(everything) == 5
            assert [d.alarm_id for d in everything][0] == b.id        # newest first
            assert {(d.department, d.channel, d.status) for d in log_of(p, a)} == {
                (WELFARE, "webhook", FAILED), (WELFARE, "email", DELIVERED),
                (MOBILITY, "webhook", DELIVERED), (MOBILITY, "email", DELIVERED)}
            assert [(d.department, d.channel) for d in deliveries.deliveries(store, status=FAILED)] == \
                [(WELFARE, "webhook")]
            assert {d.channel for d in deliveries.deliveries(store, department=MOBILITY)} == {"webhook", "email"}
            assert len(deliveries.deliveries(store, channel="email")) == 3
            assert [d.alarm_id for d in deliveries.deliveries(store, since=NOW_US + 1)] == [b.id]
            assert len(deliveries.deliveries(store, limit=2)) == 2
            failed = deliveries.deliveries(store, status=FAILED)[0]
            assert (failed.target, failed.last_status, failed.attempts) == (bad.url, 404, 1)
            assert orjson.loads(failed.body)["alarm"]["id"] == a.id
            for kw, name in (({"status": "sent"}, "status"), ({"channel": "sms"}, "channel"),
                             ({"limit": 0}, "limit")):
                with pytest.raises(ValueError, match=f"^{name}: "):
                    deliveries.deliveries(store, **kw)
    finally:
        box.close()


@pytest.fixture
def store(tmp_path, store_url):
    s = open_store(store_url or f"sqlite:///{tmp_path / 'citylink.db'}")
    yield s
    s.close()


def new(target: str = "http://127.0.0.1:9/a", kind: str = "raised", alarm_id: str = "urn:ngsi-ld:Alert:x"):
    return NewDelivery(alarm_id, 7, kind, NOW_US, "webhook", WELFARE, target, '{"kind":"raised"}', "SECRET_ENV")


def test_store_functions_queue_claim_lease_and_record(store):
    t = NOW_US
    ids = deliveries.enqueue(store, [new("http://a"), new("http://b"), new("http://a", kind="cleared")], t)
    assert len(ids) == 3
    assert deliveries.enqueue(store, [new("http://a")], t + 5) == []                 # queued once
    assert deliveries.next_due(store) == t
    assert deliveries.next_due(store, exclude_targets=["http://a", "http://b"]) is None
    claimed = deliveries.claim_due(store, t, t + 100, exclude_targets=["http://b"])
    assert [(d.id, d.target, d.status, d.next_at) for d in claimed] == [(ids[0], "http://a", PENDING, t + 100),
                                                                        (ids[2], "http://a", PENDING, t + 100)]
    assert claimed[0].secret_env == "SECRET_ENV" and claimed[0].event_seq == 7 and claimed[0].attempts == 0
    assert [d.id for d in deliveries.claim_due(store, t, t + 100)] == [ids[1]]      # the rest only
    assert deliveries.claim_due(store, t + 99, t + 200) == []                        # all leased
    assert [d.id for d in deliveries.claim_due(store, t + 100, t + 200, limit=1)] == [ids[0]]  # lease over
    deliveries.record_attempt(store, ids[0], t + 101, PENDING, code=503, error="HTTP 503", next_at=t + 2000)
    deliveries.record_attempt(store, ids[1], t + 102, DELIVERED, code=200)
    deliveries.record_attempt(store, ids[2], t + 103, FAILED, code=404, error="HTTP 404")
    deliveries.release(store, [ids[1]], t)                    # not pending any more: untouched
    d0, d1, d2 = (deliveries.delivery(store, i) for i in ids)
    assert (d0.status, d0.attempts, d0.next_at, d0.last_status, d0.last_error) == \
        (PENDING, 1, t + 2000, 503, "HTTP 503")
    assert (d1.status, d1.delivered_at, d1.last_error, d1.next_at) == (DELIVERED, t + 102, None, t + 102)
    assert (d2.status, d2.delivered_at, d2.last_status) == (FAILED, None, 404)
    assert deliveries.next_due(store) == t + 2000
    assert deliveries.claim_due(store, t + 1999, t + 5000) == []
    deliveries.release(store, [ids[0]], t + 500)
    assert [d.id for d in deliveries.claim_due(store, t + 500, t + 5000)] == [ids[0]]
    deliveries.record_attempt(store, ids[0], t + 600, DELIVERED, code=204)
    assert [(a.n, a.at, a.status, a.error) for a in deliveries.attempts(store, ids[0])] == \
        [(1, t + 101, 503, "HTTP 503"), (2, t + 600, 204, None)]
    assert deliveries.next_due(store) is None
    with pytest.raises(ValueError, match="^next_at: "):
        deliveries.record_attempt(store, ids[0], t, PENDING)
    with pytest.raises(ValueError, match="^status: "):
        deliveries.record_attempt(store, ids[0], t, "sent")
    with pytest.raises(ValueError, match="^delivery_id: "):
        deliveries.record_attempt(store, 10**9, t, DELIVERED)


def test_claimers_in_other_processes_never_take_the_same_delivery(tmp_path, store_url, store):
    """Four senders, each with a store of its own on the same database (as other processes would have)."""
    url = store_url or f"sqlite:///{tmp_path / 'citylink.db'}"
    deliveries.enqueue(store, [new(f"http://t{i}") for i in range(60)], NOW_US)
    stores = [open_store(url, migrate=False) for _ in range(4)]
    got: list[list[int]] = [[] for _ in stores]
    start = threading.Barrier(len(stores))

    def claim(k):
        start.wait()
        while rows := deliveries.claim_due(stores[k], NOW_US, NOW_US + US, limit=3):
            got[k] += [d.id for d in rows]

    threads = [threading.Thread(target=claim, args=(k,)) for k in range(len(stores))]
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
    finally:
        for s in stores:
            s.close()
    every = [i for g in got for i in g]
    assert len(every) == 60 and len(set(every)) == 60
