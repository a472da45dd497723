"""A service's headline figure on the dashboard's overview (``dashboard.headline`` in its spec), checked and
compiled once per spec version, like its rules.  Exactly one of:

* ``rules: [name, …]`` — the entities with an open alarm of one of these rules of the service, to a reader who
  may see the service's alarms.  To any other reader, the entities whose *current* values meet one of the
  rules' ``when:`` — if that reader may see every attribute the rules read (and the location, for a rule with
  a ``where:``); no figure otherwise.  So the standard (1,000 ppm, 80 %) is written once, in the rule, and the
  public never learns anything about alarms, only what the public values say.  A rule about absence or change
  (``absent:``, ``delta()``) has no reading from current values: only alarm readers get a figure.
* ``when: <condition>`` — the entities whose current values meet it (the rules' language, docs/rules.md,
  without ``delta()``), for readers who may see every attribute it reads;
* ``sum: <attribute>`` — the sum of the attribute's current values over the entities (an hourly counter's
  latest hour, each); with ``over: PT1H``, the sum of its values observed within that time up to now (its
  default instance) — for readers who may see the attribute;
* ``entities: <Type>`` — how many entities of the type there are.

``name`` says what is counted, in Korean and English.  :mod:`citylink.dashboard.overview` computes it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..rules.condition import Condition, ConditionProblem, check
from ..spec.model import Label, ServiceSpec, duration_seconds

KINDS = ("rules", "when", "sum", "entities")
PATH = ("dashboard", "headline")


class HeadlineProblems(ValueError):
    """Every problem of a service's headline: ``items`` are ``(path tuple, type slug, message)``."""

    def __init__(self, items: list[tuple[tuple, str, str]]):
        self.items = list(items)
        super().__init__("; ".join(f"{'.'.join(map(str, p))}: {m}" for p, _, m in self.items))


@dataclass(frozen=True)
class Test:
    """One condition a headline counts entities by: on entities of ``type``, reading ``attrs`` (and the
    location when ``located``)."""
    type: str
    attrs: frozenset[str]
    located: bool
    _holds: Any

    def holds(self, values: dict, t_us: int, lon: float | None, lat: float | None) -> bool:
        return self._holds(values, t_us, lon, lat)


@dataclass(frozen=True)
class Headline:
    service: str
    name: Label
    kind: str                          # one of KINDS
    types: tuple[str, ...]             # the entity types it counts or reads
    rules: tuple[str, ...] = ()        # rules: their ids (service/name)
    tests: tuple[Test, ...] | None = ()   # rules, when: the conditions on current values (None: none possible)
    attribute: str | None = None       # sum: the attribute …
    window_s: float | None = None      # … and the time window (None: its current values)


def compile_headline(service: ServiceSpec, compiled_rules: list) -> Headline | None:
    """The service's headline (None without one); raises :class:`HeadlineProblems` with every problem.
    ``compiled_rules``: the service's :class:`~citylink.rules.compile.CompiledRule` s."""
    raw = (service.dashboard or {}).get("headline")
    if raw is None:
        return None
    problems: list[tuple[tuple, str, str]] = []
    given = [k for k in KINDS if k in raw]
    if len(given) != 1:
        problems.append((PATH, "headline_kind", "give exactly one of 'rules', 'when', 'sum' or 'entities'"
                                                f"{' (found: ' + ', '.join(given) + ')' if given else ''}"))
        raise HeadlineProblems(problems)
    kind = given[0]
    name = Label.of(raw["name"], service.id)
    types = service.entity_types
    if "type" in raw and kind in ("rules", "entities"):
        problems.append((PATH + ("type",), "headline_type_unused",
                         f"'type' goes with 'when' or 'sum': {kind!r} names its entity types itself"))
    if kind == "rules":
        by_name = {r.name: r for r in compiled_rules}
        chosen = []
        for i, rname in enumerate(raw["rules"]):
            if rname not in service.rules:
                problems.append((PATH + ("rules", i), "headline_unknown_rule",
                                 f"{rname!r} is not a rule of {service.id} (its rules: "
                                 f"{', '.join(sorted(service.rules)) or 'none'})"))
            elif rname in by_name:
                chosen.append(by_name[rname])
            else:
                return None   # the rule itself did not compile: its own problems are reported
        if problems:
            raise HeadlineProblems(problems)
        tests: tuple[Test, ...] | None = tuple(_rule_test(r) for r in chosen)
        if any(t is None for t in tests):
            tests = None   # counted from alarms only
        return Headline(service.id, name, kind, tuple(dict.fromkeys(r.entity_type for r in chosen)),
                        rules=tuple(r.id for r in chosen), tests=tests)
    if kind == "entities":
        if raw["entities"] not in types:
            problems.append((PATH + ("entities",), "headline_unknown_type", _unknown_type(service, raw["entities"])))
            raise HeadlineProblems(problems)
        return Headline(service.id, name, kind, (raw["entities"],))
    type_name = _type_of(service, raw, problems)
    if type_name is None:
        raise HeadlineProblems(problems)
    attrs = types[type_name].attributes
    if kind == "when":
        try:
            checked = check(raw["when"], attrs)
        except ConditionProblem as e:
            problems.append((PATH + ("when",), e.type, str(e)))
            raise HeadlineProblems(problems) from None
        if checked.windows:
            problems.append((PATH + ("when",), "headline_delta", "delta() needs a history: a headline counts "
                                                                 "entities by their current values"))
            raise HeadlineProblems(problems)
        cond = Condition(checked)
        test = Test(type_name, checked.attrs, False, lambda values, t, lon, lat: cond.holds(values, t))
        return Headline(service.id, name, kind, (type_name,), tests=(test,))
    # sum
    a = attrs.get(raw["sum"])
    if a is None or a.type not in ("Number", "Integer"):
        numeric = sorted(n for n, x in attrs.items() if x.type in ("Number", "Integer"))
        problems.append((PATH + ("sum",), "headline_not_numeric",
                         f"{raw['sum']!r} is not a numeric attribute of {type_name} (numeric: {', '.join(numeric)})"))
    window = duration_seconds(raw["over"]) if "over" in raw else None
    if "over" in raw and not window:
        problems.append((PATH + ("over",), "headline_window", f"{raw['over']!r}: give a positive duration, e.g. PT1H"))
    if problems:
        raise HeadlineProblems(problems)
    return Headline(service.id, name, kind, (type_name,), attribute=a.name, window_s=window)


def _type_of(service: ServiceSpec, raw: dict, problems) -> str | None:
    if "type" in raw:
        if raw["type"] in service.entity_types:
            return raw["type"]
        problems.append((PATH + ("type",), "headline_unknown_type", _unknown_type(service, raw["type"])))
        return None
    if len(service.entity_types) == 1:
        return next(iter(service.entity_types))
    problems.append((PATH, "headline_type_needed", f"{service.id} has several entity types "
                                                   f"({', '.join(service.entity_types)}): say which with 'type'"))
    return None


def _unknown_type(service: ServiceSpec, name: str) -> str:
    return f"{name!r} is not an entity type of {service.id} (its types: {', '.join(service.entity_types)})"


def _rule_test(rule) -> Test | None:
    """A rule's ``when:`` as a test of current values; None for one that judges absence or change."""
    if rule.absent is not None or rule.windows or rule.expression is None:
        return None
    located = rule._scope is not None

    def holds(values, t_us, lon, lat):
        return rule.in_scope(lon, lat) and rule.holds(values, t_us)
    return Test(rule.entity_type, rule._condition.checked.attrs, located, holds)
