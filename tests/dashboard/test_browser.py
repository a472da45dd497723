"""The overview in a real browser: Debian's chromium, headless, driven by Playwright for Python, against a real
server (uvicorn in a thread) of a platform fed every source's example.  Screenshots go to the pytest temp
folder (the path is printed; ``pytest -s`` shows it).  Skipped, saying why, without /usr/bin/chromium
(``apt-get install chromium``; ``.ci/run`` installs it) or the ``playwright`` package (the test extras) —
Playwright's own browser download is never used."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cltest import acme_body, manual_clock, serving, started_platform, submit_and_wait, wait_until
from dashworld import ACME, KST, NOW, PEDESTRIANS, feed
from citylink.alarms import Raise
from citylink.config import BUNDLED_SPECS
from citylink.spec.loader import load_paths

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: the browser tests use Debian's chromium (apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing (pip install "
                                                             "-e '.[test]')")

SPECS = load_paths([BUNDLED_SPECS])
PUBLIC_SERVICES = set(SPECS.services) - {"safety-keeper"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from citylink.api.app import create_app
    with started_platform("sqlite", tmp_path_factory.mktemp("data"), manual_clock(NOW), BUNDLED_SPECS) as p:
        feed(p)
        with serving(create_app(p)) as url:
            yield {"platform": p, "url": url, "admin": p.settings.resolved_admin_key()}


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    d = tmp_path_factory.mktemp("screenshots")
    print(f"\nscreenshots: {d}")
    return d


@pytest.fixture
def errors():
    """The page's script errors and failed loads (a test that expects some takes them out)."""
    return []


@pytest.fixture
def page(browser, site, errors):
    """A fresh browser context (its own storage) on the overview; fails the test on any script error."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = ctx.new_page()
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield pg
    ctx.close()
    assert errors == []


def open_overview(pg, site):
    pg.goto(site["url"] + "/")
    pg.wait_for_selector("body[data-ready=true]", timeout=15000)


def figures(pg) -> dict[str, dict[str, float]]:
    """service → figure → value, as the tiles show them (their data-value)."""
    return pg.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.tile')].map(t => [
        t.dataset.service, Object.fromEntries([...t.querySelectorAll('[data-figure][data-value]')]
          .map(f => [f.dataset.figure, Number(f.dataset.value)]))]))""")


def test_every_public_service_shows_a_tile_with_figures_and_the_map_its_devices(page, site, shots):
    open_overview(page, site)
    got = figures(page)
    assert set(got) == PUBLIC_SERVICES
    for sid, f in got.items():
        assert f["devices"] > 0 and f["messages"] > 0, (sid, f)
        assert "alarms" not in f and "rejected" not in f, sid      # not the public's
    crossings = page.locator(".tile[data-service=smart-crosswalk] [data-figure=headline]")
    assert crossings.get_attribute("data-value") == str(PEDESTRIANS)
    shown = int(page.get_attribute("#shown", "data-value"))
    assert shown == 9                                               # bins, air, crosswalks, counter, snow box
    assert page.locator(".leaflet-overlay-pane canvas").count() == 1    # district, dongs and markers drawn
    assert page.locator(".dong-label").count() == 14
    assert page.locator("html").get_attribute("lang") == "ko"
    assert page.inner_text("#tiles-title") == "서비스"
    # the service filter: one service's devices only
    page.select_option("#filter", "waste-bins")
    assert int(page.get_attribute("#shown", "data-value")) == 3
    assert page.locator(".tile.selected").get_attribute("data-service") == "waste-bins"
    page.select_option("#filter", "")
    page.screenshot(path=str(shots / "overview-public-ko.png"), full_page=True)


def test_switching_to_english_changes_the_texts_and_is_remembered(page, site, shots):
    open_overview(page, site)
    bins = page.locator(".tile[data-service=waste-bins] h3")
    assert bins.inner_text() == SPECS.services["waste-bins"].name.ko
    page.click("[data-lang=en]")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.inner_text("#tiles-title") == "Services"
    assert bins.inner_text() == SPECS.services["waste-bins"].name.en
    assert page.locator(".tile[data-service=waste-bins] .headline .label").inner_text() == "Bins at least 80 % full"
    assert "Updated" in page.inner_text("#status") and "Public data only" in page.inner_text("#status")
    assert page.inner_text("#nav a[aria-current=page]") == "Overview"
    page.screenshot(path=str(shots / "overview-public-en.png"), full_page=True)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.inner_text("#tiles-title") == "Services"           # remembered (localStorage)
    page.click("[data-lang=ko]")
    assert page.inner_text("#tiles-title") == "서비스" and bins.inner_text() == SPECS.services["waste-bins"].name.ko


