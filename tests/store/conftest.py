"""One store fixture, two engines: every test in this folder runs on SQLite and on PostgreSQL.

The PostgreSQL runs use a database created for the test (``citylink_test_<random>``) on
the server at 127.0.0.1:5432 (or ``CITYLINK_TEST_POSTGRES``, a URL without database) and
dropped afterwards; if that server cannot be reached they are skipped, saying so.
"""
from __future__ import annotations

import os
import secrets

import psycopg
import pytest

from citylink.store import open_store

PG_SERVER = os.environ.get("CITYLINK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432").rstrip("/")


def _admin() -> psycopg.Connection:
    try:
        return psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        pytest.skip(f"PostgreSQL at {PG_SERVER.rsplit('@', 1)[-1]} not reachable: {e}".strip())


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request) -> str:
    return request.param


@pytest.fixture
def store_url(engine, tmp_path):
    """A URL naming a store of the engine under test that nobody has used yet."""
    if engine == "sqlite":
        yield f"sqlite:///{tmp_path / 'citylink.db'}"
        return
    admin = _admin()
    if not admin.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").fetchone():
        admin.close()
        pytest.skip("PostGIS is not installed on the PostgreSQL server (Debian: postgresql-15-postgis-3; "
                    ".ci/run installs it)")
    name = f"citylink_test_{secrets.token_hex(6)}"
    admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


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
