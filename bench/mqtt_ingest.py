"""Benchmark: sustained MQTT → normalized → stored, QoS 1, with zero loss checked by the ledger.

A publisher process offers JSON messages of 3 readings from 10,000 devices with QoS 1 at a set
rate (``mosquitto_pub``, Mosquitto's C client, fed by a generator) to a real Mosquitto (a private one, run with CityLink's broker
configuration); CityLink — embedded SQLite store, in-process bus — subscribes with QoS 1 and a
persistent session and acknowledges each message after archiving it.  After the publisher stops,
the run waits until every acknowledged message is in the ledger, then prints:

    published (acknowledged by the broker) = received = stored + duplicate + quarantined

and the sustained rate (messages and values stored per second over the whole run, drain included).

    python bench/mqtt_ingest.py [--seconds 40] [--devices 10000] [--rate 20000]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

SOURCE = "bins-acme-mqtt"


def publish(port: int, seconds: float, devices: int, rate: int, out) -> None:
    """The vendor: JSON lines piped into ``mosquitto_pub -l -q 1`` (Mosquitto's own C client, so the
    publisher is not the bottleneck), paced at ``rate`` messages per second."""
    import subprocess

    import orjson

    proc = subprocess.Popen(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-M", "1000", "-l",
                             "-t", "acme/bins/gw-1/telemetry", "-i", "bench-vendor"], stdin=subprocess.PIPE)
    names = [f"D-{d}" for d in range(devices)]
    base = 1_795_651_200  # 2026-11-26T00:00Z
    sent, ts, chunk = 0, "", 500
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        lines = []
        for _ in range(chunk):
            dev = sent % devices
            if dev == 0:  # every device reports once per second of the simulated clock
                ts = time.strftime("%Y-%m-%dT%H:%M:%S+09:00", time.gmtime(base + 9 * 3600 + sent // devices))
            lines.append(orjson.dumps({"deviceId": names[dev], "ts": ts, "fill_pct": sent % 100,
                                       "temp_c": 10 + dev % 20, "battery_pct": 100 - dev % 50}))
            sent += 1
        proc.stdin.write(b"\n".join(lines) + b"\n")
        ahead = sent / rate - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
    proc.stdin.close()
    code = proc.wait()  # 0: every message was published and acknowledged by the broker
    out.put((sent, code, time.monotonic() - t0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=40.0, help="how long the publisher publishes (the full "
                    "workload of the issue is 60)")
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--rate", type=int, default=20_000, help="messages per second the vendor offers")
    args = ap.parse_args()

    from citylink.adapters.broker import LocalMosquitto
    from citylink.adapters.mqtt import MqttIngest
    from citylink.config import BUNDLED_SPECS, Settings
    from citylink.platform import Platform, tune_gc

    tune_gc()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        specs = tmp / "specs"
        import shutil
        shutil.copytree(BUNDLED_SPECS / "waste-bins", specs / "waste-bins")
        src = (specs / "waste-bins/sources/bins-acme-http.yaml").read_text()
        src = (src.replace("id: bins-acme-http", f"id: {SOURCE}").replace("namespace: acme", "namespace: acme-mqtt")
               .replace("transport:\n  type: http_push", "transport:\n  type: mqtt\n  topic: acme/bins/+/telemetry")
               .replace("devices: ../devices/bins-acme-http.csv\n", ""))
        (specs / f"waste-bins/sources/{SOURCE}.yaml").write_text(src)
        broker = LocalMosquitto(tmp / "mosquitto")
        if not broker.available:
            raise SystemExit("mosquitto is not installed (Debian package mosquitto)")
        with broker:
            p = Platform(Settings(data_dir=tmp / "data", pseudonym_key="bench", late_after_seconds=10 ** 9))
            p.start(specs_dir=specs, watch=False)
            ingest = MqttIngest(p, broker.url, client_id="citylink-bench").start()
            ingest.connected.wait(10)
            time.sleep(0.5)
            out = mp.Queue()
            t0 = time.monotonic()
            pub = mp.Process(target=publish, args=(broker.port, args.seconds, args.devices, args.rate, out))
            pub.start()
            sent, code, pub_s = out.get()
            pub.join()
            acked = sent if code == 0 else 0

            def ledger():
                return p.store.ledger().get(SOURCE, {"received": 0, "pending": 0})
            deadline = time.monotonic() + 120
            while (ledger()["received"] < acked or ledger()["pending"]) and time.monotonic() < deadline:
                time.sleep(0.05)
            p.bus.drain(60)
            elapsed = time.monotonic() - t0
            led = ledger()
            ingest.stop()
            p.stop()
    stored = led["stored"] + led["stored_flagged"]
    print(f"published {sent:,} messages in {pub_s:.1f} s (offered {args.rate:,}/s; mosquitto_pub exit {code})")
    print(f"ledger: received {led['received']:,} = stored {stored:,} + duplicate {led['duplicate']:,} + "
          f"quarantined {led['quarantined']:,} + pending {led['pending']:,}")
    lost = sent - led["received"]
    print(f"lost: {lost}")
    print(f"sustained (publish start → last message stored, {elapsed:.1f} s): {stored / elapsed:,.0f} msg/s, "
          f"{3 * stored / elapsed:,.0f} values/s")
    if lost or led["pending"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
