"""The alarms page (``/alarms``) in a real browser against a served platform (``conftest.py`` ``site``): who sees
which alarms, acknowledging and clearing with a comment seen live in two browsers at once, an alarm raised on the
server appearing without a reload, the filters in the URL, the history, the language switch and a phone.

The tests share one platform: each acts on alarms no other test acts on (A-91's "full" alarm, or alarms it
raises itself), so their order does not matter."""
from __future__ import annotations

import re

from browsing import expect, sign_in
from cltest import wait_until
from citylink.alarms import OPEN_STATES, Raise
from citylink.clock import US, parse_iso
from citylink.store.alarms import alarm as stored_alarm
from citylink.store.alarms import alarms as stored_alarms

BINS = "urn:ngsi-ld:WasteContainer:dobong:acme:"
LIVE = 10000   # ms: a live change must show within this
A90_RAISED = 1795674300000000   # 2026-11-26T06:25Z (15:25 in Seoul): when dashworld's bins were sent


def open_alarms_page(pg, site, login: str, query: str = "") -> None:
    """Signed in as ``login`` on /alarms (with ``query``), its list shown and the live stream on."""
    sign_in(pg, site["url"], login, then="/alarms")
    if query:
        pg.goto(f"{site['url']}/alarms{query}")
    pg.wait_for_selector("body[data-ready=true]", timeout=15000)
    pg.wait_for_selector("#live-state[data-state=on]", timeout=15000)


def rows(pg) -> list[dict]:
    return pg.evaluate("""() => [...document.querySelectorAll('#rows tr')].map(r => ({id: r.dataset.alarm,
        state: r.dataset.state, severity: r.dataset.severity, service: r.dataset.service, entity: r.dataset.entity,
        raised: r.querySelector('td.raised time').getAttribute('datetime'),
        actions: [...r.querySelectorAll('[data-action=acknowledge], [data-action=clear]')]
          .map(b => b.dataset.action)}))""")


def newest_first(got: list[dict]) -> bool:
    raised = [parse_iso(r["raised"]) for r in got]
    return raised == sorted(raised, reverse=True)


def row(pg, alarm_id: str):
    return pg.locator(f"#rows tr[data-alarm='{alarm_id}']")


def the_alarm(site, rule: str, entity: str):
    return stored_alarms(site["platform"].store, rule=rule, entity=entity, states=None)[0]


def raise_own(site, rule: str):
    """A high alarm of the sanitation department on bin A-92, raised now on the server, for one test alone."""
    p = site["platform"]
    return p.alarms.raise_alarm(Raise(f"waste-bins/{rule}", BINS + "A-92", "WasteContainer", "waste-bins",
                                      "sanitation", "high", p.clock.now_us(), f"시험 경보 {rule}",
                                      f"Test alarm {rule}", {})).alarm


def marked(pg) -> None:
    """Mark the page: a reload or a navigation would lose the mark (see still_marked)."""
    pg.evaluate("window.__stayed = true")


def still_marked(pg) -> bool:
    return pg.evaluate("window.__stayed === true")


def act(pg, alarm_id: str, verb: str, comment: str) -> None:
    row(pg, alarm_id).locator(f"[data-action={verb}]").click()
    dialog = pg.locator("#act-dialog")
    expect(dialog).to_be_visible()
    pg.fill("#act-comment", comment)
    pg.click("#act-confirm")


def without(errors: list, status: int) -> None:
    """Take the browser's console errors for refused requests of this status out (they are expected)."""
    refused = [e for e in errors if f"status of {status}" in e]
    assert refused
    errors[:] = [e for e in errors if e not in refused]


