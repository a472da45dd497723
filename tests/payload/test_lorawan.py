"""LoRaWAN uplinks: ChirpStack v4 and The Things Stack v3 envelopes, declared decoders, and the whole
path over a real Mosquitto."""
from __future__ import annotations

import base64
import struct
import time

import orjson
import pytest

from cltest import make_platform, wait_until, write
from citylink import payload
from citylink.errors import SpecError
from citylink.payload import PayloadProblem
from citylink.payload.lorawan_format import decode_cayenne_lpp
from citylink.spec.loader import load_paths

BYTES = {"network_server": "chirpstack_v4", "decoder": {"type": "bytes", "fields": [
    {"name": "dist_mm", "type": "uint16be"}, {"name": "temp_c", "type": "int16be", "scale": 0.1},
    {"name": "batt_mv", "type": "uint16be"}, {"name": "lid", "type": "uint8"}]}}
LPP = {"network_server": "tts_v3", "decoder": {"type": "cayenne_lpp"}}
FMT = payload.get("lorawan")


def chirpstack_up(data: bytes, dev_eui="0004a30b001c0530", t="2026-11-26T00:00:00.123456789Z") -> bytes:
    """An uplink event as ChirpStack v4's MQTT / HTTP integration publishes it (JSON encoding)."""
    return orjson.dumps({
        "deduplicationId": "3ac7e3c4-4401-4b8d-9386-a5c902f9202d", "time": t,
        "deviceInfo": {"tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242", "tenantName": "Dobong-gu",
                       "applicationId": "17c82e96-be03-4f38-aef3-f83d48582d97", "applicationName": "bins",
                       "deviceProfileId": "14855bf7-d10d-4aee-b618-ebfcb64dc7ad", "deviceProfileName": "lid sensor",
                       "deviceName": "bin-42", "devEui": dev_eui, "tags": {}},
        "devAddr": "00189440", "adr": True, "dr": 1, "fCnt": 7, "fPort": 1, "confirmed": False,
        "data": base64.b64encode(data).decode(),
        "rxInfo": [{"gatewayId": "0016c001f153a14c", "uplinkId": 4217106255, "rssi": -36, "snr": 10.5,
                    "location": {}, "context": "EFwMtA==", "metadata": {"region_common_name": "KR920"}}],
        "txInfo": {"frequency": 922100000, "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 11,
                                                                    "codeRate": "CR_4_5"}}}})


def tts_up(data: bytes) -> bytes:
    """An uplink message as The Things Stack v3 sends it (MQTT ``v3/<app>/devices/<dev>/up`` or webhook)."""
    return orjson.dumps({
        "end_device_ids": {"device_id": "air-7", "application_ids": {"application_id": "dobong-air"},
                           "dev_eui": "70B3D57ED0000001", "join_eui": "0000000000000000", "dev_addr": "260B1234"},
        "correlation_ids": ["as:up:01H0000000000000000000000"], "received_at": "2026-11-26T00:00:01.5Z",
        "uplink_message": {"session_key_id": "AYZ", "f_port": 2, "f_cnt": 99,
                           "frm_payload": base64.b64encode(data).decode(),
                           "rx_metadata": [{"gateway_ids": {"gateway_id": "dobong-gw-1", "eui": "B827EBFFFE000001"},
                                            "rssi": -80, "channel_rssi": -80, "snr": 7.25}],
                           "settings": {"data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 7}},
                                        "frequency": "922300000"},
                           "received_at": "2026-11-26T00:00:01.4Z"}})


def test_chirpstack_v4_with_a_byte_layout():
    raw = struct.pack(">HhHB", 420, -35, 3610, 1)
    [rec] = FMT.decode(chirpstack_up(raw), {"format": "lorawan", "lorawan": BYTES})
    assert rec == {"dev_eui": "0004a30b001c0530", "device_name": "bin-42", "f_port": 1, "f_cnt": 7,
                   "received_at": "2026-11-26T00:00:00.123456789Z", "rssi": -36, "snr": 10.5,
                   "gateway_id": "0016c001f153a14c", "dist_mm": 420, "temp_c": pytest.approx(-3.5),
                   "batt_mv": 3610, "lid": 1}


