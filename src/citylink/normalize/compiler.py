"""Compile a source spec into fast per-message code.

Everything that can be decided once is decided here, when the spec is loaded:
paths become getter closures, units become ``(factor, offset)`` pairs, timestamp
formats become reader functions, CRSs become pyproj transformers, expressions
are parsed.  A spec mistake found here is a :class:`CompileProblem` carrying the
spec path, which the loader turns into ``file:line: path: message``.  What is
left for each message is dictionary look-ups and arithmetic.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import re
import sys
from typing import Any, Callable

import orjson

from .. import payload
from ..ids import entity_urn, local_id_part
from ..spec.crs import CrsProblem, transformer
from ..spec.devices import Device
from ..spec.expr import Expr, ExprProblem
from ..spec.model import NGSI_LD_CORE, NUMERIC, AttributeSpec, ServiceSpec, SourceSpec
from ..spec.timeparse import AMBIGUOUS, NONEXISTENT, TimeProblem, compile_reader
from ..spec.units import IDENTITY, UnitProblem, check_code, conversion
from .records import (FLAG_AMBIGUOUS_TIME, FLAG_LATE, FLAG_NONEXISTENT_TIME, FLAG_OUT_OF_RANGE,
                      FLAG_UNKNOWN_CODE, EntityInfo, Problem)

MISSING = None
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
LOCATION_IRI = NGSI_LD_CORE + "location"


class CompileProblem(Exception):
    def __init__(self, items: list[tuple[tuple, str, str]]):
        self.items = items
        super().__init__("; ".join(f"{'.'.join(map(str, p))}: {m}" for p, _, m in items))


class Bad(Exception):
    """Raised inside a field converter: the message goes to quarantine with this problem."""

    def __init__(self, problem: Problem):
        self.problem = problem


def _simple_key(path: str) -> bool:
    """A path that is one key of the record itself (no nesting, not from the root)."""
    return "." not in path and not path.startswith("$") and "{" not in path


def getter(path: str) -> Callable[[dict], Any]:
    """``a.b.0.c`` → a function returning the value there, or None; ``$.x`` starts at the message root."""
    parts: list[Any] = path.split(".")
    root = parts[0] == "$"
    if root:
        parts = parts[1:]
    parts = [int(p) if p.isdigit() else p for p in parts]
    if not root and len(parts) == 1:
        key = parts[0]
        return lambda rec: rec.get(key)

    def get(rec):
        node = rec.get("$", rec) if root else rec
        for p in parts:
            try:
                node = node[p]
            except (KeyError, IndexError, TypeError):
                return None
        return node
    return get


_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def template(text: str) -> tuple[Callable[[dict], str | None], list[str]]:
    paths = _PLACEHOLDER.findall(text)
    if not paths:
        raise ValueError(f"template {text!r} has no {{field}} placeholder")
    if text == "{" + paths[0] + "}":
        g = getter(paths[0])
        key = paths[0] if _simple_key(paths[0]) else None

        def one(rec):
            v = rec.get(key) if key is not None else g(rec)
            if type(v) is str:
                return v or None
            return _id_text(v)
        return one, paths
    getters = [(p, getter(p)) for p in paths]

    def many(rec):
        values = {}
        for p, g in getters:
            v = _id_text(g(rec))
            if v is None:
                return None
            values[p] = v
        return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)
    return many, paths


def _id_text(v) -> str | None:
    """A scalar as id text; None for what cannot be an id (missing, empty, objects, lists, booleans)."""
    t = type(v)
    if t is str:
        return v or None
    if t is int:
        return str(v)
    if t is float:
        return str(int(v)) if v.is_integer() else str(v)
    return None


def pseudonymiser(key: bytes) -> Callable[[str], str]:
    """Keyed hash (HMAC-SHA256) of an identifier: the same plate gives the same pseudonym, and
    without the key nobody can go back from pseudonym to plate."""
    def pz(value: str) -> str:
        digest = hmac.new(key, str(value).strip().upper().encode(), hashlib.sha256).hexdigest()
        return "pz:" + digest[:24]
    return pz


_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f"}


class FieldOp:
    """One attribute of one record: read, convert, check.  ``run(rec)`` → (num, json, flags) or None."""

    __slots__ = ("attr", "iri", "name", "unit", "run", "required", "from_expr", "expr", "path")

    def __init__(self, attr: AttributeSpec, run, path: tuple, required: bool, expr: Expr | None = None):
        self.attr = attr
        self.iri = attr.iri
        self.name = attr.name
        self.unit = attr.unit
        self.run = run
        self.required = required
        self.expr = expr
        self.from_expr = expr is not None
        self.path = path


def _finisher(attr: AttributeSpec, src_label: str, pz) -> Callable[[Any], tuple]:
    """The type check, range / code-table check and pseudonymisation of a value already
    in canonical units.  Returns (value_num, value_json, flags)."""
    name = attr.name
    lo, hi = attr.range if attr.range else (None, None)
    reject = attr.on_out_of_range == "reject"
    codes = attr.codes

    if attr.type in NUMERIC:
        is_int = attr.type == "Integer"

        def fin_num(v):
            t = type(v)
            if t is not float and (t is not int or not INT64_MIN <= v <= INT64_MAX):
                v = _as_number(v, (), None, name)  # text → number, too big an integer → float, else Bad
            if v != v or v in (math.inf, -math.inf):
                raise Bad(Problem("wrong_type", name, f"{name}: {v} is not a finite number", v, "type"))
            if is_int:
                if v != int(v):
                    raise Bad(Problem("wrong_type", name, f"{name}: expected an integer, got {v}", v, "type"))
                v = int(v)
                if not INT64_MIN <= v <= INT64_MAX:
                    raise Bad(Problem("wrong_type", name, f"{name}: {v} does not fit a 64-bit integer", v, "type"))
            flags = 0
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                if reject:
                    raise Bad(Problem("out_of_range", name, f"{name}: {v} is outside [{lo}, {hi}]", v,
                                      f"range [{lo}, {hi}]"))
                flags = FLAG_OUT_OF_RANGE
            return v, None, flags
        return fin_num

    if attr.type == "Boolean":
        def fin_bool(v):
            if type(v) is bool:
                b = v
            elif isinstance(v, (int, float)) and v in (0, 1):
                b = bool(v)
            elif isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
                b = v.strip().lower() in _TRUE
            else:
                raise Bad(Problem("wrong_type", name, f"{name}: expected true or false, got {v!r}", v, "type"))
            return (1.0 if b else 0.0), ("true" if b else "false"), 0
        return fin_bool

    if attr.type == "DateTime":
        from ..clock import iso
        reader = compile_reader("iso8601", "UTC")

        def fin_dt(v):
            try:
                us, _ = reader(v)
            except TimeProblem as e:
                raise Bad(Problem("wrong_type", name, f"{name}: {e}", v, "type")) from None
            return float(us), orjson.dumps(iso(us)).decode(), 0
        return fin_dt

    if attr.type in ("Object", "GeoProperty"):
        def fin_obj(v):
            return None, orjson.dumps(v).decode(), 0
        return fin_obj

    # Text, Relationship, LanguageProperty
    personal = attr.personal

    def fin_text(v):
        if isinstance(v, (dict, list)) or isinstance(v, bool):
            raise Bad(Problem("wrong_type", name, f"{name}: expected text, got {type(v).__name__}", v, "type"))
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        s = str(v)
        flags = 0
        if codes is not None and s not in codes:
            if reject:
                raise Bad(Problem("unknown_code", name, f"{name}: {s!r} is not in the code table "
                                  f"({', '.join(codes)})", s, "codes"))
            flags = FLAG_UNKNOWN_CODE
        if personal:
            s = pz(s)
        return None, orjson.dumps(s).decode(), flags
    return fin_text


class CompiledSource:
    """A source spec turned into code; ``normalize_records`` is the per-message hot path."""

    def __init__(self, src: SourceSpec, svc: ServiceSpec, deployment: str, spec_version: int,
                 pseudonym_key: bytes, missing_tokens: set):
        self.id = src.id
        self.spec = src
        self.service = svc
        self.deployment = deployment
        self.spec_version = spec_version
        self.entity_type = src.entity_type
        self.entity_type_spec = svc.entity_types[src.entity_type]
        self.department = svc.department
        self.namespace = src.namespace
        self.payload_cfg = src.payload
        self.format = payload.get(src.payload["format"])
        self.missing = missing_tokens
        self.pz = pseudonymiser(pseudonym_key)
        self.devices: dict[str, Device] = {}
        self._ids: dict[str, tuple[str, Device | None]] = {}
        self.attr_catalog: dict[str, AttributeSpec] = {}
        # filled by compile_source
        self.entity_id: Callable = None
        self.ts_get: Callable = None
        self.ts_read: Callable = None
        self.position = None
        self.lets: list[tuple[str, Callable]] = []
        self.fields: list[FieldOp] = []
        self.exprs: list[FieldOp] = []
        self.long = None
        self.dedupe: list[Callable] | None = None
        self.fast: Callable | None = None  # the common case's shortcut, see _fast_path

    # -- device registry ------------------------------------------------------------
    def set_devices(self, devices: list[Device]) -> None:
        self.devices = {d.local_id: d for d in devices}
        self._ids = {}

    def entity_info(self, eid: str, lon: float | None, lat: float | None) -> EntityInfo:
        """What the store needs to know of an entity this source reports on."""
        return EntityInfo(eid, self.entity_type, self.service.id, self.department, self.id, lon, lat)

    def resolve(self, local: str) -> tuple[str, Device | None]:
        hit = self._ids.get(local)
        if hit is not None:
            return hit
        dev = self.devices.get(local)
        if dev is not None and dev.entity_id:
            eid = dev.entity_id if dev.entity_id.startswith("urn:") else \
                entity_urn(self.entity_type, self.deployment, local_id_part(dev.entity_id), None)
        else:
            eid = entity_urn(self.entity_type, self.deployment, local_id_part(local), self.namespace)
        if len(self._ids) > 200_000:
            self._ids.clear()
        self._ids[local] = hit = (eid, dev)
        return hit


def compile_source(src: SourceSpec, svc: ServiceSpec, *, deployment: str, spec_version: int = 0,
                   pseudonym_key: bytes = b"check") -> CompiledSource:
    problems: list[tuple[tuple, str, str]] = []
    try:
        fmt_ok = payload.get(src.payload["format"]) is not None
    except KeyError as e:
        problems.append((("payload", "format"), "unknown_format", str(e.args[0])))
        fmt_ok = False
    from ..adapters import transports
    known = transports()
    transport = known.get(src.transport["type"])
    if transport is None:
        problems.append((("transport", "type"), "unknown_transport",
                         f"unknown transport {src.transport['type']!r} (known: {', '.join(sorted(known))})"))
    else:
        for key in transport.required:
            if not src.transport.get(key):
                problems.append((("transport",), "transport_key_missing",
                                 f"transport {transport.name!r} needs transport.{key} ({transport.keys[key]})"))
        for key in set(src.transport) - set(transport.keys) - {"type"}:
            problems.append((("transport", key), "unknown_transport_key",
                             f"transport {transport.name!r} has no key {key!r} (it has: {', '.join(transport.keys)})"))
    if not fmt_ok:
        raise CompileProblem(problems)
    check = getattr(payload.get(src.payload["format"]), "check", None)  # a format may check its own keys
    if check is not None:
        problems += [(path, "bad_payload_spec", msg) for path, msg in check(src.payload)]

    missing = {""} | {str(m) for m in src.payload.get("missing", [])}
    missing_nums = {float(m) for m in src.payload.get("missing", []) if isinstance(m, (int, float))}
    cs = CompiledSource(src, svc, deployment, spec_version, pseudonym_key, missing)
    et = cs.entity_type_spec
    cs.attr_catalog = dict(et.attributes)

    try:
        cs.entity_id, _ = template(src.id_template)
    except ValueError as e:
        problems.append((("entity", "id"), "bad_template", str(e)))

    ts = src.timestamp
    if "{" in ts["field"]:  # a template joins several fields, e.g. "{date}{hour}"
        try:
            cs.ts_get, _ = template(ts["field"])
        except ValueError as e:
            problems.append((("timestamp", "field"), "bad_template", str(e)))
    else:
        cs.ts_get = getter(ts["field"])
    try:
        cs.ts_read = compile_reader(ts["format"], ts.get("timezone", "Asia/Seoul"))
    except TimeProblem as e:
        problems.append((("timestamp", "format" if "format" in str(e) else "timezone"), "bad_timestamp_spec", str(e)))

    if src.position:
        crs = src.position.get("crs", "EPSG:4326")
        try:
            cs.position = (getter(src.position["x"]), getter(src.position["y"]), transformer(crs), crs)
        except CrsProblem as e:
            problems.append((("position", "crs"), "unknown_crs", str(e)))

    # let-values: named intermediates
    let_names: list[str] = []
    for name, m in src.let.items():
        path = ("let", name)
        try:
            cs.lets.append((name, _let_op(m, path, let_names, missing, missing_nums)))
        except CompileProblem as e:
            problems.extend(e.items)
        let_names.append(name)

    direct = [n for n, m in src.fields.items() if "expr" not in m]
    allowed = set(let_names) | set(src.fields) | {"device", "raw"}
    for name, m in src.fields.items():
        attr = et.attributes[name]
        path = ("fields", name)
        try:
            op = _field_op(attr, m, path, cs, missing, missing_nums, allowed)
        except CompileProblem as e:
            problems.extend(e.items)
            continue
        (cs.exprs if op.from_expr else cs.fields).append(op)
    for op in cs.exprs:  # an expression may use direct fields and earlier expressions only
        later = {o.name for o in cs.exprs[cs.exprs.index(op):]}
        uses = op.expr.names & later
        if uses:
            problems.append((op.path + ("expr",), "expr_order",
                             f"{op.name}: uses {sorted(uses)[0]!r}, which is computed later or by itself"))
    del direct

    if src.long:
        try:
            cs.long = _long_op(src.long, cs, missing, missing_nums)
        except CompileProblem as e:
            problems.extend(e.items)

    if src.dedupe:
        cs.dedupe = [getter(p) for p in src.dedupe]

    if problems:
        raise CompileProblem(problems)
    cs.fast = _fast_path(cs)
    return cs


def _fast_path(cs: CompiledSource) -> Callable | None:
    """For the commonest shape of feed — one flat JSON object per message, mapped field by field —
    a function that normalizes a *clean* message in one pass with no per-record bookkeeping.

    It returns None as soon as anything is not plainly fine (bad JSON, a missing or odd id, a
    timestamp to flag or refuse, a value out of its type, a missing required value, nothing to
    store): the general path (``Normalizer._one``) then handles the message and says what is
    wrong.  So the shortcut decides only what the general path would decide the same way, and
    the tests check that the two agree.
    """
    src = cs.spec
    m = _PLACEHOLDER.fullmatch(src.id_template.strip())
    if (src.payload["format"] != "json" or src.payload.get("records")
            or src.payload.get("encoding", "utf-8").lower().replace("_", "-") not in ("utf-8", "utf8")
            or cs.lets or cs.exprs or cs.long is not None or cs.position is not None or cs.dedupe
            or m is None or not _simple_key(m.group(1)) or not _simple_key(src.timestamp["field"])):
        return None
    id_key, ts_key = m.group(1), src.timestamp["field"]
    plan = [(op.run, op.iri, op.unit, op.required) for op in cs.fields]
    loads, ids, resolve, read_ts, ver = orjson.loads, cs._ids, cs.resolve, cs.ts_read, cs.spec_version

    def fast(msg, now: int, skew_us: int, late_us: int):
        try:
            d = loads(msg.body)
        except orjson.JSONDecodeError:
            return None
        if type(d) is not dict:
            return None
        local = d.get(id_key)
        if type(local) is not str or not local:
            if type(local) is not int:
                return None
            local = str(local)
        tsv = d.get(ts_key)
        if type(tsv) is not str and type(tsv) is not int and type(tsv) is not float:
            return None
        try:
            ts, tflag = read_ts(tsv)
        except (TimeProblem, ValueError, TypeError):
            return None
        if tflag is not None or ts - now > skew_us:
            return None
        rflags = FLAG_LATE if msg.received_at - ts > late_us and not msg.meta.get("backfill") else 0
        eid, dev = ids.get(local) or resolve(local)
        rid = msg.id
        obs = []
        flags = rflags
        try:
            for run, iri, unit, required in plan:
                r = run(d)
                if r is None:
                    if required:
                        return None
                    continue
                obs.append((rid, eid, iri, "", r[0], r[1], unit, ts, r[2] | rflags, ver))
                flags |= r[2]
        except Bad:
            return None
        if not obs:
            return None
        return obs, flags, ts, eid, dev
    return fast


def _convert(unit_from: str | None, attr: AttributeSpec, molar_mass, path) -> tuple[float, float]:
    if unit_from is None or attr.unit is None:
        if unit_from is not None and attr.unit is None:
            raise CompileProblem([(path + ("unit",), "unit_not_expected",
                                   f"{attr.name} has no canonical unit in the service spec; remove 'unit' here")])
        return 1.0, 0.0
    try:
        c = conversion(unit_from, attr.unit, molar_mass)
    except UnitProblem as e:
        raise CompileProblem([(path + ("unit",), "unknown_unit" if "unknown" in str(e) else "unit_mismatch",
                               f"{attr.name}: {e}")]) from None
    return c.factor, c.offset


def _big_int(v: int, name: str) -> float:
    """An integer beyond 64 bits (JSON allows any) as a float, which a store can bind; beyond a float, Bad."""
    try:
        return float(v)
    except OverflowError:
        raise Bad(Problem("wrong_type", name, f"{name}: the number is beyond the range of a double", None, "type")) from None


def _as_number(v, missing, missing_nums, name):
    """A vendor value as a number, None when it is a missing-value token; Bad when it is not a number."""
    t = type(v)
    if t is str:
        if v in missing:
            return None
        try:
            v = float(v)
        except ValueError:
            raise Bad(Problem("wrong_type", name, f"{name}: expected a number, got {v!r}", v, "type")) from None
    elif t is int:
        if not INT64_MIN <= v <= INT64_MAX:
            v = _big_int(v, name)
    elif t is not float:
        raise Bad(Problem("wrong_type", name, f"{name}: expected a number, got {type(v).__name__}", v, "type"))
    if missing_nums and v in missing_nums:
        return None
    return v


def _number_reader(get, scale, k, o, missing, missing_nums, name):
    ident = k == 1.0 and o == 0.0 and scale == 1.0

    def read(rec):
        v = get(rec)
        if v is None:
            return None
        v = _as_number(v, missing, missing_nums, name)
        if v is None or ident:
            return v
        return round(v * scale * k + o, 9)  # drop float noise of unit factors (54.5 °F → 12.5 °C, not 12.500000000002)
    return read


def _numeric_field(attr: AttributeSpec, path: str, get, scale, k, o, missing, missing_nums, fin):
    """Read and convert one numeric field, then check it with the attribute's finisher: the hot
    path of most feeds, so the getter and the conversion are fused into one call."""
    name = attr.name
    ident = k == 1.0 and o == 0.0 and scale == 1.0
    k = k * scale
    key = path if _simple_key(path) else None
    # bounds for the shortcut below; the largest finite doubles, so that ±inf goes to the finisher
    lo, hi = attr.range if attr.range else (None, None)
    lo = -sys.float_info.max if lo is None else lo
    hi = sys.float_info.max if hi is None else hi
    plain = attr.type == "Number"  # an Integer needs the finisher's integer checks

    def run(rec):
        v = rec.get(key) if key is not None else get(rec)
        if v is None:
            return None
        t = type(v)
        if (t is not float and t is not int) or (t is int and not INT64_MIN <= v <= INT64_MAX) or \
                (missing_nums and v in missing_nums):
            v = _as_number(v, missing, missing_nums, name)  # text, big integers, tokens: the shared reader
            if v is None:
                return None
        if not ident and v == v:
            v = round(v * k + o, 9)  # drop float noise of unit factors (54.5 °F → 12.5 °C, not 12.500000000002)
        if plain and lo <= v <= hi:  # finite and in range (NaN fails too): nothing for the finisher to do
            return v, None, 0
        return fin(v)
    return run


def _let_op(m: dict, path, earlier, missing, missing_nums):
    if "value" in m:
        const = m["value"]
        return lambda rec, env: const
    if "expr" in m:
        try:
            ex = Expr(m["expr"], set(earlier) | {"device", "raw"})
        except ExprProblem as e:
            raise CompileProblem([(path + ("expr",), "bad_expression", str(e))]) from None
        return lambda rec, env: ex.evaluate(env)
    get = getter(m["from"])
    if "unit" in m or "to" in m or "scale" in m:
        if ("unit" in m) != ("to" in m):
            raise CompileProblem([(path, "unit_pair", "a let-value converts with both 'unit' and 'to', or neither")])
        k, o = 1.0, 0.0
        if "unit" in m:
            try:
                c = conversion(m["unit"], m["to"], m.get("molar_mass"))
            except UnitProblem as e:
                raise CompileProblem([(path + ("unit",), "unknown_unit", str(e))]) from None
            k, o = c.factor, c.offset
        read = _number_reader(get, float(m.get("scale", 1.0)), k, o, missing, missing_nums, path[-1])
        return lambda rec, env: read(rec)
    vmap = {str(k): v for k, v in (m.get("map") or {}).items()}

    def plain(rec, env):
        v = get(rec)
        if type(v) is str and v in missing:
            return None
        return vmap.get(str(v), v) if vmap else v
    return plain


def _field_op(attr: AttributeSpec, m: dict, path, cs: CompiledSource, missing, missing_nums, allowed) -> FieldOp:
    fin = _finisher(attr, cs.id, cs.pz)
    required = attr.required and not m.get("optional", False)
    if "expr" in m:
        try:
            ex = Expr(m["expr"], allowed - {attr.name})
        except ExprProblem as e:
            raise CompileProblem([(path + ("expr",), "bad_expression", str(e))]) from None
        if "unit" in m:
            raise CompileProblem([(path + ("unit",), "unit_with_expr",
                                   "an expression's result is in the canonical unit already; convert in 'let'")])
        return FieldOp(attr, fin, path, required, expr=ex)
    if "value" in m:
        const = m["value"]
        try:
            fixed = fin(const)
        except Bad as b:
            raise CompileProblem([(path + ("value",), b.problem.type, b.problem.detail)]) from None
        return FieldOp(attr, lambda rec: fixed, path, required)
    get = getter(m["from"])
    vmap = {str(k): v for k, v in (m.get("map") or {}).items()}
    if vmap and attr.codes:
        bad = [v for v in vmap.values() if str(v) not in attr.codes]
        if bad:
            raise CompileProblem([(path + ("map",), "map_not_in_codes",
                                   f"{attr.name}: {bad[0]!r} is not in the service's code table ({', '.join(attr.codes)})")])
    if attr.type in NUMERIC and not vmap:
        k, o = _convert(m.get("unit"), attr, m.get("molar_mass"), path)
        return FieldOp(attr, _numeric_field(attr, m["from"], get, float(m.get("scale", 1.0)), k, o, missing,
                                            missing_nums, fin), path, required)
    if m.get("unit"):
        raise CompileProblem([(path + ("unit",), "unit_not_numeric", f"{attr.name} is {attr.type}: it has no unit")])

    key = m["from"] if _simple_key(m["from"]) else None  # a plain key: read it without the getter's call

    def run_other(rec):
        v = rec.get(key) if key is not None else get(rec)
        if v is None or (type(v) is str and v in missing):
            return None
        if vmap:
            code = str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
            v = vmap.get(code, v)
        return fin(v)
    return FieldOp(attr, run_other, path, required)


def _long_op(spec: dict, cs: CompiledSource, missing, missing_nums):
    """Long-format rows: (quantity, value[, unit]) per record → one attribute value."""
    et = cs.entity_type_spec
    qget, vget = getter(spec["quantity"]), getter(spec["value"])
    uget = getter(spec["unit"]) if spec.get("unit") else None
    units = {str(k): v for k, v in (spec.get("units") or {}).items()}
    for text, code in units.items():
        try:
            check_code(code)
        except UnitProblem as e:
            raise CompileProblem([(("long", "units", text), "unknown_unit", str(e))]) from None
    targets = {}
    for code, t in spec["attributes"].items():
        t = {"attribute": t} if isinstance(t, str) else t
        attr = et.attributes[t["attribute"]]
        path = ("long", "attributes", code)
        k, o = _convert(t.get("unit"), attr, t.get("molar_mass"), path) if attr.type in NUMERIC else (1.0, 0.0)
        targets[str(code)] = (attr, _finisher(attr, cs.id, cs.pz), k, o, t.get("molar_mass"))

    def run(rec):
        q = qget(rec)
        hit = targets.get(str(q))
        if hit is None:
            raise Bad(Problem("unknown_quantity", spec["quantity"],
                              f"quantity {q!r} is not in long.attributes ({', '.join(targets)})", q, "long.attributes"))
        attr, fin, k, o, mm = hit
        v = vget(rec)
        if v is None or (type(v) is str and v in missing):
            return attr, None
        if attr.type in NUMERIC:
            v = _as_number(v, missing, missing_nums, attr.name)
            if v is None:
                return attr, None
            utext = uget(rec) if uget is not None else None
            if utext is not None and str(utext) not in missing:  # an empty unit cell: the declared unit
                code = units.get(str(utext), str(utext))
                try:
                    c = conversion(code, attr.unit, mm) if attr.unit else IDENTITY
                except UnitProblem as e:
                    raise Bad(Problem("unknown_unit", spec["unit"], f"{attr.name}: {e}", utext, "long.units")) from None
                v = round(v * c.factor + c.offset, 9)
            elif k != 1.0 or o != 0.0:
                v = round(v * k + o, 9)
        return attr, fin(v)
    return run


TIME_FLAGS = {None: 0, NONEXISTENT: FLAG_NONEXISTENT_TIME, AMBIGUOUS: FLAG_AMBIGUOUS_TIME}