def test_a_department_sees_its_alarms_newest_first_and_no_other_departments(page, site, shots):
    open_alarms_page(page, site, "kim.sanitation")
    got = rows(page)
    p = site["platform"]
    mine = {a.id for a in stored_alarms(p.store, states=OPEN_STATES, limit=1000)
            if a.department == "sanitation" or "sanitation" in a.recipients}
    assert {r["id"] for r in got} == mine                               # the open ones, the default filter
    assert {r["service"] for r in got} == {"waste-bins"}
    entities = {r["entity"] for r in got}
    assert {BINS + "A-90", BINS + "A-91"} <= entities                   # the shipped rules' alarms
    assert newest_first(got)
    soon = row(page, the_alarm(site, "waste-bins/collect-soon", BINS + "A-90").id)
    expect(soon.locator(".chip.low")).to_have_text("낮음")
    expect(soon.locator("td.message")).to_have_text("쓰레기통 적재율 85%: 곧 수거가 필요합니다")
    assert soon.locator("td.entity a").get_attribute("href") == "/devices/" + (BINS + "A-90").replace(":", "%3A")
    assert all("clear" in r["actions"] for r in got)                    # its own: it may act on each
    assert page.inner_text("#nav a[aria-current=page]") == "경보"
    assert int(page.get_attribute("#count", "data-value")) == len(got)
    page.screenshot(path=str(shots / "alarms-sanitation-ko.png"), full_page=True)


def test_acknowledging_with_a_comment_changes_both_open_pages_live_and_is_in_the_history(page, browser, site,
                                                                                         shots):
    full = the_alarm(site, "waste-bins/full", BINS + "A-91")
    # a second browser: the admin, on the same page at the same time
    other = browser.new_context(viewport={"width": 1400, "height": 900})
    admin, admin_errors = other.new_page(), []
    admin.on("pageerror", lambda e: admin_errors.append(str(e)))
    admin.on("console", lambda m: admin_errors.append(m.text) if m.type == "error" else None)
    try:
        open_alarms_page(admin, site, "han.admin")
        open_alarms_page(page, site, "kim.sanitation")
        marked(admin)
        marked(page)
        expect(row(admin, full.id)).to_have_attribute("data-state", "active")
        assert row(admin, full.id).locator("[data-action=acknowledge]").count() == 1   # an admin may act
        act(page, full.id, "acknowledge", "수거 차량 출동")
        expect(page.locator("#act-dialog")).to_be_hidden()
        for pg in (page, admin):
            expect(row(pg, full.id)).to_have_attribute("data-state", "acknowledged", timeout=LIVE)
            expect(row(pg, full.id).locator("td.state")).to_have_text("확인됨")
            assert row(pg, full.id).locator("[data-action=acknowledge]").count() == 0
            assert row(pg, full.id).locator("[data-action=clear]").count() == 1    # still open: may be cleared
            assert still_marked(pg)                                                 # no reload
        expect(page.locator("#status")).to_have_text("경보를 확인했습니다.")
        stored = stored_alarm(site["platform"].store, full.id)
        assert (stored.state, stored.acknowledged_by, stored.ack_comment) == \
            ("acknowledged", "user kim.sanitation", "수거 차량 출동")
        # the history, in the admin's page
        row(admin, full.id).locator("[data-action=history]").click()
        ack = admin.locator("#history li[data-kind=acknowledged]")
        expect(ack).to_contain_text("수거 차량 출동")
        expect(ack.locator(".by")).to_have_text("kim.sanitation")
        assert admin.locator("#history li").first.get_attribute("data-kind") == "raised"
        assert f"alarm={full.id.replace(':', '%3A')}" in admin.url          # the selected alarm is in the URL
        admin.screenshot(path=str(shots / "alarms-admin-history.png"), full_page=True)
        assert admin_errors == []
    finally:
        other.close()


def test_an_alarm_raised_on_the_server_appears_at_once_and_can_be_cleared_with_a_comment(page, site, shots):
    open_alarms_page(page, site, "kim.sanitation")
    marked(page)
    a = raise_own(site, "browser-clear")
    new = row(page, a.id)
    expect(new).to_have_count(1, timeout=LIVE)
    assert rows(page)[0]["id"] == a.id                                  # the newest: on top
    expect(new.locator("td.message")).to_have_text("시험 경보 browser-clear")
    expect(new.locator(".chip.high")).to_be_visible()
    act(page, a.id, "clear", "점검 완료")
    expect(new).to_have_attribute("data-state", "cleared", timeout=LIVE)
    expect(new).to_have_class(re.compile(r"\boutside\b"))                # no longer an open one: dimmed, kept
    assert new.locator("[data-action=acknowledge], [data-action=clear]").count() == 0
    new.locator("[data-action=history]").click()
    cleared = page.locator("#history li[data-kind=cleared]")
    expect(cleared).to_contain_text("점검 완료")
    expect(cleared.locator(".by")).to_have_text("kim.sanitation")
    assert still_marked(page)
    page.screenshot(path=str(shots / "alarms-cleared.png"), full_page=True)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert row(page, a.id).count() == 0                                # open only: the cleared one is gone
    page.select_option("#f-state", "cleared")
    expect(row(page, a.id)).to_have_attribute("data-state", "cleared")


