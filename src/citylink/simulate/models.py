"""How simulated devices behave, found through a registry: the name in a profile's ``model.kind``.

A model knows nothing of vendors or payloads: it turns time (and the shared :class:`World`) into the
quantities a real device would measure — people counted, a bin's fill level, CO2 in a room, a car in
a bay.  A profile's message template then writes those quantities the way one vendor does.

Every model is deterministic: it draws only from the ``random.Random`` it is given (seeded from the
run's seed, the source and the device) and from the world (seeded from the run's seed).

``step(t_us, dt_s)`` advances the device to ``t_us`` (``dt_s`` seconds after its previous step) and
returns what it reports now; counts are counts over that step.
"""
from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from typing import Any

from ..registry import Registry
from .world import HOUR_US, World, local_time


class Model(ABC):
    name = ""
    defaults: dict[str, Any] = {}

    def __init__(self, params: dict, device: dict, rng: random.Random, world: World):
        self.p = {**self.defaults, **params}
        self.device = device
        self.rng = rng
        self.world = world
        self._incident_until = 0
        self.incident = 0

    @abstractmethod
    def step(self, t_us: int, dt_s: float) -> dict:
        """Advance to ``t_us`` (``dt_s`` after the previous step); what the device reports now."""

    # -- shared helpers ------------------------------------------------------------------------
    def shape(self, t_us: int, key_weekday="weekday", key_weekend="weekend") -> float:
        """The profile's hourly activity factor at ``t_us`` (24 values per day kind, interpolated)."""
        lt = local_time(t_us)
        table = self.p.get(key_weekend if lt.weekend else key_weekday) or self.p.get(key_weekday)
        if not table:
            return 1.0
        h = lt.hour
        i = int(h) % 24
        frac = h - int(h)
        return table[i] * (1 - frac) + table[(i + 1) % 24] * frac

    def poisson(self, mean: float) -> int:
        if mean <= 0:
            return 0
        if mean > 50:  # normal approximation: exact enough, and no 1,000-step loop at rush hour
            return max(0, round(self.rng.gauss(mean, math.sqrt(mean))))
        limit, k, prod = math.exp(-mean), 0, self.rng.random()
        while prod > limit:
            k += 1
            prod *= self.rng.random()
        return k

    def incidents(self, t_us: int, dt_s: float) -> int:
        """A device fault now and then (``incidents: {per_day, hours: [min, max], codes: [...]}``):
        the code while it lasts, else 0."""
        cfg = self.p.get("incidents")
        if not cfg:
            return 0
        if t_us >= self._incident_until:
            self.incident = 0
            if self.rng.random() < cfg["per_day"] * dt_s / 86400:
                lo, hi = cfg.get("hours", [1, 6])
                self._incident_until = t_us + int(self.rng.uniform(lo, hi) * HOUR_US)
                self.incident = self.rng.choice(cfg["codes"])
        return self.incident


MODELS: Registry[type[Model]] = Registry("simulation model", "citylink.simulation_models",
                                         ["citylink.simulate.models"])
register = MODELS.register


@register
class Footfall(Model):
    """People (and bicycles) passing a point: ``per_hour`` at the busiest hour times the hourly shape
    (``weekday``/``weekend``: 24 factors), Poisson-distributed.  Outputs ``count``, ``towards``, ``away``,
    ``bicycles``, ``incident``."""
    name = "footfall"
    defaults = {"per_hour": 300, "towards_share": 0.5, "bicycle_share": 0.1}

    def __init__(self, params, device, rng, world):
        super().__init__(params, device, rng, world)
        self.scale = rng.uniform(0.6, 1.4)  # some places are busier than others

    def step(self, t_us, dt_s):
        incident = self.incidents(t_us, dt_s)
        cold = 0.6 if self.world.snowing(t_us) else 1.0
        mean = self.p["per_hour"] * self.scale * self.shape(t_us) * cold * dt_s / 3600
        count = 0 if incident == self.p.get("blind_code") else self.poisson(mean)
        towards = sum(1 for _ in range(count) if self.rng.random() < self.p["towards_share"]) if count < 500 \
            else round(count * self.p["towards_share"])
        bicycles = self.poisson(mean * self.p["bicycle_share"]) if incident != self.p.get("blind_code") else 0
        return {"count": count, "towards": towards, "away": count - towards, "bicycles": bicycles,
                "incident": incident, "phase": self.rng.choice(self.p.get("phases", [0]))}


