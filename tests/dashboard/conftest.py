"""The dashboard's tests run on both store engines: a platform with the shipped specs, fed every source's example
payload and a few messages whose figures the tests know (``dashworld.py``), with keys of several readers."""
from __future__ import annotations

import pytest

from cltest import manual_clock, started_platform, wait_until
from citylink.config import BUNDLED_SPECS
from dashworld import KEYS, NOW, feed


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request, tmp_path_factory):
    with started_platform(request.param, tmp_path_factory.mktemp("data"), manual_clock(NOW), BUNDLED_SPECS) as p:
        feed(p)
        keys = {name: p.issue_api_key(name, **kw)[1] for name, kw in KEYS.items()}
        keys["admin"] = p.settings.resolved_admin_key()
        # the rules' alarms of the bins sent now (no for:, raised at once by the engine's thread)
        assert wait_until(lambda: {a.entity.rsplit(":", 1)[-1] for a in _open(p) if a.service == "waste-bins"
                                   and a.rule in ("waste-bins/collect-soon", "waste-bins/full")} >= {"A-90", "A-91"})
        yield {"platform": p, "keys": keys}


def _open(p):
    from citylink.store.alarms import open_alarms
    return open_alarms(p.store)
