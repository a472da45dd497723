"""The page as served, without a browser: one shell, only local files, a security policy that keeps a pasted key
in the page; and the page's texts, every one in Korean and in English."""
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


def strings() -> dict[str, set[str]]:
    """The text ids of each language in i18n.js."""
    text = (DASHBOARD / "i18n.js").read_text(encoding="utf-8")
    blocks = re.split(r"^  (ko|en): \{$", text, flags=re.M)
    found = {blocks[i]: set(re.findall(r'^    "([\w.]+)":', blocks[i + 1], flags=re.M)) for i in (1, 3)}
    assert all(found.values()), found
    return found


def test_every_text_is_in_both_languages():
    s = strings()
    assert s["ko"] == s["en"]


def test_every_text_the_page_asks_for_is_there():
    known = strings()["ko"]
    used = set()
    for f in DASHBOARD.glob("*.js"):
        used |= set(re.findall(r'\bt\("([\w.]+)"', f.read_text(encoding="utf-8")))
        used |= set(re.findall(r'"data-t": "([\w.]+)"', f.read_text(encoding="utf-8")))
    html = PAGE.read_text(encoding="utf-8")
    used |= set(re.findall(r'data-t="([\w.]+)"', html))
    used |= {f"nav.{p}" for p in PAGES}
    # the ones made from a value: t(`state.${…}`), t(`severity.${…}`), t(`basis.${…}`), t(`event.${…}`)
    used |= {f"state.{s}" for s in (*DEVICE_STATES, "reporting")} | {f"severity.{s}" for s in SEVERITIES}
    used |= {f"basis.{b}" for b in BASES} | {f"event.{e}" for e in EVENT_KINDS if e != "repeated"}
    assert used - known == set()
    assert len(used) > 40


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
