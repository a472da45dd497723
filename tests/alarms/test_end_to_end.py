"""End to end: simulated vendors with faults injected → alarms raised by the shipped rules and by device health,
for the right entities → the sanitation department's webhook, received by a real local HTTP server, signed →
acknowledged through the API → cleared when the condition ends.

Three and a half simulated days of the ACME bins (HTTP push, over the platform's real HTTP server) are
backfilled on the simulation clock, with devices that go silent for hours and malformed messages.  After
every tick the test lets the platform take in what arrived and handle the deadlines due, so every alarm is
raised at the time the rules say.  The checks come from the store: what the rules saw is what was stored."""
from __future__ import annotations

import hashlib
import hmac
import shutil

import httpx
import pytest

from clreceiver import Receiver
from cltest import settings, wait_until
from citylink.adapters.broker import free_port
from citylink.alarms import HEALTH_OFFLINE
from citylink.clock import US, SimulationClock
from citylink.config import BUNDLED_SPECS
from citylink.runtime import Runtime
from citylink.simulate.engine import Limits, Simulation
from citylink.simulate.faults import parse_rates
from citylink.simulate.fleet import enroll
from citylink.simulate.profile import load_profiles
from citylink.simulate.senders import Context
from citylink.store import alarms as stored

SOURCE = "bins-acme-http"
SECRET_ENV, SECRET = "CITYLINK_TEST_WEBHOOK_SECRET", "e2e-not-a-real-secret"   # kept by the env fixture
HOUR_US = 3600 * US
DAYS = 3.5                      # collections are Mon/Wed/Fri 06:00: any 3.5 days hold one, so alarms clear
FILL = "https://smartdatamodels.org/dataModel.WasteManagement/fillingLevel"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    receiver = Receiver()
    specs = tmp / "specs"                 # the bins and the departments (no other vendor to poll meanwhile)
    shutil.copytree(BUNDLED_SPECS / "waste-bins", specs / "waste-bins")
    shutil.copy(BUNDLED_SPECS / "departments.yaml", specs)
    deps = specs / "departments.yaml"
    deps.write_text(deps.read_text().replace(
        "      email: [bins-alarms@example.org]\n",
        f"      email: [bins-alarms@example.org]\n      webhooks:\n"
        f"        - {{url: \"{receiver.url}\", secret_env: {SECRET_ENV}}}\n"))
    mp = pytest.MonkeyPatch()
    mp.setenv(SECRET_ENV, SECRET)
    s = settings(tmp / "data", port=free_port(), host="127.0.0.1")
    clock = SimulationClock()
    rt = Runtime(s, clock=clock)
    rt.start(specs, adapters=False)
    p = rt.platform
    try:
        profiles = load_profiles()
        # busier streets than the shipped profile's, and compactors that give up later: bins pass 80 % and
        # 95 %, then compact back below (the condition ends) or are emptied by a collection
        profiles[SOURCE].model.update(per_hour=0.05, compact_at=0.97, compact_to=0.6)
        registries, tokens = enroll(p, profiles, seed=5, sources=[SOURCE])

        def after_tick():                  # the platform takes in the tick, then handles what is due
            rt.settle()
            assert p.bus.drain(30)
            p.health.process_due()
            assert p.rules.wait_idle()
            p.rules.process_due()

        sim = Simulation(p.specs, registries, Context(rt.url, tokens, None, s.data_dir), clock, seed=5,
                         faults=parse_rates("silent=0.5,malformed=0.02"), profiles=profiles, sources=[SOURCE],
                         after_tick=after_tick, limits=Limits(s.late_after_seconds, s.max_future_seconds))
        end = clock.base.now_us()
        start = end - int(DAYS * 24 * HOUR_US)
        sim.prepare(start)
        rt.start_adapters()
        report = sim.run(backfill_from=start, live=False, tick_s=600)
        sim.close()
        after_tick()
        yield rt, p, receiver, report, start
    finally:
        rt.stop()
        receiver.close()
        mp.undo()


def observations(p, eid, iri=FILL):
    e = p.store.temporal(eid, attrs=[iri])
    return sorted((a.observed_at, a.value_num) for a in (e.attrs if e else []))


def test_rules_raise_for_the_right_entities_and_clear_when_the_condition_ends(run):
    rt, p, _, report, start = run
    assert report.sent[SOURCE] > 3000 and report.faults[SOURCE]["silent"] > 0
    fills = stored.alarms(p.store, rule="waste-bins/collect-soon", states=None, limit=1000)
    assert fills, "no bin reached 80 %"
    for a in fills:
        seen = dict(observations(p, a.entity))
        # raised at the observation that crossed 80 % (the rule holds at once), and nothing before it did
        assert 0.8 <= seen[a.raised_at] < 0.95, (a.entity, a.raised_at, seen.get(a.raised_at))
        if a.cleared_at is not None:    # cleared by the condition: the observation it ended at is outside it
            assert a.cleared_by is None and not 0.8 <= seen[a.cleared_at] < 0.95
    assert any(a.cleared_at is not None for a in fills), "no collection emptied a bin"
    # and every crossing into 80–95 % raised one: none missed
    for eid in {a.entity for a in fills}:
        obs = observations(p, eid)
        crossings = [t for (t0, v0), (t, v) in zip(obs, obs[1:]) if not 0.8 <= v0 < 0.95 and 0.8 <= v < 0.95]
        raised = sorted(a.raised_at for a in fills if a.entity == eid)
        assert set(crossings) <= set(raised), eid


