"""The data quality page in a real browser (Debian's chromium through Playwright, ``conftest.py``): the
sanitation department's sources with their figures and quarantine, a replay after a spec fix that takes the
message out of the quarantine without a reload, another department's view, both languages, a phone's screen.
The tests share one served platform (``site``): each checks what it changes itself, in any order."""
from __future__ import annotations

from datetime import timedelta

from browsing import expect, sign_in
from cltest import acme_body, submit_and_wait
from dashworld import ACME, KST, NOW
from citylink.normalize.records import QUARANTINED
from test_quality_api import fix_acme, sources_of

BINS = sources_of("waste-bins")


def open_quality(pg, site, login: str) -> None:
    sign_in(pg, site["url"], login, then="/quality")
    pg.wait_for_selector("body[data-ready=true]", timeout=15000)


def shown(pg, source: str) -> dict[str, str]:
    """figure → its value as the source's card holds it (data-value)."""
    return pg.evaluate("""(s) => Object.fromEntries([...document.querySelectorAll(
        `.q-card[data-source="${s}"] [data-figure]`)].map(f => [f.dataset.figure, f.dataset.value]))""", source)


def answer(pg, window: str = "PT1H") -> dict[str, dict]:
    """/api/quality as the page's reader gets it, now."""
    doc = pg.evaluate("(w) => fetch(`/api/quality?window=${w}`).then(r => r.json())", window)
    return {s["source"]: s for s in doc["sources"]}


def test_the_sanitation_department_sees_its_sources_figures_and_quarantine(page, site, shots):
    open_quality(page, site, "kim.sanitation")
    cards = page.locator(".q-card")
    assert {cards.nth(i).get_attribute("data-source") for i in range(cards.count())} == BINS
    api = answer(page)
    for source in BINS:
        got, m = shown(page, source), api[source]["messages"]
        assert (got["received"], got["quarantined"]) == (str(m["received"]), str(m["quarantined"])), source
        assert float(got["completeness"]) == api[source]["completeness"]["value"], source
    acme = page.locator(f".q-card[data-source={ACME}]")
    assert int(shown(page, ACME)["received"]) >= 5 and float(shown(page, ACME)["latency"]) == 300
    expect(acme.locator("[data-reason=malformed_json]")).to_have_count(1)
    cut = page.locator(f".q-group[data-source={ACME}] .q-msg", has_text="malformed_json")
    expect(cut).to_have_count(1)
    cut.locator("summary").click()
    assert "A-93" in cut.locator("pre").inner_text()                # the message as it came, cut short
    assert page.locator("#q-title").inner_text() == "출처별 데이터 품질"
    page.screenshot(path=str(shots / "quality-sanitation-ko.png"), full_page=True)
    # another window: asked again, and said in the address
    page.click("[data-window=P7D]")
    expect(page.locator("[data-window=P7D]")).to_have_attribute("aria-pressed", "true")
    assert page.url.endswith("/quality?window=P7D")
    page.wait_for_function(f"""() => document.querySelector('.q-card[data-source="{ACME}"] [data-figure=completeness]')
        .dataset.value == '{answer(page, "P7D")[ACME]["completeness"]["value"]}'""")
    # English, live: the page's own texts and the services' names
    page.click("[data-lang=en]")
    assert page.locator("#q-title").inner_text() == "Data quality per source"
    assert page.locator("[data-window=P7D]").inner_text() == "Last week"
    assert "Compacting solar trash bins" in acme.inner_text() and "Messages received" in acme.inner_text()
    expect(page.locator(f".q-group[data-source={ACME}] .q-replay").first).to_have_text("Replay")
    page.screenshot(path=str(shots / "quality-sanitation-en.png"), full_page=True)
    page.click("[data-lang=ko]")
    assert page.locator("#q-title").inner_text() == "출처별 데이터 품질"
    # a phone: one column, nothing wider than the screen
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(shots / "quality-phone.png"), full_page=True)


def test_a_replay_after_a_spec_fix_takes_the_message_out_of_the_quarantine(page, site, shots, tmp_path):
    p = site["platform"]
    ts = (NOW - timedelta(minutes=5)).astimezone(KST).isoformat()
    (rid, outcome), = submit_and_wait(p, ACME, [acme_body("A-18", ts=ts, state="7")]).items()
    assert outcome == QUARANTINED                                   # code 7 is in no code table yet
    open_quality(page, site, "kim.sanitation")
    msg = page.locator(f".q-msg[data-raw-id='{rid}']")
    expect(msg.locator(".reason")).to_have_text("unknown_code")
    expect(msg.locator(".field code")).to_have_text("status")
    before = shown(page, ACME)
    fix_acme(p, tmp_path / "fix")
    msg.locator(".q-replay").click()
    expect(msg).to_have_count(0)                                    # out of the quarantine, no reload
    expect(page.locator("#q-result")).to_have_text(f"메시지 {rid}: 저장되었습니다.")
    after = shown(page, ACME)
    assert int(after["quarantined"]) == int(before["quarantined"]) - 1
    assert int(after["stored"]) == int(before["stored"]) + 1
    cut = page.locator(f".q-group[data-source={ACME}] .q-msg", has_text="malformed_json")
    expect(cut).to_have_count(1)
    page.screenshot(path=str(shots / "quality-replayed.png"), full_page=True)
    # replay all of the source: the message cut short stays cut short
    page.click(f".q-group[data-source={ACME}] .q-replay-all")
    expect(page.locator("#q-result")).to_have_text("1건 다시 처리: 저장 0건, 격리 1건")
    expect(cut).to_have_count(1)


def test_a_welfare_user_sees_neither_the_bins_sources_nor_their_quarantine(page, site, shots):
    open_quality(page, site, "lee.welfare")
    cards = page.locator(".q-card")
    listed = [cards.nth(i).get_attribute("data-source") for i in range(cards.count())]
    assert listed == sorted(sources_of("safety-keeper"))
    assert not any(s in page.content() for s in BINS)
    expect(page.locator(".q-group")).to_have_count(0)
    expect(page.locator("#q-empty")).to_be_visible()
    page.screenshot(path=str(shots / "quality-welfare-ko.png"), full_page=True)
