"""Simulation profiles are data: every shipped source has one, every message it writes is one the
source's spec takes, the same seed writes the same messages, and a profile's mistakes name file and line."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cltest import line_of, write
from citylink.clock import ManualClock, SimulationClock, to_us
from citylink.config import BUNDLED_SPECS
from citylink.errors import SpecError
from citylink.normalize.check import check_feed
from citylink.simulate.engine import Simulation
from citylink.simulate.faults import parse_rates
from citylink.simulate.fleet import fleet
from citylink.simulate.profile import BUNDLED_PROFILES, load_profiles
from citylink.simulate.senders import Context
from citylink.spec.devices import load_registry
from citylink.spec.loader import load_paths

END = to_us(datetime(2026, 11, 26, 3, 0, tzinfo=timezone.utc))
HOUR = 3_600_000_000


def registries(specs, profiles, seed=1):
    out = {}
    for sid, src in specs.sources.items():
        own = load_registry(Path(src.origin.file).parent / src.devices) if src.devices else []
        out[sid] = own + fleet(profiles[sid], own, seed)
    return out


def dry_run(hours: float, seed: int = 1, faults: str = "", sources=None):
    specs = load_paths([BUNDLED_SPECS])
    profiles = load_profiles()
    got = []
    clock = SimulationClock(ManualClock(END))
    sim = Simulation(specs, registries(specs, profiles, seed), Context(dry_run=lambda m, b: got.append((m, b))),
                     clock, seed=seed, faults=parse_rates(faults), profiles=profiles, sources=sources)
    sim.run(backfill_from=END - int(hours * HOUR), live=False)
    return specs, got, sim.report


def test_every_shipped_source_has_a_profile():
    specs = load_paths([BUNDLED_SPECS])
    assert set(load_profiles()) == set(specs.sources)


def test_every_simulated_message_is_one_its_spec_takes():
    specs, got, report = dry_run(6)
    assert set(report.sent) == set(specs.sources)
    by_source = {}
    for m, body in got:
        by_source.setdefault(m.source, []).append((m, body))
    for sid, items in by_source.items():
        src = specs.sources[sid]
        devices = registries(specs, load_profiles())[sid]
        for m, body in items[:40]:
            if src.payload["format"] == "csv":
                header = ",".join(m.doc).encode()
                body = header + b"\n" + body
            (r,) = check_feed(specs, sid, body, devices=devices, clock=ManualClock(m.t + 1_000_000))  # as it is sent
            assert r["outcome"] in ("stored", "stored_flagged"), (sid, body[:300], r["problems"])
            assert r["values"], (sid, body[:200])
            assert not {"late", "clock_skew", "out_of_range", "unknown_code"} & {
                f for v in r["values"] for f in v["flags"]}, (sid, r["values"])


def test_the_same_seed_writes_the_same_messages():
    _, a, _ = dry_run(3, seed=4, faults="all=0.05")
    _, b, _ = dry_run(3, seed=4, faults="all=0.05")
    _, c, _ = dry_run(3, seed=5, faults="all=0.05")
    assert [(m.source, m.t, body, m.fault) for m, body in a] == [(m.source, m.t, body, m.fault) for m, body in b]
    assert [body for _, body in a] != [body for _, body in c]


def test_no_message_is_stamped_after_the_clock():
    _, got, _ = dry_run(2, faults="late=0.05,out_of_order=0.05,burst=0.5,duplicate=0.05")
    assert got and all(m.t <= END for m, _ in got)


def test_fault_rates_are_checked_by_name():
    assert parse_rates("all=0.1")["silent"] == 0.1
    with pytest.raises(ValueError, match="unknown fault 'lost'"):
        parse_rates("lost=0.1")
    with pytest.raises(ValueError, match="between 0 and 1"):
        parse_rates("duplicate=2")
    with pytest.raises(ValueError, match="must be a number"):
        parse_rates("duplicate=often")


PROFILE = """citylink: simulation/1
source: bins-acme-http
every: PT10M
model: {kind: fill}
message:
  deviceId: "=device.local_id"
  fill_pct: "=round(levle * 100)"
"""


def test_a_profile_mistake_names_file_and_line(tmp_path):
    bad = write(tmp_path / "p" / "bins.yaml", PROFILE.replace("kind: fill", "kind: fil").replace("every:", "evry:"))
    with pytest.raises(SpecError) as e:
        load_profiles([bad.parent])
    text = "\n".join(map(str, e.value.problems))
    assert f"{bad}:{line_of(bad.read_text(), 'kind: fil')}:" in text and "unknown model 'fil'" in text
    assert f"{bad}:{line_of(bad.read_text(), 'evry')}:" in text and "unknown key 'evry'" in text


def test_a_template_that_names_an_unknown_output_names_file_and_line(tmp_path):
    p = write(tmp_path / "p" / "bins.yaml", PROFILE)
    specs = load_paths([BUNDLED_SPECS])
    profiles = load_profiles([p.parent])
    sim = Simulation(specs, {"bins-acme-http": registries(specs, load_profiles())["bins-acme-http"]},
                     Context(dry_run=lambda m, b: None), SimulationClock(ManualClock(END)), profiles=profiles)
    with pytest.raises(SpecError) as e:
        sim.run(backfill_from=END - HOUR, live=False)
    (problem,) = e.value.problems
    assert problem.file == str(p) and problem.line == line_of(PROFILE, "fill_pct")
    assert "unknown name 'levle'" in problem.msg


def test_a_source_without_a_profile_is_named():
    specs = load_paths([BUNDLED_SPECS])
    with pytest.raises(ValueError, match="no simulation profile for source"):
        Simulation(specs, {}, Context(dry_run=lambda m, b: None), SimulationClock(), profiles={},
                   sources=["bins-acme-http"])


def test_the_bundled_profiles_are_data_files():
    files = sorted(f.name for f in BUNDLED_PROFILES.glob("*.yaml"))
    assert "world.yaml" in files and len(files) == 13
    assert json.dumps(load_profiles()["snowbox-lora-chirpstack"].doc)  # plain data


def test_a_replay_at_speed_ends_at_the_present_and_never_runs_ahead():
    import time

    from citylink.clock import SystemClock
    specs = load_paths([BUNDLED_SPECS])
    profiles = load_profiles()
    clock = SimulationClock(SystemClock())
    seen = []
    sim = Simulation(specs, registries(specs, profiles), Context(dry_run=lambda m, b: seen.append((m.t, clock.now_us()))),
                     clock, profiles=profiles, sources=["crosswalk-cheonha-mqtt", "bins-acme-http"])
    start = time.monotonic()
    begin = clock.base.now_us()
    sim.run(replay_from=begin - HOUR, speed=1200, live=False, tick_s=30)  # an hour in about three seconds
    took = time.monotonic() - start
    assert 2 < took < 15
    assert seen and all(t <= now for t, now in seen)  # stamped no later than the clock it was sent by
    assert min(t for t, _ in seen) < begin - HOUR + 10 * 60 * 1_000_000
    assert max(t for t, _ in seen) > begin - 5 * 60 * 1_000_000
    assert clock.caught_up
