"""``citylink users add|list|disable``: staff accounts, their password (an Argon2 hash) and their keys."""
from __future__ import annotations

import hashlib

import pytest

from citylink.access import password_matches
from citylink.store import open_store

from test_cli_keys import rows


@pytest.fixture
def applied(run, bins_dir):
    run("spec", "apply", bins_dir)   # the waste-bins service: department sanitation
    return run


def store_of(run):
    return open_store(f"sqlite:///{run.data_dir / 'citylink.db'}")


def test_add_list_disable_and_the_keys_of_a_disabled_account(applied):
    assert applied("users", "add", "kim.sj", "--name", "Kim Seo-jin", "--department", "sanitation",
                   "--password-stdin", input="correct horse battery\n").stdout.strip() == "added kim.sj"
    applied("users", "add", "lee", "--name", "Lee", "--scope", "staff", "--no-password")
    listed = rows(applied("users", "list").stdout)
    assert [r[:5] for r in listed] == [["kim.sj", "Kim Seo-jin", "sanitation", "", "yes"],
                                       ["lee", "Lee", "", "staff", "no"]]
    blob = (applied.data_dir / "citylink.db").read_bytes()
    assert b"correct horse battery" not in blob
    s = store_of(applied)
    try:
        account, pw_hash = s.user("kim.sj")
        assert pw_hash.startswith("$argon2id$") and password_matches(pw_hash, "correct horse battery")
        assert not password_matches(pw_hash, "correct horse batterY")
    finally:
        s.close()

    # a key of the account reads as the account does, and names it
    key = applied("keys", "create", "--user", "kim.sj").stdout.strip()
    key_row = rows(applied("keys", "list").stdout)[0]
    assert key_row[1:4] == ["Kim Seo-jin", "sanitation", ""] and key_row[6] == "kim.sj"
    sha = hashlib.sha256(key.encode()).hexdigest()
    s = store_of(applied)
    try:
        assert s.api_key(sha).user == "kim.sj"
    finally:
        s.close()
    # a key may not read for more than its account
    assert "scope: 'kim.sj' has no scope 'admin'" in applied("keys", "create", "--user", "kim.sj", "--scope",
                                                              "admin", code=2).stderr

    assert applied("users", "disable", "kim.sj").stdout.strip() == "disabled kim.sj"
    assert rows(applied("users", "list").stdout)[0][6].startswith("20")   # when it was disabled
    s = store_of(applied)
    try:
        assert s.api_key(sha) is None          # its keys stop with it
    finally:
        s.close()
    assert "login: no enabled account 'kim.sj'" in applied("users", "disable", "kim.sj", code=2).stderr
    assert "user: no enabled account 'kim.sj'" in applied("keys", "create", "--user", "kim.sj", code=2).stderr
    assert "login: 'kim.sj' is taken" in applied("users", "add", "kim.sj", "--name", "K", "--scope", "staff",
                                                 "--no-password", code=2).stderr


@pytest.mark.parametrize("args, named", [
    (["Bad Login", "--name", "x", "--scope", "staff"], "login: 'Bad Login' must be"),
    (["ok", "--name", " ", "--scope", "staff"], "name:"),
    (["ok", "--name", "x", "--department", "welfare"], "department: 'welfare' is not a department"),
    (["ok", "--name", "x", "--scope", "root"], "scope: 'root' is not a scope"),
    (["ok", "--name", "x"], "department: give a department or a scope"),
])
def test_bad_accounts_name_the_option(applied, args, named):
    assert named in applied("users", "add", *args, "--no-password", code=2).stderr
    assert rows(applied("users", "list").stdout) == []


def test_a_short_password_is_refused(applied):
    err = applied("users", "add", "ok", "--name", "x", "--scope", "staff", "--password-stdin",
                  input="short\n", code=2).stderr
    assert "password: at least 10 characters" in err
