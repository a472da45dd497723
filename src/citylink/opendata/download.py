"""Downloads: the limits a request must keep, and the stream of bytes a download is.

A service's download covers a time range (``timeAt`` ≤ observedAt < ``endTimeAt``, both required, at most
``opendata_max_days`` long) and optionally an area (``bbox=minLon,minLat,maxLon,maxLat`` in WGS 84 degrees,
at most ``opendata_max_bbox_degrees`` wide and high: entities whose position is in it).  A table is
downloaded whole (it has no time or position of its own): a range or area for one is refused rather than
ignored.  What breaks a limit raises :class:`Refused`, whose message starts with the parameter at fault.

Rows come from the store a chunk at a time (:meth:`citylink.store.base.Store.history_chunks`) and leave as
bytes chunk by chunk (:mod:`.formats`): memory stays flat however long the range.
"""
from __future__ import annotations

import math
from functools import partial
from typing import Iterator

import orjson

from ..clock import parse_iso
from ..normalize.records import flag_names
from .datasets import Dataset
from .formats import FORMATS

DAY_US = 86_400_000_000


class Refused(ValueError):
    """A download request outside the limits; the message names the parameter first (``timeAt: …``)."""


def instant(name: str, raw: str | None) -> int:
    if raw is None or not raw.strip():
        raise Refused(f"{name}: required (an ISO 8601 date-time with a time zone, e.g. 2026-11-01T00:00:00+09:00)")
    try:
        return parse_iso(raw)
    except ValueError as e:
        raise Refused(f"{name}: {e}") from None


def time_range(time_at: str | None, end_time_at: str | None, max_days: float) -> tuple[int, int]:
    start, end = instant("timeAt", time_at), instant("endTimeAt", end_time_at)
    if end <= start:
        raise Refused("endTimeAt: must be after timeAt")
    if end - start > max_days * DAY_US:
        raise Refused(f"endTimeAt: the range is {(end - start) / DAY_US:,.1f} days; a download covers at most "
                      f"{max_days:g} days — split it into several")
    return start, end


def bbox(raw: str | None, max_degrees: float) -> tuple[float, float, float, float] | None:
    if raw is None:
        return None
    try:
        box = tuple(float(x) for x in raw.split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise Refused(f"bbox: {raw!r} is not minLon,minLat,maxLon,maxLat (four numbers, WGS 84 degrees)")
    x1, y1, x2, y2 = box
    if not (-180 <= x1 < x2 <= 180 and -90 <= y1 < y2 <= 90):
        raise Refused(f"bbox: {raw!r}: give minLon < maxLon within -180..180 and minLat < maxLat within -90..90")
    if x2 - x1 > max_degrees or y2 - y1 > max_degrees:
        raise Refused(f"bbox: {x2 - x1:g}° × {y2 - y1:g}° is larger than a download may cover "
                      f"({max_degrees:g}° × {max_degrees:g}°) — split it into several")
    return box


def _value(vtype: str, num, js):
    if js is not None:
        return js == "true" if vtype == "Boolean" else orjson.loads(js)
    if num is None:
        return None
    return int(num) if vtype == "Integer" else num


def _history_rows(chunk: list[tuple]) -> list[tuple]:
    """Store rows (id, type, µs, name, vtype, num, json, unit, flags, datasetId) → download rows."""
    return [(r[0], r[1], r[2], r[3], _value(r[4], r[5], r[6]), r[7], ",".join(flag_names(r[8])) if r[8] else None)
            for r in chunk]


def _table_rows(chunk: list[tuple], shown: list[int]) -> list[tuple]:
    out = []
    for (cells,) in chunk:
        cells = orjson.loads(cells)
        out.append(tuple(cells[i] for i in shown))
    return out


def stream(store, ds: Dataset, fmt: str, start: int | None = None, end: int | None = None, box=None,
           exclude_sources=()) -> Iterator[bytes]:
    """The download's bytes, produced as the rows arrive."""
    writer = FORMATS.get(fmt).writer(ds.fields)
    yield writer.begin()
    if ds.time_series:
        source = store.history_chunks(ds.scopes, start, end, bbox=box, exclude_sources=exclude_sources)
        convert = _history_rows
    else:
        source = store.open_table_chunks(ds.id)
        convert = partial(_table_rows, shown=ds.table_columns)
    try:
        for chunk in source:
            out = writer.write(convert(chunk))
            if out:
                yield out
    finally:
        source.close()   # the store's connection goes now, not when the generator is collected
    yield writer.end()
