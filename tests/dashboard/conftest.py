"""The dashboard's tests run on both store engines: a platform with the shipped specs, fed every source's example
payload and a few messages whose figures the tests know (``dashworld.py``), with keys of several readers.  The
browser tests (``test_browser*.py``) share one served platform and one chromium per module (``site``,
``browser``), and a fresh browser context per test (``page``), which fails the test on any script error."""
from __future__ import annotations

import pytest

from browsing import CHROMIUM, playwright
from cltest import manual_clock, serving, started_platform, wait_until
from citylink.config import BUNDLED_SPECS
from dashworld import KEYS, NOW, add_users, feed


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request, tmp_path_factory):
    with started_platform(request.param, tmp_path_factory.mktemp("data"), manual_clock(NOW), BUNDLED_SPECS) as p:
        feed(p)
        keys = {name: p.issue_api_key(name, **kw)[1] for name, kw in KEYS.items()}
        keys["admin"] = p.settings.resolved_admin_key()
        # the rules' alarms of the bins sent now (no for:, raised at once by the engine's thread)
        assert wait_until(lambda: {a.entity.rsplit(":", 1)[-1] for a in _open(p) if a.service == "waste-bins"
                                   and a.rule in ("waste-bins/collect-soon", "waste-bins/full")} >= {"A-90", "A-91"})
        yield {"platform": p, "keys": keys}


def _open(p):
    from citylink.store.alarms import open_alarms
    return open_alarms(p.store)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A served platform (SQLite, uvicorn in a thread) fed as ``world`` is, with dashworld's staff accounts:
    ``{"platform", "url", "admin"}`` (the admin key)."""
    playwright()
    from citylink.api.app import create_app
    with started_platform("sqlite", tmp_path_factory.mktemp("data"), manual_clock(NOW), BUNDLED_SPECS) as p:
        feed(p)
        add_users(p)
        with serving(create_app(p)) as url:
            yield {"platform": p, "url": url, "admin": p.settings.resolved_admin_key()}


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, one per module: Playwright's sync API keeps an event loop running in this thread while
    it is open, which later tests that run a loop of their own (asyncio.Runner) must not find."""
    with playwright().sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory):
    """The folder the browser tests save their screenshots in (printed; ``pytest -s`` shows it)."""
    d = tmp_path_factory.mktemp("screenshots")
    print(f"\nscreenshots: {d}")
    return d


@pytest.fixture
def errors():
    """The page's script errors and failed loads (a test that expects some takes them out)."""
    return []


@pytest.fixture
def page(browser, site, errors):
    """A fresh browser context (its own cookies and storage), desktop-sized; fails the test on any script error."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = ctx.new_page()
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield pg
    ctx.close()
    assert errors == []
