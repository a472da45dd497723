"""Who may see what: the one visibility model that every read applies (the NGSI-LD API now; downloads,
notifications and the dashboard later), and readers' API keys.

Visibility is declared in the service specs, per attribute with a service default:

* ``public`` — anyone, no key;
* ``internal`` — district staff, and the owning department;
* ``restricted`` — the owning department (and admins);
* ``personal: true`` — an identifier of a person or vehicle. It is pseudonymised before it is stored, and
  it is never public: such an attribute is ``restricted`` whatever its spec says.

An attribute a spec does not declare (one added through the API, say) has its service's default; an entity
of no service (created through the API with a type no spec declares) is ``internal``. An entity is visible
to a viewer who may see at least one attribute its (service, type) declares or defaults to; it is then
shown with those attributes only, and its registry location only when ``location`` is visible.

A query that filters on attributes (``q=``, ``attrs``) or on location (a geo-query) looks only at the
entities of the (service, type) pairs in which the viewer may see all of them, so that a filter cannot tell
a hidden value: to the public, a filter on a plate matches nothing.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from functools import cached_property

from .spec.model import NGSI_LD_CORE, VISIBILITY_ORDER

LOCATION = NGSI_LD_CORE + "location"
UNOWNED = "internal"   # the visibility of an entity of no service


@dataclass(frozen=True)
class Viewer:
    """Who is reading: the anonymous public; a key's holder — district staff (scope ``staff``: every
    department's internal data), a department (its own internal and restricted data), or both; an admin
    (scope ``admin``, the bootstrap key, or the insecure switch)."""
    name: str
    admin: bool = False
    staff: bool = False
    departments: frozenset[str] = frozenset()

    def may_see(self, visibility: str, department: str | None) -> bool:
        if self.admin or visibility == "public":
            return True
        own = department is not None and department in self.departments
        return own or (visibility == "internal" and self.staff)


ANONYMOUS = Viewer("anonymous")
ADMIN = Viewer("admin", admin=True)
KEY_SCOPES = ("staff", "admin")   # besides the department a key may name


def new_key() -> tuple[str, str, str]:
    """(id, key, SHA-256 of the key): the id is the key's public part, shown in lists."""
    key_id = secrets.token_hex(4)
    key = f"clk_{key_id}_{secrets.token_urlsafe(32)}"
    return key_id, key, key_hash(key)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_viewer(row) -> Viewer:
    """The reader an API key (:class:`citylink.store.base.ApiKeyRow`) stands for."""
    return Viewer(f"key {row.id} ({row.holder})", admin="admin" in row.scopes, staff="staff" in row.scopes,
                  departments=frozenset([row.department] if row.department else []))


class KeyRing:
    """Readers' keys → :class:`Viewer`, from the store, remembered for ``TTL_S``: a revoked key stops
    working within that time in every process (the bootstrap admin key is checked apart)."""
    TTL_S = 5.0

    def __init__(self, store):
        self._store = store
        self._seen: dict[str, tuple[Viewer | None, float]] = {}   # hash → (reader, when looked up)

    def viewer(self, key: str) -> Viewer | None:
        h = key_hash(key)
        now = time.monotonic()
        hit = self._seen.get(h)
        if hit is not None and now - hit[1] < self.TTL_S:
            return hit[0]
        row = self._store.api_key(h)
        v = key_viewer(row) if row else None
        if len(self._seen) > 10_000:   # a flood of wrong keys must not grow it without bound
            self._seen.clear()
        self._seen[h] = (v, now)
        return v


