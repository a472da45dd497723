"""What a feed *would* become, offline: the logic behind ``citylink check-feed`` and the
guideline page's "paste a sample" form.  Nothing is stored."""
from __future__ import annotations

from pathlib import Path

import orjson

from .. import payload
from ..clock import Clock, SystemClock, iso
from ..errors import UnknownSource
from ..spec.devices import Device, load_registry
from ..spec.model import SpecSet
from .pipeline import Normalizer
from .records import OUTCOME_NAMES, RawMessage, flag_names


PSEUDONYM_KEY = b"check-feed"   # a check's pseudonyms: not the platform's (a sample is nobody's data)


def check_feed(specs: SpecSet, source: str, data: bytes, *, devices: list[Device] | None = None,
               clock: Clock | None = None, deployment: str = "dobong") -> list[dict]:
    """One report per message the sample holds: outcome, values it would store, or problems."""
    if source not in specs.sources:
        raise UnknownSource(source, list(specs.sources))
    src = specs.sources[source]
    if devices is None and src.devices:
        path = Path(src.origin.file).parent / src.devices
        devices = load_registry(path) if path.exists() else []
    clock = clock or SystemClock()
    norm = Normalizer(SpecSet(specs.services, {source: src}), deployment=deployment,
                      pseudonym_key=PSEUDONYM_KEY, clock=clock, registries={source: devices or []})
    parts = list(payload.get(src.payload["format"]).split(data, src.payload))
    now = clock.now_us()
    backfill = src.transport["type"] == "file"  # as `citylink import` marks them: old times are expected
    msgs = [RawMessage(i + 1, source, now, body, "check-feed", dict(meta, backfill=True) if backfill else meta)
            for i, (body, meta) in enumerate(parts)]
    result = norm.run(msgs)
    names = {iri: v[0] for iri, v in norm.attr_catalog().items()}
    reports = {m.id: {"message": m.id, "meta": m.meta, "outcome": None, "values": [], "problems": []} for m in msgs}
    for rid, _, outcome, *_ in result.outcomes:
        reports[rid]["outcome"] = OUTCOME_NAMES[outcome]
    for rid, _, problems in result.quarantine:
        reports[rid]["problems"] = problems
    for raw_id, eid, iri, ds, num, js, unit, ts, flags, _ in result.observations:
        reports[raw_id]["values"].append({
            "entity": eid, "attribute": names.get(iri, iri), "value": orjson.loads(js) if js is not None else num,
            "unitCode": unit, "observedAt": iso(ts), "flags": flag_names(flags)})
    return list(reports.values())
