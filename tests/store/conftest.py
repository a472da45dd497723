"""One store fixture, two engines: every test in this folder runs on SQLite and on PostgreSQL.

The PostgreSQL runs use a database created for the test (``citylink_test_<random>``) on
the server at 127.0.0.1:5432 (or ``CITYLINK_TEST_POSTGRES``, a URL without database) and
dropped afterwards; if that server cannot be reached they are skipped, saying so.
"""
from __future__ import annotations

import psycopg
import pytest

from cltest import pg_database
from citylink.store import open_store


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request) -> str:
    return request.param


@pytest.fixture
def store_url(engine, tmp_path):
    """A URL naming a store of the engine under test that nobody has used yet."""
    if engine == "sqlite":
        yield f"sqlite:///{tmp_path / 'citylink.db'}"
        return
    with pg_database() as url:
        yield url


@pytest.fixture
def open_unmigrated(store_url):
    """Open the store (a new connection each call) without migrating; all are closed afterwards."""
    opened = []

    def make():
        s = open_store(store_url, migrate=False)
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def store(open_unmigrated):
    s = open_unmigrated()
    s.migrate()
    return s


@pytest.fixture
def pg(engine, store_url, store):
    """A plain connection to the test's (migrated) PostgreSQL database, to look behind the store
    (for tests marked ``@pg_only``)."""
    assert engine == "postgres"
    with psycopg.connect(store_url, autocommit=True) as c:
        yield c
