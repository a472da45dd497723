"""Raw ids sort by the time they were made, so a time stands for a range of ids (``first_id_at``)."""
from __future__ import annotations

from datetime import datetime, timezone

from citylink.clock import ManualClock
from citylink.ids import RawIdGenerator, first_id_at


def test_ids_sort_by_time_and_first_id_at_bounds_them():
    clock = ManualClock(datetime(2026, 11, 26, tzinfo=timezone.utc))
    at = clock.now_us()
    early = RawIdGenerator(clock, node=1023).next_ids(3)          # the highest node: the largest ids of a moment
    clock.advance(0.001)
    later = RawIdGenerator(clock, node=0).next_ids(1)[0]           # the lowest node, a millisecond on
    assert early == sorted(early) and early[-1] < later
    assert first_id_at(at) <= early[0] and first_id_at(at + 1000) <= later
    assert first_id_at(at + 1000) > early[-1]      # nothing made before that millisecond is at or above it