def test_silent_devices_are_alarmed_offline_at_the_exact_time_and_cleared_when_back(run):
    rt, p, _, _, start = run
    offline = [a for a in stored.alarms(p.store, rule=HEALTH_OFFLINE, states=None, limit=1000)
               if a.values.get("state") == "offline" and ":acme:" in a.entity]
    assert offline, "no silence was long enough to go offline"
    for a in offline:
        times = [t for t, _ in observations(p, a.entity)]
        before = max(t for t in times if t < a.raised_at)
        # interval PT30M + grace PT30M: offline a µs after an hour without a report, never earlier
        assert a.raised_at == before + HOUR_US + 1, a.entity
        after = [t for t in times if t > a.raised_at]
        if after:
            assert (a.state, a.cleared_at) == ("cleared", after[0]), a.entity
    # every gap of more than an hour inside the run raised one
    for eid in {d for d in (a.entity for a in offline)}:
        times = [t for t, _ in observations(p, eid)]
        gaps = [t0 + HOUR_US + 1 for t0, t1 in zip(times, times[1:]) if t1 - t0 > HOUR_US + 1 and t0 > start]
        assert set(gaps) <= {a.raised_at for a in offline if a.entity == eid}, eid


def test_the_department_webhook_got_each_raised_alarm_signed(run):
    rt, p, receiver, _, _ = run
    raised = {a.id for a in stored.alarms(p.store, states=None, limit=1000) if a.department == "sanitation"}
    assert wait_until(lambda: raised <= {r.body["alarm"]["id"] for r in receiver.received
                                         if r.body["kind"] == "raised"}, 60)
    for r in receiver.received:
        t, v1 = (x.split("=", 1)[1] for x in r.headers["x-citylink-signature"].split(","))
        assert hmac.compare_digest(v1, hmac.new(SECRET.encode(), f"{t}.".encode() + r.raw,
                                                hashlib.sha256).hexdigest())
        assert r.headers["x-citylink-event"] == r.body["kind"] and r.body["alarm"]["department"] == "sanitation"


def test_acknowledged_through_the_api_then_cleared_by_the_condition(run):
    rt, p, receiver, _, _ = run
    _, key = p.issue_api_key("bins desk", department="sanitation")
    open_ = stored.alarms(p.store, rule=HEALTH_OFFLINE, states=("active",), limit=1000)
    target = next(a for a in open_ if ":acme:" in a.entity and a.values.get("state") == "offline") \
        if any(":acme:" in a.entity and a.values.get("state") == "offline" for a in open_) else None
    if target is None:   # every silence has ended: take a device offline now
        target_eid = next(a.entity for a in stored.alarms(p.store, rule=HEALTH_OFFLINE, states=None, limit=1000)
                          if ":acme:" in a.entity)
        p.clock.hold(p.clock.now_us() + 2 * HOUR_US)
        p.health.process_due()
        assert p.rules.wait_idle()
        target = stored.alarms(p.store, rule=HEALTH_OFFLINE, entity=target_eid, states=("active",))[0]
    r = httpx.post(f"{rt.url}/api/alarms/{target.id}/acknowledge", json={"comment": "crew on the way"},
                   headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "acknowledged" and r.json()["acknowledged"]["comment"] == "crew on the way"
    # the device reports again: the condition has ended, the alarm clears by itself
    local = target.entity.rsplit(":", 1)[-1]
    body = {"deviceId": local, "ts": _kst(p.clock.now_us()), "fill_pct": 10, "temp_c": 5, "battery_pct": 90,
            "state": "0", "compactions": 1}
    token = p.issue_token(SOURCE)
    r = httpx.post(f"{rt.url}/ingest/{SOURCE}", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code in (200, 202), r.text
    assert wait_until(lambda: p.rules.wait_idle() and stored.alarm(p.store, target.id).state == "cleared", 20)
    a = httpx.get(f"{rt.url}/api/alarms/{target.id}", headers={"Authorization": f"Bearer {key}"}).json()
    assert [h["kind"] for h in a["history"]] == ["raised", "acknowledged", "cleared"]
    assert a["cleared"]["by"] is None
    assert wait_until(lambda: any(x.body["kind"] == "cleared" and x.body["alarm"]["id"] == target.id
                                  for x in receiver.received), 30)


def _kst(us: int) -> str:
    from datetime import datetime, timedelta, timezone
    return datetime.fromtimestamp(us / US, timezone(timedelta(hours=9))).isoformat(timespec="seconds")
