"""Uploaded tables: data the district publishes that is not a sensor feed (MICE-industry event statistics,
a facility list), as a CSV file and its metadata (``citylink: table/1``, ``spec/schema/table.schema.json``).

The metadata says what a service spec's ``open_data:`` block says (title, description, licence, update
frequency, keywords), plus the publishing department and the visibility of the table and, optionally, of
each column, with a ``personal`` flag per column.  The same rules as for services apply: a personal column
is never less than ``restricted``, and its cells are pseudonymised with the platform's keyed hash
(HMAC-SHA256, :func:`citylink.normalize.compiler.pseudonymiser`) *before* they are stored — the same value
gives the same pseudonym as in the sensor data.

Uploading checks everything first and reports every problem as ``file:line: path: message`` (the metadata's
line, or the CSV's row); a table of the same id is then replaced whole, in one transaction, and its version
counted up (the previous rows are not kept: the uploader keeps the files).
"""
from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import orjson

from ..access.visibility import effective
from ..errors import SpecError, SpecProblem
from ..normalize.compiler import pseudonymiser
from ..spec.loader import schema_problems
from ..spec.model import Label, SpecFile
from ..spec.yamlloc import load_located

MAX_PROBLEMS = 50                  # reported at most per upload (the rest are counted)
COLUMN_TYPES = {"Text": str, "Integer": int, "Number": float}


@dataclass(frozen=True)
class TableColumn:
    name: str
    type: str               # Text | Integer | Number
    visibility: str         # effective: personal columns are at least restricted
    personal: bool
    label: Label
    unit: str | None = None


@dataclass(frozen=True)
class TableMeta:
    """A validated ``table/1`` document."""
    id: str
    title: Label
    description: Label | None
    department: str
    licence: str
    update_frequency: str
    keywords: dict[str, tuple[str, ...]]
    visibility: str
    encoding: str
    declared: dict[str, dict]   # the ``columns:`` block as written

    @classmethod
    def of(cls, d: dict) -> "TableMeta":
        return cls(d["id"], Label.of(d["title"], d["id"]),
                   Label.of(d["description"], "") if d.get("description") else None, d["department"], d["licence"],
                   d.get("update_frequency", "irregular"), {k: tuple(v) for k, v in (d.get("keywords") or {}).items()},
                   d.get("visibility", "internal"), d.get("encoding", "utf-8"), d.get("columns") or {})

    def column(self, name: str) -> TableColumn:
        c = self.declared.get(name, {})
        personal = bool(c.get("personal", False))
        return TableColumn(name, "Text" if personal else c.get("type", "Text"), effective(c.get("visibility", self.visibility), personal),
                           personal, Label.of(c["name"], name) if c.get("name") else Label(name, name), c.get("unit"))


def parse_meta(label: str, text: str) -> tuple[TableMeta, SpecFile]:
    """A metadata document checked against its schema; :class:`SpecError` with every problem located."""
    try:
        data, lines = load_located(text)
    except Exception as e:   # yaml.YAMLError and its marks
        mark = getattr(e, "problem_mark", None)
        raise SpecError([SpecProblem("yaml_syntax", label, mark.line + 1 if mark else None, "",
                                     f"YAML syntax: {getattr(e, 'problem', None) or e}")]) from None
    sf = SpecFile(label, text, data if isinstance(data, dict) else {}, lines, hashlib.sha256(text.encode()).hexdigest())
    if not isinstance(data, dict) or data.get("citylink") != "table/1":
        raise SpecError([SpecProblem("not_a_table", label, sf.line(("citylink",)) or 1, "citylink",
                                     "missing 'citylink: table/1' (the metadata of an open data table)")])
    problems = schema_problems(sf, "table")
    if problems:
        raise SpecError(problems)
    return TableMeta.of(data), sf


def stored_meta(text: str) -> TableMeta:
    """The metadata of a stored table (kept as validated JSON)."""
    return TableMeta.of(orjson.loads(text))


