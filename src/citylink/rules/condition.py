"""A rule's ``when:``: a safe boolean expression over one entity's attributes, checked and compiled once.

At load time the text is parsed, every name and function checked against the entity type, and the tree
rewritten so that run time sees plain numbers: ``co2 > qty(1000, 'ppm')`` becomes ``co2 > 1000.0`` in
the attribute's canonical unit, ``delta(temperature, 'PT10M')`` becomes ``delta('temperature', 600.0)``.
The rewritten text (``ast.unparse``) is parsed once more by simpleeval and its tree kept; each
evaluation walks that tree with the entity's values.

Values not observed yet are ``None``.  A comparison (or arithmetic) with ``None`` is *unknown*, not an
error: unknown never makes a rule hold, ``not`` leaves it unknown, ``x or y`` holds if either side holds
(``and`` / ``or`` follow Kleene's three-valued logic, as SQL does with NULL).  Only an explicit test
against the literal ``None`` (``x == None``, ``x is None``) sees the missing value itself.
"""
from __future__ import annotations

import ast
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import simpleeval

from ..spec.model import AttributeSpec, duration_seconds
from ..spec.units import UNITS, _ureg

FUNCTIONS = ("qty", "delta")
CLOCK_NAMES = {"hour": "the hour of the evaluation time (0-23)", "weekday": "its weekday (0 = Monday)"}
CONSTANTS = {"true": True, "false": False, "null": None}
NOT_IN_RULES = {"GeoProperty": "use where: for a place", "Object": "a structured value",
                "LanguageProperty": "text by language", "Relationship": "a reference to another entity"}
ORDERING = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)
ALLOWED_NODES = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
                 ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Compare, *ORDERING,
                 ast.In, ast.NotIn, ast.Is, ast.IsNot, ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple,
                 ast.Call)
US = 1_000_000


class ConditionProblem(ValueError):
    """A ``when:`` expression is wrong; ``type`` is the problem's stable slug."""

    def __init__(self, type: str, msg: str):
        super().__init__(msg)
        self.type = type


# -- units of qty() ---------------------------------------------------------------------------------

def unit_of(text: str):
    """The pint unit of a qty() unit: a UN/CEFACT code (``GQ``, ``"59"``) or pint text (``µg/m³``, ``ppm``)."""
    ureg = _ureg()
    try:
        return ureg.Unit(UNITS[text][0] if text in UNITS else text)
    except Exception:  # noqa: BLE001 - pint raises many kinds (UndefinedUnitError, ValueError, AssertionError …)
        raise ConditionProblem("rule_unknown_unit", f"unknown unit {text!r} in qty(): use a UN/CEFACT code (GQ, 59, "
                                                    "CEL …) or a unit such as 'ppm', 'µg/m³', 'degC', 'min', 'kg'")


def converted(value: float, unit: str, attr: AttributeSpec, *, difference: bool) -> float:
    """``value`` in ``unit`` as a number in ``attr``'s canonical unit; a difference converts by factor
    only (5 K of change is 5 °C of change)."""
    src = unit_of(unit)
    if not attr.unit or attr.unit not in UNITS:
        raise ConditionProblem("rule_unit_mismatch", f"{attr.name} has no unit: compare it with a plain number, "
                                                     f"not qty({value}, {unit!r})")
    ureg = _ureg()
    dst = ureg.Unit(UNITS[attr.unit][0])
    if src.dimensionality != dst.dimensionality:
        raise ConditionProblem("rule_unit_mismatch", f"qty({value}, {unit!r}) is {_dim(src)}, but {attr.name} is "
                                                     f"{_dim(dst)} ({UNITS[attr.unit][3]})")
    if difference:
        out = ureg.Quantity(value, src).to(dst).magnitude - ureg.Quantity(0, src).to(dst).magnitude
    else:
        out = ureg.Quantity(value, src).to(dst).magnitude
    return float(f"{out:.12g}")  # pint's arithmetic leaves noise in the last digits


def _dim(unit) -> str:
    d = str(unit.dimensionality)
    return "dimensionless" if d == "dimensionless" else f"a {d}"


# -- checking and rewriting -------------------------------------------------------------------------

@dataclass(frozen=True)
class Checked:
    """A ``when:`` checked and rewritten: its canonical text, the attributes it reads, the history
    ``delta()`` needs (attribute → seconds) and whether it reads the clock (``hour``/``weekday``)."""
    text: str
    attrs: frozenset[str]
    windows: dict[str, float]
    clock: bool


