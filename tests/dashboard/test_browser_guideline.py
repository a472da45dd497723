"""The linkage guideline page in a real browser (``conftest.py``, ``browsing.py``): the public reads the generated
guideline and its table of contents, checks the ACME bins example and a broken copy of it, switches the language;
a department's staff, signed in, checks too (the request carries the session's CSRF token); on a phone the page
never scrolls sideways — wide tables scroll inside their box.  Screenshots go to ``shots``."""
from __future__ import annotations

import json

from browsing import expect, open_ready, sign_in
from dashworld import ACME
from citylink.spec.doc import example_payload


def choose_and_check(pg, source: str, edit=None) -> None:
    pg.select_option("#check-source", source)
    pg.click("#check-example")
    if edit:
        pg.fill("#check-payload", edit(pg.input_value("#check-payload")))
    pg.evaluate("document.getElementById('check-result').replaceChildren()")
    pg.click("#check-submit")
    pg.wait_for_selector("#check-summary", timeout=10000)


def summary(pg) -> tuple[int, int, int]:
    s = pg.locator("#check-summary")
    return tuple(int(s.get_attribute(f"data-{k}")) for k in ("messages", "stored", "quarantined"))


def test_the_public_reads_the_guideline_and_checks_a_sample(page, site, shots):
    open_ready(page, site["url"] + "/guideline")
    p = site["platform"]
    guide = page.locator("#guideline")
    expect(guide.locator("h1")).to_contain_text("CityLink 데이터 연계 표준 가이드라인")
    contents = guide.locator("h2#목차--contents + ul > li")
    assert contents.count() == 9                                       # sections 1 to 9
    assert all(guide.locator(f"code:text-is('{sid}')").count() > 0 for sid in p.specs.sources)
    page.click("#guideline a[href^='#6-']")                            # a contents link leads to its section
    assert page.evaluate("decodeURIComponent(location.hash)").startswith("#6-서비스와-소스")
    assert page.locator("#nav a[aria-current=page]").get_attribute("href") == "/guideline"
    # the sources, grouped by service in Korean; the ACME example fills the form and checks as stored
    assert page.locator(f"#check-source optgroup[label='{p.specs.services['waste-bins'].name.ko}'] "
                        f"option[value={ACME}]").count() == 1
    choose_and_check(page, ACME)
    assert page.input_value("#check-payload") == example_payload(p.specs.sources[ACME])[0]
    assert summary(page) == (1, 1, 0)
    expect(page.locator("#check-summary")).to_have_text("메시지 1개: 1개 저장 예정, 0개 격리")
    assert page.inner_text(".report[data-message='1'] tr[data-attribute=fillingLevel] td.value") == "0.73"
    assert page.inner_text(".report tr[data-attribute=batteryLevel] td.value") == "비공개"      # internal
    page.screenshot(path=str(shots / "guideline-public-ko.png"), full_page=False)
    # a broken field: the problem names it
    choose_and_check(page, ACME, lambda text: text.replace('"fill_pct": 73', '"fill_pct": "full"'))
    assert summary(page) == (1, 0, 1)
    problem = page.locator(".report[data-outcome=quarantined] tr[data-type=wrong_type]")
    assert problem.get_attribute("data-field") == "fillingLevel" and "full" in problem.inner_text()
    # English: the page's own texts and the services' names, the result said again
    page.click("[data-lang=en]")
    expect(page.locator("#check-title")).to_have_text("Check a sample payload")
    expect(page.locator("#check-summary")).to_have_text("1 message: 0 would be stored, 1 quarantined")
    assert page.locator(".report .outcome").inner_text() == "quarantined"
    assert page.locator(f"#check-source optgroup[label='{p.specs.services['waste-bins'].name.en}']").count() == 1
    assert page.input_value("#check-source") == ACME                   # the choice stays
    assert "Guideline version" in page.inner_text("#status")
    page.screenshot(path=str(shots / "guideline-public-en.png"), full_page=False)
    page.click("[data-lang=ko]")
    expect(page.locator("#check-title")).to_have_text("샘플 페이로드 검사")


def test_an_example_the_public_may_not_see_cannot_be_filled(page, site):
    open_ready(page, site["url"] + "/guideline")
    page.select_option("#check-source", "safety-keeper-carelink-http")
    assert page.locator("#check-example").is_disabled()
    page.fill("#check-payload", "")
    page.click("#check-submit")
    expect(page.locator("#check-error")).to_have_text("검사할 페이로드를 붙여 넣으십시오.")
    page.fill("#check-payload", "{")
    page.click("#check-submit")
    page.wait_for_selector("#check-summary")
    assert summary(page) == (1, 0, 1)
    assert page.locator("tr[data-type=malformed_json]").count() == 1


def test_signed_in_staff_check_with_their_session_and_see_their_values(page, site):
    sign_in(page, site["url"], "kim.sanitation", then="/guideline")
    page.wait_for_selector("body[data-ready=true]", timeout=15000)
    choose_and_check(page, ACME)
    assert summary(page) == (1, 1, 0)
    battery = page.inner_text(".report tr[data-attribute=batteryLevel] td.value")    # their own service's
    assert battery == json.dumps(0.88)


def test_on_a_phone_the_page_does_not_scroll_sideways(browser, site, shots, errors):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        pg = ctx.new_page()
        pg.on("pageerror", lambda e: errors.append(str(e)))
        open_ready(pg, site["url"] + "/guideline")
        choose_and_check(pg, ACME)
        assert pg.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        # the widest tables are wider than the phone: they scroll inside their own box
        assert pg.evaluate("""[...document.querySelectorAll('#guideline table')]
            .some(t => t.scrollWidth > t.clientWidth && getComputedStyle(t).overflowX === 'auto')""")
        pg.screenshot(path=str(shots / "guideline-phone-check.png"), full_page=False)
        pg.locator("#guideline h4").first.scroll_into_view_if_needed()
        pg.screenshot(path=str(shots / "guideline-phone-guideline.png"), full_page=False)
    finally:
        ctx.close()
    assert errors == []
