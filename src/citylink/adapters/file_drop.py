"""Files: a CSV or JSON-lines file (a backfill with ``citylink import``, or a dropped file).

The file is cut into raw messages by the source's payload format (one per CSV
row, with its header line, or per JSON line), archived in chunks and published
on the bus like any other transport.  Messages from a file are marked as a
backfill: old timestamps are expected, so they are not flagged ``late``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .. import payload
from . import Transport, register

register(Transport(
    name="file",
    title={"ko": "파일 (일괄 적재)", "en": "File (bulk load)"},
    profile=("A CSV (with a header row) or JSON-lines file in the source's `payload.encoding`, handed to the "
             "district (`citylink import --source <source> FILE`) or dropped in the agreed directory. "
             "Each row (line) is one message; rows are archived exactly as they are in the file."),
    keys={"directory": "where dropped files are picked up", "pattern": "file name pattern, e.g. *.csv"},
))


def import_file(platform, source: str, path: Path, *, chunk: int = 5000,
                progress: Callable[[int, int], None] | None = None) -> list[int]:
    """Archive and publish every record of ``path``; returns the raw ids (in file order)."""
    platform.check_source(source)
    spec = platform.specs.sources[source]
    data = Path(path).read_bytes()
    fmt = payload.get(spec.payload["format"])
    ids: list[int] = []
    buf: list[tuple[bytes, dict]] = []
    total = data.count(b"\n") + 1  # progress counts lines
    name = str(path)

    def flush(pos: int):
        msgs = platform.make_messages(source, buf, "file")
        for m in msgs:
            m.meta["file"] = name
            m.meta["backfill"] = True
        ids.extend(platform.submit(msgs))
        buf.clear()
        if progress:
            progress(pos, total)

    for body, meta in fmt.split(data, spec.payload):
        buf.append((body, meta))
        if len(buf) >= chunk:
            flush(min(meta.get("line", 0), total))
    if buf:
        flush(total)
    elif progress:
        progress(total, total)
    return ids
