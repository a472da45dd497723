"""A rule's ``where:``: the place it applies to, as a prepared shapely geometry.

``{dong: [...]}`` names Dobong-gu's administrative dongs (:func:`citylink.district.dongs`)
by Korean name (창5동), English name (Chang 5(o)-dong, any case) or code (1110063); a legal dong's name
(창동, Chang-dong) stands for all its administrative dongs (창1동 … 창5동).  ``{polygon: [[lon, lat], ...]}``
is a closed ring in WGS84.  An entity with no location is outside every scope.
"""
from __future__ import annotations

import re
from functools import lru_cache

from .. import district


class ScopeProblem(ValueError):
    """A ``where:`` is wrong; ``type`` is the problem's stable slug, ``index`` the list item at fault."""

    def __init__(self, type: str, msg: str, index: int | None = None):
        super().__init__(msg)
        self.type, self.index = type, index


@lru_cache(maxsize=1)
def dongs() -> tuple[dict[str, tuple[str, ...]], dict[str, object], tuple[str, ...]]:
    """(name or code → dong codes, code → geometry, Korean names) of the package's boundary file."""
    from shapely.geometry import shape
    doc = district.dongs()
    names: dict[str, set[str]] = {}
    geoms = {}
    for f in doc["features"]:
        p = f["properties"]
        code = str(p["code"])
        geoms[code] = shape(f["geometry"])
        keys = {code, p["name"], p["name_eng"].lower()}
        legal = re.match(r"^(\D+?)\d+동$", p["name"])            # 창5동 → 창동
        if legal:
            keys.add(legal.group(1) + "동")
        legal_en = re.match(r"^(.+?) \d+\(\w+\)-dong$", p["name_eng"])  # Chang 5(o)-dong → chang-dong
        if legal_en:
            keys.add(legal_en.group(1).lower() + "-dong")
        for k in keys:
            names.setdefault(k, set()).add(code)
    ko = tuple(sorted(f["properties"]["name"] for f in doc["features"]))
    return {k: tuple(sorted(v)) for k, v in names.items()}, geoms, ko


def _lookup(name) -> tuple[str, ...] | None:
    table = dongs()[0]
    key = str(name).strip()
    return table.get(key) or table.get(key.lower())


class Scope:
    """Where a rule applies: ``contains(lon, lat)``."""

    def __init__(self, geometry, text: str):
        import shapely
        shapely.prepare(geometry)
        self.geometry = geometry
        self.text = text

    def contains(self, lon: float | None, lat: float | None) -> bool:
        if lon is None or lat is None:
            return False
        import shapely
        return bool(shapely.contains_xy(self.geometry, lon, lat))


def compile_scope(where: dict) -> Scope:
    """The :class:`Scope` of a ``where:`` mapping (already valid against the schema)."""
    from shapely.geometry import Polygon
    from shapely.ops import unary_union
    if "dong" in where:
        codes: list[str] = []
        for i, name in enumerate(where["dong"]):
            hit = _lookup(name)
            if hit is None:
                raise ScopeProblem("rule_unknown_dong", f"no dong {name!r} in Dobong-gu (known: "
                                                        f"{', '.join(dongs()[2])}, their English names or codes)", i)
            codes += [c for c in hit if c not in codes]
        geoms = dongs()[1]
        return Scope(unary_union([geoms[c] for c in codes]), "dong: " + ", ".join(map(str, where["dong"])))
    ring = [tuple(p) for p in where["polygon"]]
    if ring[0] != ring[-1]:
        raise ScopeProblem("rule_bad_polygon", f"the ring is not closed: it starts at {list(ring[0])} and ends at "
                                               f"{list(ring[-1])} (repeat the first point last)")
    for i, (lon, lat) in enumerate(ring):
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ScopeProblem("rule_bad_polygon", f"point {i} {[lon, lat]} is not a [lon, lat] in degrees", i)
    poly = Polygon(ring)
    if not poly.is_valid or poly.area == 0:
        from shapely.validation import explain_validity
        why = explain_validity(poly) if not poly.is_valid else "it has no area"
        raise ScopeProblem("rule_bad_polygon", f"not a valid polygon: {why}")
    return Scope(poly, f"polygon of {len(ring) - 1} points")