def test_the_figures_update_without_reloading(page, site):
    open_overview(page, site)
    before = figures(page)["waste-bins"]["messages"]
    ts = NOW.astimezone(KST).isoformat()
    submit_and_wait(site["platform"], ACME, [acme_body("A-94", ts=ts, fill=10)])
    assert wait_until(lambda: figures(page)["waste-bins"]["messages"] == before + 1, timeout=15, interval=0.25)


def test_a_pasted_key_shows_every_service_with_its_operations_and_alarms_arrive_live(page, site, shots):
    sent = []
    page.on("request", lambda r: sent.append((r.url, r.headers.get("authorization"))))
    open_overview(page, site)
    page.click("#key summary")
    page.fill("#key-input", site["admin"])
    page.click("#key-form button[type=submit]")
    sync_api.expect(page.locator(".tile")).to_have_count(8, timeout=15000)
    page.wait_for_selector("#live-state:has-text('새 경보를 기다리는 중')", timeout=15000)   # the stream said hello
    got = figures(page)
    assert set(got) == set(SPECS.services)
    assert all("alarms" in f and "rejected" in f for f in got.values())
    assert got["waste-bins"]["rejected"] > 0                             # the message cut short
    # an alarm raised now shows at once in the live list (only the stream fills it) and in its tile
    p = site["platform"]
    before = got["snow-boxes"]["alarms"]
    box = next(e for e in p.store.entities(types=["SnowRemovalBox"], limit=10)[0])
    p.alarms.raise_alarm(Raise("snow-boxes/browser-test", box.id, "SnowRemovalBox", "snow-boxes", "road-maintenance",
                               "high", p.clock.now_us(), "제설함 점검 필요 (브라우저 시험)",
                               "Check the snow box (browser test)", {}))
    page.wait_for_selector("#live-events li:has-text('제설함 점검 필요 (브라우저 시험)')", timeout=10000)
    assert wait_until(lambda: figures(page)["snow-boxes"]["alarms"] == before + 1, timeout=10, interval=0.25)
    page.screenshot(path=str(shots / "overview-admin-ko.png"), full_page=True)
    # the key went in a header, never in a URL, and stays in this tab's sessionStorage only
    assert not [u for u, _ in sent if site["admin"] in u]
    api_calls = [(u, h) for u, h in sent if "/api/" in u]
    assert any(h == f"Bearer {site['admin']}" for _, h in api_calls)
    assert page.evaluate("sessionStorage.getItem('citylink.key')") == site["admin"]
    assert page.evaluate("localStorage.getItem('citylink.key')") is None
    # forgetting it goes back to the public's view
    page.click("#key summary")
    page.click("#key-forget")
    sync_api.expect(page.locator(".tile")).to_have_count(7, timeout=15000)
    assert page.locator("#live").is_hidden()


def test_an_invalid_key_falls_back_to_public_data_and_says_so(page, site, errors):
    open_overview(page, site)
    page.click("#key summary")
    page.fill("#key-input", "not-a-key")
    page.click("#key-form button[type=submit]")
    sync_api.expect(page.locator("#status")).to_contain_text("키가 유효하지 않습니다", timeout=10000)
    page.wait_for_timeout(1000)        # and it stays said after the updates the new key brought about
    assert "키가 유효하지 않습니다" in page.inner_text("#status") and "공개 정보만" in page.inner_text("#status")
    assert page.get_attribute("#status", "data-kind") == "error"
    assert page.evaluate("sessionStorage.getItem('citylink.key')") is None
    assert page.locator(".tile").count() == 7
    refused = [e for e in errors if "status of 401" in e]
    assert refused
    errors[:] = [e for e in errors if e not in refused]


def test_on_a_phone_the_tiles_stack_and_nothing_overflows(browser, site, shots):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                              has_touch=True)
    pg = ctx.new_page()
    try:
        open_overview(pg, site)
        boxes = [pg.locator(".tile").nth(i).bounding_box() for i in range(pg.locator(".tile").count())]
        assert len({round(b["x"]) for b in boxes}) == 1                # one column
        assert all(b["width"] > 300 for b in boxes)
        assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        m = pg.locator("#map").bounding_box()
        assert m["width"] > 300 and m["height"] > 250
        pg.screenshot(path=str(shots / "overview-phone.png"), full_page=True)
    finally:
        ctx.close()


def test_the_page_loads_only_local_files(page, site):
    """No CDN, no tile server: every request of the page is to the server itself."""
    urls = []
    page.on("request", lambda r: urls.append(r.url))
    open_overview(page, site)
    assert urls and all(u.startswith(site["url"] + "/") or u.startswith("data:") for u in urls), urls
    assert any(re.search(r"/static/vendor/leaflet/leaflet\.js$", u) for u in urls)
    assert json.loads(page.evaluate("JSON.stringify(performance.getEntriesByName('citylink:overview-ready').length)")) \
        == 1
