"""Staff sign-in (api/session.py, access/sessions.py) on both store engines: a session reads with its account's
scopes, a change from a signed-in browser needs the session's CSRF token, failures are limited, and a session
ends with sign-out, with its account, or when it expires."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from citylink.access.sessions import COOKIE, FAILURES_PER_MINUTE, LIFETIME_US
from citylink.api.app import create_app

PASSWORD = "correct horse battery"
ENTITY = {"id": "urn:ngsi-ld:Thing:session-test", "type": "Thing", "name": {"type": "Property", "value": "x"}}


@pytest.fixture
def accounts(platform):
    platform.add_user("jung.ops", "Jung", None, ("admin",), PASSWORD)
    platform.add_user("oh.bins", "Oh", "sanitation", (), PASSWORD)
    return platform


def signed_in(platform, login: str) -> tuple[TestClient, dict]:
    c = TestClient(create_app(platform))
    r = c.post("/api/session", json={"login": login, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c, r.json()


def test_signing_in_sets_an_httponly_strict_cookie_and_reads_as_the_account(accounts):
    c = TestClient(create_app(accounts))
    assert c.get("/api/session").json() == {"signedIn": False}
    assert c.get("/api/health/devices").status_code == 401                 # reader routes: not the public's
    r = c.post("/api/session", json={"login": "oh.bins", "password": PASSWORD})
    assert r.status_code == 200
    me = r.json()
    assert me["signedIn"] and me["login"] == "oh.bins" and me["department"] == "sanitation" and me["csrf"]
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert f"Max-Age={LIFETIME_US // 10**6}" in cookie and "Secure" not in cookie   # plain HTTP here
    assert c.get("/api/session").json() == me
    devices = c.get("/api/health/devices").json()["devices"]
    assert devices and {d["department"] for d in devices} == {"sanitation"}
    assert c.get("/api/audit").status_code == 403                           # not an admin
    accounts.audit.flush()
    assert [e.reader for e in accounts.store.audit(path_prefix="/api/health/devices")] == ["user oh.bins"]


def test_a_change_from_a_signed_in_browser_needs_the_csrf_token(accounts):
    c, me = signed_in(accounts, "jung.ops")
    r = c.post("/ngsi-ld/v1/entities", json=ENTITY)
    assert r.status_code == 403 and r.json()["detail"].startswith("x-csrf-token:")
    r = c.post("/ngsi-ld/v1/entities", json=ENTITY, headers={"X-CSRF-Token": "not-the-token"})
    assert r.status_code == 403
    r = c.post("/ngsi-ld/v1/entities", json=ENTITY, headers={"X-CSRF-Token": me["csrf"]})
    assert r.status_code == 201, r.text
    # an API key sent with the request wins over the session: no token needed (a key is no cookie)
    r = c.delete(f"/ngsi-ld/v1/entities/{ENTITY['id']}",
                 headers={"Authorization": f"Bearer {accounts.settings.resolved_admin_key()}"})
    assert r.status_code == 204


def test_a_wrong_password_and_an_unknown_login_get_the_same_answer_and_failures_are_limited(accounts):
    c = TestClient(create_app(accounts))
    wrong = c.post("/api/session", json={"login": "oh.bins", "password": "wrong password!"})
    unknown = c.post("/api/session", json={"login": "nobody", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert COOKIE not in c.cookies
    for _ in range(FAILURES_PER_MINUTE["login"] - 1):
        assert c.post("/api/session", json={"login": "oh.bins", "password": "still wrong"}).status_code == 401
    r = c.post("/api/session", json={"login": "oh.bins", "password": PASSWORD})   # even the right one, now
    assert r.status_code == 429 and r.json()["detail"].startswith("login:") and int(r.headers["Retry-After"]) > 0
    assert c.post("/api/session", json={"login": "jung.ops", "password": PASSWORD}).status_code == 200   # another


@pytest.mark.parametrize("body, field", [({"password": PASSWORD}, "login"), ({"login": "oh.bins"}, "password"),
                                         ({"login": "oh.bins", "password": 7}, "password"), (["x"], "body")])
def test_a_malformed_sign_in_names_the_field(accounts, body, field):
    r = TestClient(create_app(accounts)).post("/api/session", json=body)
    assert r.status_code == 400 and r.json()["detail"].startswith(f"{field}:")


def test_a_sign_in_posted_from_another_site_is_refused(accounts):
    r = TestClient(create_app(accounts)).post("/api/session", json={"login": "oh.bins", "password": PASSWORD},
                                              headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["detail"].startswith("Origin:")


def test_a_session_ends_with_sign_out_with_its_account_and_when_it_expires(accounts):
    c, me = signed_in(accounts, "oh.bins")
    session_id = c.cookies[COOKIE]
    assert c.delete("/api/session").status_code == 403                        # sign-out is a change too
    assert c.delete("/api/session", headers={"X-CSRF-Token": me["csrf"]}).status_code == 204
    assert accounts.sessions.get(session_id) is None
    c.cookies.set(COOKIE, session_id)                                         # the old cookie kept: no use
    assert c.get("/api/session").json() == {"signedIn": False}
    assert c.get("/api/health/devices").status_code == 401

    c, _ = signed_in(accounts, "oh.bins")
    assert accounts.store.disable_user("oh.bins", accounts.clock.now_us())
    assert c.get("/api/session").json() == {"signedIn": False}

    c, _ = signed_in(accounts, "jung.ops")
    accounts.clock.advance(LIFETIME_US / 1e6 + 1)
    assert c.get("/api/session").json() == {"signedIn": False}
