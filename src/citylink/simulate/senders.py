"""Simulated vendors speak each source's real transport, found through a registry by the transport's
name: they POST to the ingest endpoint, publish to the MQTT broker, serve a REST API for the platform
to poll, and drop files in the agreed directory — exactly as a vendor's system would.

A sender reports a message as *sent* only once the transport has taken it (a 2xx answer, a PUBACK,
a file renamed into the drop directory, a record the vendor API now serves), so a run can be checked
message for message against the platform's ledger.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import threading
from abc import ABC, abstractmethod
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import httpx

from ..adapters.file_drop import drop_directory
from ..registry import Registry
from ..spec.model import duration_seconds
from .faults import STORED

log = logging.getLogger(__name__)


@dataclass
class SimMessage:
    source: str
    device: str
    t: int                       # the reading's time (µs, UTC) as the device meant it
    doc: Any                     # the message (JSON-able), or a CSV row (dict)
    topic: str | None = None
    file: str | None = None
    raw: bytes | None = None     # bytes that are not the document's serialization (a message cut short)
    expect: str = STORED         # what the platform must make of it (see faults)
    fault: str | None = None
    release_at: int = 0          # held back (late, out of order) until the clock reaches this
    remake: Callable[[int], Any] | None = field(default=None, repr=False)  # the document with times shifted by µs

    def body(self, encoding: str = "utf-8") -> bytes:
        if self.raw is not None:
            return self.raw
        return json.dumps(self.doc, ensure_ascii=False, separators=(",", ":")).encode(encoding)


@dataclass
class Report:
    """What the simulators sent, per source, and what the platform must have made of it."""
    sent: Counter = field(default_factory=Counter)
    expected: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    faults: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    refused: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def delivered(self, messages: list[SimMessage]) -> None:
        with self._lock:
            for m in messages:
                self.sent[m.source] += 1
                self.expected[m.source][m.expect] += 1
                if m.fault:
                    self.faults[m.source][m.fault] += 1

    def refuse(self, source: str, n: int, why: str) -> None:
        with self._lock:
            self.refused[source] += n
            if len(self.errors) < 100:
                self.errors.append(f"{source}: {why}")


@dataclass
class Context:
    """Where the platform listens."""
    http_url: str = "http://127.0.0.1:8080"
    tokens: dict[str, str] = field(default_factory=dict)
    mqtt_url: str | None = None
    data_dir: Path = Path(".")
    dry_run: Callable[[SimMessage, bytes], None] | None = None  # instead of any transport: hand each message here


class Sender(ABC):
    name = ""

    def __init__(self, ctx: Context, spec, report: Report, profile=None):
        self.ctx, self.spec, self.report, self.profile = ctx, spec, report, profile

    @abstractmethod
    def send(self, messages: list[SimMessage]) -> None:
        """Hand these messages to the transport (counted sent once it has taken them)."""

    def flush(self, now_us: int, final: bool = False) -> None:
        """Called after every tick; ``final`` at the end of a run: deliver everything still buffered."""

    def close(self) -> None:
        pass


SENDERS: Registry[type[Sender]] = Registry("simulated transport", "citylink.simulated_transports",
                                           ["citylink.simulate.senders"])
register = SENDERS.register


@register
class HttpPushSender(Sender):
    """POSTs to ``/ingest/<source>``; messages that the payload format cuts out of a JSON array are
    sent in arrays of up to ``batch``, others (and messages cut short) one per request."""
    name = "http_push"
    batch = 200

    def __init__(self, ctx, spec, report, profile=None):
        super().__init__(ctx, spec, report, profile)
        self.client = httpx.Client(base_url=ctx.http_url, timeout=30,
                                   headers={"Authorization": f"Bearer {ctx.tokens.get(spec.id, '')}",
                                            "Content-Type": "application/json"})
        self.arrays = spec.payload.get("format") in ("json", "lorawan") and not spec.payload.get("records")

    def send(self, messages):
        enc = self.spec.payload.get("encoding", "utf-8")
        whole = [m for m in messages if m.raw is None] if self.arrays else []
        alone = [m for m in messages if m.raw is not None] if self.arrays else messages
        for i in range(0, len(whole), self.batch):
            chunk = whole[i:i + self.batch]
            self._post(b"[" + b",".join(m.body(enc) for m in chunk) + b"]", chunk)
        for m in alone:
            self._post(m.body(enc), [m])

    def _post(self, body: bytes, messages: list[SimMessage]) -> None:
        try:
            r = self.client.post(f"/ingest/{self.spec.id}", content=body)
        except httpx.HTTPError as e:
            self.report.refuse(self.spec.id, len(messages), f"POST failed: {e}")
            return
        # archived: 200/202/207, and 422 (all quarantined) — each answer says how many it received
        try:
            received = r.json().get("received") if r.status_code in (200, 202, 207, 422) else None
        except ValueError:
            received = None
        if received == len(messages):
            self.report.delivered(messages)
        else:
            self.report.refuse(self.spec.id, len(messages), f"{r.status_code}: {r.text[:200]}")

    def close(self):
        self.client.close()


@register
class MqttSender(Sender):
    """Publishes each message with QoS 1 to its topic (the profile's ``topic``, or the spec's topic
    with each ``+`` standing for the device id) and counts it sent on its PUBACK."""
    name = "mqtt"

    def __init__(self, ctx, spec, report, profile=None):
        super().__init__(ctx, spec, report, profile)
        import paho.mqtt.client as mqtt

        from ..adapters.mqtt import Broker
        if not ctx.mqtt_url:
            raise ValueError(f"source {spec.id} speaks MQTT: give the broker (mqtt_url / --mqtt-url)")
        b = Broker.parse(ctx.mqtt_url)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"citylink-sim-{spec.id}",
                                  protocol=mqtt.MQTTv311)
        self.client.username_pw_set(b.username or "simulator", b.password)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.connect(b.host, b.port, keepalive=30)
        self.client.loop_start()
        self.pending: list[tuple[Any, SimMessage]] = []

    def send(self, messages):
        enc = self.spec.payload.get("encoding", "utf-8")
        topic = self.spec.transport["topic"]
        for m in messages:
            t = m.topic or topic.replace("+", m.device)
            self.pending.append((self.client.publish(t, m.body(enc), qos=1), m))

    def flush(self, now_us, final=False):
        done = []
        for info, m in self.pending:
            try:
                info.wait_for_publish(timeout=60)
            except (RuntimeError, ValueError) as e:
                self.report.refuse(self.spec.id, 1, f"publish failed: {e}")
                continue
            if info.is_published():
                done.append(m)
            else:
                self.report.refuse(self.spec.id, 1, "no PUBACK within 60 s")
        self.pending.clear()
        self.report.delivered(done)

    def close(self):
        self.flush(0, True)
        self.client.loop_stop()
        self.client.disconnect()


@register
class VendorApi(Sender):
    """The vendor's REST API that an ``http_poll`` source polls, served where the spec's ``url`` says.
    Records are numbered as they are stored (the spec's ``cursor_from`` field), as a vendor database
    would, and ``?<cursor_param>=N`` answers the records after N, ``page`` at a time."""
    name = "http_poll"
    page = 500

    def __init__(self, ctx, spec, report, profile=None):
        super().__init__(ctx, spec, report, profile)
        t = spec.transport
        u = urlsplit(t["url"])
        self.path, self.cursor_param, self.cursor_from = u.path, t.get("cursor_param"), t.get("cursor_from")
        self.records: list[bytes] = []
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server interface
                url = urlsplit(self.path)
                if url.path != api.path:
                    self.send_error(404)
                    return
                since = parse_qs(url.query).get(api.cursor_param or "", ["0"])[0]
                try:
                    start = int(since)
                except ValueError:
                    self.send_error(400, f"{api.cursor_param} must be a record number")
                    return
                with api.lock:
                    chunk = api.records[start:start + api.page]
                body = b"[" + b",".join(chunk) + b"]"
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        try:
            self.server = ThreadingHTTPServer((u.hostname, u.port or 80), Handler)
        except OSError as e:
            raise OSError(f"source {spec.id}: cannot serve the simulated vendor API at {t['url']}: {e}") from None
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name=f"vendor-api-{spec.id}", daemon=True).start()

    def send(self, messages):
        enc = self.spec.payload.get("encoding", "utf-8")
        with self.lock:
            for m in messages:
                if self.cursor_from and isinstance(m.doc, dict):
                    m.doc[self.cursor_from] = len(self.records) + 1  # numbered on arrival: late ones too
                self.records.append(m.body(enc))
        self.report.delivered(messages)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@register
class FileDropSender(Sender):
    """Writes CSV rows into files named by the profile's ``file.name`` in the source's drop directory.
    A file is written whole under a temporary name and renamed into place, once its ``file.every``
    period has passed (late rows go into a later file of the same name with a number added)."""
    name = "file"

    def __init__(self, ctx, spec, report, profile=None):
        super().__init__(ctx, spec, report, profile)
        every = ((profile.doc.get("file") or {}).get("every") if profile else None) or "PT1H"
        period_s = duration_seconds(every) if isinstance(every, str) else float(every)
        self.folder = drop_directory(ctx.data_dir, spec.transport)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.period_us = int(period_s * 1e6)
        self.buffers: dict[str, list[SimMessage]] = {}
        self.opened: dict[str, int] = {}

    def send(self, messages):
        for m in messages:
            if m.file not in self.buffers:
                self.buffers[m.file] = []
                self.opened[m.file] = m.t
            self.buffers[m.file].append(m)

    def flush(self, now_us, final=False):
        for name in [n for n, t0 in self.opened.items() if final or now_us - t0 >= self.period_us]:
            rows = self.buffers.pop(name)
            del self.opened[name]
            self._write(name, rows)

    def _write(self, name: str, rows: list[SimMessage]) -> None:
        enc = self.spec.payload.get("encoding", "utf-8")
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(list(rows[0].doc))
        for m in rows:
            w.writerow(["" if v is None else v for v in m.doc.values()])
        target = self.folder / name
        n = 1
        while target.exists() or (self.folder / "done" / target.name).exists():
            target = self.folder / f"{Path(name).stem}.{n}{Path(name).suffix}"
            n += 1
        part = self.folder / f".{target.name}.part"
        part.write_bytes(out.getvalue().encode(enc))
        part.rename(target)
        self.report.delivered(rows)

    def close(self):
        self.flush(0, True)


class DryRun(Sender):
    """No transport: each message's bytes go to ``ctx.dry_run`` (``citylink simulate --dry-run``, tests)."""
    name = "dry_run"

    def send(self, messages):
        enc = self.spec.payload.get("encoding", "utf-8")
        for m in messages:
            if isinstance(m.doc, dict) and m.file is not None and m.raw is None:
                body = ",".join("" if v is None else str(v) for v in m.doc.values()).encode(enc)
            else:
                body = m.body(enc)
            self.ctx.dry_run(m, body)
        self.report.delivered(messages)
