"""CSV with a header row.  A raw message is the header line plus one or more data rows,
in the file's own bytes and encoding, so every archived row can be read again alone."""
from __future__ import annotations

import csv
import io
from typing import Iterator

from . import register
from .base import PayloadProblem, text_of


class CsvFormat:
    name = "csv"

    def _dialect(self, cfg: dict) -> dict:
        c = cfg.get("csv") or {}
        return {"delimiter": c.get("delimiter", ","), "quotechar": c.get("quotechar", '"')}

    def decode(self, body: bytes, cfg: dict) -> list[dict]:
        text = text_of(body, cfg)
        if text.startswith("\ufeff"):
            text = text[1:]
        reader = csv.reader(io.StringIO(text), strict=True, **self._dialect(cfg))
        try:
            header = next(reader)
        except StopIteration:
            raise PayloadProblem("no_records", "empty CSV message") from None
        except csv.Error as e:
            raise PayloadProblem("malformed_csv", str(e), "line 1") from None
        out = []
        try:
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise PayloadProblem("malformed_csv", f"row has {len(row)} cells, the header has {len(header)}",
                                         f"line {reader.line_num}")
                out.append(dict(zip(header, row)))
        except csv.Error as e:
            raise PayloadProblem("malformed_csv", str(e), f"line {reader.line_num}") from None
        if not out:
            raise PayloadProblem("no_records", "the CSV message has a header but no rows")
        return out

    def split(self, data: bytes, cfg: dict) -> Iterator[tuple[bytes, dict]]:
        """One message per data row: the header line's bytes + the row's bytes (multi-line cells kept).
        Nothing at all (no bytes, or only white space) is no message."""
        if not data.strip():
            return
        enc = cfg.get("encoding", "utf-8")
        raw_lines = data.splitlines(keepends=True)
        try:
            lines = [ln.decode(enc) for ln in raw_lines]
        except (UnicodeDecodeError, LookupError):
            yield data, {}
            return
        consumed: list[int] = []

        def feed():
            for i, ln in enumerate(lines):
                consumed.append(i)
                yield ln

        reader = csv.reader(feed(), **self._dialect(cfg))
        try:
            next(reader)
        except (StopIteration, csv.Error):
            yield data, {}
            return
        header = b"".join(raw_lines[i] for i in consumed)
        if not header.endswith((b"\n", b"\r")):
            header += b"\n"
        start = len(consumed)
        try:
            for row in reader:
                taken = consumed[start:]
                start = len(consumed)
                if not row or not any(c.strip() for c in row):
                    continue
                yield header + b"".join(raw_lines[i] for i in taken), {"line": taken[0] + 1}
        except csv.Error:
            rest = b"".join(raw_lines[i] for i in consumed[start:])
            yield header + rest, {"line": start + 1}


register(CsvFormat())
