"""NGSI-LD geo-queries (ETSI GS CIM 009, 4.10): ``georel``, ``geometry``, ``coordinates``, ``geoproperty``.

    georel=near;maxDistance==500&geometry=Point&coordinates=[127.0471,37.6688]
    georel=within&geometry=Polygon&coordinates=[[[127.03,37.65],[127.06,37.65],[127.06,37.68],[127.03,37.65]]]

The query geometry is checked with shapely; distances are metres on the WGS 84 ellipsoid.  An entity's
geometry here is its position (a point).  SQLite narrows by the bounding box on its (lon, lat) index
and decides with shapely (:func:`sqlite_geo`, registered as an SQL function); PostgreSQL asks PostGIS.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache

RELATIONS = ("near", "within", "contains", "intersects", "disjoint", "equals", "overlaps")
GEOMETRIES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
MAX_COORDINATES = 20_000    # characters of the coordinates parameter
EARTH_RADIUS_M = 6_371_008.8


class GeoError(ValueError):
    def __init__(self, param: str, msg: str):
        super().__init__(f"{param}: {msg}")
        self.param = param


@dataclass(frozen=True)
class GeoQuery:
    rel: str
    geojson: str                    # the query geometry, as GeoJSON text
    wkb: bytes
    bbox: tuple[float, float, float, float]
    max_distance: float | None = None
    min_distance: float | None = None
    geoproperty: str = "location"

    def prefilter(self) -> tuple[float, float, float, float] | None:
        """(min lon, min lat, max lon, max lat) every match lies in, or None (disjoint, minDistance)."""
        if self.rel == "disjoint" or (self.rel == "near" and self.max_distance is None):
            return None
        x0, y0, x1, y1 = self.bbox
        if self.rel == "near":
            dlat = math.degrees(self.max_distance / EARTH_RADIUS_M)
            dlon = dlat / max(0.01, math.cos(math.radians(max(abs(y0), abs(y1)))))
            return x0 - dlon, y0 - dlat, x1 + dlon, y1 + dlat
        return self.bbox


def parse(georel: str | None, geometry: str | None, coordinates: str | None,
          geoproperty: str | None = None) -> GeoQuery | None:
    """The geo-query of a request, or None when it has none; :class:`GeoError` names the parameter at fault."""
    if georel is None and geometry is None and coordinates is None:
        return None
    for name, v in (("georel", georel), ("geometry", geometry), ("coordinates", coordinates)):
        if not v:
            raise GeoError(name, "a geo-query needs georel, geometry and coordinates")
    prop = geoproperty or "location"
    if prop != "location":
        raise GeoError("geoproperty", f"only location can be queried here, not {prop!r}")
    parts = georel.split(";")
    rel = parts[0]
    if rel not in RELATIONS:
        raise GeoError("georel", f"{rel!r} is not one of {', '.join(RELATIONS)}")
    max_d = min_d = None
    for mod in parts[1:]:
        key, sep, value = mod.partition("==")
        if rel != "near" or key not in ("maxDistance", "minDistance") or not sep:
            raise GeoError("georel", f"{mod!r}: only near takes a modifier, maxDistance==<metres> or minDistance==<metres>")
        try:
            d = float(value)
        except ValueError:
            raise GeoError("georel", f"{key}: {value!r} is not a number of metres") from None
        if not 0 <= d <= 20_100_000 or math.isnan(d):
            raise GeoError("georel", f"{key}: {value} is not a distance on Earth in metres")
        if key == "maxDistance":
            max_d = d
        else:
            min_d = d
    if rel == "near" and max_d is None and min_d is None:
        raise GeoError("georel", "near needs maxDistance==<metres> or minDistance==<metres>")
    if geometry not in GEOMETRIES:
        raise GeoError("geometry", f"{geometry!r} is not one of {', '.join(GEOMETRIES)}")
    if rel == "near" and geometry != "Point":
        raise GeoError("geometry", "near measures from a Point")
    if len(coordinates) > MAX_COORDINATES:
        raise GeoError("coordinates", f"longer than {MAX_COORDINATES} characters")
    try:
        coords = json.loads(coordinates)
    except ValueError as e:
        raise GeoError("coordinates", f"not a JSON array: {e}") from None
    shp = _shape(geometry, coords)
    return GeoQuery(rel, json.dumps({"type": geometry, "coordinates": coords}), shp.wkb, shp.bounds, max_d, min_d, prop)


def _shape(geometry: str, coords):
    from shapely.errors import GEOSException
    from shapely.geometry import shape
    from shapely.validation import explain_validity
    try:
        shp = shape({"type": geometry, "coordinates": coords})
    except (ValueError, TypeError, IndexError, AttributeError, GEOSException) as e:
        raise GeoError("coordinates", f"not the coordinates of a {geometry}: {e}") from None
    if shp.is_empty:
        raise GeoError("coordinates", f"an empty {geometry}")
    x0, y0, x1, y1 = shp.bounds
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise GeoError("coordinates", "longitude then latitude, in degrees (WGS 84)")
    if not shp.is_valid:
        raise GeoError("coordinates", f"not a valid {geometry}: {explain_validity(shp)}")
    return shp


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


@lru_cache(maxsize=64)
def _geometry(wkb: bytes):
    import shapely
    from shapely import wkb as wkb_io
    g = wkb_io.loads(wkb)
    shapely.prepare(g)
    return g


def sqlite_geo(rel: str, wkb: bytes, max_d, min_d, lon, lat) -> int | None:
    """SQLite's geo_rel(rel, wkb, maxDistance, minDistance, lon, lat): 1 when the point at (lon, lat) is in
    the relation with the query geometry."""
    if lon is None or lat is None:
        return None
    g = _geometry(wkb)
    if rel == "near":
        d = haversine_m(g.x, g.y, lon, lat)
        return int((max_d is None or d <= max_d) and (min_d is None or d >= min_d))
    from shapely.geometry import Point
    p = Point(lon, lat)
    return int({"within": p.within, "contains": p.contains, "intersects": p.intersects, "disjoint": p.disjoint,
                "equals": p.equals, "overlaps": p.overlaps}[rel](g))


def postgis_condition(q: GeoQuery) -> tuple[str, list]:
    """The PostGIS condition on ``e`` (entities) for ``q``."""
    point = "ST_SetSRID(ST_MakePoint(e.lon, e.lat), 4326)"
    geom = "ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326)"
    if q.rel == "near":
        parts, args = [], []
        if q.max_distance is not None:
            parts.append(f"ST_DWithin({point}::geography, {geom}::geography, %s)")
            args += [q.geojson, q.max_distance]
        if q.min_distance is not None:
            parts.append(f"NOT ST_DWithin({point}::geography, {geom}::geography, %s)")
            args += [q.geojson, q.min_distance]
        return "e.lon IS NOT NULL AND " + " AND ".join(parts), args
    fn = {"within": "ST_Within", "contains": "ST_Contains", "intersects": "ST_Intersects", "disjoint": "ST_Disjoint",
          "equals": "ST_Equals", "overlaps": "ST_Overlaps"}[q.rel]
    return f"e.lon IS NOT NULL AND {fn}({point}, {geom})", [q.geojson]
