"""The pages as served, without a browser: one shell, only local files, a strict security policy; and the pages'
texts, every one in Korean and in English (the shell's and the overview's in i18n.js, every other page's in its
own module's ``addStrings({ko: {…}, en: {…}})``)."""
from __future__ import annotations

import re

from fastapi.testclient import TestClient

from citylink.alarms import SEVERITIES
from citylink.alarms.model import EVENT_KINDS
from citylink.api.app import STATIC, create_app
from citylink.api.dashboard import PAGE, PAGES
from citylink.health import DEVICE_STATES

DASHBOARD = STATIC / "dashboard"
BASES = ("alarms", "values", "sum", "latest", "entities")   # dashboard/overview.py: a headline's "basis"


def _object(text: str, start: int) -> str:
    """The JavaScript object literal that opens at ``text[start]`` ("{"), braces in strings skipped."""
    depth, quote, i = 0, None, start
    while True:
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start:i + 1]
        i += 1


def _languages(obj: str) -> dict[str, set[str]]:
    """{ko: {...}, en: {...}} → the text ids of each language."""
    out = {}
    for lang in ("ko", "en"):
        m = re.search(rf"\b{lang}: \{{", obj)
        assert m, lang
        out[lang] = set(re.findall(r'"([\w.]+)":', _object(obj, m.end() - 1)))
    return out


def strings() -> dict[str, dict[str, set[str]]]:
    """module → language → the text ids it defines: i18n.js's STRINGS and each page's addStrings()."""
    found = {}
    for f in sorted(DASHBOARD.glob("*.js")):
        text = f.read_text(encoding="utf-8")
        m = re.search(r"^(?:export const STRINGS = |addStrings\()\{", text, flags=re.M)
        if m:
            found[f.name] = _languages(_object(text, m.end() - 1))
    return found


def test_every_text_is_in_both_languages():
    found = strings()
    assert {"i18n.js", "signin.js", "missing.js"} <= set(found)
    for module, s in found.items():
        assert s["ko"] and s["ko"] == s["en"], (module, s["ko"] ^ s["en"])


def test_every_text_the_page_asks_for_is_there():
    found = strings()
    shared = found["i18n.js"]["ko"]
    used = set()
    for f in DASHBOARD.glob("*.js"):
        text = f.read_text(encoding="utf-8")
        mine = set(re.findall(r'\bt\("([\w.]+)"', text)) | set(re.findall(r'"data-t": "([\w.]+)"', text))
        mine |= set(re.findall(r'label: "([\w.]+)"', text))   # the navigation's entries
        assert mine - shared - found.get(f.name, {}).get("ko", set()) == set(), f.name
        used |= mine
    html = PAGE.read_text(encoding="utf-8")
    used |= set(re.findall(r'data-t="([\w.]+)"', html))
    # the ones made from a value: t(`state.${…}`), t(`severity.${…}`), t(`basis.${…}`), t(`event.${…}`)
    used |= {f"state.{s}" for s in (*DEVICE_STATES, "reporting")} | {f"severity.{s}" for s in SEVERITIES}
    used |= {f"basis.{b}" for b in BASES} | {f"event.{e}" for e in EVENT_KINDS if e != "repeated"}
    assert used - shared - set().union(*(s["ko"] for s in found.values())) == set()
    assert len(used) > 100


def test_the_page_is_one_shell_of_local_files_with_a_strict_policy(platform):
    c = TestClient(create_app(platform))
    r = c.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src" not in csp and "unsafe-eval" not in csp
    assert re.search(r"<body data-page=\"overview\">", r.text)
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', r.text)
    assert {"/static/vendor/leaflet/leaflet.js", "/static/dashboard/shell.js"} <= set(assets)
    for a in assets + [f"/static/dashboard/{p}.js" for p in PAGES] + ["/static/dashboard/i18n.js"]:
        assert c.get(a).status_code == 200, a
    assert "<script>" not in r.text                          # no inline script: the policy would refuse it
    assert (STATIC / "vendor" / "leaflet" / "LICENSE").read_text().startswith("BSD 2-Clause License")
