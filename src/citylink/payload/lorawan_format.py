"""LoRaWAN network-server uplinks: the envelope of ChirpStack v4 or The Things Stack v3, and the
device's binary payload decoded by a decoder the source spec *declares* — no Python per vendor.

``payload.format: lorawan`` with::

    lorawan:
      network_server: chirpstack_v4        # or tts_v3
      decoder:                             # a byte layout …
        type: bytes
        fields:
          - {name: distance_mm, type: uint16be}
          - {name: temp_c, type: int16be, scale: 0.1}
          - {name: lid_open, type: uint8}
      # … or a standard:  decoder: {type: cayenne_lpp}

Each uplink becomes one record with the same keys whatever the network server:
``dev_eui``, ``device_name``, ``f_port``, ``f_cnt``, ``received_at`` (ISO 8601), ``rssi``,
``snr``, ``gateway_id``, plus the decoded fields (Cayenne LPP: ``temperature_1``,
``humidity_2``, ``gps_3`` {latitude, longitude, altitude}, …).
"""
from __future__ import annotations

import base64
import binascii
import struct
from typing import Iterator

import orjson

from . import register
from .base import PayloadProblem
from .json_format import JsonFormat

NETWORK_SERVERS = ("chirpstack_v4", "tts_v3")

# byte-layout field types → struct format
TYPES = {
    "uint8": "B", "int8": "b",
    "uint16be": ">H", "uint16le": "<H", "int16be": ">h", "int16le": "<h",
    "uint32be": ">I", "uint32le": "<I", "int32be": ">i", "int32le": "<i",
    "float32be": ">f", "float32le": "<f",
}

# Cayenne LPP data types: id → (name, size, signed, divisor); GPS and 3-axis are special
LPP = {
    0: ("digital_input", 1, False, 1), 1: ("digital_output", 1, False, 1),
    2: ("analog_input", 2, True, 100), 3: ("analog_output", 2, True, 100),
    101: ("illuminance", 2, False, 1), 102: ("presence", 1, False, 1),
    103: ("temperature", 2, True, 10), 104: ("humidity", 1, False, 2),
    115: ("barometer", 2, False, 10),
    113: ("accelerometer", 6, True, 1000), 134: ("gyrometer", 6, True, 100),
    136: ("gps", 9, True, None),
}


def _envelope(doc: dict, ns: str) -> tuple[dict, str]:
    """The network server's uplink → (common record keys, base64 payload)."""
    if not isinstance(doc, dict):
        raise PayloadProblem("bad_lorawan_envelope", f"expected a {ns} uplink object")
    try:
        if ns == "chirpstack_v4":
            info = doc["deviceInfo"]
            rx = (doc.get("rxInfo") or [{}])[0]
            rec = {"dev_eui": info["devEui"], "device_name": info.get("deviceName"), "f_port": doc.get("fPort"),
                   "f_cnt": doc.get("fCnt"), "received_at": doc.get("time") or rx.get("nsTime"),
                   "rssi": rx.get("rssi"), "snr": rx.get("snr"), "gateway_id": rx.get("gatewayId")}
            data = doc.get("data", "")
        else:  # tts_v3
            ids = doc["end_device_ids"]
            up = doc["uplink_message"]
            rx = (up.get("rx_metadata") or [{}])[0]
            rec = {"dev_eui": ids.get("dev_eui"), "device_name": ids["device_id"], "f_port": up.get("f_port"),
                   "f_cnt": up.get("f_cnt"), "received_at": up.get("received_at") or doc.get("received_at"),
                   "rssi": rx.get("rssi"), "snr": rx.get("snr"),
                   "gateway_id": (rx.get("gateway_ids") or {}).get("gateway_id")}
            data = up.get("frm_payload", "")
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        raise PayloadProblem("bad_lorawan_envelope", f"not a {ns} uplink: missing {e}") from None
    return rec, data


def decode_bytes(raw: bytes, fields: list[dict]) -> dict:
    out, pos = {}, 0
    for f in fields:
        fmt = TYPES[f["type"]]
        pos = f.get("offset", pos)
        size = struct.calcsize(fmt)
        if pos + size > len(raw):
            raise PayloadProblem("undecodable_payload", f"{len(raw)} bytes are too few for {f['name']} "
                                 f"({f['type']} at byte {pos})")
        (v,) = struct.unpack_from(fmt, raw, pos)
        pos += size
        if "bits" in f:  # [from, to) bits of the value, e.g. a flag
            lo, hi = f["bits"]
            v = (v >> lo) & ((1 << (hi - lo)) - 1)
        if "scale" in f:
            v = v * f["scale"]
        out[f["name"]] = v
    return out


