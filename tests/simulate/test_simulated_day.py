"""A simulated day of every service, over the real transports, checked from the store.

The platform runs in this process on the one simulation clock: its HTTP server on a free port, a real
Mosquitto (or, where the program is missing, the embedded broker), a drop directory, and the vendor
API the simulator serves for the polled source.  The simulators backfill the last 24 hours with every
kind of fault.  Then, per source: sent = received = stored + duplicate + quarantined, every injected
fault is where it belongs, and every device stands inside Dobong-gu.
"""
from __future__ import annotations

import shutil
from collections import Counter

import apsw
import pytest
from shapely.geometry import Point

from cltest import ledger_balances, settings, wait_until
from citylink.adapters.broker import LocalMosquitto, free_port
from citylink.clock import SimulationClock
from citylink.config import BUNDLED_SPECS
from citylink.normalize.records import FLAG_LATE
from citylink.spec.model import API_SOURCE
from citylink.runtime import Runtime
from citylink.simulate.engine import Limits, Simulation
from citylink.simulate.faults import DUPLICATE, FLAGGED_LATE, STORED, parse_rates
from citylink.simulate.fleet import district, enroll
from citylink.simulate.profile import load_profiles
from citylink.simulate.senders import Context

FAULTS = "malformed=0.01,duplicate=0.01,out_of_order=0.01,late=0.005,clock_skew=0.005,silent=0.05,burst=0.1"
DAY_US = 86_400_000_000


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("simday")
    specs = tmp / "specs"
    shutil.copytree(BUNDLED_SPECS, specs)
    poll = specs / "smart-crosswalk" / "sources" / "crosswalk-dooin-poll.yaml"
    poll.write_text(poll.read_text().replace("127.0.0.1:9100", f"127.0.0.1:{free_port()}"))
    broker = LocalMosquitto(tmp / "mosquitto")
    mqtt_url = broker.start().url if broker.available else None  # else: the embedded broker
    s = settings(tmp / "data", port=free_port(), host="127.0.0.1", mqtt_url=mqtt_url)
    clock = SimulationClock()
    rt = Runtime(s, clock=clock, embedded_broker=True)
    rt.start(specs, adapters=False)
    try:
        profiles = load_profiles()
        registries, tokens = enroll(rt.platform, profiles, seed=11)
        sim = Simulation(rt.platform.specs, registries, Context(rt.url, tokens, rt.mqtt_url, s.data_dir), clock,
                         seed=11, faults=parse_rates(FAULTS), profiles=profiles, after_tick=rt.settle,
                         limits=Limits(s.late_after_seconds, s.max_future_seconds))
        end = clock.base.now_us()
        sim.prepare(end - DAY_US)
        rt.start_adapters()
        report = sim.run(backfill_from=end - DAY_US, live=False)
        sim.close()
        rt.settle()
        store = rt.platform.store
        assert wait_until(lambda: all(v.get("pending", 0) == 0 for v in store.ledger().values()), 30)
        yield rt, report, registries
    finally:
        rt.stop()
        broker.stop()


def test_every_source_sent_and_nothing_was_refused(day):
    rt, report, _ = day
    assert not report.refused, report.errors[:5]
    assert set(report.sent) == set(rt.platform.specs.sources)
    assert all(n > 0 for n in report.sent.values()), report.sent


def test_sent_equals_received_equals_stored_plus_duplicate_plus_quarantined(day):
    rt, report, _ = day
    ledger = rt.platform.store.ledger()
    ledger_balances(ledger)
    for sid, sent in report.sent.items():
        led = ledger[sid]
        assert led["received"] == sent, (sid, led, sent)
        assert led.get("pending", 0) == 0, (sid, led)
        assert led["received"] == (led.get("stored", 0) + led.get("stored_flagged", 0) + led.get("duplicate", 0)
                                   + led.get("quarantined", 0)), (sid, led)


