"""Device registries: the department's list of devices per source.

A registry is a CSV file (one row per device) or a YAML file
(``citylink: devices/1``).  Columns / keys:

``local_id`` (required) the vendor's device id, as the source's entity-id template yields it;
``entity_id`` (optional) the district's own id for the thing: a full URN, or a local
    id used without the vendor's namespace (so two vendors can report on one asset);
``lon``/``lat`` or ``x``/``y`` with ``crs`` – where the device is;
``expected`` (default true) – whether the device should be reporting;
``name``; every other column is a static attribute (``bin_height_cm``,
``facility_type``, ``charger_type``) that mappings read as ``device.<name>``.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SpecError, SpecProblem
from .yamlloc import load_located

_KNOWN = {"local_id", "entity_id", "lon", "lat", "x", "y", "crs", "expected", "name", "attributes"}


@dataclass
class Device:
    local_id: str
    entity_id: str | None = None
    lon: float | None = None
    lat: float | None = None
    expected: bool = True
    name: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    def as_row(self) -> dict[str, Any]:
        return {"local_id": self.local_id, "entity_id": self.entity_id, "lon": self.lon, "lat": self.lat,
                "expected": self.expected, "name": self.name, "attrs": self.attrs}


def _scalar(text: str) -> Any:
    t = text.strip()
    if t == "":
        return None
    low = t.lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


def load_registry(path: Path, label: str | None = None) -> list[Device]:
    """Read a registry file; every problem is reported with its file and line."""
    label = label or str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError([SpecProblem("registry_unreadable", label, None, "", str(e))]) from None
    if path.suffix.lower() == ".csv":
        return _from_csv(text, label)
    if path.suffix.lower() in (".yaml", ".yml"):
        return _from_yaml(text, label)
    raise SpecError([SpecProblem("registry_format", label, None, "",
                                 "a device registry is a .csv or .yaml file")])


def _from_csv(text: str, label: str) -> list[Device]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "local_id" not in reader.fieldnames:
        raise SpecError([SpecProblem("registry_column", label, 1, "local_id", "the header has no 'local_id' column")])
    rows = []
    for row in reader:
        clean = {k: (_scalar(v) if k not in ("local_id", "entity_id", "name", "crs") else (v.strip() or None))
                 for k, v in row.items() if k is not None and v is not None}
        rows.append((reader.line_num, clean))
    return _devices(rows, label)


def _from_yaml(text: str, label: str) -> list[Device]:
    data, lines = load_located(text)
    if not isinstance(data, dict) or data.get("citylink") != "devices/1" or not isinstance(data.get("devices"), list):
        raise SpecError([SpecProblem("registry_format", label, 1, "citylink",
                                     "a YAML registry has 'citylink: devices/1' and a 'devices' list")])
    default_crs = data.get("crs")
    rows = []
    for i, d in enumerate(data["devices"]):
        if not isinstance(d, dict):
            raise SpecError([SpecProblem("registry_row", label, lines.find(("devices", i)), f"devices.{i}",
                                         "each device is a mapping")])
        flat = {k: v for k, v in d.items() if k != "attributes"}
        flat.update(d.get("attributes") or {})
        if default_crs and "crs" not in flat:
            flat["crs"] = default_crs
        rows.append((lines.find(("devices", i)), flat))
    return _devices(rows, label)


def _devices(rows, label) -> list[Device]:
    from .crs import to_wgs84  # pyproj is slow to import; only registries with positions need it

    problems, out, seen = [], [], {}
    for line, row in rows:
        local = row.get("local_id")
        if local in (None, ""):
            problems.append(SpecProblem("registry_row", label, line, "local_id", "missing local_id"))
            continue
        local = str(local)
        if local in seen:
            problems.append(SpecProblem("registry_duplicate", label, line, "local_id",
                                        f"device {local!r} is listed twice (first on line {seen[local]})"))
            continue
        seen[local] = line
        lon, lat = row.get("lon"), row.get("lat")
        try:
            if row.get("x") is not None and row.get("y") is not None:
                lon, lat = to_wgs84(row.get("crs") or "EPSG:4326", float(row["x"]), float(row["y"]))
            elif lon is not None or lat is not None:
                lon, lat = float(lon), float(lat)
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    raise ValueError(f"lon/lat out of range: {lon}, {lat}")
        except (TypeError, ValueError) as e:
            problems.append(SpecProblem("registry_position", label, line, "lon/lat", str(e)))
            continue
        expected = row.get("expected", True)
        if expected is None:
            expected = True
        if not isinstance(expected, bool):
            problems.append(SpecProblem("registry_row", label, line, "expected", f"expected true or false, got {expected!r}"))
            continue
        attrs = {k: v for k, v in row.items() if k not in _KNOWN and v is not None}
        out.append(Device(local, row.get("entity_id") or None, lon, lat, expected, row.get("name"), attrs))
    if problems:
        raise SpecError(problems)
    return out
