"""``citylink demo`` and ``citylink simulate`` as real processes: from an empty data directory with no
broker configured, every service flows in; Ctrl-C stops cleanly; the data stays for the next run."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import httpx
import pytest

from citylink.adapters.broker import LocalMosquitto
from citylink.cli.demo import DEMO_PASSWORD_FILE
from citylink.config import BUNDLED_SPECS
from citylink.spec.loader import load_paths
from citylink.spec.model import API_SOURCE
from test_cli_serve import CITYLINK, free_port, needs_script, serving

SERVICES = sorted(load_paths([BUNDLED_SPECS]).services)
ADMIN_KEY = "demo-test-admin"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def demo_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYLINK_")}  # no broker URL: embedded
    env["CITYLINK_PSEUDONYM_KEY"] = "demo-test"
    env["CITYLINK_ADMIN_KEY"] = ADMIN_KEY
    return env


def _stored(data, read):
    from citylink.config import load_settings
    from citylink.store import open_store
    store = open_store(load_settings(data_dir=data).resolved_store_url())
    try:
        return read(store)
    finally:
        store.close()


def ledger(data) -> dict:
    return _stored(data, lambda store: store.ledger())


def accounts(data) -> dict:
    """login → (department, scopes) of the accounts that may sign in."""
    return _stored(data, lambda store: {u.login: (u.department, u.scopes) for u in store.users() if u.has_password})


@needs_script
def test_demo_runs_every_service_on_a_bare_machine_and_keeps_its_data(tmp_path):
    data = tmp_path / "demo"
    argv = [str(CITYLINK), "--data-dir", str(data), "demo", "--port", str(free_port()), "--backfill", "0.05",
            "--duration", "PT3S", "--summary-every", "1"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=demo_env())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "(embedded)" in r.stdout and "/ngsi-ld/v1/entities" in r.stdout
    assert f"Authorization: Bearer {ADMIN_KEY}" in r.stdout  # the demo prints the admin key
    for service in SERVICES:  # a summary line per service
        assert re.search(rf"(?m)^{re.escape(service)}\s+\d+\s+\d+\s+[\d,]+", r.stdout), service
    assert f"the data stays in {data}" in r.stdout
    # the demo's staff accounts, one password made at random and kept in the data directory, printed to sign in
    password = (data / DEMO_PASSWORD_FILE).read_text().strip()
    assert len(password) >= 12 and f"password {password}" in r.stdout
    assert oct((data / DEMO_PASSWORD_FILE).stat().st_mode & 0o777) == "0o600"
    departments = sorted(load_paths([BUNDLED_SPECS]).departments)
    assert set(accounts(data)) == {"demo.admin", "demo.staff"} | {f"demo.{d}" for d in departments}
    first = ledger(data)
    # every vendor's source, and the platform's own writes: the alarms raised, as NGSI-LD Alert entities
    assert set(first) == set(load_paths([BUNDLED_SPECS]).sources) | {API_SOURCE}
    assert all(v["received"] > 0 and v.get("pending", 0) == 0 for v in first.values()), first

    r = subprocess.run(argv[:6] + ["--duration", "PT3S"], capture_output=True, text=True, timeout=300,
                       env=demo_env())
    assert r.returncode == 0, r.stdout + r.stderr
    again = ledger(data)
    assert (data / DEMO_PASSWORD_FILE).read_text().strip() == password and f"password {password}" in r.stdout
    assert sum(v["received"] for v in again.values()) > sum(v["received"] for v in first.values())
    assert all(again[s]["received"] >= first[s]["received"] for s in first)


@needs_script
def test_ctrl_c_stops_the_demo_cleanly(tmp_path):
    data = tmp_path / "demo"
    port = free_port()
    proc = subprocess.Popen([str(CITYLINK), "--data-dir", str(data), "demo", "--port", str(port), "--backfill",
                             "0.02"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=demo_env())
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                led = httpx.get(f"http://127.0.0.1:{port}/api/ledger", timeout=5, headers=ADMIN).json()
                if led and sum(v.get("received", 0) for v in led.values()) > 100:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the demo served no data"
            time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, out
    assert "stopped; the data stays" in out and "Traceback" not in out
    assert all(v.get("pending", 0) == 0 for v in ledger(data).values())


@needs_script
def test_simulate_drives_a_running_platform_over_http_and_mqtt(tmp_path, bins_dir):
    broker = LocalMosquitto(tmp_path / "mosquitto")
    if not broker.available:
        pytest.skip("mosquitto is not installed (Debian package mosquitto)")
    with broker:
        data = tmp_path / "data"
        env = dict(os.environ, CITYLINK_MQTT_URL=broker.url, CITYLINK_PSEUDONYM_KEY="sim-test",
                   CITYLINK_ADMIN_KEY=ADMIN_KEY)
        with serving(data, BUNDLED_SPECS, env, tmp_path / "serve.log") as (_, http):
            r = subprocess.run([str(CITYLINK), "--data-dir", str(data), "simulate", "--url", str(http.base_url),
                                "--source", "bins-acme-http", "--source", "crosswalk-cheonha-mqtt", "--backfill",
                                "0.05", "--no-live", "--faults", "duplicate=0.05", "--seed", "3"],
                               capture_output=True, text=True, timeout=300, env=env)
            assert r.returncode == 0, r.stdout + r.stderr
            sent = {m[0]: int(m[1].replace(",", "")) for m in re.findall(r"(?m)^(\S+)\s+sent\s+([\d,]+)", r.stdout)}
            assert set(sent) == {"bins-acme-http", "crosswalk-cheonha-mqtt"} and all(sent.values())
            deadline = time.monotonic() + 30
            while True:
                led = http.get("/api/ledger").json()
                if all(led.get(s, {}).get("received") == n for s, n in sent.items()):
                    break
                assert time.monotonic() < deadline, (led, sent)
                time.sleep(0.2)
            assert all(led[s]["duplicate"] > 0 for s in sent)


@needs_script
def test_simulate_dry_run_prints_the_messages_it_would_send(tmp_path):
    r = subprocess.run([str(CITYLINK), "--data-dir", str(tmp_path / "d"), "simulate", "--dry-run", "--source",
                        "snowbox-lora-chirpstack", "--window", "PT2H", "--fleet", "2"],
                       capture_output=True, text=True, timeout=120, env=demo_env())
    assert r.returncode == 0, r.stderr
    import json
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert lines and {x["source"] for x in lines} == {"snowbox-lora-chirpstack"}
    assert all('"data":' in x["body"] and '"deviceInfo"' in x["body"] for x in lines)


@needs_script
def test_insecure_no_auth_is_refused_off_loopback(tmp_path):
    for command in ("serve", "demo"):
        r = subprocess.run([str(CITYLINK), "--data-dir", str(tmp_path / "d"), command, "--host", "0.0.0.0",
                            "--insecure-no-auth"], capture_output=True, text=True, timeout=60, env=demo_env())
        assert r.returncode == 2 and "--insecure-no-auth: refused on 0.0.0.0" in r.stderr, (command, r.stderr)
