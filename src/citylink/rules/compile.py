"""A service spec's ``rules:`` compiled into :class:`CompiledRule` objects, the alarm engine's input.

:func:`compile_rules` checks every rule of a service (entity type, expression, units, duration, place,
severity, departments, messages) and raises :class:`RuleProblems` listing every problem with its path in
the document (the loader turns them into located ``SpecProblem`` s).  Compile once per spec version: a
:class:`CompiledRule` holds no state of any entity, and nothing here is cached across spec versions.

    rule = compile_rules(service)[0]
    if rule.in_scope(lon, lat) and rule.holds(values, t_us, history):
        ...   # held for rule.hold_seconds(values)?  then raise an alarm with rule.message(values, eid)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..alarms.model import SEVERITIES
from ..spec.model import AttributeSpec, ServiceSpec, duration_seconds
from ..spec.units import UnitProblem, conversion
from .condition import Condition, ConditionProblem, check, known_timezone
from .message import MessageProblem, Template, compile_template, duration_text
from .scope import Scope, ScopeProblem, compile_scope

DEFAULT_TIMEZONE = "Asia/Seoul"
TIME_UNITS = ("SEC", "MIN", "HUR", "DAY")
LANGUAGES = ("ko", "en")


class RuleProblems(ValueError):
    """Every problem of a service's rules: ``items`` are ``(path tuple, type slug, message)``."""

    def __init__(self, items: list[tuple[tuple, str, str]]):
        self.items = list(items)
        super().__init__("; ".join(f"{'.'.join(map(str, p))}: {m}" for p, _, m in self.items))


@dataclass(frozen=True)
class Escalation:
    """Escalate an alarm not acknowledged within ``after_s`` seconds: to ``severity`` (the rule's when
    not raised), telling ``department`` as well (None: nobody new)."""
    after_s: float
    severity: str
    department: str | None


@dataclass(frozen=True, eq=False)
class CompiledRule:
    """One rule, ready to evaluate.  Values are in canonical units; times are µs since the epoch (UTC).

    ``attrs`` are the attributes whose change must trigger an evaluation; ``windows`` the history
    ``delta()`` needs per attribute (seconds; the engine keeps ``(t_us, value)`` pairs that long).
    ``hold_s`` is the fixed ``for:`` (0: at once); with ``hold_attr`` the time comes from that attribute
    per entity (:meth:`hold_seconds`).  For an ``absent:`` rule, :meth:`holds` is true when none of the
    ``absent`` attributes has a value in ``values``: pass the values observed within the hold time."""
    id: str
    service: str
    name: str
    entity_type: str
    department: str
    severity: str
    category: str | None
    visibility: str
    attrs: frozenset[str]
    absent: tuple[str, ...] | None
    hold_s: float
    hold_attr: str | None
    windows: dict[str, float]
    escalate: Escalation | None
    auto_clear: bool
    timezone: str = DEFAULT_TIMEZONE
    expression: str | None = None           # the `when:` as run: qty() converted, delta() resolved
    clock: bool = False                     # it reads hour/weekday: time alone may change it
    _condition: Condition | None = field(default=None, repr=False)
    _scope: Scope | None = field(default=None, repr=False)
    _hold_factor: float = field(default=1.0, repr=False)   # hold_attr's unit → seconds
    _messages: tuple[Template, ...] = field(default=(), repr=False)

    def in_scope(self, lon: float | None, lat: float | None) -> bool:
        """Whether an entity at (lon, lat) is in the rule's ``where:`` (True without one; an entity
        with no location is outside any scope)."""
        return True if self._scope is None else self._scope.contains(lon, lat)

    def holds(self, values: dict[str, object], t_us: int,
              history: dict[str, list[tuple[int, float]]] | None = None) -> bool:
        """Whether the condition holds now.  ``values``: attribute → current value (missing ones may be
        left out); ``t_us``: the evaluation time, for ``hour``/``weekday`` and delta windows;
        ``history``: attribute → ``(t_us, value)`` pairs, for ``delta()``."""
        if self._condition is None:
            return all(values.get(a) is None for a in self.absent or ())
        return self._condition.holds(values, t_us, history)

    def hold_seconds(self, values: dict) -> float:
        """How long the condition must hold for this entity: ``hold_attr``'s positive value in seconds,
        else the default (``hold_s``)."""
        if self.hold_attr is not None:
            v = values.get(self.hold_attr)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
                return float(v) * self._hold_factor
        return self.hold_s

    def message(self, values: dict, entity_id: str) -> tuple[str, str]:
        """(Korean, English) message; a value not observed shows as ``–``.  Never raises."""
        out = []
        hold = self.hold_seconds(values)
        for t in self._messages:
            out.append(t.render(values, {"entity": entity_id, "for": duration_text(hold, t.lang)}))
        return out[0], out[1]


