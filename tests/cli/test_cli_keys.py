"""``citylink keys create|list|revoke``: readers' API keys, kept as hashes."""
from __future__ import annotations

import hashlib
import re

import pytest

from citylink.store import open_store


@pytest.fixture
def applied(run, bins_dir):
    run("spec", "apply", bins_dir)   # the waste-bins service: department sanitation
    return run


def rows(out: str) -> list[list[str]]:
    return [[c.strip() for c in ln.strip().strip("│").split("│")] for ln in out.splitlines() if ln.startswith("│")]


def test_create_list_revoke(applied):
    key = applied("keys", "create", "--holder", "Kim, sanitation", "--department", "sanitation").stdout.strip()
    m = re.fullmatch(r"clk_([0-9a-f]{8})_[A-Za-z0-9_-]{40,}", key)
    assert m
    key_id = m.group(1)
    staff = applied("keys", "create", "--holder", "Lee", "--scope", "staff", "--scope", "admin").stdout.strip()
    assert staff != key
    blob = (applied.data_dir / "citylink.db").read_bytes()
    assert key.encode() not in blob and key.split("_", 2)[2].encode() not in blob   # only the hash is kept
    s = open_store(f"sqlite:///{applied.data_dir / 'citylink.db'}")
    try:
        assert s.api_key(hashlib.sha256(key.encode()).hexdigest()).department == "sanitation"
    finally:
        s.close()
    listed = rows(applied("keys", "list").stdout)
    assert [r[:4] for r in listed] == [[key_id, "Kim, sanitation", "sanitation", ""],
                                       [staff[4:12], "Lee", "", "admin staff"]]
    assert key not in applied("keys", "list").stdout and listed[0][5] == ""
    assert applied("keys", "revoke", key_id).stdout.strip() == f"revoked {key_id}"
    assert rows(applied("keys", "list").stdout)[0][5].startswith("20")    # its revocation time
    assert "key_id: no unrevoked key" in applied("keys", "revoke", key_id, code=2).stderr


@pytest.mark.parametrize("args, named", [
    (["--holder", "x", "--department", "welfare"], "department: 'welfare' is not a department of the specs in force"),
    (["--holder", "x", "--scope", "root"], "scope: 'root' is not a scope"),
    (["--holder", "x"], "department: give a department or a scope (public, staff, admin"),
    (["--user", "nobody"], "user: no enabled account 'nobody'"),
    (["--holder", " ", "--scope", "staff"], "holder:"),
])
def test_bad_requests_name_the_option(applied, args, named):
    assert named in applied("keys", "create", *args, code=2).stderr
    assert rows(applied("keys", "list").stdout) == []
