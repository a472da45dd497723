"""The NGSI-LD API's tests run on both store engines: the ``platform`` of this folder is started on
SQLite and on PostgreSQL (a database of its own, see cltest.pg_database)."""
from __future__ import annotations

import pytest

from cltest import make_platform, pg_database


@pytest.fixture(params=["sqlite", "postgres"])
def platform(request, tmp_path, clock, bins_dir):
    if request.param == "sqlite":
        p = make_platform(tmp_path / "data", clock)
        p.start(specs_dir=bins_dir, watch=False)
        yield p
        p.stop()
        return
    with pg_database() as url:
        p = make_platform(tmp_path / "data", clock, store_url=url)
        p.start(specs_dir=bins_dir, watch=False)
        try:
            yield p
        finally:
            p.stop()
            p.store.close()
