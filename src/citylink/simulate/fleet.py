"""The simulated devices: those in the district's registries, plus the fleet a profile adds.

Added devices get positions inside Dobong-gu (its boundary from ``data/geo``), attributes drawn from
the profile, and ``simulated: true``; they are written to the source's device registry in the store,
so the platform knows them exactly as it knows the district's own.
"""
from __future__ import annotations

import random
from functools import lru_cache

from ..district import outline
from ..spec.devices import Device
from .profile import Profile



def seeded(seed: int, *parts) -> random.Random:
    return random.Random(":".join(map(str, (seed, *parts))))


def fleet(prof: Profile, registry: list[Device], seed: int, count: int | None = None) -> list[Device]:
    """The devices a profile's ``fleet`` adds to a source's registry: ids from ``fleet.id``, attributes
    drawn from ``fleet.attributes`` (a list is a choice), positions inside Dobong-gu."""
    cfg = prof.fleet
    n = cfg.get("count", 0) if count is None else count
    if not n or not cfg.get("id"):
        return []
    rng = seeded(seed, "fleet", prof.source)
    taken = {d.local_id for d in registry}
    out, i = [], 0
    while len(out) < n:
        i += 1
        local = cfg["id"].format(n=i)
        if local in taken:
            continue
        attrs = {k: rng.choice(v) if isinstance(v, list) else v for k, v in (cfg.get("attributes") or {}).items()}
        attrs["simulated"] = True
        lon, lat = point_in_district(rng) if cfg.get("position", True) else (None, None)
        out.append(Device(local, None, lon, lat, True, (cfg.get("name") or "simulated {id}").format(id=local, n=i),
                          attrs))
    return out



def enroll(platform, profiles: dict[str, Profile], *, seed: int, count: int | None = None,
           sources: list[str] | None = None, token_label: str = "simulator") -> tuple[dict[str, list[Device]], dict[str, str]]:
    """Add the profiles' fleets to the device registries of the sources that keep one, and issue an
    ingest token per HTTP-push source.  Returns (devices per source, tokens)."""
    now = platform.clock.now_us()
    registries = platform.store.devices()
    out: dict[str, list[Device]] = {}
    tokens: dict[str, str] = {}
    for sid, spec in platform.specs.sources.items():
        if sid not in profiles or (sources and sid not in sources):
            continue
        own = [d for d in registries.get(sid, []) if not d.attrs.get("simulated")]
        added = fleet(profiles[sid], own, seed, count)
        out[sid] = own + added
        if spec.devices and [d.as_row() for d in registries.get(sid, [])] != [d.as_row() for d in own + added]:
            platform.store.put_devices(sid, own + added, now)
        if spec.transport["type"] == "http_push":
            tokens[sid] = platform.issue_token(sid, token_label)
    platform.reload()
    return out, tokens


@lru_cache(maxsize=1)
def district():
    """Dobong-gu's boundary (shapely polygon), prepared for fast containment tests."""
    import shapely
    from shapely.geometry import shape
    poly = shape(outline()["features"][0]["geometry"])
    shapely.prepare(poly)
    return poly


def point_in_district(rng: random.Random) -> tuple[float, float]:
    """A uniformly random (lon, lat) inside Dobong-gu (rejection sampling in its bounding box)."""
    from shapely.geometry import Point
    poly = district()
    x0, y0, x1, y1 = poly.bounds
    while True:
        lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if poly.contains(Point(lon, lat)):
            return round(lon, 6), round(lat, 6)
