"""Alarms as data: what an alarm is, the states it goes through and the events that move it.

An alarm is raised by a rule of a service spec (:mod:`citylink.rules`) or by device health (a device
offline, a source silent: :mod:`citylink.health`) for one entity (or source).  There is at most one open
alarm (``active`` or ``acknowledged``) per rule and entity: a repeat of the condition updates its count
and last-seen time.  Its life::

    active ──acknowledge(by, comment)──► acknowledged
      │  └──(not acknowledged within the rule's escalate.after)──► escalated: severity and recipients raised
      └─────────────── clear (the condition ended: auto; or by hand) ──────────────► cleared

Every step is an :class:`AlarmEvent`, kept in the alarm's history and handed to listeners (notifications,
the live stream, NGSI-LD ``Alert`` entities).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..clock import iso

# Smart Data Models' Alert severities (dataModel.Alert), lowest first
SEVERITIES = ("informational", "low", "medium", "high", "critical")
ACTIVE, ACKNOWLEDGED, CLEARED = "active", "acknowledged", "cleared"
STATES = (ACTIVE, ACKNOWLEDGED, CLEARED)
OPEN_STATES = (ACTIVE, ACKNOWLEDGED)

# event kinds
RAISED, REPEATED, ESCALATED = "raised", "repeated", "escalated"
ACKNOWLEDGED_EVENT, CLEARED_EVENT = "acknowledged", "cleared"
EVENT_KINDS = (RAISED, REPEATED, ACKNOWLEDGED_EVENT, ESCALATED, CLEARED_EVENT)
NOTIFIED_KINDS = (RAISED, ESCALATED, CLEARED_EVENT)   # what departments are sent (a repeat is not news)

HEALTH_OFFLINE = "health/device-offline"     # built-in rules of device health
HEALTH_SILENT = "health/source-silent"


@dataclass(frozen=True)
class Alarm:
    """One alarm as it stands.  ``id`` is an NGSI-LD URN (``urn:ngsi-ld:Alert:...``), also the id of its
    ``Alert`` entity.  ``department`` is the responsible department; ``recipients`` every department told
    (escalation may add one).  ``message_ko``/``message_en`` are the rule's templates filled in with the
    values that raised it; ``values`` holds those values (never a personal one).  Times in µs (UTC)."""
    id: str
    rule: str
    entity: str
    entity_type: str
    service: str
    department: str
    severity: str
    state: str
    raised_at: int
    last_seen_at: int
    count: int = 1
    message_ko: str = ""
    message_en: str = ""
    values: dict = field(default_factory=dict)
    recipients: tuple[str, ...] = ()
    category: str | None = None
    visibility: str = "internal"       # of its service: restricted alarms only reach their own department
    lon: float | None = None
    lat: float | None = None
    escalation_due: int | None = None  # when it escalates unless acknowledged first …
    escalate_severity: str | None = None     # … to this severity …
    escalate_department: str | None = None   # … telling this department too
    escalated_at: int | None = None
    acknowledged_by: str | None = None
    acknowledged_at: int | None = None
    ack_comment: str | None = None
    cleared_at: int | None = None
    cleared_by: str | None = None      # None: cleared automatically when the condition ended
    clear_comment: str | None = None

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES

    def but(self, **changes) -> "Alarm":
        return replace(self, **changes)

    def as_json(self) -> dict:
        """The alarm as the API, the live stream and the notifications show it (times in ISO 8601)."""
        return {
            "id": self.id, "rule": self.rule, "entity": self.entity, "entityType": self.entity_type,
            "service": self.service, "department": self.department, "recipients": list(self.recipients),
            "severity": self.severity, "category": self.category, "state": self.state,
            "message": {"ko": self.message_ko, "en": self.message_en}, "values": self.values,
            "count": self.count, "raisedAt": _iso(self.raised_at), "lastSeenAt": _iso(self.last_seen_at),
            "location": None if self.lon is None or self.lat is None
            else {"type": "Point", "coordinates": [self.lon, self.lat]},
            "escalationDue": _iso(self.escalation_due), "escalatedAt": _iso(self.escalated_at),
            "acknowledged": None if self.acknowledged_at is None else
            {"by": self.acknowledged_by, "at": _iso(self.acknowledged_at), "comment": self.ack_comment},
            "cleared": None if self.cleared_at is None else
            {"by": self.cleared_by, "at": _iso(self.cleared_at), "comment": self.clear_comment},
        }


@dataclass(frozen=True)
class AlarmEvent:
    """A step in an alarm's life: ``kind`` one of :data:`EVENT_KINDS`; ``alarm`` as it stands after it;
    ``by`` who did it (None: the platform), ``comment`` what they said.  ``seq`` orders the events of the
    platform (the store's history id)."""
    seq: int
    kind: str
    alarm: Alarm
    at: int
    by: str | None = None
    comment: str | None = None

    def as_json(self) -> dict:
        return {"seq": self.seq, "kind": self.kind, "at": _iso(self.at), "by": self.by, "comment": self.comment,
                "alarm": self.alarm.as_json()}


def _iso(us: int | None) -> str | None:
    return None if us is None else iso(us)
