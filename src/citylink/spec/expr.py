"""Computed fields: a safe expression language (simpleeval), never ``eval``.

An expression is parsed once when its spec is loaded; names it uses are
checked then (a typo is a spec error, not a quarantined message).  At run time
each evaluation walks the pre-parsed tree with the record's values.
"""
from __future__ import annotations

import ast
import math
from typing import Any, Iterable

import simpleeval

FUNCTIONS = {
    "min": min, "max": max, "abs": abs, "round": round, "int": int, "float": float, "str": str,
    "sqrt": math.sqrt, "log": math.log, "exp": math.exp, "floor": math.floor, "ceil": math.ceil,
    "clamp": lambda x, lo, hi: max(lo, min(hi, x)),
    "coalesce": lambda *xs: next((x for x in xs if x is not None), None),
}
CONSTANTS = {"True", "False", "None", "true", "false", "null"}


class ExprProblem(ValueError):
    pass


class Expr:
    def __init__(self, text: str, allowed: Iterable[str]):
        self.text = text
        self._ev = simpleeval.SimpleEval(functions=FUNCTIONS)
        try:
            self._tree = self._ev.parse(text)
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as e:
            raise ExprProblem(f"syntax error in expression {text!r}: {e.msg}") from None
        called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        unknown_fn = called - FUNCTIONS.keys()
        if unknown_fn:
            raise ExprProblem(f"unknown function {sorted(unknown_fn)[0]!r} in {text!r} "
                              f"(available: {', '.join(sorted(FUNCTIONS))})")
        self.names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called - CONSTANTS
        unknown = self.names - set(allowed)
        if unknown:
            raise ExprProblem(f"unknown name {sorted(unknown)[0]!r} in {text!r} "
                              f"(available: {', '.join(sorted(set(allowed))) or 'none'})")

    def evaluate(self, names: dict[str, Any]) -> Any:
        names = dict(names)
        names.update(true=True, false=False, null=None)
        self._ev.names = names
        return self._ev.eval(self.text, previously_parsed=self._tree)
