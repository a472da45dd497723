"""The demo's embedded MQTT broker (amqtt): the platform's MQTT adapter ingests through it, and QoS 1
messages for its persistent session survive the adapter being away."""
from __future__ import annotations

import time

import paho.mqtt.client as mqtt
import pytest

from cltest import acme_body, acme_variant, ledger_balances, make_platform, wait_until
from citylink.adapters.embedded_broker import EmbeddedBroker
from citylink.adapters.mqtt import MqttIngest

SOURCE = "bins-acme-mqtt"


@pytest.fixture
def broker():
    with EmbeddedBroker() as b:
        yield b


def vendor(broker: EmbeddedBroker) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"vendor-{time.monotonic_ns()}")
    c.username_pw_set("vendor")
    c.connect(broker.host, broker.port)
    c.loop_start()
    assert wait_until(c.is_connected, 10)
    return c


def publish_all(c: mqtt.Client, n: int, start: int = 0) -> None:
    infos = [c.publish(f"acme/bins/A-{i % 5}/telemetry", acme_body(f"A-{i % 5}", compactions=i), qos=1)
             for i in range(start, start + n)]
    for info in infos:
        info.wait_for_publish(10)
        assert info.is_published()


def test_qos1_messages_wait_for_the_platform_while_it_is_away(tmp_path, bins_dir, broker):
    acme_variant(bins_dir, SOURCE, "acme-mqtt", "  type: mqtt\n  topic: acme/bins/+/telemetry")
    p = make_platform(tmp_path / "data")
    p.start(specs_dir=bins_dir.parent, watch=False)
    try:
        ingest = MqttIngest(p, broker.url).start()
        assert ingest.connected.wait(10)
        c = vendor(broker)
        publish_all(c, 200)
        assert wait_until(lambda: p.store.ledger().get(SOURCE, {}).get("received") == 200, 20)
        ingest.stop()                      # the platform goes away; its session stays at the broker
        # amqtt sends into a closing connection until it has noticed the disconnect (see the module): wait for it
        assert wait_until(lambda: broker.session_states().get(ingest.client_id) == "disconnected", 10)
        publish_all(c, 150, start=200)
        ingest = MqttIngest(p, broker.url).start()
        assert ingest.connected.wait(10)
        assert wait_until(lambda: p.store.ledger().get(SOURCE, {}).get("received") == 350, 20)
        ingest.stop()
        c.loop_stop()
        c.disconnect()
        led = p.store.ledger()
        ledger_balances(led)
        assert led[SOURCE]["received"] == 350 and led[SOURCE].get("pending", 0) == 0
    finally:
        p.stop()


def test_a_port_in_use_is_a_clear_error(broker):
    with pytest.raises(RuntimeError, match=f"could not start on 127.0.0.1:{broker.port}"):
        EmbeddedBroker(port=broker.port).start()