@register
class Fill(Model):
    """A compacting bin: fills with the area's activity, compacts when it passes ``compact_at``, is
    emptied on the collection schedule (``collection: {weekdays, hour}``).  Outputs ``level`` (0–1),
    ``compactions``, ``temperature`` (°C), ``battery`` (0–1, solar), ``lid`` (0/1), ``status`` code."""
    name = "fill"
    defaults = {"per_hour": 0.02, "compact_at": 0.75, "compact_to": 0.55, "collection": {"weekdays": [0, 2, 4], "hour": 6},
                "lid_open_per_day": 0.3, "fire_per_year": 0.5}

    def __init__(self, params, device, rng, world):
        super().__init__(params, device, rng, world)
        self.level = rng.uniform(0.05, 0.5)
        self.compactions = rng.randrange(50, 800)
        self.battery = rng.uniform(0.6, 0.95)
        self.rate = rng.uniform(0.7, 1.3)
        self.lid = 0
        self.fire_until = 0
        self._collected_day = None

    def step(self, t_us, dt_s):
        lt = local_time(t_us)
        col = self.p["collection"]
        if lt.weekday in col["weekdays"] and lt.hour >= col["hour"] and self._collected_day != lt.day:
            self._collected_day = lt.day
            self.level = self.rng.uniform(0.0, 0.05)
        self.level = min(1.0, self.level + self.p["per_hour"] * self.rate * self.shape(t_us) * dt_s / 3600
                         * self.rng.uniform(0.5, 1.5))
        if self.level >= self.p["compact_at"] and self.p["compact_to"] < self.p["compact_at"]:
            self.level = self.p["compact_to"] + (self.level - self.p["compact_at"]) / 3
            self.compactions += 1
        sun = max(0.0, math.sin((lt.hour - 6) / 12 * math.pi))
        self.battery = min(1.0, max(0.05, self.battery + (0.02 * sun - 0.006) * dt_s / 3600))
        if self.lid:
            self.lid = 0 if self.rng.random() < 0.7 else 1
        elif self.rng.random() < self.p["lid_open_per_day"] * dt_s / 86400:
            self.lid = 1
        if t_us >= self.fire_until and self.rng.random() < self.p["fire_per_year"] * dt_s / (365 * 86400):
            self.fire_until = t_us + HOUR_US
        burning = t_us < self.fire_until
        temp = self.world.temperature(t_us) + 3 * sun + self.rng.gauss(0, 0.4) + (55 if burning else 0)
        status = 9 if burning else 1 if self.lid else 0
        return {"level": self.level, "compactions": self.compactions, "temperature": temp, "battery": self.battery,
                "lid": self.lid, "status": status}