def check(text: str, attributes: dict[str, AttributeSpec]) -> Checked:
    """Parse and check ``text`` against an entity type's attributes; raise :class:`ConditionProblem`."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ConditionProblem("rule_syntax", f"syntax error in {text!r}: {e.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, ALLOWED_NODES):
            raise ConditionProblem("rule_syntax", f"{_shown(node)} is not allowed in a rule ({text!r}): use "
                                                  "attributes, numbers, text, lists, comparisons, and/or/not, "
                                                  "+ - * / and qty() / delta()")
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    for c in calls:
        name = c.func.id if isinstance(c.func, ast.Name) else None
        if name not in FUNCTIONS:
            raise ConditionProblem("rule_unknown_function", f"unknown function {name or ast.unparse(c.func)!r} in "
                                                            f"{text!r} (available: {', '.join(FUNCTIONS)})")
        if c.keywords:
            raise ConditionProblem("rule_syntax", f"{name}() takes no keyword arguments ({text!r})")
    function_names = {id(c.func) for c in calls}
    attrs, clock = set(), False
    for n in ast.walk(tree):
        if not isinstance(n, ast.Name) or id(n) in function_names or n.id in CONSTANTS:
            continue
        a = attributes.get(n.id)
        if a is not None and a.type not in NOT_IN_RULES:
            attrs.add(n.id)
        elif n.id in CLOCK_NAMES and a is None:
            clock = True
        elif a is not None:
            raise ConditionProblem("rule_unknown_attribute", f"{n.id} is a {a.type} ({NOT_IN_RULES[a.type]}): "
                                                             f"a rule compares values")
        else:
            usable = sorted(k for k, v in attributes.items() if v.type not in NOT_IN_RULES)
            raise ConditionProblem("rule_unknown_attribute", f"unknown attribute {n.id!r} in {text!r} (available: "
                                                             f"{', '.join(usable + list(CLOCK_NAMES))})")
    windows: dict[str, float] = {}
    for c in calls:
        if c.func.id == "delta":
            attr, seconds = _delta_args(c, attributes, text)
            windows[attr] = max(windows.get(attr, 0.0), seconds)
    values = _qty_values(tree, attributes, text)
    rewritten = ast.fix_missing_locations(_Rewrite(values).visit(tree))
    return Checked(ast.unparse(rewritten), frozenset(attrs), windows, clock)


def _shown(node) -> str:
    return {ast.Attribute: "attribute access (a.b)", ast.Subscript: "indexing (a[0])", ast.IfExp: "if … else",
            ast.Lambda: "lambda", ast.Dict: "a dict", ast.Set: "a set", ast.JoinedStr: "an f-string",
            ast.Pow: "**", ast.NamedExpr: ":="}.get(type(node), type(node).__name__)


def _delta_args(c: ast.Call, attributes, text) -> tuple[str, float]:
    usage = f"delta(attribute, 'PT10M') needs a numeric attribute and a positive ISO 8601 duration ({text!r})"
    if len(c.args) != 2 or not isinstance(c.args[0], ast.Name) or not isinstance(c.args[1], ast.Constant) \
            or not isinstance(c.args[1].value, str):
        raise ConditionProblem("rule_delta_args", usage)
    a = attributes.get(c.args[0].id)
    if a is None or a.type not in ("Number", "Integer"):
        raise ConditionProblem("rule_delta_args", f"{c.args[0].id} is not a numeric attribute: {usage}")
    try:
        seconds = duration_seconds(c.args[1].value)
    except ValueError:
        seconds = None
    if not seconds:
        raise ConditionProblem("rule_delta_args", usage)
    return a.name, seconds


def _is_call(node, name: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name


def _qty_args(c: ast.Call, text) -> tuple[float, str]:
    args = c.args
    number = args[0] if args else None
    sign = 1
    if isinstance(number, ast.UnaryOp) and isinstance(number.op, (ast.USub, ast.UAdd)):
        sign = -1 if isinstance(number.op, ast.USub) else 1
        number = number.operand
    if len(args) != 2 or not isinstance(number, ast.Constant) or type(number.value) not in (int, float) \
            or not isinstance(args[1], ast.Constant) or not isinstance(args[1].value, str):
        raise ConditionProblem("rule_qty_args", f"qty(number, 'unit') takes a number and a unit, as in "
                                                f"qty(1000, 'ppm') ({text!r})")
    return sign * number.value, args[1].value


def _qty_values(tree, attributes, text) -> dict[int, float]:
    """id(qty call) → its value in the canonical unit of the attribute (or delta) it is compared with."""
    out: dict[int, float] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            a, b = operands[i], operands[i + 1]
            for q, other in ((a, b), (b, a)):
                if not _is_call(q, "qty"):
                    continue
                value, unit = _qty_args(q, text)
                unit_of(unit)
                if not isinstance(op, ORDERING):
                    continue  # `in` / `is`: reported below as not compared directly
                if isinstance(other, ast.Name) and other.id in attributes:
                    out[id(q)] = converted(value, unit, attributes[other.id], difference=False)
                elif _is_call(other, "delta"):
                    out[id(q)] = converted(value, unit, attributes[other.args[0].id], difference=True)
    for node in ast.walk(tree):
        if _is_call(node, "qty") and id(node) not in out:
            value, unit = _qty_args(node, text)
            unit_of(unit)
            raise ConditionProblem("rule_qty_placement", f"qty({value}, {unit!r}) must be compared directly "
                                                         f"(< <= > >= == !=) with an attribute or a delta() of one, "
                                                         f"as in co2 > qty(1000, 'ppm') ({text!r})")
    return out


class _Rewrite(ast.NodeTransformer):
    def __init__(self, qty_values: dict[int, float]):
        self.qty_values = qty_values

    def visit_Call(self, node):
        if id(node) in self.qty_values:
            return ast.copy_location(ast.Constant(self.qty_values[id(node)]), node)
        if _is_call(node, "delta"):
            return ast.copy_location(ast.Call(ast.Name("delta", ast.Load()),
                                              [ast.Constant(node.args[0].id),
                                               ast.Constant(duration_seconds(node.args[1].value))], []), node)
        return self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in CONSTANTS:
            return ast.copy_location(ast.Constant(CONSTANTS[node.id]), node)
        return node


# -- evaluation ---------------------------------------------------------------------------------------

class _Context:
    """One evaluation's values, time and history; the clock names are computed when first read."""
    __slots__ = ("values", "t_us", "history", "tz", "_local")

    def __init__(self, values, t_us, history, tz):
        self.values, self.t_us, self.history, self.tz = values, t_us, history, tz
        self._local = None

    def clock(self, name: str) -> int:
        if self._local is None:
            self._local = datetime.fromtimestamp(self.t_us / US, self.tz)
        return self._local.hour if name == "hour" else self._local.weekday()

    def delta(self, attr: str, window_s: float):
        now = self.values.get(attr)
        if now is None or isinstance(now, bool) or not isinstance(now, (int, float)):
            return None
        lo = self.t_us - window_s * US
        oldest = None
        for t, v in (self.history or {}).get(attr) or ():
            if lo <= t <= self.t_us and v is not None and (oldest is None or t < oldest[0]):
                oldest = (t, v)
        return None if oldest is None else now - oldest[1]


