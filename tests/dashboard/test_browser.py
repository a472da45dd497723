"""The overview and signing in, in a real browser: Debian's chromium, headless, driven by Playwright for Python,
against a real server (uvicorn in a thread) of a platform fed every source's example (``conftest.py``,
``browsing.py``).  Screenshots go to the pytest temp folder (the path is printed; ``pytest -s`` shows it).
Skipped, saying why, without /usr/bin/chromium (``apt-get install chromium``; ``.ci/run`` installs it) or
the ``playwright`` package (the test extras) — Playwright's own browser download is never used."""
from __future__ import annotations

import json
import re


from browsing import expect, sign_in
from cltest import acme_body, submit_and_wait, wait_until
from dashworld import ACME, KST, NOW, PEDESTRIANS
from citylink.alarms import Raise
from citylink.config import BUNDLED_SPECS
from citylink.spec.loader import load_paths

SPECS = load_paths([BUNDLED_SPECS])
PUBLIC_SERVICES = set(SPECS.services) - {"safety-keeper"}


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


def test_signed_in_staff_see_every_service_with_its_operations_and_alarms_arrive_live(page, site, shots):
    open_overview(page, site)
    assert page.locator("#nav a").count() == 2                         # overview and the guideline
    with page.expect_navigation():
        page.click("#signin-link")
    sign_in(page, site["url"], "han.admin")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator(".tile")).to_have_count(8, timeout=15000)
    assert page.locator("#nav a").count() == 4                         # and the alarms and data quality
    page.wait_for_selector("#live-state:has-text('새 경보를 기다리는 중')", timeout=15000)   # the stream said hello
    got = figures(page)
    assert set(got) == set(SPECS.services)
    assert all("alarms" in f and "rejected" in f for f in got.values())
    assert got["waste-bins"]["rejected"] > 0                             # the message cut short
    assert "Han" in page.inner_text("#status")
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
    # the session is a cookie the page's scripts cannot read, and nothing of it is kept in the page's storage
    cookie = next(c for c in page.context.cookies() if c["name"] == "citylink_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert "citylink_session" not in page.evaluate("document.cookie")
    assert page.evaluate("sessionStorage.length + localStorage.length") <= 1   # the language only
    # signing out goes back to the public's view, and the session is over on the server too
    with page.expect_navigation():
        page.click("#signout")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator(".tile")).to_have_count(7, timeout=15000)
    assert page.locator("#live").is_hidden()
    assert p.sessions.get(cookie["value"]) is None


def test_a_wrong_password_is_refused_and_says_so(page, site, errors):
    page.goto(site["url"] + "/signin")
    page.fill("#login", "han.admin")
    page.fill("#password", "not the password")
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#status")).to_contain_text("아이디 또는 비밀번호가 맞지 않습니다", timeout=10000)
    assert page.get_attribute("#status", "data-kind") == "error"
    assert page.input_value("#password") == ""
    assert page.evaluate("location.pathname") == "/signin"
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
