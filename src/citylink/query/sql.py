"""A ``q=`` tree (:mod:`citylink.query.qlang`) compiled into a SQL condition on an entity, for SQLite or
PostgreSQL.  Every value the client wrote travels as a bound parameter; the only things written into
the SQL text are operators from a fixed list and attribute ids the store itself resolved.

Each comparison becomes ``EXISTS (a current attribute row of the entity that matches)``, over
``entity_attrs`` (alias ``x``) for the entity ``e``.  How values sit in a row: numbers in
``value_num`` (``value_json`` NULL); true/false as 1/0 in ``value_num`` and ``"true"``/``"false"`` in
``value_json``; date-times as µs in ``value_num`` and ISO text in ``value_json``; texts and structured
values only in ``value_json``.
"""
from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from datetime import datetime, timezone
from functools import lru_cache

from .qlang import And, Compare, DateTimeValue, Exists, Node, Or, Path, Pattern, QueryError, Range

SQL_OPS = {"==": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


class Dialect(ABC):
    """What differs between the engines when a q= tree becomes SQL."""
    ph = "?"
    # compare numbers with x.value_num under NUMBER (PostgreSQL answers from its partial index of numbers);
    # SQLite keeps the CASE form: given the bare column it walks its (aid, value_num) index through every
    # match before the page's LIMIT applies (6 q=/s instead of 1,000 in bench/ngsi_read.py)
    plain_numbers = False

    @abstractmethod
    def json_text(self, keys: tuple[str, ...]) -> tuple[str, list]:
        """The text at ``keys`` inside ``x.value_json`` (NULL when absent or not a text)."""

    @abstractmethod
    def json_number(self, keys: tuple[str, ...]) -> tuple[str, list]:
        """The number at ``keys`` inside ``x.value_json`` (NULL when absent or not a number)."""

    @abstractmethod
    def json_kind(self, keys: tuple[str, ...]) -> tuple[str, list]:
        """'text' | 'number' | 'true' | 'false' | 'object' | 'array' | 'null', or NULL when absent."""

    @abstractmethod
    def regex(self, expr: str) -> str:
        """``expr`` matches the pattern given as the next parameter."""

    def time(self, us: int):
        return us


class SqliteDialect(Dialect):
    ph = "?"

    @staticmethod
    def _path(keys) -> str:
        return "$" + "".join('."' + k.replace("\\", "\\\\").replace('"', '\\"') + '"' for k in keys)

    def json_text(self, keys):
        p = self._path(keys)
        return "(CASE WHEN json_type(x.value_json, ?) = 'text' THEN json_extract(x.value_json, ?) END)", [p, p]

    def json_number(self, keys):
        p = self._path(keys)
        return ("(CASE WHEN json_type(x.value_json, ?) IN ('integer', 'real') THEN json_extract(x.value_json, ?) END)",
                [p, p])

    def json_kind(self, keys):
        return ("(CASE json_type(x.value_json, ?) WHEN 'integer' THEN 'number' WHEN 'real' THEN 'number' "
                "ELSE json_type(x.value_json, ?) END)", [self._path(keys)] * 2)

    def regex(self, expr):
        return f"{expr} REGEXP ?"


class PostgresDialect(Dialect):
    ph = "%s"
    plain_numbers = True

    def json_text(self, keys):
        return ("(CASE WHEN jsonb_typeof(x.value_json::jsonb #> %s::text[]) = 'string' "
                "THEN x.value_json::jsonb #>> %s::text[] END)", [list(keys)] * 2)

    def json_number(self, keys):
        return ("(CASE WHEN jsonb_typeof(x.value_json::jsonb #> %s::text[]) = 'number' "
                "THEN (x.value_json::jsonb #>> %s::text[])::double precision END)", [list(keys)] * 2)

    def json_kind(self, keys):
        return ("(CASE jsonb_typeof(x.value_json::jsonb #> %s::text[]) WHEN 'string' THEN 'text' "
                "WHEN 'boolean' THEN x.value_json::jsonb #>> %s::text[] "
                "ELSE jsonb_typeof(x.value_json::jsonb #> %s::text[]) END)", [list(keys)] * 3)

    def regex(self, expr):
        return f"{expr} ~ %s"

    def time(self, us):
        return datetime.fromtimestamp(us / 1e6, timezone.utc)


SQLITE, POSTGRES = SqliteDialect(), PostgresDialect()


def compile_q(node: Node, aids: dict[str, list[int]], d: Dialect) -> tuple[str, list]:
    """The condition on ``e`` (an entities row) for ``node``; ``aids``: attribute name → its ids."""
    if isinstance(node, (And, Or)):
        parts = [compile_q(n, aids, d) for n in node.items]
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(p for p, _ in parts) + ")", [a for _, args in parts for a in args]
    ids = aids.get(node.path.attr) or []
    if not ids:
        return "(1 = 0)", []  # an attribute no entity has: nothing matches, not even !=
    cond, args = _leaf(node, d)
    # a correlated EXISTS probes the entity's own rows (primary key) and a page stops after ``limit``
    # matches; a semi-join through the (aid, value_num) index materialises every match first — measured
    # 30 times slower for the benchmark's queries (docs/benchmarks.md)
    head = f"EXISTS (SELECT 1 FROM entity_attrs x WHERE x.eid = e.eid AND x.aid IN ({','.join(str(int(i)) for i in ids)})"
    return head + (f" AND {cond})" if cond else ")"), args


# An attribute's own value compared with numbers only: ``x.value_num`` under the condition that the value
# is a number (value_json NULL) rather than a CASE expression, so that PostgreSQL can answer from the
# partial index of numbers (migration 0009: aid, eid, value_num) without reading the table.
NUMBER = "x.value_json IS NULL AND "


def _plain_numbers(path: Path, values) -> bool:
    return not path.member and not path.keys and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _leaf(node, d: Dialect) -> tuple[str, list]:
    path: Path = node.path
    if isinstance(node, Exists):
        if path.keys:
            kind, args = d.json_kind(path.keys)
            return f"{kind} IS NOT NULL", args
        return "", []
    if isinstance(node, Pattern):
        expr, args = _text(path, d)
        cond = d.regex(expr)
        if node.negate:
            return f"{expr} IS NOT NULL AND NOT ({cond})", args + args + [node.regex]
        return cond, args + [node.regex]
    if isinstance(node, Range):
        plain = d.plain_numbers and _plain_numbers(path, (node.low, node.high))
        expr, args, lo = _operand(path, node.low, d, plain)
        _, _, hi = _operand(path, node.high, d, plain)
        cond = f"{expr} BETWEEN {d.ph} AND {d.ph}"
        if node.negate:
            cond, args = f"{expr} IS NOT NULL AND NOT ({cond})", args + args + [lo, hi]
        else:
            args = args + [lo, hi]
        return (NUMBER + cond if plain else cond), args
    assert isinstance(node, Compare)
    plain = d.plain_numbers and _plain_numbers(path, node.values)
    parts, params = [], []
    for v in node.values:
        expr, args, value = _operand(path, v, d, plain)
        parts.append(f"{expr} {SQL_OPS[node.op]} {d.ph}")
        params += args + [value]
    cond = "(" + (" AND " if node.op == "!=" else " OR ").join(parts) + ")"
    return (NUMBER + cond if plain else cond), params


def _text(path: Path, d: Dialect) -> tuple[str, list]:
    if path.member:
        return _member(path)[0], []
    if path.keys:
        return d.json_text(path.keys)
    expr, args = d.json_text(())
    return f"(CASE WHEN x.value_num IS NULL THEN {expr} END)", args


def _member(path: Path) -> tuple[str, str]:
    """(column, kind of value it takes) of an attribute's member."""
    m = path.member
    if m in ("observedAt", "modifiedAt"):
        return ("x.observed_at" if m == "observedAt" else "x.modified_at"), "time"
    if m == "unitCode":
        return "x.unit", "text"
    if m == "datasetId":
        return "x.dataset_id", "text"
    raise QueryError(f"{path}: {m} is not kept per attribute here (use observedAt, modifiedAt, unitCode or datasetId)")


def _operand(path: Path, v, d: Dialect, plain: bool = False) -> tuple[str, list, object]:
    """(SQL expression, its parameters, the parameter for the value) comparing ``path`` with ``v``;
    ``plain``: the caller has made sure that the value is a number (:data:`NUMBER`)."""
    if path.member:
        col, kind = _member(path)
        if kind == "time":
            if not isinstance(v, DateTimeValue):
                raise QueryError(f"{path}: compare it with a date-time such as 2026-11-26T09:00:00Z, not {v!r}")
            return col, [], d.time(v.us)
        return col, [], _as_text(v)
    if isinstance(v, bool):
        if path.keys:
            expr, args = d.json_kind(path.keys)
            return expr, args, "true" if v else "false"
        return "x.value_json", [], "true" if v else "false"
    if isinstance(v, (int, float)):
        if path.keys:
            expr, args = d.json_number(path.keys)
            return expr, args, float(v)
        return ("x.value_num" if plain else "(CASE WHEN x.value_json IS NULL THEN x.value_num END)"), [], float(v)
    if isinstance(v, DateTimeValue):
        if path.keys:
            expr, args = d.json_text(path.keys)  # a date-time inside a structure is ISO text: compare as text
            return expr, args, _iso(v.us)
        return "(CASE WHEN x.value_json IS NOT NULL AND x.value_json NOT IN ('true', 'false') THEN x.value_num END)", \
            [], float(v.us)
    expr, args = _text(path, d)
    return expr, args, v


def _as_text(v) -> str:
    return v.text if isinstance(v, DateTimeValue) else v if isinstance(v, str) else json.dumps(v)


def _iso(us: int) -> str:
    dt = datetime.fromtimestamp(us / 1e6, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{us // 1000 % 1000:03d}Z"


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def sqlite_regexp(pattern, value) -> bool | None:
    """SQLite's ``X REGEXP Y`` (it calls regexp(Y, X)); patterns were checked by the parser."""
    if value is None or pattern is None:
        return None
    return _compiled(pattern).search(str(value)) is not None