def _is_none_literal(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


class _Evaluator(simpleeval.SimpleEval):
    """simpleeval with three-valued comparisons and the rule's names.  One instance serves every thread:
    the evaluation's context is thread-local."""

    def __init__(self):
        super().__init__(functions={}, names={})
        self.nodes[ast.List] = self.nodes[ast.Tuple] = self._eval_sequence
        self._local = threading.local()

    def _eval_name(self, node):
        ctx = self._local.ctx
        values = ctx.values
        if node.id in values:
            return values[node.id]
        if node.id in CLOCK_NAMES:
            return ctx.clock(node.id)
        return None

    def _eval_call(self, node):  # only delta('attr', seconds) is left after the rewrite
        return self._local.ctx.delta(node.args[0].value, node.args[1].value)

    def _eval_sequence(self, node):
        return [self._eval(x) for x in node.elts]

    def _eval_compare(self, node):
        unknown = False
        right = self._eval(node.left)
        right_node = node.left
        for op, comp in zip(node.ops, node.comparators):
            left, left_node = right, right_node
            right, right_node = self._eval(comp), comp
            if (left is None or right is None) and not isinstance(op, (ast.Is, ast.IsNot)) \
                    and not (_is_none_literal(left_node) or _is_none_literal(right_node)):
                unknown = True
                continue
            try:
                ok = self.operators[type(op)](left, right)
            except TypeError:  # text against a number …: not a question this rule can answer
                unknown = True
                continue
            if not ok:
                return False
        return None if unknown else True

    def _eval_boolop(self, node):
        unknown = False
        stop = isinstance(node.op, ast.Or)  # the value that decides: True for `or`, False for `and`
        for value in node.values:
            v = self._eval(value)
            if v is None:
                unknown = True
            elif bool(v) is stop:
                return stop
        return None if unknown else not stop

    def _eval_unaryop(self, node):
        v = self._eval(node.operand)
        if v is None:
            return None
        return self.operators[type(node.op)](v)

    def _eval_binop(self, node):
        left, right = self._eval(node.left), self._eval(node.right)
        if left is None or right is None:
            return None
        try:
            return self.operators[type(node.op)](left, right)
        except (TypeError, ArithmeticError):
            return None


class Condition:
    """A checked ``when:``, ready to evaluate many times (from any thread)."""

    def __init__(self, checked: Checked, timezone: str = "Asia/Seoul"):
        self.checked = checked
        self.text = checked.text
        self._tz = ZoneInfo(timezone)
        self._ev = _Evaluator()
        self._tree = self._ev.parse(checked.text)

    def evaluate(self, values: dict[str, Any], t_us: int, history: dict | None = None):
        """True, False or None (unknown)."""
        local = self._ev._local
        local.ctx = _Context(values, t_us, history, self._tz)
        try:
            return self._ev._eval(self._tree)
        finally:
            local.ctx = None

    def holds(self, values: dict[str, Any], t_us: int, history: dict | None = None) -> bool:
        v = self.evaluate(values, t_us, history)
        return v is not None and bool(v)


@lru_cache(maxsize=64)
def known_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except Exception:  # noqa: BLE001 - ZoneInfoNotFoundError, ValueError for odd keys
        return False
    return True
