"""The README's screenshot of the dashboard's overview (docs/dashboard-overview.png), made with the tooling of the
browser tests: ``citylink demo`` in its own process (the demo's own fleet, ``--backfill`` of history, then live),
Debian's chromium headless through Playwright for Python, signed in as the demo's admin (``demo.admin``),
1400×900, the page's default language unless ``--lang``.

    .venv/bin/python bench/dashboard_screenshot.py [--out docs/dashboard-overview.png] [--lang ko|en]

Korean text needs a Korean font on the machine (Debian: fonts-nanum or fonts-noto-cjk); without one it shows as
boxes, and the script says so.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from demo_server import demo, sign_in, wait_for_devices   # beside this script: Python puts its folder on the path

ROOT = Path(__file__).resolve().parents[1]


def korean_font() -> bool:
    if not shutil.which("fc-list"):
        return False
    return bool(subprocess.run(["fc-list", ":lang=ko"], capture_output=True, text=True).stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "dashboard-overview.png")
    ap.add_argument("--lang", choices=("ko", "en"), default=None)
    ap.add_argument("--backfill", type=float, default=0.1, help="days of history first")
    ap.add_argument("--settle", type=float, default=20, help="seconds of live data before the picture")
    a = ap.parse_args()
    if not korean_font():
        print("warning: no Korean font found (fc-list :lang=ko): Korean text will show as boxes", file=sys.stderr)
    from playwright.sync_api import sync_playwright
    with demo("--backfill", str(a.backfill)) as (url, key, password):
        seen, total = wait_for_devices(url, key, 50)
        time.sleep(a.settle)
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
            ctx = b.new_context(viewport={"width": 1400, "height": 900})
            pg = ctx.new_page()
            sign_in(ctx, url, password)
            if a.lang:
                pg.add_init_script(f"localStorage.setItem('citylink.lang', {a.lang!r});")
            pg.goto(url + "/")
            pg.wait_for_selector("body[data-ready=true]", timeout=30000)
            pg.wait_for_selector("#live-state", state="attached")
            time.sleep(1)
            pg.screenshot(path=str(a.out))
            b.close()
    print(f"{a.out}: the overview of a demo with {seen} devices reporting ({total} in all)")


if __name__ == "__main__":
    main()
