"""Alarm rules as data: a service spec's ``rules:`` checked and compiled (:mod:`.compile`), then run by the
engine (:mod:`.engine`) on every observation.  The language: :mod:`.condition` (``when:``), :mod:`.scope`
(``where:``), :mod:`.message` (``message:``); its reference is ``docs/rules.md``."""
from __future__ import annotations

from .compile import CompiledRule, Escalation, RuleProblems, compile_rules

__all__ = ["CompiledRule", "Escalation", "RuleProblems", "compile_rules"]
