"""The device page in a real browser (Debian's chromium through Playwright, ``conftest.py``): a bin as the public
sees it and as the sanitation division does — values, charts with their points, the range selector, the map
marker, its alarms and raw messages (sanitation only) — the language switch, a phone's screen, and a safety
keeper's sensor, which another department gets as the 404 page.  Screenshots go to ``shots``."""
from __future__ import annotations

from datetime import timedelta

import pytest

from browsing import expect, open_ready, sign_in
from cltest import acme_body, acme_urn, submit_and_wait
from dashworld import ACME, FILLS, KST, NOW

# a bin that reported every 5 minutes for the 92 hours up to 12 minutes ago: 1,100 points, none on the edge of a
# range that ends at the server's now (a range chosen in the page ends a few seconds after it)
BUSY, BUSY_N = "A-81", 1100


@pytest.fixture(scope="module")
def busy(site):
    bodies = [acme_body(BUSY, ts=(NOW - timedelta(minutes=12 + 5 * k)).astimezone(KST).isoformat(), fill=20 + k % 50)
              for k in range(BUSY_N)]
    submit_and_wait(site["platform"], ACME, bodies, timeout=60)
    return site


def device_url(site, entity_id: str) -> str:
    return f"{site['url']}/devices/{entity_id}"


def points(pg, attribute: str) -> int:
    return int(pg.get_attribute(f".chart[data-attribute={attribute}]", "data-points"))


def test_the_public_sees_values_charts_and_the_map_but_no_operations(page, site, shots):
    open_ready(page, device_url(site, acme_urn("A-17")))
    rows = page.locator("#values-table tbody tr")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.attribute)")) == ["fillingLevel", "status",
                                                                                     "temperature"]
    assert page.inner_text("#values-table tr[data-attribute=status] .value") == "정상 (ok)"
    assert page.inner_text("#values-table tr[data-attribute=temperature] .unit") == "°C"
    assert points(page, "fillingLevel") == 1 and points(page, "temperature") == 1
    assert page.locator(".chart[data-attribute=fillingLevel] .plot canvas").count() == 1
    assert page.locator(".change-list[data-attribute=status] tbody tr").count() == 1
    expect(page.locator("#device-map path.device-marker")).to_have_count(1, timeout=10000)
    assert page.locator("#service-link").get_attribute("href") == "/services/waste-bins"
    assert page.locator("#alarms").is_hidden() and page.locator("#messages").is_hidden()
    assert page.locator("#health").count() == 0
    page.screenshot(path=str(shots / "device-public-ko.png"), full_page=True)
    # English, live
    page.click("[data-lang=en]")
    assert page.inner_text("#values-title") == "Current values"
    assert page.inner_text("#values-table tr[data-attribute=status] .value") == "OK (ok)"
    assert page.inner_text("#ranges [data-range=week]") == "Week"
    assert page.inner_text("#location-title") == "Location"
    assert points(page, "fillingLevel") == 1
    page.screenshot(path=str(shots / "device-public-en.png"), full_page=True)


def test_the_range_selector_asks_the_server_for_each_range(page, busy, shots):
    open_ready(page, device_url(busy, acme_urn(BUSY)))
    assert points(page, "fillingLevel") == 286            # the day before the server's now: 12 min … 23 h 57 min ago
    page.click("#ranges [data-range=hour]")
    expect(page.locator(".chart[data-attribute=fillingLevel]")).to_have_attribute("data-points", "10")
    # a week: more points than are drawn, so the server averages them per period (about 10 minutes)
    page.click("#ranges [data-range=week]")
    chart = page.locator(".chart[data-attribute=fillingLevel]")
    expect(chart.locator(".count")).to_contain_text("평균", timeout=10000)
    assert 500 < points(page, "fillingLevel") < BUSY_N and chart.locator(".plot canvas").count() == 1
    page.screenshot(path=str(shots / "device-week-averaged.png"), full_page=True)
    # custom: two hours in Seoul's time, [from, to)
    page.click("#ranges [data-range=custom]")
    start = (NOW - timedelta(hours=3)).astimezone(KST)
    page.fill("#from", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#to", (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.click("#custom button[type=submit]")
    expect(page.locator(".chart[data-attribute=fillingLevel]")).to_have_attribute("data-points", "24")
    # a range with nothing in it says so
    page.fill("#from", "2026-01-01T00:00")
    page.fill("#to", "2026-01-02T00:00")
    page.click("#custom button[type=submit]")
    expect(page.locator(".chart[data-attribute=fillingLevel] .empty")).to_be_visible()
    assert points(page, "fillingLevel") == 0


def test_the_owning_department_sees_health_alarms_and_raw_messages(page, site, shots):
    sign_in(page, site["url"], "kim.sanitation", then=f"/devices/{acme_urn('A-91')}")
    page.wait_for_selector("body[data-ready=true]", timeout=15000)
    assert page.get_attribute("#health", "data-state") == "online"
    attrs = page.locator("#values-table tbody tr").evaluate_all("rs => rs.map(r => r.dataset.attribute)")
    assert {"batteryLevel", "compactionCount"} <= set(attrs)                  # internal: the department's
    assert page.inner_text("#values-table tr[data-attribute=fillingLevel] .value") == f"{FILLS['A-91'] / 100}"
    assert points(page, "batteryLevel") == 1
    full = page.locator("#alarms-table tr[data-rule='waste-bins/full']")
    expect(full).to_have_count(1, timeout=10000)
    assert full.get_attribute("data-state") == "active" and "가득 찼습니다" in full.inner_text()
    message = page.locator("#messages details.raw")
    expect(message).to_have_count(1, timeout=10000)
    message.locator("summary").click()
    assert '"fill_pct": 97' in message.locator("pre").inner_text()
    assert page.locator("#location").is_hidden()          # this bin is in no registry and sent no position
    page.screenshot(path=str(shots / "device-sanitation-ko.png"), full_page=True)


def test_on_a_phone_the_page_fits_the_screen(browser, site, shots):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                              has_touch=True)
    pg = ctx.new_page()
    try:
        open_ready(pg, device_url(site, acme_urn("A-17")))
        expect(pg.locator("#device-map path.device-marker")).to_have_count(1, timeout=10000)
        assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        chart = pg.locator(".chart[data-attribute=fillingLevel]").bounding_box()
        assert 300 < chart["width"] <= 390
        pg.screenshot(path=str(shots / "device-phone.png"), full_page=True)
    finally:
        ctx.close()


def test_another_department_gets_the_404_page_for_a_safety_keeper_sensor(page, site, shots, errors):
    (home,), _ = site["platform"].store.entities(types=["HomeSafetySensor"], limit=1)
    sign_in(page, site["url"], "kim.sanitation")
    answer = page.goto(device_url(site, home.id))
    assert answer.status == 404
    expect(page.locator("#missing")).to_contain_text(home.id)
    assert page.locator("body").get_attribute("data-page") == "missing"
    page.screenshot(path=str(shots / "device-missing.png"), full_page=True)
    refused = [e for e in errors if "status of 404" in e]          # the page itself: expected
    assert len(refused) == 1
    errors[:] = [e for e in errors if e not in refused]
