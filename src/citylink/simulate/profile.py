"""Simulation profiles: one YAML file per source saying how its simulated devices behave and how the
vendor writes their messages.  Profiles are data, like specs: simulating a new vendor is a new file.

    citylink: simulation/1
    source: bins-acme-http          # the source spec it feeds
    every: PT10M                     # a message per device this often …
    # on_change: [occupied]          # … or when these outputs change (checked every `step`),
    # heartbeat: PT1H                #     and at least this often
    fleet: {count: 8, id: "A-{n:03d}", attributes: {bin_height_cm: [100, 120]}}
    model: {kind: fill, per_hour: 0.015, weekday: [...24 factors...]}
    message: {deviceId: "=device.local_id", ts: "=iso_kst(t)", fill_pct: "=round(level * 100)"}
    malformed: {truncate: true, expect: malformed_json}

Message shapes: ``message`` (one JSON document per reading), ``rows`` (CSV rows per reading, written to
files named by ``file``), ``group`` (several devices' messages in one envelope, like a gateway).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import SpecError, SpecProblem
from ..spec.model import SourceSpec, duration_seconds
from ..spec.yamlloc import Lines, load_located
from .models import MODELS
from .template import Renderer, TemplateError

BUNDLED_PROFILES = Path(__file__).resolve().parent.parent / "data" / "simulation"

KEYS = {"citylink", "source", "description", "every", "on_change", "heartbeat", "step", "align", "fleet", "model",
        "message", "rows", "file", "group", "topic", "malformed", "burst"}


@dataclass
class Profile:
    source: str
    file: str
    lines: Lines
    doc: dict
    every: float | None
    on_change: list[str]
    heartbeat: float | None
    step: float
    model: dict
    fleet: dict
    malformed: dict


@dataclass
class CompiledProfile:
    """A profile bound to its source spec: templates compiled with the spec's decoder."""
    profile: Profile
    spec: SourceSpec
    renderer: Renderer
    message: Callable[[dict], Any] | None = None
    rows: list[Callable[[dict], Any]] = field(default_factory=list)
    file: Callable[[dict], Any] | None = None
    group_size: int = 0
    group: Callable[[dict], Any] | None = None
    topic: Callable[[dict], Any] | None = None


def load_profiles(paths: list[Path] | None = None) -> dict[str, Profile]:
    """Every profile in ``paths`` (files or directories; default: the bundled ones), by source id.
    All problems are reported together, each as file:line."""
    files: list[Path] = []
    for p in paths or [BUNDLED_PROFILES]:
        p = Path(p)
        files += sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    out: dict[str, Profile] = {}
    problems: list[SpecProblem] = []
    for f in files:
        text = f.read_text(encoding="utf-8")
        doc, lines = load_located(text)
        if not isinstance(doc, dict) or doc.get("citylink") != "simulation/1":
            continue  # world.yaml and anything that is not a profile
        prof = _profile(str(f), doc, lines, problems)
        if prof is None:
            continue
        if prof.source in out:
            problems.append(SpecProblem("duplicate_profile", str(f), lines.find(("source",)), "source",
                                        f"{prof.source!r} already has a profile in {out[prof.source].file}"))
            continue
        out[prof.source] = prof
    if problems:
        raise SpecError(problems)
    return out


def _profile(file: str, doc: dict, lines: Lines, problems: list[SpecProblem]) -> Profile | None:
    def bad(path: tuple, msg: str, kind="bad_profile"):
        problems.append(SpecProblem(kind, file, lines.find(path), ".".join(map(str, path)), msg))

    before = len(problems)
    for key in doc:
        if key not in KEYS:
            bad((key,), f"unknown key {key!r} (known: {', '.join(sorted(KEYS))})")
    if not isinstance(doc.get("source"), str):
        bad(("source",), "source: the id of the source spec this profile feeds")
    model = doc.get("model")
    if not isinstance(model, dict) or "kind" not in model:
        bad(("model",), "model: {kind: ..., parameters}")
    elif model["kind"] not in MODELS.names():
        bad(("model", "kind"), f"unknown model {model['kind']!r} (known: {', '.join(MODELS.names())})",
            "unknown_model")
    shapes = [k for k in ("message", "rows", "group") if k in doc]
    if len(shapes) != 1:
        bad((), "a profile writes its messages with exactly one of message, rows or group")
    if "rows" in doc and "file" not in doc:
        bad(("rows",), "rows are written to files: add file: {name: '=...', every: PT1H}")
    if ("every" in doc) == ("on_change" in doc):
        bad((), "say when a device reports: every: <ISO 8601 duration>, or on_change: [outputs]")

    def seconds(key, default=None):
        if key not in doc:
            return default
        try:
            return duration_seconds(doc[key]) if isinstance(doc[key], str) else float(doc[key])
        except (ValueError, TypeError) as e:
            bad((key,), f"{key}: {e}")
            return default

    every, heartbeat = seconds("every"), seconds("heartbeat")
    step = seconds("step", every or 60.0)
    malformed = doc.get("malformed") or {}
    if malformed and ("expect" not in malformed or not ({"truncate", "set"} & malformed.keys())):
        bad(("malformed",), "malformed: {truncate: true | set: {field: value}, expect: <quarantine reason>}")
    if len(problems) > before:
        return None
    on_change = doc.get("on_change") or []
    return Profile(doc["source"], file, lines, doc, every, list(on_change), heartbeat, step, model,
                   doc.get("fleet") or {}, malformed)


def compile_profile(prof: Profile, spec: SourceSpec, rng: random.Random) -> CompiledProfile:
    """Bind a profile to its source spec; template mistakes are reported with file and line."""
    lw = spec.payload.get("lorawan") if spec.payload.get("format") == "lorawan" else None
    cp = CompiledProfile(prof, spec, Renderer(rng, lw))
    d = prof.doc
    try:
        if "message" in d:
            cp.message = cp.renderer.compile(d["message"], ("message",))
        if "rows" in d:
            cp.rows = [cp.renderer.compile(r, ("rows", i)) for i, r in enumerate(d["rows"])]
            cp.file = cp.renderer.compile(d["file"]["name"], ("file", "name"))
        if "group" in d:
            g = d["group"]
            cp.group_size = int(g.get("size", 10))
            cp.message = cp.renderer.compile(g["record"], ("group", "record"))
            cp.group = cp.renderer.compile(g["envelope"], ("group", "envelope"))
        if "topic" in d:
            cp.topic = cp.renderer.compile(d["topic"], ("topic",))
    except TemplateError as e:
        raise template_problem(prof, e) from None
    return cp


def template_problem(prof: Profile, e: TemplateError) -> SpecError:
    return SpecError([SpecProblem("bad_template", prof.file, prof.lines.find(e.path), ".".join(map(str, e.path)),
                                  str(e))])
