"""Load spec files, validate them, and report every problem as ``file:line: path: message``.

Three passes, each collecting problems rather than stopping at the first:

1. YAML syntax and the JSON Schema of the document's format (``citylink: service/1``,
   ``source/1``);
2. references between specs (a source's service, entity type, attributes);
3. compilation of every service's alarm rules (:mod:`citylink.rules`), its dashboard headline
   (:mod:`citylink.dashboard.headline`) and of every source
   (units, timestamps, CRS, expressions, code tables), which is exactly what the running
   platform does, so ``spec check`` passing means the platform will accept the specs.
"""
from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable

import jsonschema
import yaml

from ..errors import SpecError, SpecProblem
from .model import (API_SOURCE, CITYLINK_NS, CORE_ATTRIBUTES, NGSI_LD_CORE, AttributeSpec, DepartmentList,
                    DepartmentSpec, EntityTypeSpec, Label, OpenDataSpec, RuleSpec, ServiceSpec, SourceSpec, SpecFile,
                    SpecSet, duration_seconds)
from .yamlloc import load_located

FORMATS = {"service/1": "service", "source/1": "source", "departments/1": "departments"}
RESERVED_SOURCES = frozenset({API_SOURCE})
SPEC_SUFFIXES = (".yaml", ".yml")


@lru_cache(maxsize=None)
def validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = json.loads(resources.files("citylink.spec").joinpath(f"schema/{kind}.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def schema_text(kind: str) -> str:
    return resources.files("citylink.spec").joinpath(f"schema/{kind}.schema.json").read_text()


def spec_files(paths: Iterable[Path]) -> list[Path]:
    """Every YAML file under ``paths`` that declares a CityLink spec format."""
    out = []
    for p in paths:
        p = Path(p)
        candidates = sorted(p.rglob("*")) if p.is_dir() else [p]
        for f in candidates:
            if f.is_file() and f.suffix in SPEC_SUFFIXES:
                out.append(f)
    return out


def load_paths(paths: Iterable[Path], *, compile_sources: bool = True) -> SpecSet:
    docs = []
    problems = []
    for f in spec_files(paths):
        try:
            docs.append((str(f), f.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as e:
            problems.append(SpecProblem("unreadable", str(f), None, "", str(e)))
    if not docs and not problems:
        names = ", ".join(str(p) for p in paths)
        problems.append(SpecProblem("no_specs", names, None, "", "no spec files (*.yaml) found"))
    return load_texts(docs, compile_sources=compile_sources, problems=problems)


def load_texts(docs: list[tuple[str, str]], *, compile_sources: bool = True,
               problems: list[SpecProblem] | None = None) -> SpecSet:
    problems = list(problems or [])
    specs = SpecSet()
    parsed = []
    for label, text in docs:
        sf = _parse(label, text, problems)
        if sf is None:
            continue
        kind = FORMATS.get(sf.data.get("citylink"))
        if kind is None:
            continue  # devices/1 and other documents are not specs
        before = len(problems)
        for err in validator(kind).iter_errors(sf.data):
            problems.append(_schema_problem(sf, err))
        if len(problems) == before:
            parsed.append((kind, sf))
    for kind, sf in parsed:
        if kind != "service":
            continue
        svc = _service(sf, problems)
        if svc.id in specs.services:
            problems.append(SpecProblem("duplicate_id", sf.file, sf.line(("id",)), "id",
                                        f"service {svc.id!r} is also defined in {specs.services[svc.id].origin.file}"))
        specs.services[svc.id] = svc
    for kind, sf in parsed:
        if kind == "departments":
            _departments(sf, specs, problems)
    _check_departments(specs, problems)
    _check_rules(specs, problems)
    _check_headlines(specs, problems)
    for kind, sf in parsed:
        if kind != "source":
            continue
        src = _source(sf)
        if src.id in RESERVED_SOURCES:
            problems.append(SpecProblem("reserved_id", sf.file, sf.line(("id",)), "id",
                                        f"source id {src.id!r} is the platform's own (NGSI-LD API writes)"))
            continue
        if src.id in specs.sources:
            problems.append(SpecProblem("duplicate_id", sf.file, sf.line(("id",)), "id",
                                        f"source {src.id!r} is also defined in {specs.sources[src.id].origin.file}"))
            continue
        if _check_refs(src, specs, problems):
            specs.sources[src.id] = src
    if not problems:
        problems += _shared_transport_keys(specs) + _term_collisions(specs)
    if compile_sources and not problems:
        from ..normalize.compiler import CompileProblem, compile_source
        for src in specs.sources.values():
            try:
                compile_source(src, specs.services[src.service], deployment="check")
            except CompileProblem as e:
                for path, typ, msg in e.items:
                    problems.append(SpecProblem(typ, src.origin.file, src.origin.line(path),
                                                ".".join(str(p) for p in path), msg))
    if problems:
        raise SpecError(problems)
    return specs


def _term_collisions(specs: SpecSet) -> list[SpecProblem]:
    """A type name has one IRI everywhere, and within a type an attribute name has one IRI: two services
    sharing ParkingSpot must mean the same by its ``status``.  (Different types may differ: the served
    @context scopes such terms by type.)"""
    types: dict[str, tuple[str, str]] = {}
    attrs: dict[tuple[str, str], tuple[str, str]] = {}
    out = []
    for sid, svc in sorted(specs.services.items()):
        f = svc.origin
        for tname, et in svc.entity_types.items():
            first = types.setdefault(tname, (et.iri, sid))
            if first[0] != et.iri:
                out.append(SpecProblem("term_collision", f.file, f.line(("entity_types", tname)), f"entity_types.{tname}",
                                       f"{tname} is {first[0]} in service {first[1]!r}, here {et.iri}", et.iri))
            for aname, a in et.attributes.items():
                first = attrs.setdefault((tname, aname), (a.iri, sid))
                if first[0] != a.iri:
                    path = ("entity_types", tname, "attributes", aname)
                    out.append(SpecProblem("term_collision", f.file, f.line(path), ".".join(path),
                                           f"{tname}.{aname} is {first[0]} in service {first[1]!r}, here {a.iri}",
                                           a.iri))
    return out


def _shared_transport_keys(specs: SpecSet) -> list[SpecProblem]:
    """Two sources may not claim the same MQTT topic or drop directory: messages would go to one of them."""
    from ..adapters import transports
    known = transports()
    seen: dict[tuple[str, str, str], str] = {}
    out = []
    for sid, src in sorted(specs.sources.items()):
        t = known.get(src.transport["type"])
        for key in (t.unique if t else ()):
            value = src.transport.get(key)
            if value is None:
                continue
            first = seen.setdefault((t.name, key, str(value)), sid)
            if first != sid:
                out.append(SpecProblem("shared_transport_key", src.origin.file, src.origin.line(("transport", key)),
                                       f"transport.{key}", f"source {first!r} already uses {key} {value!r}", value))
    return out


def _parse(label: str, text: str, problems: list[SpecProblem]) -> SpecFile | None:
    try:
        data, lines = load_located(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problems.append(SpecProblem("yaml_syntax", label, mark.line + 1 if mark else None, "",
                                    f"YAML syntax: {getattr(e, 'problem', None) or e}"))
        return None
    known = ", ".join([*FORMATS, "devices/1"])
    if not isinstance(data, dict) or "citylink" not in data:
        problems.append(SpecProblem("not_a_spec", label, 1, "citylink", f"missing 'citylink:' ({known})"))
        return None
    fmt = data["citylink"]
    if fmt not in FORMATS and fmt != "devices/1":
        problems.append(SpecProblem("unknown_format", label, lines.find(("citylink",)), "citylink",
                                    f"unknown spec format {fmt!r} (known: {known})"))
        return None
    return SpecFile(label, text, data, lines, hashlib.sha256(text.encode()).hexdigest())


_UNEXPECTED = re.compile(r"\('([^']+)' (?:was|were) unexpected")


def schema_problems(sf: SpecFile, kind: str) -> list[SpecProblem]:
    """The problems of one parsed document against the JSON Schema of ``kind`` (``schema/<kind>.schema.json``),
    each located like a spec's (the open data tables' metadata use it)."""
    return [_schema_problem(sf, err) for err in validator(kind).iter_errors(sf.data)]


def _schema_problem(sf: SpecFile, err: jsonschema.ValidationError) -> SpecProblem:
    path = list(err.absolute_path)
    msg = err.message
    if err.validator == "additionalProperties":
        m = _UNEXPECTED.search(msg)
        if m:
            path.append(m.group(1))
            msg = f"unknown key {m.group(1)!r}"
    elif err.validator == "required":
        msg = f"missing required key: {err.message.split(' is a required')[0]}"
    elif err.validator in ("oneOf", "anyOf") and err.context:
        best = jsonschema.exceptions.best_match(err.context)
        msg = f"{best.message}" if err.validator == "anyOf" else (
            "give exactly one of 'from', 'expr' or 'value'" if "from" in str(err.schema) else best.message)
    elif err.validator == "pattern":
        msg = f"{err.instance!r} does not match the pattern {err.validator_value}"
    elif err.validator == "enum":
        msg = f"{err.instance!r} is not one of {', '.join(map(repr, err.validator_value))}"
    return SpecProblem(f"schema_{err.validator}", sf.file, sf.line(path),
                       ".".join(str(p) for p in path), msg, err.instance if not isinstance(err.instance, dict) else None)


def _label(raw, fallback):
    return Label.of(raw, fallback) if raw else Label(fallback, fallback)


def _departments(sf: SpecFile, specs: SpecSet, problems: list[SpecProblem]) -> None:
    d = sf.data
    if d["id"] in specs.department_lists:
        problems.append(SpecProblem("duplicate_id", sf.file, sf.line(("id",)), "id", f"departments {d['id']!r} "
                                    f"are also defined in {specs.department_lists[d['id']].origin.file}"))
        return
    seen = {dep: dl.origin.file for dl in specs.department_lists.values() for dep in dl.departments}
    deps = {}
    for dep_id, dep in d["departments"].items():
        if dep_id in seen:
            problems.append(SpecProblem("duplicate_id", sf.file, sf.line(("departments", dep_id)),
                                        f"departments.{dep_id}", f"department {dep_id!r} is also defined in "
                                                                 f"{seen[dep_id]}"))
            continue
        notify = dep.get("notify", {})
        deps[dep_id] = DepartmentSpec(dep_id, Label.of(dep["name"], dep_id), tuple(dep.get("contacts", ())),
                                      tuple(notify.get("webhooks", ())), tuple(notify.get("email", ())))
    specs.department_lists[d["id"]] = DepartmentList(d["id"], d["version"], deps, sf)


def _check_departments(specs: SpecSet, problems: list[SpecProblem]) -> None:
    """Once the departments are written down, every service names one of them."""
    if not specs.department_lists:
        return
    known = specs.departments
    for svc in specs.services.values():
        if svc.department not in known:
            problems.append(SpecProblem("unknown_department", svc.origin.file, svc.origin.line(("department",)),
                                        "department", f"{svc.department!r} is not in the departments "
                                                      f"(known: {', '.join(sorted(known))})", svc.department))


def _check_rules(specs: SpecSet, problems: list[SpecProblem]) -> None:
    """Every service's ``rules:`` compile (:func:`citylink.rules.compile_rules`), kept in the spec set for the
    alarm engine; departments are checked once they are written down, like the services' owners."""
    from ..rules.compile import RuleProblems, compile_rules
    known = set(specs.departments) if specs.department_lists else None
    for svc in specs.services.values():
        try:
            specs.compiled_rules[svc.id] = compile_rules(svc, known)   # what the engine runs
        except RuleProblems as e:
            f = svc.origin
            for path, typ, msg in e.items:
                problems.append(SpecProblem(typ, f.file, f.line(path), ".".join(str(p) for p in path), msg))


def _check_headlines(specs: SpecSet, problems: list[SpecProblem]) -> None:
    """Every service's ``dashboard.headline`` compiles (:func:`citylink.dashboard.headline.compile_headline`),
    kept in the spec set for the dashboard's overview."""
    from ..dashboard.headline import HeadlineProblems, compile_headline
    for svc in specs.services.values():
        try:
            h = compile_headline(svc, specs.compiled_rules.get(svc.id, []))
        except HeadlineProblems as e:
            f = svc.origin
            for path, typ, msg in e.items:
                problems.append(SpecProblem(typ, f.file, f.line(path), ".".join(str(p) for p in path), msg))
            continue
        if h is not None:
            specs.headlines[svc.id] = h


def _service(sf: SpecFile, problems) -> ServiceSpec:
    d = sf.data
    default_vis = d.get("visibility", "internal")
    types = {}
    for tname, t in d["entity_types"].items():
        ns = t.get("namespace") or CITYLINK_NS  # one vocabulary: a term means the same in every service
        attrs = {}
        for aname, a in t["attributes"].items():
            path = ("entity_types", tname, "attributes", aname)
            rng = tuple(a["range"]) if "range" in a else None
            if rng and rng[0] is not None and rng[1] is not None and rng[0] > rng[1]:
                problems.append(SpecProblem("range_order", sf.file, sf.line(path + ("range",)),
                                            ".".join(path + ("range",)), f"min {rng[0]} is above max {rng[1]}"))
            if a.get("unit"):
                from .units import UnitProblem, check_code
                try:
                    check_code(a["unit"])
                except UnitProblem as e:
                    problems.append(SpecProblem("unknown_unit", sf.file, sf.line(path + ("unit",)),
                                                ".".join(path + ("unit",)), str(e), a["unit"]))
            if a.get("unit") and a["type"] not in ("Number", "Integer"):
                problems.append(SpecProblem("unit_not_numeric", sf.file, sf.line(path + ("unit",)),
                                            ".".join(path + ("unit",)), f"a {a['type']} attribute has no unit"))
            if rng and a["type"] not in ("Number", "Integer"):
                problems.append(SpecProblem("range_not_numeric", sf.file, sf.line(path + ("range",)),
                                            ".".join(path + ("range",)), f"a {a['type']} attribute has no range"))
            iri = a.get("iri") or (NGSI_LD_CORE + aname if aname in CORE_ATTRIBUTES else ns + aname)
            attrs[aname] = AttributeSpec(
                name=aname, type=a["type"], iri=iri, label=_label(a.get("name"), aname),
                description=Label.of(a["description"], "") if a.get("description") else None,
                unit=a.get("unit"), range=rng,
                codes={str(k): Label.of(v, str(k)) for k, v in a["codes"].items()} if a.get("codes") else None,
                on_out_of_range=a.get("on_out_of_range", "flag"), required=a.get("required", False),
                personal=a.get("personal", False), visibility=a.get("visibility", default_vis),
                object_type=a.get("object_type"))
        types[tname] = EntityTypeSpec(tname, ns + tname, ns, _label(t.get("name"), tname), t.get("sdm"), attrs)
    return ServiceSpec(
        id=d["id"], version=d["version"], name=Label.of(d["name"], d["id"]), department=d["department"],
        visibility=default_vis, reporting_interval_s=duration_seconds(d.get("reporting_interval")),
        offline_grace_s=duration_seconds(d.get("offline_grace")), entity_types=types,
        description=Label.of(d["description"], "") if d.get("description") else None,
        changelog=d.get("changelog", []), origin=sf, open_data=OpenDataSpec.of(d.get("open_data")),
        rules={name: RuleSpec(name, raw, ("rules", name)) for name, raw in (d.get("rules") or {}).items()},
        dashboard=d.get("dashboard"))


def _source(sf: SpecFile) -> SourceSpec:
    d = sf.data
    return SourceSpec(
        id=d["id"], service=d["service"], version=d["version"], status=d.get("status", "testing"),
        namespace=d.get("namespace", d["id"]), vendor=d.get("vendor"), description=d.get("description"),
        transport=d["transport"], payload=d["payload"], entity_type=d["entity"]["type"],
        id_template=d["entity"]["id"], timestamp=d["timestamp"], position=d.get("position"),
        let=d.get("let", {}), fields=d.get("fields", {}), long=d.get("long"), dedupe=d.get("dedupe"),
        devices=d.get("devices"), changelog=d.get("changelog", []), origin=sf)


def _check_refs(src: SourceSpec, specs: SpecSet, problems) -> bool:
    sf = src.origin

    def bad(path, typ, msg, value=None):
        problems.append(SpecProblem(typ, sf.file, sf.line(path), ".".join(map(str, path)), msg, value))

    svc = specs.services.get(src.service)
    if svc is None:
        bad(("service",), "unknown_service", f"no service {src.service!r} (known: {', '.join(sorted(specs.services)) or 'none'})", src.service)
        return False
    et = svc.entity_types.get(src.entity_type)
    if et is None:
        bad(("entity", "type"), "unknown_entity_type",
            f"service {svc.id!r} has no entity type {src.entity_type!r} (it has: {', '.join(et_ for et_ in svc.entity_types)})")
        return False
    ok = True
    for name in src.fields:
        if name not in et.attributes:
            bad(("fields", name), "unknown_attribute",
                f"{src.entity_type} has no attribute {name!r} in service {svc.id!r} "
                f"(it has: {', '.join(et.attributes)})", name)
            ok = False
    if src.long:
        for code, target in src.long["attributes"].items():
            attr = target if isinstance(target, str) else target["attribute"]
            if attr not in et.attributes:
                bad(("long", "attributes", code), "unknown_attribute",
                    f"{src.entity_type} has no attribute {attr!r} in service {svc.id!r}", attr)
                ok = False
    mapped = set(src.fields) | ({(t if isinstance(t, str) else t["attribute"]) for t in src.long["attributes"].values()}
                                if src.long else set())
    if src.position:
        mapped.add("location")
    for a in et.attributes.values():
        if a.required and a.name not in mapped:
            bad(("fields",), "required_not_mapped", f"required attribute {a.name!r} of {src.entity_type} is not mapped")
            ok = False
    return ok
