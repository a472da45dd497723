"""The NGSI-LD API's tests run on both store engines: the ``platform`` of this folder is started on
SQLite and on PostgreSQL (a database of its own, see cltest.pg_database)."""
from __future__ import annotations

import pytest

from cltest import started_platform


@pytest.fixture(params=["sqlite", "postgres"])
def platform(request, tmp_path, clock, bins_dir):
    with started_platform(request.param, tmp_path / "data", clock, bins_dir) as p:
        yield p
