"""Coordinate reference systems: vendors' positions to WGS 84 lon/lat with pyproj."""
from __future__ import annotations

from functools import lru_cache
from typing import Callable


class CrsProblem(ValueError):
    """An unknown CRS, or a position that is not valid in its CRS."""


@lru_cache(maxsize=None)
def transformer(crs: str) -> Callable[[float, float], tuple[float, float]]:
    """A function (x, y) in ``crs`` → (lon, lat) in EPSG:4326, built once per CRS."""
    if crs.upper() in ("EPSG:4326", "WGS84", "OGC:CRS84"):
        return lambda x, y: (x, y)
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError

    try:
        src = CRS.from_user_input(crs)
    except CRSError:
        raise CrsProblem(f"unknown coordinate reference system {crs!r} (e.g. EPSG:5186, EPSG:5179)") from None
    t = Transformer.from_crs(src, "EPSG:4326", always_xy=True)
    return t.transform


def to_wgs84(crs: str, x: float, y: float) -> tuple[float, float]:
    lon, lat = transformer(crs)(x, y)
    if lon != lon or lat != lat or abs(lon) == float("inf"):  # NaN / inf: outside the CRS's area
        raise CrsProblem(f"({x}, {y}) is not a valid position in {crs}")
    return float(lon), float(lat)