def decode_cayenne_lpp(raw: bytes) -> dict:
    out, pos = {}, 0
    while pos < len(raw):
        if pos + 2 > len(raw):
            raise PayloadProblem("undecodable_payload", f"Cayenne LPP: a channel without a type at byte {pos}")
        channel, kind = raw[pos], raw[pos + 1]
        pos += 2
        if kind not in LPP:
            raise PayloadProblem("undecodable_payload", f"Cayenne LPP: unknown data type {kind} at byte {pos - 1}")
        name, size, signed, div = LPP[kind]
        if pos + size > len(raw):
            raise PayloadProblem("undecodable_payload", f"Cayenne LPP: {name} needs {size} bytes at byte {pos}")
        chunk = raw[pos:pos + size]
        pos += size
        if kind == 136:
            lat, lon, alt = (int.from_bytes(chunk[i:i + 3], "big", signed=True) for i in (0, 3, 6))
            value = {"latitude": lat / 10_000, "longitude": lon / 10_000, "altitude": alt / 100}
        elif size == 6:
            x, y, z = (int.from_bytes(chunk[i:i + 2], "big", signed=True) / div for i in (0, 2, 4))
            value = {"x": x, "y": y, "z": z}
        else:
            value = int.from_bytes(chunk, "big", signed=signed)
            value = value / div if div != 1 else value
        out[f"{name}_{channel}"] = value
    return out


def encode_bytes(values: dict, fields: list[dict]) -> bytes:
    """The inverse of :func:`decode_bytes`: a device's payload from its field values (for simulators and
    for vendors checking their encoder).  Scaled fields are divided and rounded; ``bits`` fields are
    OR-ed into their shared value."""
    out = bytearray()
    for f in fields:
        fmt = TYPES[f["type"]]
        size = struct.calcsize(fmt)
        pos = f.get("offset", len(out))
        if len(out) < pos + size:
            out.extend(bytes(pos + size - len(out)))
        v = values[f["name"]]
        if "scale" in f:
            v = v / f["scale"]
        v = float(v) if fmt[-1] == "f" else int(round(v))
        if "bits" in f:
            lo, _ = f["bits"]
            (old,) = struct.unpack_from(fmt, out, pos)
            v = old | (v << lo)
        struct.pack_into(fmt, out, pos, v)
    return bytes(out)


def encode_cayenne_lpp(values: dict) -> bytes:
    """The inverse of :func:`decode_cayenne_lpp` for scalar types: keys are ``<type name>_<channel>``."""
    by_name = {name: (kind, size, signed, div) for kind, (name, size, signed, div) in LPP.items()}
    out = bytearray()
    for key, v in values.items():
        name, _, channel = key.rpartition("_")
        kind, size, signed, div = by_name[name]
        if kind == 136 or size == 6:
            raise ValueError(f"encode_cayenne_lpp: {name} is not a scalar type")
        out += bytes([int(channel), kind]) + int(round(v * div)).to_bytes(size, "big", signed=signed)
    return bytes(out)


class LoRaWanFormat:
    name = "lorawan"
    _json = JsonFormat()

    def split(self, data: bytes, cfg: dict) -> Iterator[tuple[bytes, dict]]:
        return self._json.split(data, cfg)  # one uplink per message; an array of them is cut like JSON

    def check(self, cfg: dict) -> list[tuple[tuple, str]]:
        """Spec mistakes in ``payload.lorawan``, as (path, message)."""
        lw = cfg.get("lorawan")
        if not isinstance(lw, dict):
            return [(("payload",), "format lorawan needs payload.lorawan with network_server and decoder")]
        out = []
        if lw.get("network_server") not in NETWORK_SERVERS:
            out.append((("payload", "lorawan", "network_server"),
                        f"network_server must be one of {', '.join(NETWORK_SERVERS)}, not {lw.get('network_server')!r}"))
        dec = lw.get("decoder")
        if not isinstance(dec, dict) or dec.get("type") not in ("bytes", "cayenne_lpp"):
            out.append((("payload", "lorawan", "decoder"), "decoder.type must be bytes or cayenne_lpp"))
        elif dec["type"] == "bytes":
            fields = dec.get("fields")
            if not isinstance(fields, list) or not fields:
                out.append((("payload", "lorawan", "decoder", "fields"), "a bytes decoder lists its fields"))
            else:
                for i, f in enumerate(fields):
                    path = ("payload", "lorawan", "decoder", "fields", i)
                    if not isinstance(f, dict) or not f.get("name"):
                        out.append((path, "each field has a name"))
                    elif f.get("type") not in TYPES:
                        out.append((path + ("type",), f"unknown field type {f.get('type')!r} "
                                                      f"(known: {', '.join(TYPES)})"))
        return out

    def decode(self, body: bytes, cfg: dict) -> list[dict]:
        lw = cfg["lorawan"]
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise PayloadProblem("malformed_json", f"not valid JSON: {e.msg}") from None
        rec, data = _envelope(doc, lw["network_server"])
        try:
            if not isinstance(data, str):
                raise ValueError
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise PayloadProblem("undecodable_payload", f"the payload {str(data)[:40]!r} is not base64") from None
        dec = lw["decoder"]
        decoded = decode_cayenne_lpp(raw) if dec["type"] == "cayenne_lpp" else decode_bytes(raw, dec["fields"])
        rec.update(decoded)
        return [rec]


register(LoRaWanFormat())
