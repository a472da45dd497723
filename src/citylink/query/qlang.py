"""The NGSI-LD query language (``q=``, ETSI GS CIM 009 §4.9) parsed into a small tree.

    q=fillingLevel>0.8;status=="ok"
    q=(co2>1000|pm25>=35);facilityType=="daycare"
    q=temperature==10..20            a range (inclusive)
    q=status=="ok","lidOpen"         a list: any of
    q=address[district]~="Dobong.*"  a path into a structured value, a regular expression
    q=fillingLevel.observedAt>=2026-11-26T00:00:00Z    a member of the attribute: observedAt, unitCode, datasetId
    q=vehiclePlate                   the attribute exists

``;`` (and) binds tighter than ``|`` (or); parentheses group.  The tree is data: the store compiles it
into SQL with every value as a bound parameter (:mod:`citylink.query.sql`), so nothing a client writes
is ever pasted into SQL.  Every mistake is a :class:`QueryError` that says where.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timezone
from typing import Union

MAX_LENGTH = 4000          # characters of q
MAX_TERMS = 64             # comparisons in one q
MAX_PATTERN = 200          # characters of one regular expression
MEMBERS = ("observedAt", "modifiedAt", "unitCode", "datasetId")
OPS = ("==", "!=", ">=", "<=", ">", "<", "~=", "!~=")


class QueryError(ValueError):
    def __init__(self, msg: str, pos: int | None = None):
        super().__init__(msg if pos is None else f"{msg} (at character {pos + 1})")
        self.pos = pos


@dataclass(frozen=True)
class Path:
    attr: str                      # the attribute (a term of the @context, or an IRI)
    keys: tuple[str, ...] = ()     # into its value: attr[a][b]
    member: str | None = None      # or one of its members: attr.observedAt

    def __str__(self) -> str:
        return self.attr + "".join(f"[{k}]" for k in self.keys) + (f".{self.member}" if self.member else "")


@dataclass(frozen=True)
class DateTimeValue:
    us: int                        # µs since the epoch, UTC
    text: str


Value = Union[float, int, str, bool, DateTimeValue]


@dataclass(frozen=True)
class Exists:
    path: Path


@dataclass(frozen=True)
class Compare:
    path: Path
    op: str                        # == != > >= < <=
    values: tuple[Value, ...]      # several: any of (==) / none of (!=)


@dataclass(frozen=True)
class Range:
    path: Path
    low: Value
    high: Value
    negate: bool = False


@dataclass(frozen=True)
class Pattern:
    path: Path
    regex: str
    negate: bool = False


@dataclass(frozen=True)
class And:
    items: tuple


@dataclass(frozen=True)
class Or:
    items: tuple


Node = Union[Exists, Compare, Range, Pattern, And, Or]

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?![\d:T])")
_TIME = re.compile(r"\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?")
_NAME = re.compile(r"[^\s;|()\[\]=!<>~,\"']+")
_BARE = re.compile(r"[^;|()\"',]+")


def parse(text: str) -> Node:
    """``q`` → its tree, or :class:`QueryError`."""
    if len(text) > MAX_LENGTH:
        raise QueryError(f"longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise QueryError("empty")
    p = _Parser(text)
    node = p.expr()
    p.ws()
    if p.i < len(text):
        raise QueryError(f"unexpected {text[p.i]!r}", p.i)
    if p.terms > MAX_TERMS:
        raise QueryError(f"more than {MAX_TERMS} terms")
    return node


class _Parser:
    def __init__(self, text: str):
        self.s = text
        self.i = 0
        self.terms = 0

    def ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def peek(self, token: str) -> bool:
        self.ws()
        return self.s.startswith(token, self.i)

    def expr(self) -> Node:
        items = [self.conj()]
        while self.peek("|"):
            self.i += 1
            items.append(self.conj())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conj(self) -> Node:
        items = [self.atom()]
        while self.peek(";"):
            self.i += 1
            items.append(self.atom())
        return items[0] if len(items) == 1 else And(tuple(items))

    def atom(self) -> Node:
        if self.peek("("):
            start = self.i
            self.i += 1
            node = self.expr()
            if not self.peek(")"):
                raise QueryError("a '(' without its ')'", start)
            self.i += 1
            return node
        return self.term()

    def term(self) -> Node:
        self.terms += 1
        path = self.path()
        self.ws()
        op = next((o for o in sorted(OPS, key=len, reverse=True) if self.s.startswith(o, self.i)), None)
        if op is None:
            if self.i < len(self.s) and self.s[self.i] not in ";|)":
                raise QueryError(f"expected an operator ({', '.join(OPS)}) after {path}", self.i)
            return Exists(path)
        at = self.i
        self.i += len(op)
        self.ws()
        if op in ("~=", "!~="):
            return Pattern(path, self.regex(), negate=op == "!~=")
        first = self.value()
        if self.s.startswith("..", self.i):
            if op not in ("==", "!="):
                raise QueryError(f"a range needs == or !=, not {op}", at)
            self.i += 2
            high = self.value()
            _comparable(first, high, self.i)
            return Range(path, first, high, negate=op == "!=")
        if path.member:
            _check_member(path, first, at)
        values = [first]
        while self.s.startswith(",", self.i):
            if op not in ("==", "!="):
                raise QueryError(f"a list of values needs == or !=, not {op}", at)
            self.i += 1
            self.ws()
            values.append(self.value())
        if op not in ("==", "!=") and isinstance(first, bool):
            raise QueryError(f"{op} does not compare true or false", at)
        return Compare(path, op, tuple(values))

    def path(self) -> Path:
        self.ws()
        m = _NAME.match(self.s, self.i)
        if not m:
            raise QueryError("expected an attribute name", self.i)
        self.i = m.end()
        name = m.group()
        keys = []
        while self.s.startswith("[", self.i):
            close = self.s.find("]", self.i)
            if close < 0:
                raise QueryError("a '[' without its ']'", self.i)
            key = self.s[self.i + 1:close].strip()
            if not key:
                raise QueryError("an empty [] in an attribute path", self.i)
            keys.append(key)
            self.i = close + 1
        member = None
        if keys and self.s.startswith(".", self.i):
            m = _NAME.match(self.s, self.i + 1)
            member = m.group() if m else ""
            self.i = m.end() if m else self.i + 1
        elif "." in name:
            head, _, tail = name.rpartition(".")
            if tail in MEMBERS:
                name, member = head, tail
            elif "://" not in name and ":" not in name:
                raise QueryError(f"{name!r}: after a '.' comes one of {', '.join(MEMBERS)} (a path into a value "
                                 "is written attr[key])", self.i - len(name))
        if member is not None and member not in MEMBERS:
            raise QueryError(f"{member!r} is not a member of an attribute (known: {', '.join(MEMBERS)})", self.i)
        return Path(name, tuple(keys), member)

    def value(self) -> Value:
        s, i = self.s, self.i
        if i >= len(s):
            raise QueryError("expected a value", i)
        if s[i] in "\"'":
            return self.quoted()
        for lit, v in (("true", True), ("false", False)):
            if s.startswith(lit, i) and not _NAME.match(s, i + len(lit)):
                self.i = i + len(lit)
                return v
        m = _DATETIME.match(s, i)
        if m:
            self.i = m.end()
            return _datetime(m.group(), i)
        m = _DATE.match(s, i)
        if m:
            self.i = m.end()
            try:
                d = date.fromisoformat(m.group())
            except ValueError:
                raise QueryError(f"{m.group()!r} is not a date", i) from None
            return DateTimeValue(int(datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp() * 1e6), m.group())
        m = _TIME.match(s, i)
        if m:
            self.i = m.end()
            try:
                time.fromisoformat(m.group().rstrip("Z"))
            except ValueError:
                raise QueryError(f"{m.group()!r} is not a time", i) from None
            return m.group()
        m = _NUMBER.match(s, i)
        if m and (m.end() == len(s) or s[m.end()] in ";|), " or s.startswith("..", m.end())):
            self.i = m.end()
            text = m.group()
            return float(text) if any(c in text for c in ".eE") else int(text)
        m = _BARE.match(s, i)  # an unquoted text, such as a URI
        if m and m.group().strip():
            text = m.group().rstrip()
            if ".." in text:
                text = text[:text.index("..")]
            self.i = i + len(text)
            return text
        raise QueryError(f"expected a value, found {s[i]!r}", i)

    def quoted(self) -> str:
        quote, start = self.s[self.i], self.i
        out, i = [], self.i + 1
        while i < len(self.s):
            c = self.s[i]
            if c == "\\" and i + 1 < len(self.s):
                out.append(self.s[i + 1])
                i += 2
                continue
            if c == quote:
                self.i = i + 1
                return "".join(out)
            out.append(c)
            i += 1
        raise QueryError("a quoted text without its closing quote", start)

    def regex(self) -> str:
        start = self.i
        if self.i < len(self.s) and self.s[self.i] in "\"'":
            pattern = self.quoted()
        else:
            depth, i = 0, self.i
            while i < len(self.s) and not (depth == 0 and self.s[i] in ";|)"):
                depth += {"(": 1, ")": -1}.get(self.s[i], 0)
                i += 1
            pattern, self.i = self.s[self.i:i].strip(), i
        if not pattern:
            raise QueryError("expected a regular expression after ~=", start)
        if len(pattern) > MAX_PATTERN:
            raise QueryError(f"a regular expression longer than {MAX_PATTERN} characters", start)
        try:
            re.compile(pattern)
        except re.error as e:
            raise QueryError(f"{pattern!r} is not a regular expression: {e}", start) from None
        return pattern


def _datetime(text: str, pos: int) -> DateTimeValue:
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"{text!r} is not a date-time", pos) from None
    if dt.tzinfo is None:
        raise QueryError(f"{text!r} has no time zone (add Z or an offset)", pos)
    return DateTimeValue(int(dt.timestamp() * 1_000_000), text)


def _check_member(path: Path, v: Value, pos: int) -> None:
    if path.member in ("observedAt", "modifiedAt") and not isinstance(v, DateTimeValue):
        raise QueryError(f"{path}: compare it with a date-time such as 2026-11-26T09:00:00Z, not {v!r}", pos)
    if path.member in ("unitCode", "datasetId") and not isinstance(v, str):
        raise QueryError(f"{path}: compare it with a text, not {v!r}", pos)


def _comparable(a: Value, b: Value, pos: int) -> None:
    kinds = {type(x) if not isinstance(x, (int, float)) or isinstance(x, bool) else float for x in (a, b)}
    if len(kinds) > 1:
        raise QueryError(f"a range from {a!r} to {b!r} mixes kinds of value", pos)
    if isinstance(a, bool):
        raise QueryError("a range of true/false", pos)


def rename(node: Node, name) -> Node:
    """The same tree with each attribute name ``a`` replaced by ``name(a)`` (e.g. expanded by a @context)."""
    if isinstance(node, (And, Or)):
        return type(node)(tuple(rename(n, name) for n in node.items))
    return replace(node, path=replace(node.path, attr=name(node.path.attr)))


def attributes(node: Node) -> set[str]:
    """The attribute names a query uses (to resolve them once)."""
    if isinstance(node, (And, Or)):
        return set().union(*(attributes(n) for n in node.items))
    return {node.path.attr}
