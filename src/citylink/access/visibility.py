"""Who may see what: the one visibility model that every read applies.

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

from dataclasses import dataclass, field

from ..alarms.entities import ALERT_TYPE
from ..spec.model import NGSI_LD_CORE, VISIBILITY_ORDER
from .readers import Viewer

LOCATION = NGSI_LD_CORE + "location"
UNOWNED = "internal"   # the visibility of an entity of no service


@dataclass(frozen=True)
class _Kind:
    """One (service, entity type): its department, default visibility and declared attributes."""
    service: str
    type: str
    department: str
    default: str
    declared: dict[str, str]        # IRI and short name → visibility


def operations_visibility(visibility: str) -> str:
    """A service's operational data — device health, alarms (and their ``Alert`` entities) — is ``internal``,
    or ``restricted`` when the service is: never public, whatever its data is."""
    return max("internal", visibility, key=VISIBILITY_ORDER.__getitem__)


def effective(visibility: str, personal: bool) -> str:
    """The visibility that applies: a personal attribute or column is never less than ``restricted``."""
    if personal and VISIBILITY_ORDER[visibility] < VISIBILITY_ORDER["restricted"]:
        return "restricted"
    return visibility


@dataclass
class View:
    """What one viewer may see, worked out once per viewer and spec set: for each (service, type), which
    declared attributes are visible and whether an undeclared one is."""
    viewer: Viewer
    kinds: dict[tuple[str, str], _Kind]
    unrestricted: bool = field(init=False)

    def __post_init__(self):
        self.unrestricted = self.viewer.admin
        may = self.viewer.may_see
        self._rules = {pair: ({n: may(v, k.department) for n, v in k.declared.items()}, may(k.default, k.department))
                       for pair, k in self.kinds.items()}
        self._unowned: tuple[dict[str, bool], bool] = ({}, may(UNOWNED, None))
        # the pairs of which the viewer sees anything: their entities are visible
        self._visible = [pair for pair, (declared, default) in self._rules.items() if default or any(declared.values())]
        self._visible_set = frozenset(self._visible)

    def _sees(self, pair: tuple[str, str], key: str) -> bool:
        declared, default = self._rules.get(pair, self._unowned)
        return declared.get(key, default)

    def scope(self, geo: bool = False, names=(), types=None) -> list[tuple[str, str]] | None:
        """The (service, type) pairs whose entities the viewer may see — and, with ``geo``, their location,
        and the attributes ``names`` (those a query filters on); of ``types`` only, when given (a shorter
        condition for the database); None: every entity, of a service or not."""
        if self.unrestricted:
            return None
        return [p for p in self._visible if (types is None or p[1] in types)
                and (not geo or self._sees(p, LOCATION)) and all(self._sees(p, n) for n in names)]

    def rules(self, pair: tuple[str, str]) -> tuple[dict[str, bool], bool]:
        """For a (service, type): whether each declared attribute (by IRI and by short name) is visible, and
        whether one it does not declare is (the downloads write these into their query)."""
        declared, default = self._rules.get(pair, self._unowned)
        return dict(declared), default

    def entity_visible(self, e) -> bool:
        return self.unrestricted or (e.service, e.type) in self._visible_set

    def sees(self, service: str, type_name: str) -> bool:
        """Does the viewer see anything of the entities of this (service, type)."""
        return self.unrestricted or (service, type_name) in self._visible_set

    def types_seen(self, service) -> list[str]:
        """The entity types of a service (its spec) the viewer sees anything of; none: the service is not its."""
        return [t for t in service.entity_types if self.sees(service.id, t)]

    def attribute_visible(self, e, iri: str) -> bool:
        return self.unrestricted or self._sees((e.service, e.type), iri)

    def shown(self, e):
        """The entity with only the attributes the viewer may see, and its registry location only if
        ``location`` is visible.  Filtered in place: the store's rows are the reader's own (2.5 µs an
        entity with a copy, a twentieth of a q= page's time)."""
        if self.unrestricted:
            return e
        declared, default = self._rules.get((e.service, e.type), self._unowned)
        attrs = e.attrs
        keep = [a for a in attrs if declared.get(a.iri, default)]
        if len(keep) != len(attrs):
            e.attrs = keep
        if not declared.get(LOCATION, default):
            e.lon = e.lat = None
        return e

    def visible_in(self, service: str, type_name: str, iri: str) -> bool:
        """May the viewer see this attribute in the entities of this (service, type) (discovery)."""
        return self.unrestricted or self._sees((service, type_name), iri)


class Visibility:
    """The service specs' visibility rules, and a :class:`View` of them per viewer."""

    def __init__(self, specs):
        self.specs = specs
        kinds = {}
        for sid, svc in specs.services.items():
            for tname, et in svc.entity_types.items():
                declared = {}
                for a in et.attributes.values():
                    declared[a.iri] = declared[a.name] = effective(a.visibility, a.personal)
                kinds[(sid, tname)] = _Kind(sid, tname, svc.department, svc.visibility, declared)
            # the service's alarms as NGSI-LD Alert entities (alarms/entities.py): internal, or restricted
            kinds[(sid, ALERT_TYPE)] = _Kind(sid, ALERT_TYPE, svc.department, operations_visibility(svc.visibility),
                                             {})
        self.kinds = kinds
        self._views: dict[Viewer, View] = {}

    def view(self, viewer: Viewer) -> View:
        v = self._views.get(viewer)
        if v is None:
            v = self._views[viewer] = View(viewer, self.kinds)
        return v
