"""``citylink serve`` as a real process: push, read back, and a spec applied by another process is used
without a restart."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import orjson
import pytest

from cltest import ACME, acme_urn, wait_ready

CITYLINK = Path(sys.executable).with_name("citylink")
KST = timezone(timedelta(hours=9))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(data_dir: Path, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(CITYLINK), "--data-dir", str(data_dir), *map(str, args)], capture_output=True,
                          text=True, timeout=60, env=env)


def body(compactions: int, minutes_ago: float) -> bytes:
    ts = (datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)).astimezone(KST).isoformat(timespec="seconds")
    return orjson.dumps({"deviceId": "A-17", "ts": ts, "fill_pct": 40, "compactions": compactions})


@contextmanager
def serving(data: Path, specs: Path, env: dict, log_path: Path):
    """A real ``citylink serve`` process on a free port, ready; terminated however the block ends."""
    port = free_port()
    log = open(log_path, "w+")
    proc = subprocess.Popen([str(CITYLINK), "--data-dir", str(data), "serve", "--specs", str(specs),
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        admin = {"Authorization": f"Bearer {env['CITYLINK_ADMIN_KEY']}"} if "CITYLINK_ADMIN_KEY" in env else {}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, headers=admin) as http:
            wait_ready(http, proc, log_path)
            yield proc, http
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


needs_script = pytest.mark.skipif(not CITYLINK.exists(), reason="the citylink script is not installed next to this python")


@needs_script
def test_serve_push_read_and_hot_reload(tmp_path, bins_dir):
    data = tmp_path / "data"
    spec = bins_dir / "sources/bins-acme-http.yaml"
    original = spec.read_text()
    spec.write_text(original.replace("  compactionCount: {from: compactions}\n", ""))
    env = dict(os.environ, CITYLINK_SPEC_POLL_SECONDS="0.2", CITYLINK_PSEUDONYM_KEY="serve-test",
               CITYLINK_ADMIN_KEY="serve-test-admin")

    r = cli(data, "spec", "apply", bins_dir, env=env)
    assert r.returncode == 0, r.stderr
    r = cli(data, "sources", "token", ACME, env=env)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()

    with serving(data, bins_dir, env, tmp_path / "serve.log") as (proc, http):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        r = http.post(f"/ingest/{ACME}", content=body(5, 3), headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["results"][0]["outcome"] == "stored"
        e = http.get(f"/ngsi-ld/v1/entities/{acme_urn('A-17')}", params={"options": "keyValues"}).json()
        assert e["fillingLevel"] == 0.4 and "compactionCount" not in e

        # another process applies a spec that maps compactions
        spec.write_text(original.replace("version: 1.0.0\nvendor", "version: 1.1.0\nvendor"))
        r = cli(data, "spec", "apply", bins_dir, env=env)
        assert r.returncode == 0 and "new version" in r.stdout, r.stderr

        deadline = time.monotonic() + 20
        n = 0
        while True:  # each push is a new reading, so none is a duplicate
            n += 1
            r = http.post(f"/ingest/{ACME}", content=body(100 + n, 2 - n / 100), headers=headers)
            assert r.status_code == 200, r.text
            e = http.get(f"/ngsi-ld/v1/entities/{acme_urn('A-17')}", params={"options": "keyValues"}).json()
            if "compactionCount" in e:
                assert e["compactionCount"] == 100 + n
                break
            assert time.monotonic() < deadline, "the running server never used the new spec"
            time.sleep(0.2)
        assert proc.poll() is None  # no restart happened
        ledger = http.get("/api/ledger").json()[ACME]
        assert ledger["received"] == ledger["stored"] == n + 1


@needs_script
def test_concurrent_pushes_all_end_in_the_ledger(tmp_path, bins_dir):
    """Several vendors' gateways pushing at once: every message is answered after it is archived, and
    the ledger balances with nothing pending (SQLite's single writer under concurrent requests)."""
    data = tmp_path / "data"
    env = dict(os.environ, CITYLINK_PSEUDONYM_KEY="serve-test", CITYLINK_ADMIN_KEY="serve-test-admin")
    assert cli(data, "spec", "apply", bins_dir, env=env).returncode == 0
    token = cli(data, "sources", "token", ACME, env=env).stdout.strip()
    now = datetime.now(timezone.utc)
    clients, requests, per = 6, 15, 10

    def push(http, k: int, codes: list) -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for i in range(requests):
            ts = (now - timedelta(seconds=k * 100 + i))  # distinct, and not late.astimezone(KST).isoformat(timespec="seconds")
            batch = [{"deviceId": f"C-{k}-{j}", "ts": ts, "fill_pct": j} for j in range(per)]
            if i == 0:
                batch.append({"deviceId": f"C-{k}-bad", "ts": ts, "fill_pct": "full"})  # quarantined
            codes.append(http.post(f"/ingest/{ACME}", content=orjson.dumps(batch), headers=headers).status_code)

    with serving(data, bins_dir, env, tmp_path / "serve.log") as (proc, http):
        codes: list[int] = []
        threads = [threading.Thread(target=push, args=(http, k, codes)) for k in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert sorted(set(codes)) == [200, 207] and len(codes) == clients * requests
        ledger = http.get("/api/ledger").json()[ACME]
    expected = clients * (requests * per + 1)
    assert ledger["received"] == expected and ledger["pending"] == 0
    assert ledger["stored"] == clients * requests * per and ledger["quarantined"] == clients
