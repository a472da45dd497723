"""Alarms as NGSI-LD ``Alert`` entities (Smart Data Models ``dataModel.Alert``), so that NGSI-LD queries
and subscriptions can follow them like any other entity.

Each step of an alarm (raised, acknowledged, escalated, cleared; not a mere repeat) is written as an
NGSI-LD API write of the platform's own (:mod:`citylink.normalize.api_writes`): archived, normalized,
committed and seen by every commit listener — subscriptions included — exactly like a client's write.
The ``Alert`` belongs to the alarm's service and department, so that it is seen by whoever may see that
service's internal (or, for a restricted service, restricted) data (:class:`citylink.access.Visibility`).
"""
from __future__ import annotations

import logging

from ..clock import iso
from ..normalize import api_writes
from ..normalize.compiler import LOCATION_IRI
from ..spec.model import API_SOURCE, CITYLINK_NS
from .model import REPEATED, AlarmEvent

log = logging.getLogger(__name__)

ALERT_TYPE = "Alert"
SDM_ALERT = "https://smartdatamodels.org/dataModel.Alert/"
ALERT_ATTRIBUTES = {   # name → (IRI, kind)
    "category": (SDM_ALERT + "category", "Property"),
    "subCategory": (SDM_ALERT + "subCategory", "Property"),
    "severity": (SDM_ALERT + "severity", "Property"),
    "alertSource": (SDM_ALERT + "alertSource", "Relationship"),
    "dateIssued": (SDM_ALERT + "dateIssued", "Property"),
    "validFrom": (SDM_ALERT + "validFrom", "Property"),
    "validTo": (SDM_ALERT + "validTo", "Property"),
    "description": (SDM_ALERT + "description", "LanguageProperty"),
    "alarmState": (CITYLINK_NS + "alarmState", "Property"),
    "department": (CITYLINK_NS + "department", "Property"),
    "occurrences": (CITYLINK_NS + "occurrences", "Property"),
    "acknowledgedBy": (CITYLINK_NS + "acknowledgedBy", "Property"),
}


def alert_write(event: AlarmEvent) -> bytes:
    """The API write that brings the ``Alert`` entity of this event's alarm up to date."""
    a = event.alarm
    values = {
        "category": a.category or "health", "subCategory": a.rule, "severity": a.severity,
        "alertSource": a.entity, "dateIssued": iso(a.raised_at), "validFrom": iso(a.raised_at),
        "validTo": iso(a.cleared_at) if a.cleared_at is not None else None,
        "description": {"ko": a.message_ko, "en": a.message_en}, "alarmState": a.state,
        "department": a.department, "occurrences": a.count, "acknowledgedBy": a.acknowledged_by,
    }
    attrs = [{"iri": iri, "name": name, "kind": kind, "value": values[name], "datasetId": None,
              "observedAt": event.at} for name, (iri, kind) in ALERT_ATTRIBUTES.items() if values[name] is not None]
    if a.lon is not None and a.lat is not None:
        attrs.append({"iri": LOCATION_IRI, "name": "location", "kind": "GeoProperty",
                      "value": {"type": "Point", "coordinates": [a.lon, a.lat]}, "datasetId": None,
                      "observedAt": event.at})
    entity = {"id": a.id, "type": ALERT_TYPE, "service": a.service, "department": a.department}
    return api_writes.encode(entity, attrs, method="ALARM", path=f"/api/alarms/{a.id}")


class AlertEntities:
    """The alarm listener that writes ``Alert`` entities (a raw message of the API's source per step)."""

    def __init__(self, platform):
        self.platform = platform

    def on_events(self, events: list[AlarmEvent]) -> None:
        """One raw message per step but a repeat (the count is brought up to date by the next step), all
        archived and published together."""
        bodies = [(alert_write(e), {}) for e in events if e.kind != REPEATED]
        if bodies:
            p = self.platform
            p.submit(p.make_messages(API_SOURCE, bodies, api_writes.TRANSPORT))
