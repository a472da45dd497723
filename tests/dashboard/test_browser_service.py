"""The service page in a real browser (Debian's chromium, headless, Playwright for Python) against a served
platform fed every source's example and dashworld's messages (``conftest.py``): the table, the charts and
their range, what the public and a department's staff each see, the language switch and a phone's screen.
Screenshots go to the pytest temp folder (``pytest -s`` prints where)."""
from __future__ import annotations

import pytest

from browsing import open_ready, sign_in
from cltest import wait_until
from dashworld import FILLS
from citylink.config import BUNDLED_SPECS
from citylink.spec.loader import load_paths
from citylink.store.alarms import open_alarms

SPECS = load_paths([BUNDLED_SPECS])
BINS = SPECS.services["waste-bins"]
PAGE = "/services/waste-bins"
PUBLIC_BINS = 6            # entities: ACME's example bin and the three sent now, BRAVO's two
REGISTRY_BINS = 8          # and ACME's two registry bins never heard of


@pytest.fixture(scope="module")
def alarmed(site):
    """The site once the rules have raised the alarms of the bins sent now (the engine's thread)."""
    p = site["platform"]
    assert wait_until(lambda: {a.entity.rsplit(":", 1)[-1] for a in open_alarms(p.store)
                               if a.service == "waste-bins"} >= {"A-90", "A-91"})
    return site


def points(pg) -> dict[str, int]:
    """attribute → the chart's non-empty buckets (data-points)."""
    return pg.evaluate("() => Object.fromEntries([...document.querySelectorAll('.chart')]"
                       ".map(c => [c.dataset.attribute, Number(c.dataset.points)]))")


def span(pg, attribute: str) -> tuple[float, int]:
    """A chart's range (s) and its bucket width (s), as it says on itself."""
    return tuple(pg.evaluate("""a => { const c = document.querySelector(`.chart[data-attribute="${a}"]`);
        return [(Date.parse(c.dataset.to) - Date.parse(c.dataset.from)) / 1000, Number(c.dataset.bucket)]; }""",
                             attribute))


def test_the_public_sees_the_table_and_charts_of_public_values_only(page, site, shots):
    open_ready(page, site["url"] + PAGE)
    assert page.inner_text("#service-name") == BINS.name.ko
    assert page.get_attribute("#department", "data-department") == "sanitation"
    assert page.locator("#devices tbody tr").count() == PUBLIC_BINS
    assert page.get_attribute("#devices", "data-total") == str(PUBLIC_BINS)
    assert page.locator("#devices [data-col=state]").count() == 0                    # no health
    assert page.locator("#devices th[data-col=batteryLevel]").count() == 0           # internal
    bin_a91 = page.locator("#devices tr[data-id$=':A-91']")
    assert bin_a91.locator("td[data-col=fillingLevel]").inner_text() == "0.97"
    assert bin_a91.locator("td[data-col=status]").inner_text() == "정상"              # the code's label
    assert bin_a91.locator("a").get_attribute("href") == \
        "/devices/urn%3Angsi-ld%3AWasteContainer%3Adobong%3Aacme%3AA-91"
    got = points(page)
    assert set(got) == {"fillingLevel", "temperature"}                               # numeric and public
    assert got["fillingLevel"] > 0 and page.locator(".chart[data-attribute=fillingLevel] canvas").count() == 1
    assert "(°C)" in page.inner_text(".chart[data-attribute=temperature] figcaption")
    assert page.locator("#alarms").count() == 0 and page.locator("#sources").count() == 0
    # the filter on the id, on the server
    page.fill("#device-filter", "a-9")
    page.wait_for_selector(f"#devices[data-total='{len(FILLS)}']")
    assert page.locator("#devices tbody tr").count() == len(FILLS)
    page.screenshot(path=str(shots / "service-public-ko.png"), full_page=True)


