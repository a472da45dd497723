"""Device health (issue 6): is each device online, stale or offline, and is each vendor feed still
sending — from the reporting interval and offline grace of its service spec (:mod:`.rule`), kept by a
monitor that follows the commits and the clock (:mod:`.monitor`) and tells listeners (the alarm
service) of every change."""
from .monitor import DEVICE, SOURCE, DeviceHealth, HealthMonitor, SourceHealth, Transition
from .rule import (ACTIVE, DEVICE_STATES, NEVER_RECEIVED, NEVER_REPORTED, OFFLINE, ONLINE, SILENT, SOURCE_STATES,
                   STALE, Timing)

__all__ = ["ACTIVE", "DEVICE", "DEVICE_STATES", "DeviceHealth", "HealthMonitor", "NEVER_RECEIVED", "NEVER_REPORTED",
           "OFFLINE", "ONLINE", "SILENT", "SOURCE", "SOURCE_STATES", "STALE", "SourceHealth", "Timing", "Transition"]