class _Rows:
    """The CSV's rows as lists of cells of the declared types (personal cells pseudonymised), problems
    collected as they are met; iterated once, inside the store's write transaction."""

    def __init__(self, label: str, reader, columns: list[TableColumn], key: bytes):
        self.label, self.reader, self.columns = label, reader, columns
        self.pz = pseudonymiser(key)
        self.problems: list[SpecProblem] = []
        self.more = 0

    def _bad(self, line: int, path: str, msg: str, value=None) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(SpecProblem("bad_cell", self.label, line, path, msg, value))
        else:
            self.more += 1

    def __iter__(self) -> Iterator[list]:
        width = len(self.columns)
        for cells in self.reader:
            line = self.reader.line_num
            if not any(c.strip() for c in cells):
                continue   # a blank line
            if len(cells) != width:
                self._bad(line, "", f"{len(cells)} cells, the header has {width}")
                continue
            out = []
            for col, raw in zip(self.columns, cells):
                raw = raw.strip()
                if not raw:
                    out.append(None)
                elif col.personal:
                    out.append(self.pz(raw))
                elif col.type == "Text":
                    out.append(raw)
                else:
                    try:
                        out.append(COLUMN_TYPES[col.type](raw.replace(",", "")))
                    except ValueError:
                        self._bad(line, col.name, f"{raw!r} is not {'an integer' if col.type == 'Integer' else 'a number'}",
                                  raw)
                        out.append(None)
            yield out
        if self.more:
            self.problems.append(SpecProblem("bad_cell", self.label, None, "", f"… and {self.more} more problems"))
        if self.problems:
            raise SpecError(self.problems)


def upload(platform, csv_path: Path, meta_path: Path, by: str | None = None) -> tuple[TableMeta, int, int]:
    """Check and store a table; returns (metadata, version, rows).  Raises :class:`SpecError` naming the file
    and line of every problem; nothing is stored then."""
    meta, sf = parse_meta(str(meta_path), meta_path.read_text(encoding="utf-8"))
    problems = []
    departments = set(platform.specs.departments)
    if meta.department not in departments:
        problems.append(SpecProblem("unknown_department", sf.file, sf.line(("department",)), "department",
                                    f"no department {meta.department!r} (known: {', '.join(sorted(departments))})",
                                    meta.department))
    if meta.id in platform.specs.services:
        problems.append(SpecProblem("duplicate_id", sf.file, sf.line(("id",)), "id",
                                    f"{meta.id!r} is a service's dataset: give the table another id", meta.id))
    label = str(csv_path)
    try:
        text = csv_path.read_bytes().decode("utf-8-sig" if meta.encoding == "utf-8" else meta.encoding)
    except UnicodeDecodeError as e:
        raise SpecError(problems + [SpecProblem("bad_encoding", label, None, "",
                                                f"not {meta.encoding} text (byte {e.start}); set encoding: in "
                                                f"{meta_path.name} (utf-8, cp949 or euc-kr)")]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    if not header or not all(header):
        problems.append(SpecProblem("bad_header", label, 1, "", "the first row must name every column"))
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        problems.append(SpecProblem("bad_header", label, 1, dupes[0], f"column {dupes[0]!r} is named twice"))
    for name in meta.declared:
        if name not in header:
            problems.append(SpecProblem("unknown_column", sf.file, sf.line(("columns", name)), f"columns.{name}",
                                        f"the CSV has no column {name!r} (it has: {', '.join(header)})", name))
    if problems:
        raise SpecError(problems)
    columns = [meta.column(h) for h in header]
    doc = orjson.dumps(sf.data).decode()
    version = platform.store.put_open_table(meta.id, doc, header, _Rows(label, reader, columns,
                                                                         platform.settings.resolved_pseudonym_key()),
                                            platform.clock.now_us(), by)
    row = platform.store.open_tables(meta.id)[0]
    return meta, version, row.row_count
