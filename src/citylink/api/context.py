"""CityLink's JSON-LD @context, generated from the specs in force.

Every entity type and attribute of every service is a term mapped to its IRI
(a Smart Data Models IRI where the spec names one, else CityLink's namespace
``https://w3id.org/citylink/ns/``).  The platform serves it itself; nothing is
fetched from the internet.
"""
from __future__ import annotations

from ..alarms.entities import ALERT_ATTRIBUTES, ALERT_TYPE, SDM_ALERT
from ..spec.model import CITYLINK_NS, NGSI_LD_CORE_CONTEXT_URL, SpecSet

CONTEXT_PATH = "/ngsi-ld/v1/jsonldContexts/citylink"
LINK_REL = 'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


def terms(specs: SpecSet) -> dict:
    """Term → IRI.  A term with one meaning everywhere is mapped at the top; one whose IRI depends on
    the entity type (``status`` of a WasteContainer and of a ParkingSpot, from two Smart Data Models)
    is mapped inside each type's scoped context, as JSON-LD 1.1 allows."""
    by_term: dict[str, dict[str, str]] = {}   # term → {type: iri}
    types: dict[str, str] = {}
    for svc in specs.services.values():
        for et in svc.entity_types.values():
            types[et.name] = et.iri
            for a in et.attributes.values():
                if not a.iri.startswith("https://uri.etsi.org/ngsi-ld/"):
                    by_term.setdefault(a.name, {})[et.name] = a.iri
    out: dict = {"qualityFlags": CITYLINK_NS + "qualityFlags"}
    scoped: dict[str, dict[str, str]] = {}
    for term, iris in sorted(by_term.items()):
        if len(set(iris.values())) == 1:
            out[term] = next(iter(iris.values()))
        else:
            for tname, iri in iris.items():
                scoped.setdefault(tname, {})[term] = iri
    for tname, iri in sorted(types.items()):
        out[tname] = {"@id": iri, "@context": scoped[tname]} if tname in scoped else iri
    # the platform's own alarms (alarms/entities.py), their terms scoped to the type
    out[ALERT_TYPE] = {"@id": SDM_ALERT + ALERT_TYPE, "@context": {n: iri for n, (iri, _) in ALERT_ATTRIBUTES.items()}}
    return out


def document(specs: SpecSet) -> dict:
    return {"@context": [terms(specs), NGSI_LD_CORE_CONTEXT_URL]}


def link_header(base_url: str) -> str:
    return f"<{base_url.rstrip('/')}{CONTEXT_PATH}>; {LINK_REL}"


def type_names(specs: SpecSet) -> dict[str, str]:
    """Expanded or short type name → short name."""
    out = {ALERT_TYPE: ALERT_TYPE, SDM_ALERT + ALERT_TYPE: ALERT_TYPE}
    for svc in specs.services.values():
        for et in svc.entity_types.values():
            out[et.name] = et.name
            out[et.iri] = et.name
    return out
