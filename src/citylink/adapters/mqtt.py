"""MQTT: subscribe to the topics that source specs name, with QoS 1 and a persistent session.

A message is acknowledged (PUBACK) only after its raw copy is archived: paho-mqtt ≥ 2
with ``manual_ack=True`` lets the adapter hold the acknowledgement until then.  Messages
are archived in small batches (every ``flush_ms`` or ``batch`` messages, whichever comes
first), so acknowledging after archiving costs one transaction per batch, not per message.
If CityLink stops between archiving and acknowledging, the broker sends the message again
and the normalizer records it as a duplicate: nothing is lost and nothing is stored twice.

The broker must not drop what a slow or reconnecting persistent session has not yet
received: ``src/citylink/data/mosquitto.conf`` is the configuration to run Mosquitto with.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from .. import payload
from . import Transport, register

log = logging.getLogger(__name__)

register(Transport(
    name="mqtt",
    title={"ko": "MQTT 발행", "en": "MQTT publish"},
    profile=(
        "Publish each message to the district's broker on the topic agreed in the source spec "
        "(`transport.topic`; `+` and `#` wildcards match device-specific levels), with **QoS 1**. "
        "A message counts as delivered when the broker acknowledges it; CityLink takes it from the broker "
        "with QoS 1 and a persistent session, and acknowledges only after archiving it, so a message the "
        "broker has accepted is never lost. Redelivered messages are recognised as duplicates. Payload and "
        "encoding as in the source spec; one message per publish, or a JSON array of messages."),
    keys={"topic": "the topic filter the vendor publishes under, e.g. acme/bins/+/telemetry",
          "qos": "subscription QoS (default 1; 0 only for data that may be lost)"},
    required=("topic",),
    unique=("topic",),
))


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> "Broker":
        u = urlsplit(url)
        if u.scheme not in ("mqtt", "tcp") or not u.hostname:
            raise ValueError(f"mqtt_url {url!r}: write mqtt://host:port (user:password@ optional)")
        return cls(u.hostname, u.port or 1883, u.username, u.password)


class MqttIngest:
    """Subscribes for every ``mqtt`` source in force and hands their messages to the platform."""

    def __init__(self, platform, broker_url: str, *, client_id: str | None = None, batch: int = 5000,
                 flush_ms: int = 20, max_reconnect_delay: int = 30):
        self.platform = platform
        self.broker = Broker.parse(broker_url)
        self.client_id = client_id or f"citylink-ingest-{platform.settings.deployment}"
        self.batch = batch
        self.flush_s = flush_ms / 1000
        self._routes: dict[str, tuple[str, int]] = {}   # topic filter → (source, qos)
        self._buf: list[tuple[mqtt.MQTTMessage, str]] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._revision = None
        self.connected = threading.Event()  # connected *and* subscribed
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=False,
                        protocol=mqtt.MQTTv311, manual_ack=True)
        if self.broker.username:
            c.username_pw_set(self.broker.username, self.broker.password)
        c.reconnect_delay_set(min_delay=1, max_delay=max_reconnect_delay)
        c.max_inflight_messages_set(65535)
        c.max_queued_messages_set(0)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        self.client = c
        self._flusher = threading.Thread(target=self._flush_loop, name="citylink-mqtt-flush", daemon=True)

    # -- life cycle -------------------------------------------------------------------------------
    def start(self) -> "MqttIngest":
        self._routes = self._wanted()
        self._revision = self.platform.revision
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()
        self._flusher.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._flusher.join(timeout=10)
        self._flush()  # archive and acknowledge what is left
        self.client.disconnect()
        self.client.loop_stop()

    def _wanted(self) -> dict[str, tuple[str, int]]:
        out = {}
        for sid, src in self.platform.specs.sources.items():
            t = src.transport
            if t["type"] == "mqtt" and t.get("topic"):
                out[t["topic"]] = (sid, int(t.get("qos", 1)))
        return out

    def sync(self) -> None:
        """Follow spec changes: subscribe to new topics, unsubscribe from dropped ones."""
        if self.platform.revision == self._revision:
            return
        self._revision = self.platform.revision
        wanted = self._wanted()
        for topic in set(self._routes) - set(wanted):
            self.client.unsubscribe(topic)
        new = [(t, q) for t, (_, q) in wanted.items() if t not in self._routes or self._routes[t] != wanted[t]]
        self._routes = wanted
        if new and self.connected.is_set():
            self.client.subscribe(new)

    # -- paho callbacks (the network thread) ---------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.error("MQTT broker %s:%s refused the connection: %s", self.broker.host, self.broker.port, reason_code)
            return
        log.info("connected to MQTT broker %s:%s (session present: %s)", self.broker.host, self.broker.port,
                 flags.session_present)
        if self._routes:
            client.subscribe([(t, q) for t, (_, q) in self._routes.items()])
        else:
            self.connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        if any(rc.is_failure for rc in reason_codes):
            log.error("MQTT broker refused a subscription: %s", reason_codes)
        self.connected.set()  # ready: the broker routes the sources' topics to this session

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.connected.clear()
        if not self._stop.is_set():
            log.warning("MQTT broker connection lost (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage):
        source = self._route(msg.topic)
        if source is None:  # a topic no spec claims (any more): take it off the broker, count it
            self.platform.store.count_refused("(unknown)", "unknown_topic", self.platform.clock.now_us())
            self.client.ack(msg.mid, msg.qos)
            return
        with self._cond:
            self._buf.append((msg, source))
            if len(self._buf) >= self.batch:
                self._cond.notify()

    def _route(self, topic: str) -> str | None:
        for filt, (source, _) in self._routes.items():
            if mqtt.topic_matches_sub(filt, topic):
                return source
        return None

    # -- archive, publish, acknowledge ----------------------------------------------------------------
    def _flush_loop(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                if len(self._buf) < self.batch:
                    self._cond.wait(self.flush_s)
            try:
                self._flush()
                self.sync()
            except Exception:  # the messages stay unacknowledged: the broker sends them again
                log.exception("archiving MQTT messages failed; they will be redelivered")
                time.sleep(1)

    def _flush(self) -> None:
        with self._cond:
            taken, self._buf = self._buf, []
        if not taken:
            return
        by_source: dict[str, list] = {}
        for msg, source in taken:
            by_source.setdefault(source, []).append(msg)
        platform = self.platform
        messages = []
        for source, msgs in by_source.items():
            spec = platform.specs.sources.get(source)
            fmt = payload.get(spec.payload["format"]) if spec else None
            parts = []
            for m in msgs:
                meta = {"topic": m.topic, "qos": m.qos}
                if m.retain:
                    meta["retain"] = True
                pieces = list(fmt.split(m.payload, spec.payload)) if fmt else [(m.payload, {})]
                parts += [(body, dict(meta, **extra)) for body, extra in pieces]
            messages += platform.make_messages(source, parts, "mqtt")
        platform.store.archive(messages)   # durable first …
        platform.bus.publish(messages)
        for msg, _ in taken:               # … then acknowledged
            if msg.qos:
                self.client.ack(msg.mid, msg.qos)
