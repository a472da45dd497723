"""Subscriptions are tested on both store engines, against a real HTTP receiver (``clreceiver``), on a
platform whose notifier gives up quickly (short timeout and backoff) so that failures show in time."""
from __future__ import annotations

import pytest

from clreceiver import Receiver
from cltest import started_platform

FAST = {"notify_timeout_seconds": 0.5, "notify_attempts": 3, "notify_backoff_seconds": 0.05}


@pytest.fixture(params=["sqlite", "postgres"])
def platform(request, tmp_path, clock, bins_dir):
    with started_platform(request.param, tmp_path / "data", clock, bins_dir, **FAST) as p:
        yield p


@pytest.fixture
def receiver():
    with Receiver() as rx:
        yield rx
