"""``citylink demo`` in its own process, for the dashboard's benchmark and screenshot (bench/overview.py,
bench/dashboard_screenshot.py): a fresh data directory, a known admin key, a free port, the demo's accounts'
password; stopped with Ctrl-C's signal (it delivers what it holds) and its data directory removed afterwards."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx

from citylink.adapters.broker import free_port
from citylink.cli.demo import DEMO_PASSWORD_FILE

ADMIN_KEY = "bench-dashboard-admin"
CITYLINK = Path(sys.executable).with_name("citylink")


@contextmanager
def demo(*args: str, log: Path | None = None):
    """Yield (base URL, admin key, the password of the demo's accounts) of a demo run with ``args`` (e.g.
    ``--fleet 200 --backfill 0.05``)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYLINK_")}
    env.update(CITYLINK_ADMIN_KEY=ADMIN_KEY, CITYLINK_PSEUDONYM_KEY="bench-dashboard")
    with tempfile.TemporaryDirectory(prefix="citylink-dashboard-") as tmp:
        out = open(log or Path(tmp) / "demo.log", "w")
        proc = subprocess.Popen([str(CITYLINK), "--data-dir", str(Path(tmp) / "data"), "demo", "--port", str(port),
                                 "--summary-every", "30", *args], stdout=out, stderr=subprocess.STDOUT, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"citylink demo exited: see {out.name}")
                try:
                    if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass   # not listening yet: ask again until the deadline
                if time.monotonic() > deadline:
                    raise SystemExit("citylink demo did not become ready in 120 s")
                time.sleep(0.5)
            yield url, ADMIN_KEY, (Path(tmp) / "data" / DEMO_PASSWORD_FILE).read_text().strip()
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            out.close()


def reporting(url: str, key: str) -> tuple[int, int, float]:
    """(devices that have reported, devices in all, how far the platform's clock is behind the wall clock in s)
    as the admin's overview has them."""
    doc = httpx.get(url + "/api/overview", headers={"Authorization": f"Bearer {key}"}, timeout=30).json()
    total = sum(s["devices"]["total"] for s in doc["services"])
    behind = time.time() - datetime.fromisoformat(doc["at"].replace("Z", "+00:00")).timestamp()
    return total - sum(s["devices"].get("never_reported", 0) for s in doc["services"]), total, behind


def wait_for_devices(url: str, key: str, target: int, timeout: float = 900) -> tuple[int, int]:
    """Wait until ``target`` devices have reported and the backfill is over: the demo's clock, held at each tick
    of the past while it writes history, has caught up with the wall clock (the demo is live)."""
    deadline = time.monotonic() + timeout
    seen = (0, 0, 0.0)
    while time.monotonic() < deadline:
        seen = reporting(url, key)
        if seen[0] >= target and seen[2] < 30:
            return seen[:2]
        time.sleep(2)
    raise SystemExit(f"{seen[0]} devices reported, the clock {seen[2]:.0f} s behind, after {timeout:g} s "
                     f"(wanted {target}, live)")


def sign_in(ctx, url: str, password: str, login: str = "demo.admin") -> None:
    """Sign a Playwright browser context in as one of the demo's accounts (the session cookie goes in its jar)."""
    r = ctx.request.post(url + "/api/session", data={"login": login, "password": password})
    if not r.ok:
        raise SystemExit(f"signing in as {login} failed: {r.status} {r.text()}")
