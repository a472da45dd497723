"""What the device health monitor adds to the ingest thread: µs per committed batch of 1,000 observations
(200 devices × 5 attributes, one source), by calling its commit hook as the platform does after each batch.

    .venv/bin/python bench/health_overhead.py
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
# the imports below come after the path they need (cltest lives in tests/): hence E402
from cltest import ACME, NOW_US, acme_urn, make_platform, manual_clock  # noqa: E402
from citylink.config import BUNDLED_SPECS  # noqa: E402
from citylink.normalize.records import STORED, EntityInfo, NormalizedBatch  # noqa: E402

DEVICES, ATTRS, ROUNDS = 200, 5, 2000


def batch(t: int, first_raw: int) -> NormalizedBatch:
    b = NormalizedBatch()
    raw = first_raw
    for i in range(DEVICES):
        eid = acme_urn(f"B-{i}")
        b.entities[eid] = EntityInfo(eid, "WasteContainer", "waste-bins", "sanitation", ACME, None, None)
        for a in range(ATTRS):
            b.observations.append((raw, eid, f"https://example.org/a{a}", "", 1.0, None, None, t, 0, 1))
        b.outcomes.append((raw, ACME, STORED, None, 1))
        raw += 1
    return b


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clock = manual_clock()
        p = make_platform(Path(tmp), clock, pseudonym_key="bench")
        p.start(specs_dir=BUNDLED_SPECS, watch=False)
        try:
            hook = p.health._on_commit
            hook(batch(NOW_US, 0))   # first sight of the devices: recorded once, not measured
            batches = [batch(NOW_US + (i + 1) * 1_000_000, (i + 1) * DEVICES) for i in range(ROUNDS)]
            t0 = time.perf_counter()
            for i, b in enumerate(batches):
                clock.set(NOW_US + (i + 1) * 1_000_000)
                hook(b)
            per = (time.perf_counter() - t0) / ROUNDS * 1e6
        finally:
            p.stop()
    print(f"device health commit hook: {per:.0f} µs per batch of {DEVICES * ATTRS:,} observations "
          f"({DEVICES} devices), {per / (DEVICES * ATTRS) * 1000:.0f} ns per observation")


if __name__ == "__main__":
    main()