def test_every_kind_of_fault_was_injected(day):
    _, report, _ = day
    total = Counter()
    for c in report.faults.values():
        total.update(c)
    assert {"malformed", "duplicate", "out_of_order", "late", "clock_skew", "silent", "burst"} <= {
        k for k, v in total.items() if v > 0}, total


def test_injected_faults_landed_in_quarantine_with_the_right_reasons(day):
    rt, report, _ = day
    store = rt.platform.store
    for sid in report.sent:
        expected = Counter({k.split(":", 1)[1]: v for k, v in report.expected[sid].items()
                            if k.startswith("quarantined:")})
        got = Counter(q["reason"] for q in store.quarantined(sid, limit=100_000))
        assert got == expected, sid
    # each profile's malformed messages, and the clocks set days ahead, were injected somewhere
    reasons = Counter(q["reason"] for q in store.quarantined(limit=100_000))
    assert {"malformed_json", "bad_timestamp", "undecodable_payload", "timestamp_in_future"} <= set(reasons)


def test_duplicates_and_late_messages_are_counted_as_such(day):
    rt, report, _ = day
    ledger = rt.platform.store.ledger()
    db = apsw.Connection(str(rt.settings.data_dir / "citylink.db"), flags=apsw.SQLITE_OPEN_READONLY)
    late = dict(db.execute(
        "SELECT s.name, count(DISTINCT o.raw_id) FROM observations o JOIN raw_messages r ON r.id = o.raw_id "
        "JOIN sources s ON s.sid = r.sid WHERE o.flags & ? GROUP BY s.name", (FLAG_LATE,)).fetchall())
    for sid in report.sent:
        exp = report.expected[sid]
        assert ledger[sid].get("duplicate", 0) == exp[DUPLICATE], sid
        assert late.get(sid, 0) == exp[FLAGGED_LATE], sid
        stored = ledger[sid].get("stored", 0) + ledger[sid].get("stored_flagged", 0)
        assert stored == exp[STORED] + exp[FLAGGED_LATE], sid


def test_every_source_produced_observations_of_every_device_that_was_not_silenced(day):
    rt, report, registries = day
    db = apsw.Connection(str(rt.settings.data_dir / "citylink.db"), flags=apsw.SQLITE_OPEN_READONLY)
    per_source = dict(db.execute("SELECT source, count(*) FROM entities GROUP BY source").fetchall())
    for sid, devices in registries.items():
        # bay events come only when a car comes or goes: a quiet bay may have said nothing all day
        assert per_source.get(sid, 0) >= (1 if "parking" in rt.platform.specs.sources[sid].service
                                          else len(devices)), sid
    count = dict(db.execute("SELECT e.source, count(*) FROM observations o JOIN entities e USING(eid) "
                            "GROUP BY e.source").fetchall())
    # and the platform's own writes: the alarms the day raised, as NGSI-LD Alert entities
    assert set(count) == set(report.sent) | {API_SOURCE} and all(n > 0 for n in count.values())


def test_device_positions_lie_inside_dobong_gu(day):
    rt, _, registries = day
    poly = district()
    placed = [(sid, d) for sid, devs in registries.items() for d in devs if d.lon is not None]
    assert len(placed) > 100
    outside = [(sid, d.local_id, d.lon, d.lat) for sid, d in placed if not poly.contains(Point(d.lon, d.lat))]
    assert outside == []
    db = apsw.Connection(str(rt.settings.data_dir / "citylink.db"), flags=apsw.SQLITE_OPEN_READONLY)
    rows = db.execute("SELECT id, lon, lat FROM entities WHERE lon IS NOT NULL").fetchall()
    assert rows and all(poly.contains(Point(lon, lat)) for _, lon, lat in rows)
    homes = db.execute("SELECT count(*) FROM entities WHERE source = 'safety-keeper-carelink-http' "
                       "AND lon IS NOT NULL").fetchone()[0]
    assert homes == 0  # homes of people living alone get no position
