"""YAML documents that remember where each value came from.

``load_located(text)`` returns the plain Python value plus a ``Lines`` map
from a path tuple (``("fields", "pm25", "unit")``) to its 1-based line, so
every problem found later can be reported as ``file:line: path: message``.
"""
from __future__ import annotations

from typing import Any

import yaml

try:
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


class Lines(dict):
    """path tuple → line; ``find`` falls back to the nearest located ancestor."""

    def find(self, path) -> int | None:
        path = tuple(path)
        while path:
            if path in self:
                return self[path]
            path = path[:-1]
        return self.get((), None)


def load_located(text: str) -> tuple[Any, Lines]:
    node = yaml.compose(text, Loader=_Loader)
    lines = Lines()
    if node is None:
        return None, lines
    constructor = _Loader(text).construct_object  # scalar tagging (ints, bools, dates …)
    return _build(node, (), lines, constructor), lines


def _build(node, path, lines, construct):
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            key = construct(key_node, deep=True)
            sub = path + (key,)
            out[key] = _build(value_node, sub, lines, construct)
            lines[sub] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(v, path + (i,), lines, construct) for i, v in enumerate(node.value)]
    value = construct(node, deep=True)
    # YAML 1.1 turns 2026-11-26 into a date; specs want text (versions, dates in change logs).
    if type(value).__name__ in ("date", "datetime"):
        return node.value
    return value
