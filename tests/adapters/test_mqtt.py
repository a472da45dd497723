"""MQTT against a real Mosquitto, started for each test with CityLink's broker configuration
(``citylink/data/mosquitto.conf``, through ``adapters.broker.LocalMosquitto``)."""
from __future__ import annotations

import time

import paho.mqtt.client as mqtt
import pytest

from cltest import acme_body, acme_variant, make_platform, wait_until
from citylink.adapters.broker import LocalMosquitto
from citylink.adapters.mqtt import Broker, MqttIngest

SOURCE = "bins-acme-mqtt"
TOPIC = "acme/bins/+/telemetry"


@pytest.fixture
def broker(tmp_path):
    b = LocalMosquitto(tmp_path / "mosquitto")
    if not b.available:
        pytest.skip("mosquitto is not installed (Debian package mosquitto)")
    with b:
        yield b


@pytest.fixture
def mqtt_platform(tmp_path, bins_dir):
    acme_variant(bins_dir, SOURCE, "acme-mqtt", f"  type: mqtt\n  topic: {TOPIC}")
    p = make_platform(tmp_path / "data")
    p.start(specs_dir=bins_dir.parent, watch=False)
    yield p
    p.stop()


def publisher(broker: LocalMosquitto) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"vendor-{time.monotonic_ns()}")
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    assert wait_until(c.is_connected, 10), "the vendor could not connect"
    return c


def publish(c: mqtt.Client, bodies, device="A-{i}") -> None:
    """Publish with QoS 1 and wait until the broker has acknowledged every message: what the broker
    acknowledged is what CityLink must not lose."""
    infos = [c.publish(f"acme/bins/{device.format(i=i)}/telemetry", b, qos=1) for i, b in enumerate(bodies)]
    for info in infos:
        info.wait_for_publish(30)
    assert all(info.is_published() for info in infos), "the broker did not acknowledge every message"


