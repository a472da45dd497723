"""Interoperability: the PyPI NGSI-LD client ``ngsildclient`` (Orange; written by no one here) drives a real
``citylink serve``: it creates a WasteContainer with its Entity builder, retrieves it, queries it by type and
by ``q``, updates it twice through its batch operations with later observedAt times, and reads its temporal
representation.

ngsildclient pins old libraries (``httpx<0.24``, ``rich<13``, …) that clash with CityLink's, so it lives in a
virtual environment of its own, made once per machine in pytest's cache (keyed by the client's version and
the Python version) and reused; the client runs as a subprocess (``ngsildclient_script.py``) and answers
with a JSON summary, on which this test asserts.  When PyPI cannot be reached the test skips and says so;
any other failure to build the environment fails it.

The client sends the admin key itself (``Client(custom_auth=…)`` adds ``Authorization: Bearer``), so the
server runs with its normal access control, not ``--insecure-no-auth``.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from cltest import wait_ready

NGSILDCLIENT_VERSION = "0.5.2"
SCRIPT = Path(__file__).with_name("ngsildclient_script.py")
CITYLINK = Path(sys.executable).with_name("citylink")
ADMIN_KEY = "ngsildclient-test-admin"
ENTITY_ID = "urn:ngsi-ld:WasteContainer:test:1"

# pip's words when it cannot reach the index (DNS, refused or timed-out connections, a proxy in the way)
UNREACHABLE = re.compile(r"NewConnectionError|Failed to establish a new connection|Temporary failure in name "
                         r"resolution|Name or service not known|Network is unreachable|ConnectTimeoutError|"
                         r"ReadTimeoutError|ProxyError|Max retries exceeded|No route to host")


def _clean_env() -> dict:
    """The environment for a process of another virtual environment: nothing of this one leaks into it."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _venv_python(root: Path) -> Path:
    return root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


