"""Alarms (issue 6): raised by the service specs' rules (:mod:`citylink.rules`) and by device health, with a
lifecycle kept in the store (:mod:`.service`), told to departments (:mod:`.notify`), streamed live
(:mod:`.stream`) and published as NGSI-LD ``Alert`` entities (:mod:`.entities`)."""
from .model import (ACKNOWLEDGED, ACTIVE, CLEARED, EVENT_KINDS, HEALTH_OFFLINE, HEALTH_SILENT, OPEN_STATES, SEVERITIES,
                    STATES, Alarm, AlarmEvent)
from .service import AlarmError, AlarmService, Raise

__all__ = ["ACKNOWLEDGED", "ACTIVE", "CLEARED", "EVENT_KINDS", "HEALTH_OFFLINE", "HEALTH_SILENT", "OPEN_STATES",
           "SEVERITIES", "STATES", "Alarm", "AlarmError", "AlarmEvent", "AlarmService", "Raise"]
