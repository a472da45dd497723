"""What flows through the normalizer: raw messages in, a normalized batch out."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# message outcomes (the ledger): every received message ends as exactly one
PENDING, STORED, FLAGGED, DUPLICATE, QUARANTINED = 0, 1, 2, 3, 4
OUTCOME_NAMES = {PENDING: "pending", STORED: "stored", FLAGGED: "stored_flagged",
                 DUPLICATE: "duplicate", QUARANTINED: "quarantined"}
OUTCOME_CODES = {v: k for k, v in OUTCOME_NAMES.items()}

# quality flags (bit mask on each stored value)
FLAG_OUT_OF_RANGE = 1
FLAG_CLOCK_SKEW = 2
FLAG_LATE = 4
FLAG_NONEXISTENT_TIME = 8
FLAG_AMBIGUOUS_TIME = 16
FLAG_UNKNOWN_CODE = 32
FLAG_NAMES = {FLAG_OUT_OF_RANGE: "out_of_range", FLAG_CLOCK_SKEW: "clock_skew", FLAG_LATE: "late",
              FLAG_NONEXISTENT_TIME: "nonexistent_local_time", FLAG_AMBIGUOUS_TIME: "ambiguous_local_time",
              FLAG_UNKNOWN_CODE: "unknown_code"}


def flag_names(mask: int) -> list[str]:
    return list(_flag_names(mask))   # a fresh list: callers may change theirs


@lru_cache(maxsize=256)
def _flag_names(mask: int) -> tuple[str, ...]:
    return tuple(name for bit, name in FLAG_NAMES.items() if mask & bit)


@dataclass(slots=True)
class RawMessage:
    """Exactly what arrived: the bytes, from which source, how, and when."""

    id: int
    source: str
    received_at: int          # µs since epoch, UTC, from the platform clock
    body: bytes
    transport: str = "http_push"
    meta: dict[str, Any] = field(default_factory=dict)
    replay: bool = False      # re-run of an archived message (replaces what it produced)


@dataclass(slots=True)
class Problem:
    """Why a message was quarantined: a stable slug plus where and what."""

    type: str
    field: str | None
    detail: str
    value: Any = None
    rule: str | None = None

    def as_dict(self) -> dict:
        return {"type": self.type, "field": self.field, "rule": self.rule,
                "value": _jsonable(self.value), "detail": self.detail}


def _jsonable(v):
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return repr(v)[:200]


@dataclass
class EntityInfo:
    id: str
    type: str
    service: str
    department: str
    source: str
    lon: float | None
    lat: float | None


@dataclass
class NormalizedBatch:
    """Everything one batch of raw messages produced, ready for one store transaction.

    ``observations`` rows: (raw_id, entity_id, attr_iri, dataset_id, value_num,
    value_json, unit, observed_at_us, flags, spec_version_id).
    ``outcomes`` rows: (raw_id, source, outcome, (dedupe_ts, dedupe_key) or None, spec_version_id).
    ``quarantine`` rows: (raw_id, source, problems[list of dict]).
    ``deletions`` rows: (raw_id, entity_id, attr_iri or None, dataset_id or None), applied before the
    observations: attr None deletes the entity (its current state; the history stays), dataset None
    every datasetId of the attribute.  Only NGSI-LD API writes delete.
    ``attributes``: attribute IRIs first met in this batch → (name, kind, value type, unit), registered
    in the same transaction (API writes may bring attributes no spec declares).
    """

    observations: list[tuple] = field(default_factory=list)
    entities: dict[str, EntityInfo] = field(default_factory=dict)
    outcomes: list[tuple] = field(default_factory=list)
    quarantine: list[tuple] = field(default_factory=list)
    replayed: list[int] = field(default_factory=list)
    deletions: list[tuple] = field(default_factory=list)
    attributes: dict[str, tuple] = field(default_factory=dict)

    def ledger(self) -> dict[tuple[str, str], int]:
        counts = Counter((o[1], o[2]) for o in self.outcomes)
        return {(source, OUTCOME_NAMES[outcome]): n for (source, outcome), n in counts.items()}