@pytest.fixture(scope="session")
def ngsildclient_python(request, tmp_path_factory) -> Path:
    """The python of a virtual environment with ngsildclient==NGSILDCLIENT_VERSION, made once and reused."""
    cache = getattr(request.config, "cache", None)
    base = cache.mkdir("ngsildclient-venv") if cache is not None else tmp_path_factory.mktemp("ngsildclient-venv")
    key = f"{NGSILDCLIENT_VERSION}-py{sys.version_info.major}.{sys.version_info.minor}"
    root, done = base / key, base / f"{key}.done"
    with open(base / ".lock", "w") as lock:  # one builder at a time (parallel test workers)
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists() and _venv_python(root).exists():
            return _venv_python(root)
        shutil.rmtree(root, ignore_errors=True)  # a half-made one from an interrupted run
        r = subprocess.run([sys.executable, "-m", "venv", str(root)], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"python -m venv {root} failed:\n{r.stdout}{r.stderr}"
        r = subprocess.run([str(_venv_python(root)), "-m", "pip", "install", "--disable-pip-version-check",
                            "--no-input", "--retries", "2", "--timeout", "30", f"ngsildclient=={NGSILDCLIENT_VERSION}"],
                           capture_output=True, text=True, timeout=600, env=_clean_env())
        if r.returncode != 0:
            out = r.stdout + r.stderr
            shutil.rmtree(root, ignore_errors=True)
            if UNREACHABLE.search(out):
                line = next((ln for ln in out.splitlines() if UNREACHABLE.search(ln)), "").strip()
                pytest.skip(f"PyPI cannot be reached, so ngsildclient=={NGSILDCLIENT_VERSION} cannot be installed "
                            f"in its own virtual environment: {line[:300]}")
            pytest.fail(f"pip install ngsildclient=={NGSILDCLIENT_VERSION} failed (exit {r.returncode}):\n{out[-4000:]}")
        done.write_text(NGSILDCLIENT_VERSION)
    return _venv_python(root)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def citylink_serve(data: Path, specs: Path, log_path: Path):
    """``citylink serve`` on a free loopback port with SQLite under ``data``, ready; its port."""
    port = free_port()
    env = dict(os.environ, CITYLINK_ADMIN_KEY=ADMIN_KEY, CITYLINK_PSEUDONYM_KEY="ngsildclient-test")
    with open(log_path, "w+") as log:
        proc = subprocess.Popen([str(CITYLINK), "--data-dir", str(data), "serve", "--specs", str(specs),
                                 "--host", "127.0.0.1", "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
                wait_ready(http, proc, log_path)
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def at(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def explain(summary: dict) -> str:
    """The failed step, the client's error and the last HTTP exchanges, for the assertion message."""
    f = summary["failed"]
    lines = [f"ngsildclient {summary['ngsildclient']} failed at step {f['step']!r}: {f['error']}", "HTTP exchanges:"]
    for x in summary["http"][-6:]:
        lines.append(f"  {x['request']}  {x.get('headers', {})} -> {x.get('status', x.get('error'))}"
                     f"  {x.get('response', '')}")
    lines.append(f["traceback"])
    return "\n".join(lines)


needs_script = pytest.mark.skipif(not CITYLINK.exists(), reason="the citylink script is not installed next to this python")


@needs_script
def test_ngsildclient_create_query_update_temporal(ngsildclient_python, tmp_path, bins_dir):
    # the shipped waste-bins specs (a private copy): WasteContainer and its fillingLevel, location
    now = datetime.now(timezone.utc).replace(microsecond=0)
    times = [(now - timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ") for m in (30, 20, 10)]
    with citylink_serve(tmp_path / "data", bins_dir, tmp_path / "serve.log") as port:
        cfg = {"host": "127.0.0.1", "port": port, "key": ADMIN_KEY, "id": ENTITY_ID, "times": times}
        r = subprocess.run([str(ngsildclient_python), str(SCRIPT), json.dumps(cfg)], capture_output=True, text=True,
                           timeout=120, env=_clean_env(), cwd=tmp_path)
    try:
        summary = json.loads(r.stdout)
    except ValueError:
        pytest.fail(f"the client script printed no JSON summary (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")
    assert summary["ngsildclient"] == NGSILDCLIENT_VERSION
    if summary["failed"]:
        pytest.fail(explain(summary))
    assert r.returncode == 0, r.stderr
    check_results(summary["results"], times)


def check_results(res: dict, times: list[str]) -> None:
    """What the client got back, step by step (see ngsildclient_script.py)."""
    # Client() probed the broker and found no vendor it knows (Orion-LD, Scorpio, Stellio): fine
    assert res["connect"] == {"vendor": None, "version": "N/A"}
    assert res["create"] is True

    e = res["retrieve"]
    assert (e["id"], e["type"]) == (ENTITY_ID, "WasteContainer")
    fl = e["fillingLevel"]
    assert (fl["type"], fl["value"], at(fl["observedAt"])) == ("Property", 0.7, at(times[0]))
    assert fl.get("unitCode") == "C62"
    assert e["location"]["type"] == "GeoProperty"
    assert e["location"]["value"] == {"type": "Point", "coordinates": [127.0471, 37.6688]}

    # a fresh store holds only the client's entity
    assert res["query_type"] == [ENTITY_ID]
    assert res["query_q"] == [ENTITY_ID]

    assert res["update"]["success"] == [ENTITY_ID] and res["update"]["errors"] == []
    assert res["query_q_after_update"] == []            # 0.3 now
    assert res["upsert"]["errors"] == []
    assert res["query_q_after_upsert"] == [ENTITY_ID]   # 0.9 now

    e = res["retrieve_after_upsert"]
    fl = e["fillingLevel"]
    assert (fl["value"], at(fl["observedAt"])) == (0.9, at(times[2]))
    assert e["location"]["value"]["coordinates"] == [127.0471, 37.6688]  # updates of fillingLevel kept it

    # temporal, simplified (options=temporalValues): one instance per observedAt, values as sent
    t = res["temporal"]
    assert (t["id"], t["type"]) == (ENTITY_ID, "WasteContainer")
    assert t["fillingLevel"]["type"] == "Property"
    got = sorted((at(ts), v) for v, ts in t["fillingLevel"]["values"])
    assert got == [(at(times[0]), 0.7), (at(times[1]), 0.3), (at(times[2]), 0.9)]

    # temporal, normalized, only fillingLevel: three instances with distinct instanceIds
    t = res["temporal_normalized"]
    assert set(t) - {"@context"} == {"id", "type", "fillingLevel"}
    instances = t["fillingLevel"]
    assert isinstance(instances, list) and len(instances) == 3
    assert sorted((at(i["observedAt"]), i["value"]) for i in instances) == got
    ids = [i["instanceId"] for i in instances if "instanceId" in i]
    assert len(set(ids)) == len(ids)