def test_a_refused_action_says_why(page, site, errors):
    open_alarms_page(page, site, "kim.sanitation")
    a = raise_own(site, "browser-refused")
    expect(row(page, a.id)).to_have_count(1, timeout=LIVE)
    row(page, a.id).locator("[data-action=acknowledge]").click()
    expect(page.locator("#act-dialog")).to_be_visible()
    site["platform"].alarms.clear(a.id, "someone else", "done already")     # meanwhile, elsewhere
    expect(row(page, a.id)).to_have_attribute("data-state", "cleared", timeout=LIVE)
    page.fill("#act-comment", "too late")
    page.click("#act-confirm")
    expect(page.locator("#status")).to_contain_text("이미 확인되었거나 해제된 경보입니다", timeout=LIVE)
    assert page.get_attribute("#status", "data-kind") == "error"
    expect(page.locator("#act-dialog")).to_be_hidden()
    without(errors, 409)


def test_the_filters_narrow_the_list_and_are_the_urls_query(page, site, shots):
    open_alarms_page(page, site, "han.admin", "?service=waste-bins&severity=low")   # as other pages link here
    assert page.input_value("#f-service") == "waste-bins" and page.input_value("#f-severity") == "low"
    got = rows(page)
    assert got and {(r["service"], r["severity"]) for r in got} == {("waste-bins", "low")}
    assert BINS + "A-90" in {r["entity"] for r in got}
    page.select_option("#f-severity", "")
    expect(page.locator("#rows tr[data-severity=medium]").first).to_be_visible()
    assert re.search(r"\?service=waste-bins$", page.url)
    page.select_option("#f-service", "")                                  # every service the admin may see
    expect(page.locator("#rows tr:not([data-service=waste-bins])").first).to_be_visible()
    assert page.url.endswith("/alarms")
    # raised from a time on (Seoul's time, as shown): only the alarms raised since
    page.fill("#f-since", "2026-11-26T15:25")                             # 06:25Z: A-90's and A-91's at 06:25Z
    page.locator("#f-since").dispatch_event("change")
    assert "since=2026-11-26T06%3A25%3A00.000Z" in page.url                 # the same instant, in UTC
    since = {a.id for a in stored_alarms(site["platform"].store, states=OPEN_STATES, since=A90_RAISED, limit=1000)}
    assert the_alarm(site, "waste-bins/collect-soon", BINS + "A-90").id in since
    assert wait_until(lambda: {r["id"] for r in rows(page)} == since, timeout=5)
    assert len(since) < len(stored_alarms(site["platform"].store, states=OPEN_STATES, limit=1000))
    page.screenshot(path=str(shots / "alarms-filtered.png"), full_page=True)
    # read from the URL on load, the reset button clears them all
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.input_value("#f-since") == "2026-11-26T15:25"
    page.click("#f-reset")
    assert page.url.endswith("/alarms") and page.input_value("#f-since") == ""


def test_more_brings_the_next_page(page, site):
    """A page is 100 alarms: 105 old ones of the parks department (no other test lists them) and its own two."""
    p = site["platform"]
    counter = "urn:ngsi-ld:CrowdFlowObserved:dobong:hangang:JN-03"
    week_ago = p.clock.now_us() - 7 * 86400 * US
    with p.alarms.batch():
        for i in range(105):
            p.alarms.raise_alarm(Raise(f"riverbank-counters/page-{i}", counter, "CrowdFlowObserved",
                                       "riverbank-counters", "parks", "low", week_ago + i * US, f"쪽 {i}", f"page {i}",
                                       {}))
    every = {a.id for a in stored_alarms(p.store, services=["riverbank-counters"], states=None, limit=1000)}
    assert len(every) > 105
    open_alarms_page(page, site, "han.admin", "?service=riverbank-counters&state=all")
    assert len(rows(page)) == 100
    page.click("#more")
    expect(page.locator("#rows tr")).to_have_count(len(every))
    got = rows(page)
    assert {r["id"] for r in got} == every
    assert newest_first(got)
    expect(page.locator("#more")).to_be_hidden()