def test_a_sanitation_user_sees_health_alarms_and_sources(page, alarmed, shots):
    sign_in(page, alarmed["url"], "kim.sanitation", then=PAGE)
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#devices tbody tr").count() == REGISTRY_BINS
    states = page.evaluate("() => Object.fromEntries([...document.querySelectorAll('#devices tbody tr')].map("
                           "r => [r.dataset.id.split(':').pop(), r.querySelector('[data-col=state]').dataset.state]))")
    assert states["A-18"] == states["A-19"] == "never_reported"
    assert all(states[d] == "online" for d in FILLS)
    assert page.locator("#devices th[data-col=batteryLevel]").count() == 1           # internal: their own
    assert "batteryLevel" in points(page)
    alarms = page.locator("#alarm-list li[data-alarm]")
    assert alarms.count() >= 2
    assert page.locator("#alarm-list li[data-alarm] a.entity", has_text="A-91").count() >= 1
    assert page.get_attribute("#all-alarms", "href") == "/alarms?service=waste-bins"
    acme = page.locator("#source-table tr[data-source=bins-acme-http]")
    # ACME: its example, the three bins sent now and one cut short (quarantined), all in the last hour
    assert acme.locator("[data-figure=hour-received]").inner_text() == "5"
    assert acme.locator("[data-figure=hour-rejected]").inner_text() == "20%"
    assert page.locator("#source-table tbody tr").count() == 2
    page.screenshot(path=str(shots / "service-sanitation-ko.png"), full_page=True)


def test_switching_the_range_changes_the_charts_range(page, site, shots):
    open_ready(page, site["url"] + PAGE)
    assert span(page, "fillingLevel") == (86400, 300)                                # a day, 5-minute buckets
    assert page.get_attribute(".chart[data-attribute=fillingLevel]", "data-to") == "2026-11-26T06:30:00.000Z"
    page.click("[data-range=hour]")
    page.wait_for_function("() => document.querySelector('.chart[data-attribute=fillingLevel]')?.dataset.bucket"
                           " === '15'")
    assert span(page, "fillingLevel") == (3600, 15)
    assert points(page)["fillingLevel"] == 1                                         # the bins sent now
    assert page.get_attribute("[data-range=hour]", "aria-pressed") == "true"
    page.click("[data-range=week]")
    page.wait_for_function("() => document.querySelector('.chart[data-attribute=fillingLevel]')?.dataset.bucket"
                           " === '3600'")
    assert span(page, "fillingLevel") == (7 * 86400, 3600)
    # a custom range (Seoul time) before anything was sent: the charts say there is nothing
    page.click("[data-range=custom]")
    page.fill("#from", "2026-11-20T00:00")
    page.fill("#to", "2026-11-21T00:00")
    page.click("#custom button[type=submit]")
    page.wait_for_function("() => document.querySelector('.chart[data-attribute=fillingLevel]')?.dataset.from"
                           " === '2026-11-19T15:00:00.000Z'")
    assert points(page) == {"fillingLevel": 0, "temperature": 0}
    assert page.locator(".chart .empty").first.inner_text() == "이 기간에 관측값이 없습니다."
    page.screenshot(path=str(shots / "service-range-custom.png"), full_page=True)


def test_switching_the_language_changes_the_texts(page, site, shots):
    open_ready(page, site["url"] + PAGE)
    page.click("[data-lang=en]")
    assert page.inner_text("#service-name") == BINS.name.en
    assert page.inner_text("#devices-title") == "Devices" and page.inner_text("#back") == "← Overview"
    assert page.locator("#devices tr[data-id$=':A-91'] td[data-col=status]").inner_text() == "OK"
    assert page.inner_text(".chart[data-attribute=fillingLevel] figcaption b") == "Filling level"
    assert page.inner_text("[data-range=week]") == "Week"
    assert "Seoul time" in page.inner_text("#range-note")
    page.screenshot(path=str(shots / "service-public-en.png"), full_page=True)
    page.click("[data-lang=ko]")
    assert page.inner_text("#devices-title") == "기기"
    assert page.inner_text(".chart[data-attribute=fillingLevel] figcaption b") == "적재율"


def test_a_phone_shows_the_page_without_sideways_scrolling(browser, site, shots, errors):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    pg = ctx.new_page()
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        open_ready(pg, site["url"] + PAGE)
        assert pg.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        width = pg.evaluate("() => document.querySelector('.chart .plot').clientWidth")
        canvas = pg.evaluate("() => document.querySelector('.chart canvas').getBoundingClientRect().width")
        assert 200 <= canvas <= width + 1                                            # the chart fits its box
        pg.screenshot(path=str(shots / "service-phone.png"), full_page=True)
    finally:
        ctx.close()
    assert errors == []
