"""A rule's ``message:``: one template per language, checked when the spec is loaded, rendered never failing.

Placeholders: ``{attributeName}`` with an optional format spec (``{fillingLevel:.0%}``, ``{co2:.0f}``),
``{entity}`` (the entity id) and ``{for}`` (how long the condition must hold, as text).  A value not
observed renders as ``–``; a coded text value as its label in the template's language; a yes/no value
as 예/아니오 or yes/no.  Personal attributes may not appear: an alarm message is read by people who may
not see them.
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from ..spec.model import AttributeSpec

MISSING = "–"
SPECIAL = ("entity", "for")
_SAMPLES = {"Number": 0.5, "Integer": 1, "Boolean": True, "Text": "x", "DateTime": "2026-01-01T00:00:00Z"}
_YES_NO = {"ko": ("예", "아니오"), "en": ("yes", "no")}


class MessageProblem(ValueError):
    """A message template is wrong; ``type`` is the problem's stable slug."""

    def __init__(self, type: str, msg: str):
        super().__init__(msg)
        self.type = type


@dataclass(frozen=True)
class Template:
    lang: str
    text: str
    parts: tuple[tuple[str, str | None, str], ...]       # (literal, field or None, format spec)
    labels: dict[str, dict[str, str]]                    # attribute → code → label (in this language)
    booleans: frozenset[str]

    def render(self, values: dict[str, Any], special: dict[str, str]) -> str:
        out = []
        for literal, field, spec in self.parts:
            out.append(literal)
            if field is None:
                continue
            v = special[field] if field in special else values.get(field)
            if v is None:
                out.append(MISSING)
                continue
            if field in self.labels:
                v = self.labels[field].get(str(v), v)
            elif field in self.booleans and isinstance(v, bool) and not spec:
                v = _YES_NO.get(self.lang, _YES_NO["en"])[0 if v else 1]
            try:
                out.append(format(v, spec))
            except (TypeError, ValueError):  # a value of an unexpected kind: shown as it is
                out.append(str(v))
        return "".join(out)


def compile_template(lang: str, text: str, attributes: dict[str, AttributeSpec]) -> Template:
    """Check a template against an entity type's attributes; raise :class:`MessageProblem`."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as e:
        raise MessageProblem("rule_message_syntax",
                             f"{e} in {text!r} (write {{{{ and }}}} for literal braces)") from None
    parts = []
    for literal, field, spec, conversion in parsed:
        if field is None:
            parts.append((literal, None, ""))
            continue
        if field not in SPECIAL:
            a = attributes.get(field)
            if a is None or a.type not in _SAMPLES:
                usable = sorted(k for k, v in attributes.items() if v.type in _SAMPLES)
                raise MessageProblem("rule_unknown_attribute", f"unknown placeholder {{{field}}} in {text!r} "
                                                               f"(available: {', '.join(usable + list(SPECIAL))})")
            if a.personal:
                raise MessageProblem("rule_personal_in_message", f"{{{field}}} is personal: an alarm message may "
                                                                 f"not show it")
        if conversion or "{" in (spec or ""):
            raise MessageProblem("rule_message_syntax", f"{{{field}}} in {text!r}: write {{name}} or "
                                                        f"{{name:format}}, without !r / !s or nested fields")
        sample = "text" if field in SPECIAL else _SAMPLES[attributes[field].type]
        if field not in SPECIAL and attributes[field].codes:
            sample = "label"
        try:
            format(sample, spec or "")
        except (TypeError, ValueError) as e:
            raise MessageProblem("rule_message_format", f"{{{field}:{spec}}} in {text!r}: {e}") from None
        parts.append((literal, field, spec or ""))
    labels = {name: {code: getattr(label, lang, None) or label.en for code, label in a.codes.items()}
              for name, a in attributes.items() if a.codes}
    booleans = frozenset(name for name, a in attributes.items() if a.type == "Boolean")
    return Template(lang, text, tuple(parts), labels, booleans)


def duration_text(seconds: float, lang: str) -> str:
    """``5400`` → ``1시간 30분`` / ``1 h 30 min``."""
    s = int(round(seconds))
    if s <= 0:
        return "즉시" if lang == "ko" else "at once"
    units = (("일", " d"), ("시간", " h"), ("분", " min"), ("초", " s"))
    parts = []
    for (ko, en), size in zip(units, (86400, 3600, 60, 1)):
        n, s = divmod(s, size)
        if n:
            parts.append(f"{n}{ko if lang == 'ko' else en}")
    return " ".join(parts)