@register
class RoomAir(Model):
    """Air in an occupied room: CO2 from the people in it (``occupants`` during ``open_hours`` on open
    days) against ventilation (``air_changes_per_hour``) in ``volume_m3``; dust from outdoors and from
    activity; formaldehyde and VOCs from the building.  Outputs ``co2`` (ppm), ``pm10``, ``pm25``,
    ``tvoc``, ``hcho`` (µg/m³), ``temperature`` (°C), ``humidity`` (%)."""
    name = "room_air"
    defaults = {"occupants": 20, "volume_m3": 180, "air_changes_per_hour": 1.5, "open_hours": [9, 18],
                "open_weekend": False, "hcho": 35, "tvoc": 250, "co2_outdoor": 420}

    def __init__(self, params, device, rng, world):
        super().__init__(params, device, rng, world)
        self.co2 = self.p["co2_outdoor"] + rng.uniform(0, 60)
        self.people = round(self.p["occupants"] * rng.uniform(0.6, 1.2))
        self.hcho_base = self.p["hcho"] * rng.uniform(0.6, 1.4)

    def step(self, t_us, dt_s):
        lt = local_time(t_us)
        start, end = self.p["open_hours"]
        open_now = start <= lt.hour < end and (self.p["open_weekend"] or not lt.weekend)
        people = round(self.people * self.rng.uniform(0.7, 1.0)) if open_now else 0
        # 0.018 m³ of CO2 per person per hour (light activity), well mixed in the room
        source = people * 0.018 / self.p["volume_m3"] * 1e6
        ach = self.p["air_changes_per_hour"] * (1.6 if open_now else 1.0)
        eq = self.p["co2_outdoor"] + source / ach
        self.co2 = eq + (self.co2 - eq) * math.exp(-ach * dt_s / 3600)
        outdoor = self.world.outdoor_pm10(t_us)
        pm10 = outdoor * 0.55 + people * 0.8 + self.rng.gauss(0, 3)
        heating = 21.5 if open_now else 18.5
        return {"co2": self.co2 + self.rng.gauss(0, 8), "pm10": max(1.0, pm10),
                "pm25": max(1.0, pm10 * self.rng.uniform(0.5, 0.7)),
                "tvoc": max(10.0, self.p["tvoc"] * (1.3 if open_now else 0.9) + self.rng.gauss(0, 25)),
                "hcho": max(2.0, self.hcho_base * (1 + 0.03 * (heating - 20)) + self.rng.gauss(0, 2)),
                "temperature": heating + self.rng.gauss(0, 0.3),
                "humidity": min(90.0, max(15.0, 38 + people * 0.2 + self.rng.gauss(0, 1.5)))}


def korean_plate(rng: random.Random) -> str:
    """A made-up plate in the current Korean format (2–3 digits, a syllable, 4 digits): no real car."""
    syllables = "가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주하허호"
    return f"{rng.randrange(10, 400)}{rng.choice(syllables)}{rng.randrange(1000, 10000)}"


@register
class Parking(Model):
    """One parking bay: vehicles arrive (``arrivals_per_hour`` times the hourly shape) while it is free
    and stay a log-normal time (``stay_minutes``: {median, sigma}, by vehicle class if given).
    Outputs ``occupied`` (bool), ``event`` (ENTER/LEAVE/NONE since the last step), ``plate``, ``permit``,
    ``vehicle_class``, ``charging``, ``dwell_s``, ``event_id``."""
    name = "parking"
    defaults = {"arrivals_per_hour": 1.2, "stay_minutes": {"median": 40, "sigma": 0.8}, "permit_share": 0.8,
                "classes": {"CAR": 1.0}, "charging_share": {}}

    def __init__(self, params, device, rng, world):
        super().__init__(params, device, rng, world)
        self.vehicle: dict | None = None
        self.events = 0

    def _stay(self, vclass: str) -> float:
        cfg = self.p["stay_minutes"]
        cfg = cfg.get(vclass, cfg) if isinstance(cfg.get(vclass), dict) else cfg
        return self.rng.lognormvariate(math.log(cfg["median"]), cfg["sigma"]) * 60

    def step(self, t_us, dt_s):
        event = "NONE"
        if self.vehicle is not None and t_us >= self.vehicle["leaves"]:
            event = "LEAVE"
            left = self.vehicle
            self.vehicle = None
            self.events += 1
            return self._out(t_us, event, left)
        if self.vehicle is None and self.rng.random() < 1 - math.exp(
                -self.p["arrivals_per_hour"] * self.shape(t_us) * dt_s / 3600):
            classes = self.p["classes"]
            vclass = self.rng.choices(list(classes), weights=list(classes.values()))[0]
            self.vehicle = {"plate": korean_plate(self.rng), "class": vclass, "since": t_us,
                            "permit": self.rng.random() < self.p["permit_share"],
                            "charging": self.rng.random() < self.p["charging_share"].get(vclass, 0.0)}
            self.vehicle["leaves"] = t_us + int(self._stay(vclass) * 1e6)
            self.events += 1
            event = "ENTER"
        return self._out(t_us, event, self.vehicle)

    def _out(self, t_us, event, v):
        present = self.vehicle is not None
        return {"occupied": present, "event": event, "event_id": self.events,
                "plate": v["plate"] if v else None, "permit": v["permit"] if v else None,
                "vehicle_class": v["class"] if v else None, "charging": bool(v and v["charging"] and present),
                "dwell_s": int((t_us - v["since"]) / 1e6) if v and present else 0}