def test_tts_v3_with_cayenne_lpp():
    lpp = bytes([1, 103, 0x01, 0x10,  2, 104, 0x62,  3, 136, 0x05, 0xBF, 0x74, 0x13, 0x62, 0xCC, 0x00, 0x03, 0xE8])
    [rec] = FMT.decode(tts_up(lpp), {"format": "lorawan", "lorawan": LPP})
    assert rec["device_name"] == "air-7" and rec["dev_eui"] == "70B3D57ED0000001" and rec["f_cnt"] == 99
    assert rec["received_at"] == "2026-11-26T00:00:01.4Z" and rec["gateway_id"] == "dobong-gw-1"
    assert rec["temperature_1"] == pytest.approx(27.2) and rec["humidity_2"] == pytest.approx(49.0)
    assert rec["gps_3"] == {"latitude": pytest.approx(37.6692), "longitude": pytest.approx(127.0476),
                            "altitude": pytest.approx(10.0)}


@pytest.mark.parametrize("body,cfg,slug", [
    (chirpstack_up(b"\x01\x02"), BYTES, "undecodable_payload"),                     # too few bytes
    (chirpstack_up(b"").replace(b'"data":""', b'"data":"not base64!"'), BYTES, "undecodable_payload"),
    (orjson.dumps({"hello": "world"}), BYTES, "bad_lorawan_envelope"),              # not an uplink
    (tts_up(b"\x01\x99\x00"), LPP, "undecodable_payload"),                          # unknown LPP type
    (tts_up(b"\x01\x67\x00"), LPP, "undecodable_payload"),                          # truncated LPP value
    (b"{broken", BYTES, "malformed_json"),
])
def test_bad_uplinks_name_the_problem(body, cfg, slug):
    with pytest.raises(PayloadProblem) as e:
        FMT.decode(body, {"format": "lorawan", "lorawan": cfg})
    assert e.value.type == slug


def test_cayenne_lpp_reference_example():
    # the specification's own example: channel 3 temperature 27.2 °C, channel 5 temperature 25.5 °C
    assert decode_cayenne_lpp(bytes.fromhex("03670110056700FF")) == {"temperature_3": pytest.approx(27.2),
                                                                      "temperature_5": pytest.approx(25.5)}


LORA_SOURCE = """\
citylink: source/1
id: bins-lora
service: waste-bins
version: 1.0.0
status: live
namespace: lora
transport: {type: mqtt, topic: "application/+/device/+/event/up"}
payload:
  format: lorawan
  lorawan:
    network_server: chirpstack_v4
    decoder:
      type: bytes
      fields:
        - {name: dist_mm, type: uint16be}
        - {name: temp_c, type: int16be, scale: 0.1}
        - {name: batt_mv, type: uint16be}
        - {name: lid, type: uint8}
entity: {type: WasteContainer, id: "{dev_eui}"}
timestamp: {field: received_at, format: iso8601}
let:
  distance_cm: {from: dist_mm, unit: MMT, to: CMT}
fields:
  fillingLevel: {expr: "clamp(1 - distance_cm / 120, 0, 1)"}
  temperature: {from: temp_c, unit: CEL}
  status: {from: lid, map: {"0": ok, "1": lidOpen}}
"""


def test_spec_check_names_a_bad_decoder_field(bins_dir):
    path = write(bins_dir / "sources/bins-lora.yaml", LORA_SOURCE.replace("type: int16be", "type: int12"))
    with pytest.raises(SpecError) as e:
        load_paths([bins_dir])
    [p] = e.value.problems
    assert (p.file, p.path) == (str(path), "payload.lorawan.decoder.fields.1.type") and "int12" in p.msg
    assert p.line == LORA_SOURCE.splitlines().index("        - {name: temp_c, type: int16be, scale: 0.1}") + 1


