"""What the browser tests share: Debian's chromium driven by Playwright for Python (never Playwright's own
browser download), signing in through the sign-in page, and waiting for a page to say it is ready.  The
fixtures (a served platform, the browser, a page per test) are in ``conftest.py``."""
from __future__ import annotations

from pathlib import Path

import pytest

from dashworld import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")


def playwright():
    """Playwright's sync API, or the test is skipped, saying why."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: the browser tests use Debian's chromium (apt-get install chromium)")
    return pytest.importorskip("playwright.sync_api", reason="the playwright package is missing (pip install "
                                                             "-e '.[test]')")


def expect(locator):
    return playwright().expect(locator)


def sign_in(pg, url: str, login: str, then: str = "/") -> None:
    """Sign in through the sign-in page as one of dashworld's USERS, and land on ``then``."""
    pg.goto(f"{url}/signin?next={then}")
    pg.fill("#login", login)
    pg.fill("#password", PASSWORD)
    with pg.expect_navigation():
        pg.click("#signin-form button[type=submit]")
    pg.wait_for_selector(f"body[data-signed-in=true] .who[data-login='{login}']", timeout=15000)


def open_ready(pg, url: str, timeout: float = 15000) -> None:
    """Open a page and wait until its module marks it ready (``<body data-ready=true>``)."""
    pg.goto(url)
    pg.wait_for_selector("body[data-ready=true]", timeout=timeout)
