"""Specs as validated, typed objects.

A *service spec* says what a service's entities look like; a *source spec*
says how one vendor feed maps onto them.  Both are YAML files checked
against the JSON Schemas in ``schema/`` and then against each other
(:mod:`citylink.spec.loader`).  Objects here are plain data: compiling them
into fast per-message code is :mod:`citylink.normalize.compiler`'s job.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .yamlloc import Lines

NGSI_LD_CORE = "https://uri.etsi.org/ngsi-ld/"
API_SOURCE = "ngsi-ld-api"   # the built-in source of NGSI-LD API writes (normalize.api_writes); no spec may take it
CITYLINK_NS = "https://w3id.org/citylink/ns/"
CITYLINK_CONTEXT_URL = "https://w3id.org/citylink/context.jsonld"
NGSI_LD_CORE_CONTEXT_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"

# Attribute value type → NGSI-LD attribute type
NGSI_KIND = {
    "Number": "Property", "Integer": "Property", "Text": "Property", "Boolean": "Property",
    "DateTime": "Property", "Object": "Property", "GeoProperty": "GeoProperty",
    "Relationship": "Relationship", "LanguageProperty": "LanguageProperty",
}
NUMERIC = {"Number", "Integer"}
CORE_ATTRIBUTES = {"location", "observationSpace", "operationSpace"}

VISIBILITY_ORDER = {"public": 0, "internal": 1, "restricted": 2}


@dataclass(frozen=True)
class Label:
    ko: str
    en: str

    @classmethod
    def of(cls, raw: dict | None, fallback: str) -> "Label":
        raw = raw or {}
        return cls(raw.get("ko", fallback), raw.get("en", fallback))


@dataclass(frozen=True)
class AttributeSpec:
    name: str
    type: str
    iri: str
    label: Label
    description: Label | None = None
    unit: str | None = None
    range: tuple[float | None, float | None] | None = None
    codes: dict[str, Label] | None = None
    on_out_of_range: str = "flag"
    required: bool = False
    personal: bool = False
    visibility: str = "internal"
    object_type: str | None = None

    @property
    def kind(self) -> str:
        return NGSI_KIND[self.type]


@dataclass(frozen=True)
class EntityTypeSpec:
    name: str
    iri: str
    namespace: str
    label: Label
    sdm: str | None
    attributes: dict[str, AttributeSpec]


@dataclass
class SpecFile:
    """Where a spec came from, to locate problems: file name, text, line map."""

    file: str
    text: str
    data: dict
    lines: Lines
    sha256: str

    def line(self, path) -> int | None:
        return self.lines.find(path)


@dataclass(frozen=True)
class OpenDataSpec:
    """A service's ``open_data:`` block: published in the open data catalogue (:mod:`citylink.opendata`)
    under this licence, with this update frequency (None: the reporting interval's) and keywords."""
    licence: str
    update_frequency: str | None = None
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)   # ko / en → words
    title: Label | None = None
    description: Label | None = None

    @classmethod
    def of(cls, raw: dict | None) -> "OpenDataSpec | None":
        if raw is None:
            return None
        words = raw.get("keywords") or {}
        return cls(raw["licence"], raw.get("update_frequency"), {k: tuple(v) for k, v in words.items()},
                   Label.of(raw["title"], "") if raw.get("title") else None,
                   Label.of(raw["description"], "") if raw.get("description") else None)


@dataclass(frozen=True)
class RuleSpec:
    """One alarm rule of a service spec (``rules.<name>``) as written: ``raw`` is the parsed YAML mapping,
    ``path`` its location in the document (for lines).  :mod:`citylink.rules` checks and compiles it."""
    name: str
    raw: dict
    path: tuple = ()


@dataclass
class ServiceSpec:
    id: str
    version: str
    name: Label
    department: str
    visibility: str
    reporting_interval_s: float | None
    offline_grace_s: float | None
    entity_types: dict[str, EntityTypeSpec]
    description: Label | None
    changelog: list[dict]
    origin: SpecFile
    open_data: OpenDataSpec | None = None
    rules: dict[str, RuleSpec] = field(default_factory=dict)
    dashboard: dict | None = None        # the ``dashboard:`` block as written (citylink.dashboard reads it)

    def attribute(self, type_name: str, attr: str) -> AttributeSpec | None:
        et = self.entity_types.get(type_name)
        return et.attributes.get(attr) if et else None


@dataclass
class SourceSpec:
    id: str
    service: str
    version: str
    status: str
    namespace: str
    vendor: str | None
    description: str | None
    transport: dict[str, Any]
    payload: dict[str, Any]
    entity_type: str
    id_template: str
    timestamp: dict[str, Any]
    position: dict[str, Any] | None
    let: dict[str, dict]
    fields: dict[str, dict]
    long: dict[str, Any] | None
    dedupe: list[str] | None
    devices: str | None
    changelog: list[dict]
    origin: SpecFile

    @property
    def live(self) -> bool:
        return self.status == "live"


@dataclass(frozen=True)
class DepartmentSpec:
    """A department of the district: it owns services, holds keys and accounts, and receives alarms."""
    id: str
    name: Label
    contacts: tuple[dict, ...] = ()
    webhooks: tuple[dict, ...] = ()     # {url, secret_env}: the secret is in that environment variable
    emails: tuple[str, ...] = ()


@dataclass
class DepartmentList:
    """A ``departments/1`` document (``departments.yaml``): versioned and applied like a spec."""
    id: str
    version: str
    departments: dict[str, DepartmentSpec]
    origin: SpecFile


@dataclass
class SpecSet:
    """Every service and source spec in force, the departments, plus the store's version ids of each."""

    services: dict[str, ServiceSpec] = field(default_factory=dict)
    sources: dict[str, SourceSpec] = field(default_factory=dict)
    department_lists: dict[str, DepartmentList] = field(default_factory=dict)
    version_ids: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, id) → spec_versions.id
    compiled_rules: dict[str, list] = field(default_factory=dict)   # service → its CompiledRules (citylink.rules)
    headlines: dict[str, object] = field(default_factory=dict)      # service → its dashboard Headline

    @property
    def departments(self) -> dict[str, DepartmentSpec]:
        """Every department declared; without a ``departments/1`` document, the services' owners, named by
        their ids (a deployment that has not written its departments down yet)."""
        declared = {d.id: d for dl in self.department_lists.values() for d in dl.departments.values()}
        if declared:
            return declared
        return {svc.department: DepartmentSpec(svc.department, Label(svc.department, svc.department))
                for svc in self.services.values()}

    def service_of(self, source_id: str) -> ServiceSpec:
        return self.services[self.sources[source_id].service]

    @property
    def unpublished(self) -> set[str]:
        """The sources in ``testing`` status: their data is stored but published nowhere."""
        return {sid for sid, src in self.sources.items() if not src.live}


_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def duration_seconds(text: str | None) -> float | None:
    if not text:
        return None
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    return float(((d * 24 + h) * 60 + mi) * 60 + s)
