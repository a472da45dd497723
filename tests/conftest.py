"""Fixtures shared by the core suite (helpers live in ``cltest.py`` next to this file)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # ``import cltest`` from any sub-folder

import cltest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No CITYLINK_* variable or ./citylink.toml of the developer's leaks into a test."""
    for k in list(os.environ):
        if k.startswith("CITYLINK_") and not k.startswith("CITYLINK_TEST_"):
            monkeypatch.delenv(k, raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)


@pytest.fixture
def clock():
    return cltest.manual_clock()


@pytest.fixture
def bins_dir(tmp_path):
    """A private copy of the shipped waste-bins specs (tests may edit it)."""
    return cltest.copy_bundled(tmp_path)


@pytest.fixture
def platform(tmp_path, clock, bins_dir):
    """A started platform on a tmp SQLite file with the waste-bins specs and registries applied."""
    p = cltest.make_platform(tmp_path / "data", clock)
    p.start(specs_dir=bins_dir, watch=False)
    yield p
    p.stop()


@pytest.fixture
def public(platform):
    """A client of the API of the test's ``platform`` fixture, without a key: what anyone may read."""
    from fastapi.testclient import TestClient

    from citylink.api.app import create_app
    return TestClient(create_app(platform))


@pytest.fixture
def admin(platform):
    """A client of the API of the test's ``platform`` fixture with the bootstrap admin key."""
    return cltest.admin_client(platform)
