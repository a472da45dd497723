"""Dobong-gu's boundaries as the package bundles them (``data/geo/``, sources in its README): the district's
outline and its administrative dongs, GeoJSON documents read once.  The simulators place devices inside the
outline, rules name dongs (``where:``), and the dashboard draws both."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

GEO = Path(__file__).resolve().parent / "data" / "geo"


@lru_cache(maxsize=1)
def outline() -> dict:
    """Dobong-gu's outline (JUSO 2015): a FeatureCollection of one feature."""
    return json.loads((GEO / "dobong_gu_boundary_2015.geojson").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def dongs() -> dict:
    """Its 14 administrative dongs (KOSTAT 2013; properties code, name, name_eng)."""
    return json.loads((GEO / "dobong_dong_boundaries_2013.geojson").read_text(encoding="utf-8"))