def test_lorawan_over_mqtt_end_to_end(tmp_path, bins_dir):
    from citylink.adapters.broker import LocalMosquitto
    from citylink.adapters.mqtt import MqttIngest
    import paho.mqtt.client as mqtt

    broker = LocalMosquitto(tmp_path / "mosquitto")
    if not broker.available:
        pytest.skip("mosquitto is not installed (Debian package mosquitto)")
    write(bins_dir / "sources/bins-lora.yaml", LORA_SOURCE)
    with broker:
        p = make_platform(tmp_path / "data")
        p.start(specs_dir=bins_dir.parent, watch=False)
        ingest = MqttIngest(p, broker.url, client_id="citylink-lora").start()
        try:
            assert ingest.connected.wait(10)
            time.sleep(0.3)
            pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="chirpstack")
            pub.connect("127.0.0.1", broker.port)
            pub.loop_start()
            topic = "application/17c82e96-be03-4f38-aef3-f83d48582d97/device/0004a30b001c0530/event/up"
            pub.publish(topic, chirpstack_up(struct.pack(">HhHB", 300, 215, 3600, 0)), qos=1).wait_for_publish(5)
            pub.publish(topic, chirpstack_up(b"\x00", t="2026-11-26T00:05:00Z"), qos=1).wait_for_publish(5)
            pub.loop_stop()
            assert wait_until(lambda: p.store.ledger().get("bins-lora", {}).get("received") == 2
                              and p.store.ledger()["bins-lora"]["pending"] == 0, 20)
            led = p.store.ledger()["bins-lora"]
            assert led["quarantined"] == 1 and led["stored"] + led["stored_flagged"] == 1
            e = p.store.entity("urn:ngsi-ld:WasteContainer:dobong:lora:0004a30b001c0530")
            vals = {a.name: a.value_num if a.value_json is None else orjson.loads(a.value_json) for a in e.attrs}
            assert vals == {"fillingLevel": pytest.approx(0.75), "temperature": pytest.approx(21.5), "status": "ok"}
            [q] = p.store.quarantined("bins-lora")
            assert q["reason"] == "undecodable_payload"
        finally:
            ingest.stop()
            p.stop()


# -- the encoders: the declared decoders run backwards (simulators, vendors checking their firmware) -----
from citylink.payload.lorawan_format import decode_bytes, decode_cayenne_lpp, encode_bytes, encode_cayenne_lpp  # noqa: E402

LAYOUT = [{"name": "deicer_g", "type": "uint16be"}, {"name": "lid", "type": "uint8"},
          {"name": "batt_mv", "type": "uint16le"}, {"name": "temp_c", "type": "int16be", "scale": 0.1},
          {"name": "ratio", "type": "float32be"}]


def test_a_byte_layout_encodes_what_it_decodes():
    values = {"deicer_g": 18000, "lid": 1, "batt_mv": 3580, "temp_c": -4.2, "ratio": 0.5}
    raw = encode_bytes(values, LAYOUT)
    assert len(raw) == 2 + 1 + 2 + 2 + 4
    assert decode_bytes(raw, LAYOUT) == values


def test_bit_fields_share_their_byte():
    layout = [{"name": "lid", "type": "uint8", "offset": 0, "bits": [0, 1]},
              {"name": "alarm", "type": "uint8", "offset": 0, "bits": [1, 2]}]
    raw = encode_bytes({"lid": 1, "alarm": 1}, layout)
    assert raw == b"\x03" and decode_bytes(raw, layout) == {"lid": 1, "alarm": 1}


def test_cayenne_lpp_encodes_what_it_decodes():
    values = {"temperature_1": -3.2, "humidity_2": 45.5, "digital_input_3": 1}
    assert decode_cayenne_lpp(encode_cayenne_lpp(values)) == values