def test_another_department_neither_sees_nor_acts_on_the_bins_alarms(page, site, errors):
    soon = the_alarm(site, "waste-bins/collect-soon", BINS + "A-90")
    open_alarms_page(page, site, "lee.welfare")
    got = rows(page)
    assert got and {r["service"] for r in got} == {"safety-keeper"}    # its own (restricted) service's only
    assert not any(r["entity"].startswith(BINS) for r in got)
    page.goto(f"{site['url']}/alarms?state=all&service=waste-bins")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#empty")).to_be_visible()
    assert rows(page) == []
    answer = page.evaluate("""async (id) => {
        const {csrf} = await (await fetch('/api/session')).json();
        const r = await fetch(`/api/alarms/${encodeURIComponent(id)}/acknowledge`, {method: 'POST',
          headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}, body: '{"comment": "x"}'});
        return r.status; }""", soon.id)
    assert answer == 404                                                  # as if it did not exist
    without(errors, 404)


def test_staff_see_the_bins_alarms_but_are_offered_no_action(page, site):
    open_alarms_page(page, site, "choi.staff", "?service=waste-bins")
    got = rows(page)
    assert {BINS + "A-90", BINS + "A-91"} <= {r["entity"] for r in got}
    assert all(r["actions"] == [] for r in got)                         # mayAct: the department's or an admin's


def test_the_public_is_sent_to_sign_in(page, site):
    page.goto(site["url"] + "/alarms")
    page.wait_for_selector("#signin-form")
    assert page.url == f"{site['url']}/signin?next=/alarms"


def test_the_language_switches_live(page, site, shots):
    open_alarms_page(page, site, "kim.sanitation")
    full = row(page, the_alarm(site, "waste-bins/full", BINS + "A-91").id)
    expect(full.locator("td.message")).to_have_text("쓰레기통이 가득 찼습니다 (적재율 97%)")
    page.click("[data-lang=en]")
    expect(full.locator("td.message")).to_have_text("Bin full (97%)")
    assert page.inner_text("#alarms-title") == "Alarms"
    assert page.inner_text("#alarms thead th:nth-child(2)") == "State"
    expect(page.locator("#live-state")).to_have_text("Live")
    assert page.inner_text("#f-severity option:nth-child(2)") == "Critical"
    texts = page.evaluate("document.body.innerText")
    assert not re.search(r"\balarms\.[a-z]", texts), "a text without its translation"
    page.screenshot(path=str(shots / "alarms-en.png"), full_page=True)
    page.click("[data-lang=ko]")
    expect(full.locator("td.message")).to_have_text("쓰레기통이 가득 찼습니다 (적재율 97%)")
    assert not re.search(r"\balarms\.[a-z]", page.evaluate("document.body.innerText"))


def test_on_a_phone_each_alarm_is_a_card_and_nothing_overflows(browser, site, shots):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                              has_touch=True)
    pg = ctx.new_page()
    try:
        open_alarms_page(pg, site, "kim.sanitation")
        assert pg.locator("#alarms thead").is_hidden()
        boxes = [pg.locator("#rows tr").nth(i).bounding_box() for i in range(min(3, pg.locator("#rows tr").count()))]
        assert boxes and all(b["width"] > 300 for b in boxes)           # a card across the screen
        assert len({round(b["x"]) for b in boxes}) == 1
        assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        label = pg.evaluate("getComputedStyle(document.querySelector('#rows td.message'), '::before').content")
        assert label == '"내용"'
        pg.screenshot(path=str(shots / "alarms-phone.png"), full_page=True)
    finally:
        ctx.close()