def compile_rules(service: ServiceSpec, departments: set[str] | None = None) -> list[CompiledRule]:
    """The service's rules, compiled.  ``departments``: the known department ids (None: not checked,
    as when no ``departments/1`` document is in force).  Raises :class:`RuleProblems` with every problem."""
    problems: list[tuple[tuple, str, str]] = []
    out = []
    for name, spec in service.rules.items():
        path = spec.path or ("rules", name)
        before = len(problems)
        rule = _compile(service, name, spec.raw, path, departments, problems)
        if rule is not None and len(problems) == before:
            out.append(rule)
    if problems:
        raise RuleProblems(problems)
    return out


def _compile(svc: ServiceSpec, name: str, raw: dict, path: tuple, departments, problems) -> CompiledRule | None:
    def bad(sub: tuple, typ: str, msg: str):
        problems.append((path + sub, typ, msg))

    # -- the entity type and its attributes -------------------------------------------------------
    tname = raw.get("type")
    if tname is None:
        if len(svc.entity_types) != 1:
            bad((), "rule_type_missing", f"the service has several entity types ({', '.join(svc.entity_types)}): "
                                         f"say which one with type:")
            return None
        tname = next(iter(svc.entity_types))
    et = svc.entity_types.get(tname)
    if et is None:
        bad(("type",), "rule_unknown_entity_type", f"service {svc.id!r} has no entity type {tname!r} "
                                                   f"(it has: {', '.join(svc.entity_types)})")
        return None
    attributes = et.attributes

    # -- the condition ----------------------------------------------------------------------------
    timezone = raw.get("timezone", DEFAULT_TIMEZONE)
    if not known_timezone(timezone):
        bad(("timezone",), "rule_unknown_timezone", f"unknown time zone {timezone!r} (an IANA name such as "
                                                    f"Asia/Seoul)")
        timezone = DEFAULT_TIMEZONE
    condition, absent, attrs, windows = None, None, set(), {}
    if ("when" in raw) == ("absent" in raw):
        bad((), "rule_when_or_absent", "give exactly one of when: (a condition) and absent: (attributes not "
                                       "observed)")
    elif "when" in raw:
        try:
            checked = check(raw["when"], attributes)
            condition = Condition(checked, timezone)
            attrs |= checked.attrs
            windows = dict(checked.windows)
        except (ConditionProblem, UnitProblem) as e:
            bad(("when",), getattr(e, "type", "rule_unit_mismatch"), str(e))
    else:
        absent = tuple(raw["absent"])
        for i, a in enumerate(absent):
            if a not in attributes:
                bad(("absent", i), "rule_unknown_attribute", f"{tname} has no attribute {a!r} "
                                                             f"(it has: {', '.join(attributes)})")
        attrs |= set(absent)

    # -- how long it must hold ----------------------------------------------------------------------
    hold_s, hold_attr, hold_factor = _hold(raw.get("for"), attributes, bad)
    if hold_attr:
        attrs.add(hold_attr)
    if absent is not None and not hold_s:
        bad(("for",) if "for" in raw else (), "rule_absent_needs_for",
            "an absent: rule needs a positive for: (how long nothing may arrive)")

    # -- where, who, how severe -----------------------------------------------------------------
    scope = None
    if raw.get("where") is not None:
        try:
            scope = compile_scope(raw["where"])
        except ScopeProblem as e:
            key = next(iter(raw["where"]))
            bad(("where", key) + ((e.index,) if e.index is not None else ()), e.type, str(e))
    severity = raw.get("severity")
    if severity not in SEVERITIES:
        bad(("severity",), "rule_unknown_severity", f"unknown severity {severity!r} (one of {', '.join(SEVERITIES)})")
        severity = SEVERITIES[0]
    department = raw.get("department") or svc.department
    if departments is not None and raw.get("department") and department not in departments:
        bad(("department",), "rule_unknown_department", f"{department!r} is not in the departments "
                                                        f"(known: {', '.join(sorted(departments))})")
    escalate = _escalation(raw.get("escalate"), severity, departments, bad)

    # -- messages ---------------------------------------------------------------------------------
    messages = []
    for lang, text in (raw.get("message") or {}).items():
        try:
            t = compile_template(lang, text, attributes)
        except MessageProblem as e:
            bad(("message", lang), e.type, str(e))
            continue
        if lang in LANGUAGES:
            messages.append(t)
    messages.sort(key=lambda t: LANGUAGES.index(t.lang))
    if len(messages) != len(LANGUAGES):
        return None

    return CompiledRule(
        id=f"{svc.id}/{name}", service=svc.id, name=name, entity_type=tname, department=department,
        severity=severity, category=raw.get("category"), visibility=svc.visibility, attrs=frozenset(attrs),
        absent=absent, hold_s=hold_s, hold_attr=hold_attr, windows=windows, escalate=escalate,
        auto_clear=raw.get("clear", "auto") == "auto", timezone=timezone,
        expression=condition.text if condition else None, clock=bool(condition and condition.checked.clock),
        _condition=condition, _scope=scope,
        _hold_factor=hold_factor, _messages=tuple(messages))