class RateLimit:
    """Requests per minute per reader (a token bucket each: a burst of a minute's worth, refilled
    steadily).  In memory, per process: N API processes allow N times the rate."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}   # reader → (tokens, when counted)

    def retry_after(self, who: str) -> float | None:
        """Take one request for ``who``: None if allowed, else the seconds until one is."""
        if self.per_minute <= 0:
            return None
        now = time.monotonic()
        rate = self.per_minute / 60.0
        tokens, then = self._buckets.get(who, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - then) * rate)
        if tokens < 1.0:
            self._buckets[who] = (tokens, now)
            return (1.0 - tokens) / rate
        self._buckets[who] = (tokens - 1.0, now)
        return None


@dataclass(frozen=True)
class _Kind:
    """One (service, entity type): its department, default visibility and declared attributes."""
    service: str
    type: str
    department: str
    default: str
    declared: dict[str, str]        # IRI and short name → visibility


def _effective(a) -> str:
    if a.personal and VISIBILITY_ORDER[a.visibility] < VISIBILITY_ORDER["restricted"]:
        return "restricted"
    return a.visibility


@dataclass
class View:
    """What one viewer may see, worked out once per viewer and spec set."""
    viewer: Viewer
    kinds: dict[tuple[str, str], _Kind]
    unrestricted: bool = field(init=False)

    def __post_init__(self):
        self.unrestricted = self.viewer.admin

    def _sees(self, kind: _Kind | None, key: str) -> bool:
        if kind is None:
            return self.viewer.may_see(UNOWNED, None)
        return self.viewer.may_see(kind.declared.get(key, kind.default), kind.department)

    @cached_property
    def visible_kinds(self) -> list[_Kind]:
        return [k for k in self.kinds.values()
                if self.viewer.may_see(k.default, k.department)
                or any(self.viewer.may_see(v, k.department) for v in k.declared.values())]

    def scope(self, geo: bool = False, names=(), types=None) -> list[tuple[str, str]] | None:
        """The (service, type) pairs whose entities the viewer may see — and, with ``geo``, their location,
        and the attributes ``names`` (those a query filters on); of ``types`` only, when given (a shorter
        condition for the database); None: every entity, of a service or not."""
        if self.unrestricted:
            return None
        return [(k.service, k.type) for k in self.visible_kinds
                if (types is None or k.type in types)
                and (not geo or self._sees(k, LOCATION)) and all(self._sees(k, n) for n in names)]

    @cached_property
    def _visible_pairs(self) -> frozenset[tuple[str, str]]:
        return frozenset((k.service, k.type) for k in self.visible_kinds)

    def entity_visible(self, e) -> bool:
        return self.unrestricted or (e.service, e.type) in self._visible_pairs

    def attribute_visible(self, e, iri: str) -> bool:
        return self.unrestricted or self._sees(self.kinds.get((e.service, e.type)), iri)

    @cached_property
    def _rules(self) -> dict[tuple[str, str], tuple[dict[str, bool], bool]]:
        """Per (service, type): {declared attribute: visible}, and whether an undeclared one is."""
        return {key: ({n: self.viewer.may_see(v, k.department) for n, v in k.declared.items()},
                      self.viewer.may_see(k.default, k.department)) for key, k in self.kinds.items()}

    def shown(self, e):
        """The entity with only the attributes the viewer may see, and its registry location only if
        ``location`` is visible.  Filtered in place: the store's rows are the reader's own (2.5 µs an
        entity with a copy, a twentieth of a q= page's time)."""
        if self.unrestricted:
            return e
        visible, default = self._rules.get((e.service, e.type)) or ({}, self.viewer.may_see(UNOWNED, None))
        attrs = e.attrs
        keep = [a for a in attrs if visible.get(a.iri, default)]
        if len(keep) != len(attrs):
            e.attrs = keep
        if not visible.get(LOCATION, default):
            e.lon = e.lat = None
        return e

    def usable_for_type(self, type_name: str, name: str) -> bool:
        """Is ``name`` visible in every (service, type) of this type that the viewer sees (discovery)."""
        return self.unrestricted or all(self._sees(k, name) for k in self.visible_kinds if k.type == type_name)


class Visibility:
    """The service specs' visibility rules, and a :class:`View` of them per viewer."""

    def __init__(self, specs):
        self.specs = specs
        kinds = {}
        for sid, svc in specs.services.items():
            for tname, et in svc.entity_types.items():
                declared = {}
                for a in et.attributes.values():
                    declared[a.iri] = declared[a.name] = _effective(a)
                kinds[(sid, tname)] = _Kind(sid, tname, svc.department, svc.visibility, declared)
        self.kinds = kinds
        self._views: dict[Viewer, View] = {}

    def view(self, viewer: Viewer) -> View:
        v = self._views.get(viewer)
        if v is None:
            v = self._views[viewer] = View(viewer, self.kinds)
        return v
