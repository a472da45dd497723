"""Download formats: each turns chunks of rows into bytes as they come, never holding the whole download.

A format is a :class:`Format` in the registry :data:`FORMATS` (entry point group
``citylink.download_formats`` for plug-ins): its name (the URL's extension), media type, and a writer made
for the download's fields.  A writer's :meth:`~Writer.begin`, :meth:`~Writer.write` (one chunk of rows,
tuples in field order) and :meth:`~Writer.end` each return the bytes to send next.

Field kinds: ``text``, ``integer``, ``number``, ``instant`` (µs since the epoch, written as ISO 8601 UTC),
and ``any`` (a value of any JSON type).  CSV writes ``any`` as its text (true/false, numbers as numbers,
structures as JSON); JSON and JSON Lines keep its type; Parquet, whose columns have one type each, splits it
in two: ``<name>`` (float64, the numbers) and ``<name>_text`` (string, the rest — texts as they are, other
values as JSON).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Callable, Protocol

import orjson

from ..clock import iso
from ..registry import Registry


@dataclass(frozen=True)
class Field:
    name: str
    kind: str   # text | integer | number | instant | any


class Writer(Protocol):
    def begin(self) -> bytes: ...
    def write(self, rows: list[tuple]) -> bytes: ...
    def end(self) -> bytes: ...


@dataclass(frozen=True)
class Format:
    name: str                                   # the download URL's extension: download.<name>
    media_type: str
    label: str                                  # as the catalogue page names it
    writer: Callable[[list[Field]], Writer]
    registered: bool = True                     # is the media type in IANA's register (DCAT's mediaType)


FORMATS: Registry[Format] = Registry("download format", "citylink.download_formats", ["citylink.opendata.formats"])


def _text(v) -> str:
    if v is None:
        return ""
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (int, float)):
        return repr(v)
    return orjson.dumps(v).decode()


class CsvWriter:
    """RFC 4180 CSV, UTF-8 with a byte order mark (so that spreadsheet programs read Korean text right),
    a header row of the field names."""

    def __init__(self, fields: list[Field]):
        self.fields = fields
        self._buf = io.StringIO()
        self._csv = csv.writer(self._buf, lineterminator="\r\n")
        self._instants = [i for i, f in enumerate(fields) if f.kind == "instant"]

    def _take(self) -> bytes:
        out = self._buf.getvalue().encode()
        self._buf.seek(0)
        self._buf.truncate()
        return out

    def begin(self) -> bytes:
        self._csv.writerow([f.name for f in self.fields])
        return b"\xef\xbb\xbf" + self._take()

    def write(self, rows):
        w, instants = self._csv.writerow, self._instants
        for r in rows:
            cells = [_text(v) for v in r]
            for i in instants:
                if r[i] is not None:
                    cells[i] = iso(r[i])
            w(cells)
        return self._take()

    def end(self) -> bytes:
        return b""


class _Objects:
    """One JSON object per row, members named by the fields; instants as ISO 8601 UTC.  A chunk is written
    into one buffer, each object's bytes dropped at once (orjson gives each result a 4 KiB buffer: a chunk's
    2,000 of them held together would cost 8 MiB)."""

    def __init__(self, fields: list[Field]):
        self.names = [f.name for f in fields]
        self._instants = [i for i, f in enumerate(fields) if f.kind == "instant"]

    def _lines(self, rows, sep: bytes, buf: bytearray) -> bytearray:
        names, instants, dumps = self.names, self._instants, orjson.dumps
        for r in rows:
            if instants:
                r = list(r)
                for i in instants:
                    if r[i] is not None:
                        r[i] = iso(r[i])
            buf += dumps(dict(zip(names, r)))
            buf += sep
        return buf


class JsonWriter(_Objects):
    """A JSON array of objects, one a line, written as it goes: ``[`` first, ``]`` last."""

    def __init__(self, fields):
        super().__init__(fields)
        self._first = True

    def begin(self) -> bytes:
        return b"["

    def write(self, rows):
        if not rows:
            return b""
        buf = self._lines(rows, b",\n", bytearray(b"\n" if self._first else b",\n"))
        self._first = False
        return bytes(buf[:-2])

    def end(self) -> bytes:
        return b"\n]\n" if not self._first else b"]\n"


class JsonLinesWriter(_Objects):
    """JSON Lines: one object per line."""

    def begin(self) -> bytes:
        return b""

    def write(self, rows):
        return bytes(self._lines(rows, b"\n", bytearray()))

    def end(self) -> bytes:
        return b""


class _Drain:
    """A file object for pyarrow's writer that hands over what was written since the last :meth:`take`."""

    def __init__(self):
        self._parts: list[bytes] = []
        self._pos = 0
        self.closed = False

    def write(self, b) -> int:
        b = bytes(b)
        self._parts.append(b)
        self._pos += len(b)
        return len(b)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        pass   # nothing is buffered here: take() hands the bytes over

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts = []
        return out


class ParquetWriter:
    """Apache Parquet, written a row group (``ROW_GROUP`` rows) at a time: chunks are turned into Arrow
    record batches as they come, and each full row group is written and handed over."""
    ROW_GROUP = 65_536

    def __init__(self, fields: list[Field]):
        import pyarrow as pa
        self._pa = pa
        types = {"text": pa.string(), "integer": pa.int64(), "number": pa.float64(),
                 "instant": pa.timestamp("us", tz="UTC")}
        cols = []
        for f in fields:
            if f.kind == "any":
                cols += [pa.field(f.name, pa.float64()), pa.field(f.name + "_text", pa.string())]
            else:
                cols.append(pa.field(f.name, types[f.kind]))
        self.schema = pa.schema(cols)
        self.fields = fields
        self._batches: list = []
        self._rows = 0
        self._sink = _Drain()
        self._writer = None

    def begin(self) -> bytes:
        import pyarrow.parquet as pq
        self._writer = pq.ParquetWriter(self._sink, self.schema, compression="zstd")
        return self._sink.take()

    def _columns(self, rows):
        cols = []
        for i, f in enumerate(self.fields):
            values = [r[i] for r in rows]
            if f.kind == "any":
                cols.append([v if isinstance(v, (int, float)) and not isinstance(v, bool) else None for v in values])
                cols.append([None if v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                             else v if isinstance(v, str) else orjson.dumps(v).decode() for v in values])
            else:
                cols.append(values)
        return cols

    def write(self, rows):
        if rows:
            self._batches.append(self._pa.RecordBatch.from_arrays(
                [self._pa.array(c, type=t.type) for c, t in zip(self._columns(rows), self.schema)], schema=self.schema))
            self._rows += len(rows)
        if self._rows < self.ROW_GROUP:
            return b""
        return self._flush()

    def _flush(self) -> bytes:
        if self._batches:
            self._writer.write_table(self._pa.Table.from_batches(self._batches), row_group_size=self._rows)
            self._batches, self._rows = [], 0
        return self._sink.take()

    def end(self) -> bytes:
        out = self._flush()
        self._writer.close()
        return out + self._sink.take()


FORMATS.register(Format("csv", "text/csv; charset=utf-8", "CSV", CsvWriter))
FORMATS.register(Format("json", "application/json", "JSON", JsonWriter))
FORMATS.register(Format("jsonl", "application/x-ndjson", "JSON Lines", JsonLinesWriter, registered=False))
FORMATS.register(Format("parquet", "application/vnd.apache.parquet", "Parquet", ParquetWriter))
