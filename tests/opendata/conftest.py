"""Fixtures of the open data tests: a platform on each engine with the shipped specs (safety-keeper given an
``open_data:`` block in a private copy, so that a dataset with nothing public exists) and the vendors'
example payloads stored: bins, a disabled-parking camera event with a plate, an EV bay with a plate, a home."""
from __future__ import annotations

import shutil

import pytest

from cltest import ACME, acme_body, started_platform, submit_and_wait, submit_examples
from citylink.config import BUNDLED_SPECS
from citylink.normalize.records import STORED

from odtest import EV, HOMES, PARKING



def specs_copy(tmp_path):
    dst = tmp_path / "specs"
    shutil.copytree(BUNDLED_SPECS, dst)
    svc = dst / "safety-keeper" / "service.yaml"
    svc.write_text(svc.read_text().replace("offline_grace: PT3H\n", "offline_grace: PT3H\nopen_data: {licence: KOGL-4}\n"))
    return dst


@pytest.fixture(params=["sqlite", "postgres"])
def platform(request, tmp_path, clock):
    with started_platform(request.param, tmp_path / "data", clock, specs_copy(tmp_path)) as p:
        assert set(submit_and_wait(p, ACME, [acme_body(ts="2026-11-26T09:00:00+09:00", fill=30, battery=40),
                                             acme_body(ts="2026-11-26T09:30:00+09:00", fill=35, battery=39)])
                   .values()) == {STORED}
        submit_examples(p, PARKING, EV, HOMES)
        yield p


