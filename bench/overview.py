"""Benchmark: the dashboard's overview with 2,000 devices — its two API reads and the page in a real browser.

Workload: ``citylink demo`` in its own process with ``--fleet`` simulated devices per vendor profile (210: about
2,500 devices, of which about 2,100 report within the backfill; the others are registry devices of hourly-file
vendors not heard of yet), ``--backfill`` days of history (0.05: 72 minutes), then live, every vendor sending
over its real transport while it is measured.  Once ``--devices`` devices have reported:

* ``GET /api/overview`` and ``GET /api/overview/devices``, ``--runs`` times each, as the public (no key) and with
  the admin key: median and 95th percentile in ms, and the size of the answer;
* the page, ``--loads`` times as the public and signed in as the demo's admin, each in a new browser context (a
  cold cache) of Debian's chromium (headless, Playwright for Python with executable_path=/usr/bin/chromium): the
  time from navigation start to the page's ``citylink:overview-ready`` mark — the tiles filled and every marker
  on the map;
* the service page's reads for the service with the most devices, with the admin key: a page of its devices
  table (``/api/services/{id}/devices``, 50 rows) and its first chart over the last day and the last week
  (``/api/services/{id}/series``).

    .venv/bin/python bench/overview.py [--fleet 210] [--devices 2000] [--runs 30] [--loads 7]

Not a test: it prints the figures (docs/benchmarks.md keeps them).
"""
from __future__ import annotations

import argparse
import statistics
import time

import httpx

from demo_server import demo, sign_in, wait_for_devices   # beside this script: Python puts its folder on the path

CHROMIUM = "/usr/bin/chromium"


def timed_get(url: str, headers: dict, runs: int) -> tuple[list[float], int, int | None]:
    """ms per request over one connection (after a warm-up request), bytes, and rows (devices) of the last."""
    times = []
    with httpx.Client(headers=headers, timeout=60) as c:
        c.get(url)
        for _ in range(runs):
            t0 = time.perf_counter()
            r = c.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            r.raise_for_status()
    doc = r.json()
    return times, len(r.content), len(doc["devices"]) if "devices" in doc else None


def page_loads(url: str, password: str | None, loads: int) -> tuple[list[float], int]:
    """Load the overview ``loads`` times in a fresh browser context each, signed in as the demo's admin when
    ``password`` is given: the page's own mark of when it was ready (ms), and the devices it shows."""
    from playwright.sync_api import sync_playwright
    out, shown = [], 0
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            for _ in range(loads):
                ctx = b.new_context(viewport={"width": 1400, "height": 900})
                pg = ctx.new_page()
                if password:
                    sign_in(ctx, url, password)
                pg.goto(url + "/")
                pg.wait_for_selector("body[data-ready=true]", timeout=30000)
                out.append(pg.evaluate("performance.getEntriesByName('citylink:overview-ready')[0].startTime"))
                shown = int(pg.get_attribute("#shown", "data-value"))
                ctx.close()
        finally:
            b.close()
    return out, shown


def week_before(iso: str) -> str:
    from datetime import datetime, timedelta
    return (datetime.fromisoformat(iso.replace("Z", "+00:00")) - timedelta(days=7)).isoformat()


def summary(ms: list[float]) -> str:
    if not ms:
        return "-"
    p95 = sorted(ms)[max(0, round(len(ms) * 0.95) - 1)]
    return f"median {statistics.median(ms):6.1f} ms  p95 {p95:6.1f} ms  max {max(ms):6.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fleet", type=int, default=210, help="simulated devices per vendor profile")
    ap.add_argument("--devices", type=int, default=2000, help="measure once this many devices have reported")
    ap.add_argument("--backfill", type=float, default=0.05, help="days of history first")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--loads", type=int, default=7)
    a = ap.parse_args()
    with demo("--fleet", str(a.fleet), "--backfill", str(a.backfill)) as (url, key, password):
        t0 = time.monotonic()
        seen, total = wait_for_devices(url, key, a.devices)
        print(f"citylink demo --fleet {a.fleet} --backfill {a.backfill}: {seen:,} devices reporting, {total:,} in all "
              f"(ready after {time.monotonic() - t0:.0f} s); measuring while it runs live")
        for reader, headers in (("public", {}), ("admin", {"Authorization": f"Bearer {key}"})):
            for path in ("/api/overview", "/api/overview/devices"):
                ms, size, rows = timed_get(url + path, headers, a.runs)
                print(f"  {reader:6} GET {path:23} {summary(ms)}  {size / 1024:6.1f} KiB"
                      + (f"  {rows:,} devices" if rows is not None else ""))
        for reader, k in (("public", None), ("admin", password)):
            ms, shown = page_loads(url, k, a.loads)
            print(f"  {reader:6} page load to ready   {summary(ms)}  ({shown:,} markers, {a.loads} cold loads)")
        admin = {"Authorization": f"Bearer {key}"}
        tiles = httpx.get(url + "/api/overview", headers=admin, timeout=30).json()["services"]
        busiest = max(tiles, key=lambda s: s["devices"]["total"])
        sid = busiest["id"]
        now = httpx.get(f"{url}/api/services/{sid}", headers=admin, timeout=30).json()["now"]
        print(f"  service page of {sid} ({busiest['devices']['total']:,} devices), admin key:")
        for what, path in (("devices table", f"/api/services/{sid}/devices?limit=50"),
                           ("chart, a day", f"/api/services/{sid}/series?to={now}"),
                           ("chart, a week", f"/api/services/{sid}/series?to={now}&from=" + week_before(now))):
            ms, size, _ = timed_get(url + path.replace("+", "%2B"), admin, a.runs)
            print(f"    GET {what:14} {summary(ms)}  {size / 1024:6.1f} KiB")


if __name__ == "__main__":
    main()