@register
class Stock(Model):
    """A box of material used up by the weather: de-icing agent taken while it snows
    (``use_per_cm``: share of capacity per cm of snow), refilled ``refill_after_hours`` after it falls
    below ``refill_below``.  The capacity comes from the device registry (``capacity_attr``).
    Outputs ``grams``, ``kg``, ``level`` (0–1), ``lid`` (0/1), ``battery_mv``, ``temperature``."""
    name = "stock"
    defaults = {"capacity_attr": "capacity_kg", "capacity_kg": 25, "use_per_cm": 0.06, "refill_below": 0.2,
                "refill_after_hours": 18, "lid_left_open_share": 0.15}

    def __init__(self, params, device, rng, world):
        super().__init__(params, device, rng, world)
        self.capacity = float(device.get(self.p["capacity_attr"]) or self.p["capacity_kg"])
        self.kg = self.capacity * rng.uniform(0.5, 1.0)
        self.refill_at = None
        self.lid = 0
        self.battery = rng.uniform(3450, 3600)

    def step(self, t_us, dt_s):
        snow = self.world.snowfall_cm_per_hour(t_us) * dt_s / 3600
        if snow > 0:
            self.kg = max(0.0, self.kg - self.capacity * self.p["use_per_cm"] * snow * self.rng.uniform(0.5, 1.5))
            if not self.lid and self.rng.random() < self.p["lid_left_open_share"] * min(1.0, snow):
                self.lid = 1
        elif self.lid and self.rng.random() < 0.1:
            self.lid = 0  # a passer-by or the road crew shuts it
        if self.refill_at is None and self.kg < self.capacity * self.p["refill_below"]:
            self.refill_at = t_us + int(self.p["refill_after_hours"] * HOUR_US)
        if self.refill_at is not None and t_us >= self.refill_at:
            self.kg, self.refill_at, self.lid = self.capacity, None, 0
        self.battery = max(3000.0, self.battery - 0.02 * dt_s / 3600)
        return {"kg": self.kg, "grams": round(self.kg * 1000), "level": self.kg / self.capacity, "lid": self.lid,
                "battery_mv": round(self.battery), "temperature": self.world.temperature(t_us) + self.rng.gauss(0, 0.3)}


@register
class HomeActivity(Model):
    """Life in a home: motion and door-opening counts that follow the resident's day (awake between
    ``wake`` and ``sleep``), power use that follows activity; now and then a quiet spell
    (``quiet_per_month``, ``quiet_hours``) — a resident away, or unwell.  Outputs ``motion``, ``door``, ``kwh``."""
    name = "home_activity"
    defaults = {"wake": 7, "sleep": 23, "motion_per_hour": 14, "door_per_day": 4, "quiet_per_month": 0.5,
                "quiet_hours": [8, 30], "base_kwh": 0.05, "active_kwh": 0.25}

    def __init__(self, params, device, rng, world):
        super().__init__(params, device, rng, world)
        self.wake = self.p["wake"] + rng.uniform(-1.5, 1.5)
        self.sleep = self.p["sleep"] + rng.uniform(-1.5, 1.0)
        self.quiet_until = 0

    def step(self, t_us, dt_s):
        lt = local_time(t_us)
        if t_us >= self.quiet_until and self.rng.random() < self.p["quiet_per_month"] * dt_s / (30 * 86400):
            self.quiet_until = t_us + int(self.rng.uniform(*self.p["quiet_hours"]) * HOUR_US)
        quiet = t_us < self.quiet_until
        awake = self.wake <= lt.hour < self.sleep and not quiet
        hours = dt_s / 3600
        motion = self.poisson(self.p["motion_per_hour"] * hours * (1.0 if awake else 0.03 if not quiet else 0))
        door = self.poisson(self.p["door_per_day"] / 16 * hours) if awake else 0
        kwh = (self.p["base_kwh"] + (self.p["active_kwh"] * self.rng.uniform(0.4, 1.6) if awake else 0)) * hours
        return {"motion": motion, "door": door, "kwh": kwh}

