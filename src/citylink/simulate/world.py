"""What every simulated device shares: local time in Seoul, the weather, outdoor dust.

Deterministic from the seed: the same seed gives the same snowy nights and the same dusty days.
The figures are climate normals for Seoul (KMA 1991–2020 monthly means), in ``world.yaml``.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

KST = timezone(timedelta(hours=9))
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US


@dataclass(frozen=True)
class LocalTime:
    hour: float      # 0 ≤ hour < 24, fractional
    weekday: int     # Monday 0 … Sunday 6
    month: int       # 1 … 12
    day: int         # days since the epoch, local

    @property
    def weekend(self) -> bool:
        return self.weekday >= 5


def local_time(t_us: int) -> LocalTime:
    dt = datetime.fromtimestamp(t_us / 1e6, KST)
    return LocalTime(dt.hour + dt.minute / 60 + dt.second / 3600, dt.weekday(), dt.month,
                     (t_us + 9 * HOUR_US) // DAY_US)


class World:
    """District-wide conditions.  ``climate``: the ``world.yaml`` mapping."""

    def __init__(self, seed: int, climate: dict):
        self.seed = seed
        self.climate = climate

    def _day_rng(self, day: int, what: str) -> random.Random:
        return random.Random(f"{self.seed}:{what}:{day}")

    @lru_cache(maxsize=4096)
    def _day(self, day: int) -> tuple[float, float, tuple[int, int] | None, float]:
        """(mean temperature offset, daily amplitude, snowfall hours (start, end) or None, dust factor)."""
        rng = self._day_rng(day, "weather")
        offset = rng.gauss(0, self.climate["day_to_day_sd"])
        amplitude = self.climate["daily_amplitude"] * rng.uniform(0.7, 1.3)
        month = datetime.fromtimestamp(day * 86400, KST).month
        snow = None
        if rng.random() < self.climate["snow_days_per_month"][month - 1] / 30:
            start = rng.randrange(0, 24)
            snow = (start, start + rng.randrange(2, 9))
        dust = math.exp(rng.gauss(0, 0.45))
        return offset, amplitude, snow, dust

    def temperature(self, t_us: int) -> float:
        """Outdoor air temperature in °C: monthly normal + this day's deviation + a daily cycle (coolest ~5 h)."""
        lt = local_time(t_us)
        offset, amplitude, snow, _ = self._day(lt.day)
        normal = self.climate["monthly_mean_c"][lt.month - 1]
        temp = normal + offset + amplitude / 2 * math.sin((lt.hour - 9) / 24 * 2 * math.pi)
        return temp - 2.0 if self.snowing(t_us) else temp

    def snowfall_cm_per_hour(self, t_us: int) -> float:
        """Snowfall in cm/h: an episode starts on a random hour of a snowy day and may run past midnight."""
        lt = local_time(t_us)
        for day, hour in ((lt.day, lt.hour), (lt.day - 1, lt.hour + 24)):
            snow = self._day(day)[2]
            if snow is not None and snow[0] <= hour < snow[1]:
                return self._day_rng(day, "snow-rate").uniform(0.3, 2.5)
        return 0.0

    def snowing(self, t_us: int) -> bool:
        return self.snowfall_cm_per_hour(t_us) > 0

    def outdoor_pm10(self, t_us: int) -> float:
        """Outdoor PM10 in µg/m³: the monthly mean times this day's dust factor, higher at rush hours."""
        lt = local_time(t_us)
        rush = 1.15 if 7 <= lt.hour < 10 or 17 <= lt.hour < 20 else 1.0
        return self.climate["monthly_pm10"][lt.month - 1] * self._day(lt.day)[3] * rush


def load_world(path=None) -> dict:
    """The climate figures (``data/simulation/world.yaml`` unless ``path``)."""
    from pathlib import Path

    import yaml
    path = Path(path) if path else Path(__file__).resolve().parent.parent / "data" / "simulation" / "world.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))