def bodies(n: int, start: int = 0) -> list[bytes]:
    return [acme_body(f"M-{start + i}", ts="2026-11-26T09:%02d:%02d+09:00" % ((start + i) // 60 % 60, (start + i) % 60),
                      fill=(start + i) % 100) for i in range(n)]


def ledger(p) -> dict:
    return p.store.ledger().get(SOURCE, {"received": 0, "pending": 0})


def settled(p, n: int):
    return wait_until(lambda: ledger(p)["received"] == n and ledger(p)["pending"] == 0 and p.bus.drain(1), 60)


def test_broker_url():
    assert Broker.parse("mqtt://u:pw@broker.example:1884") == Broker("broker.example", 1884, "u", "pw")
    with pytest.raises(ValueError, match="mqtt_url"):
        Broker.parse("http://x")


def test_messages_arrive_archived_normalized_and_acknowledged(broker, mqtt_platform):
    ingest = MqttIngest(mqtt_platform, broker.url, client_id="citylink-test").start()
    try:
        assert ingest.connected.wait(10)
        time.sleep(0.3)  # the SUBACK
        pub = publisher(broker)
        publish(pub, bodies(500))
        assert settled(mqtt_platform, 500), ledger(mqtt_platform)
        led = ledger(mqtt_platform)
        assert led["stored"] + led["stored_flagged"] == 500 and led["quarantined"] == 0
        raw = mqtt_platform.store.raw_messages(source=SOURCE, limit=1)[0]
        assert raw.transport == "mqtt" and raw.meta["topic"] == "acme/bins/A-0/telemetry" and raw.meta["qos"] == 1
        assert raw.body == bodies(1)[0]  # the exact bytes
        # a bad message is archived and quarantined, not lost, and does not stop the adapter
        publish(pub, [b"{not json"], device="broken")
        assert settled(mqtt_platform, 501)
        assert ledger(mqtt_platform)["quarantined"] == 1
        pub.loop_stop()
    finally:
        ingest.stop()


def test_nothing_is_lost_while_citylink_is_away_and_redelivery_is_a_duplicate(broker, mqtt_platform):
    ingest = MqttIngest(mqtt_platform, broker.url, client_id="citylink-test").start()
    assert ingest.connected.wait(10)
    time.sleep(0.3)
    ingest.stop()  # the persistent session stays at the broker
    pub = publisher(broker)
    publish(pub, bodies(1500))  # more than Mosquitto's default queue of 1000: the shipped config keeps all
    publish(pub, bodies(1))  # the very first message again: a vendor's retry
    pub.loop_stop()
    again = MqttIngest(mqtt_platform, broker.url, client_id="citylink-test").start()
    try:
        assert settled(mqtt_platform, 1501), ledger(mqtt_platform)
        led = ledger(mqtt_platform)
        assert led["stored"] + led["stored_flagged"] == 1500 and led["duplicate"] == 1
    finally:
        again.stop()


def test_reconnects_when_the_broker_restarts(broker, mqtt_platform):
    ingest = MqttIngest(mqtt_platform, broker.url, client_id="citylink-test", max_reconnect_delay=2).start()
    try:
        assert ingest.connected.wait(10)
        time.sleep(0.3)
        pub = publisher(broker)
        publish(pub, bodies(100))
        pub.loop_stop()
        assert settled(mqtt_platform, 100)
        broker.stop()
        assert wait_until(lambda: not ingest.connected.is_set(), 10)
        broker.start()
        assert ingest.connected.wait(30)  # reconnect with back-off (capped at 2 s here)
        pub = publisher(broker)
        publish(pub, bodies(100, start=100))
        pub.loop_stop()
        assert settled(mqtt_platform, 200), ledger(mqtt_platform)
        assert ledger(mqtt_platform)["duplicate"] == 0
    finally:
        ingest.stop()


def test_a_spec_change_moves_the_subscription(broker, mqtt_platform, bins_dir):
    ingest = MqttIngest(mqtt_platform, broker.url, client_id="citylink-test").start()
    try:
        assert ingest.connected.wait(10)
        path = bins_dir / f"sources/{SOURCE}.yaml"
        path.write_text(path.read_text().replace(TOPIC, "acme/v2/+").replace("version: 1.0.0\nvendor",
                                                                               "version: 1.1.0\nvendor"))
        mqtt_platform.apply_specs([path])
        mqtt_platform.reload()
        assert wait_until(lambda: "acme/v2/+" in ingest._routes, 10)
        time.sleep(0.5)
        pub = publisher(broker)
        info = pub.publish("acme/v2/M-9", bodies(1)[0], qos=1)
        info.wait_for_publish(10)
        pub.loop_stop()
        assert settled(mqtt_platform, 1)
    finally:
        ingest.stop()


def test_spec_check_wants_a_topic_and_knows_the_keys(tmp_path, bins_dir):
    from citylink.errors import SpecError
    from citylink.spec.loader import load_paths
    path = bins_dir / "sources/bins-acme-http.yaml"
    text = path.read_text()
    path.write_text(text.replace("transport:\n  type: http_push", "transport:\n  type: mqtt\n  topik: a/b"))
    with pytest.raises(SpecError) as e:
        load_paths([bins_dir])
    msgs = [str(p) for p in e.value.problems]
    assert any("transport: transport 'mqtt' needs transport.topic" in m for m in msgs), msgs
    assert any("transport.topik: transport 'mqtt' has no key 'topik'" in m for m in msgs), msgs
    assert all(m.startswith(f"{path}:") for m in msgs)


def test_two_sources_may_not_share_a_topic(bins_dir):
    from citylink.errors import SpecError
    from citylink.spec.loader import load_paths
    for sid in ("bins-m1", "bins-m2"):
        acme_variant(bins_dir, sid, sid, "  type: mqtt\n  topic: shared/+")
    with pytest.raises(SpecError) as e:
        load_paths([bins_dir])
    [p] = e.value.problems
    assert p.path == "transport.topic" and p.file.endswith("bins-m2.yaml") and "'bins-m1' already uses" in p.msg
