"""The simulated devices behave like the real ones: the rhythms the district knows, from the seed alone."""
from __future__ import annotations

import random
import statistics
from datetime import datetime

from citylink.clock import to_us
from citylink.simulate.models import MODELS, korean_plate
from citylink.simulate.world import KST, World, load_world

HOUR = 3_600_000_000


def kst(*args) -> int:
    return to_us(datetime(*args, tzinfo=KST))


def model(kind: str, seed: int = 1, device: dict | None = None, **params):
    return MODELS.get(kind)(params, device or {"local_id": "x"}, random.Random(seed), World(seed, load_world()))


def run(m, start: int, hours: float, step_s: float):
    t, out = start, []
    while t < start + hours * HOUR:
        out.append((t, m.step(t, step_s)))
        t += int(step_s * 1e6)
    return out


def test_crosswalks_peak_at_commuter_hours_on_weekdays():
    shape = [0.03, 0.02, 0.01, 0.01, 0.03, 0.12, 0.45, 0.9, 1.0, 0.6, 0.4, 0.45, 0.6, 0.5, 0.45, 0.5, 0.65, 0.9, 1.0,
             0.7, 0.45, 0.3, 0.15, 0.07]
    m = model("footfall", per_hour=900, weekday=shape, weekend=[0.3] * 24)
    rows = run(m, kst(2026, 11, 23), 24 * 7, 300)  # Monday to Sunday
    by_hour = {}
    for t, out in rows:
        dt = datetime.fromtimestamp(t / 1e6, KST)
        if dt.weekday() < 5:
            by_hour.setdefault(dt.hour, []).append(out["count"])
    mean = {h: statistics.mean(v) for h, v in by_hour.items()}
    assert mean[8] > 5 * mean[3] and mean[18] > 5 * mean[3] and mean[8] > mean[13]
    assert all(o["towards"] + o["away"] == o["count"] for _, o in rows)


def test_bins_fill_up_and_are_emptied_on_collection_mornings():
    m = model("fill", per_hour=0.03, collection={"weekdays": [0, 2, 4], "hour": 6})
    rows = run(m, kst(2026, 11, 23, 7), 24 * 7, 600)
    levels = [(datetime.fromtimestamp(t / 1e6, KST), o["level"]) for t, o in rows]
    for day in (25, 27):  # Wednesday, Friday: lower right after 06:00 than right before
        before = next(v for d, v in reversed(levels) if d.day == day and d.hour == 5)
        after = next(v for d, v in levels if d.day == day and d.hour == 6)
        assert after < before and after < 0.1
    assert max(v for _, v in levels) <= 1.0 and rows[-1][1]["compactions"] > rows[0][1]["compactions"]


def test_co2_rises_in_an_occupied_room_and_falls_after_hours():
    m = model("room_air", occupants=25, volume_m3=150, air_changes_per_hour=1.0, open_hours=[9, 18])
    rows = run(m, kst(2026, 11, 24, 0), 24, 300)
    at = {datetime.fromtimestamp(t / 1e6, KST).hour: o["co2"] for t, o in rows}
    assert at[5] < 600 and at[16] > 1000 and at[23] < at[17]


def test_parking_events_alternate_and_stays_last_as_configured():
    m = model("parking", arrivals_per_hour=2.0, stay_minutes={"median": 40, "sigma": 0.5})
    rows = run(m, kst(2026, 11, 24, 0), 24 * 14, 60)
    events = [(t, o) for t, o in rows if o["event"] != "NONE"]
    kinds = [o["event"] for _, o in events]
    assert all(a != b for a, b in zip(kinds, kinds[1:]))  # ENTER, LEAVE, ENTER, …
    stays = [(b[0] - a[0]) / 60e6 for a, b in zip(events, events[1:]) if a[1]["event"] == "ENTER"]
    assert len(stays) > 50 and 30 < statistics.median(stays) < 52


def test_ev_bays_see_evs_and_other_cars_and_only_evs_charge():
    m = model("parking", arrivals_per_hour=2.0, classes={"EV": 0.6, "NON_EV": 0.4}, charging_share={"EV": 0.9})
    rows = [o for _, o in run(m, kst(2026, 11, 24), 24 * 7, 60) if o["occupied"]]
    assert {o["vehicle_class"] for o in rows} == {"EV", "NON_EV"}
    assert not any(o["charging"] for o in rows if o["vehicle_class"] == "NON_EV")


def test_snowfall_drains_the_boxes_and_the_crew_refills_them():
    world = World(3, load_world())
    m = MODELS.get("stock")({"use_per_cm": 0.2, "refill_after_hours": 12}, {"local_id": "b", "capacity_kg": 20},
                            random.Random(3), world)
    rows = run(m, kst(2026, 12, 1), 24 * 60, 1800)  # December and January: snowy days come
    snowing = [o for t, o in rows if world.snowing(t)]
    assert snowing, "no snow in two winter months"
    drops = sum(1 for (_, a), (_, b) in zip(rows, rows[1:]) if b["kg"] < a["kg"])
    refills = sum(1 for (_, a), (_, b) in zip(rows, rows[1:]) if b["kg"] > a["kg"] + 1)
    assert drops > 0 and refills > 0
    assert all(0 <= o["level"] <= 1 for _, o in rows)
    dry = [o for t, o in rows if not world.snowing(t)]
    assert sum(o["lid"] for o in dry) < len(dry) / 4


def test_homes_are_quiet_at_night():
    m = model("home_activity")
    rows = run(m, kst(2026, 11, 24), 24 * 14, 3600)
    night = [o["motion"] for t, o in rows if datetime.fromtimestamp(t / 1e6, KST).hour in (2, 3, 4)]
    day = [o["motion"] for t, o in rows if datetime.fromtimestamp(t / 1e6, KST).hour in (10, 11, 12)]
    assert statistics.mean(day) > 5 * max(0.2, statistics.mean(night))


def test_the_same_seed_gives_the_same_world_and_devices():
    a, b, c = (model("fill", seed=s) for s in (5, 5, 6))
    start = kst(2026, 11, 24)
    ra, rb, rc = (run(m, start, 48, 600) for m in (a, b, c))
    assert ra == rb and ra != rc
    assert korean_plate(random.Random(1)) == korean_plate(random.Random(1))