def _hold(raw: Any, attributes: dict[str, AttributeSpec], bad) -> tuple[float, str | None, float]:
    """(seconds, attribute, its unit's factor to seconds) of a ``for:``."""
    if raw is None:
        return 0.0, None, 1.0
    if isinstance(raw, str):
        return duration_seconds(raw) or 0.0, None, 1.0
    default = duration_seconds(raw["default"]) or 0.0
    a = attributes.get(raw["attribute"])
    if a is None or a.type not in ("Number", "Integer") or a.unit not in TIME_UNITS:
        article = "an" if a is not None and a.type[0] in "AEIOU" else "a"
        what = ("no such attribute" if a is None
                else f"{article} {a.type}" + (f" in {a.unit}" if a.unit else " without a unit"))
        bad(("for", "attribute"), "rule_hold_attribute",
            f"for.attribute {raw['attribute']!r} must be a Number attribute whose unit is a time "
            f"({', '.join(TIME_UNITS)}): it is {what}")
        return default, None, 1.0
    return default, a.name, conversion(a.unit, "SEC").factor


def _escalation(raw: dict | None, severity: str, departments, bad) -> Escalation | None:
    if raw is None:
        return None
    after = duration_seconds(raw["after"]) or 0.0
    if after <= 0:
        bad(("escalate", "after"), "rule_escalation_after", "escalate.after must be a positive duration")
    to = raw.get("severity", severity)
    if to not in SEVERITIES:
        bad(("escalate", "severity"), "rule_unknown_severity", f"unknown severity {to!r} (one of "
                                                                f"{', '.join(SEVERITIES)})")
    elif "severity" in raw and SEVERITIES.index(to) <= SEVERITIES.index(severity):
        bad(("escalate", "severity"), "rule_escalation_severity",
            f"escalate.severity {to!r} is not above the rule's severity {severity!r}")
    dep = raw.get("department")
    if dep and departments is not None and dep not in departments:
        bad(("escalate", "department"), "rule_unknown_department",
            f"{dep!r} is not in the departments (known: {', '.join(sorted(departments))})")
    return Escalation(after, to, dep)
