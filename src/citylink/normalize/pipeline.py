"""The normalizer: a batch of raw messages in, one :class:`NormalizedBatch` out.

Every message ends as exactly one outcome (stored, stored with flags, duplicate,
quarantined); a quarantined message carries machine-readable problems.  The
normalizer never raises on bad data, and it never talks to a transport: it is
handed batches by the bus and hands its result to the store.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable

import orjson
import xxhash

from ..clock import Clock
from ..payload import PayloadProblem
from ..spec.model import SpecSet
from ..spec.timeparse import TimeProblem
from . import api_writes
from .compiler import LOCATION_IRI, TIME_FLAGS, Bad, CompiledSource, compile_source
from .records import (DUPLICATE, FLAG_CLOCK_SKEW, FLAG_LATE, FLAGGED, QUARANTINED, STORED, EntityInfo,
                      NormalizedBatch, Problem, RawMessage)


@dataclass
class Limits:
    max_clock_skew_us: int = 300_000_000
    max_future_us: int = 86_400_000_000
    late_after_us: int = 3_600_000_000


def dedupe_key(source: str, parts: bytes, ts: int = 0) -> tuple[int, int]:
    """(observedAt of the first record or 0, signed 64-bit hash of the key fields or bytes).

    The time part keeps the store's duplicate index growing at its end, like the data;
    both parts must match for a duplicate.  The hash is XXH3 seeded per source: not for
    security (nobody gains by making two messages collide but their sender), for speed."""
    h = _xxh3(parts, seed=_seed(source))
    return ts, h - _2_64 if h >= _2_63 else h


_xxh3 = xxhash.xxh3_64_intdigest
_2_63, _2_64 = 1 << 63, 1 << 64


@lru_cache(maxsize=None)
def _seed(source: str) -> int:
    return xxhash.xxh3_64_intdigest(source.encode())


class Normalizer:
    def __init__(self, specs: SpecSet, *, deployment: str, pseudonym_key: bytes, clock: Clock,
                 limits: Limits | None = None, registries: dict[str, list] | None = None):
        self.clock = clock
        self.limits = limits or Limits()
        self.deployment = deployment
        self.pseudonym_key = pseudonym_key
        self.specs = specs
        self.compiled: dict[str, CompiledSource] = {}
        for sid, src in specs.sources.items():
            cs = compile_source(src, specs.services[src.service], deployment=deployment,
                                spec_version=specs.version_ids.get(("source", sid), 0), pseudonym_key=pseudonym_key)
            cs.set_devices((registries or {}).get(sid, []))
            self.compiled[sid] = cs
        self._announced: set[str] = set()

    def attr_catalog(self) -> dict[str, tuple[str, str, str, str | None]]:
        """Every attribute IRI the specs can produce → (short name, NGSI-LD kind, value type, unit)."""
        out = {LOCATION_IRI: ("location", "GeoProperty", "GeoProperty", None)}
        for cs in self.compiled.values():
            for a in cs.attr_catalog.values():
                out[a.iri] = (a.name, a.kind, a.type, a.unit)
        return out

    def confirm(self, batch: NormalizedBatch) -> None:
        """The store has applied ``batch``: its entities need not be announced again.  (Until the
        store confirms, a rolled-back batch must not leave entities the store never saw.)"""
        self._announced.update(batch.entities)
        for _, entity_id, attr, _ in batch.deletions:
            if attr is None:
                self._announced.discard(entity_id)  # deleted: whoever reports on it next creates it anew

    def set_devices(self, source: str, devices: list) -> None:
        if source in self.compiled:
            self.compiled[source].set_devices(devices)
            self._announced.clear()  # registry positions may have changed: announce entities again

    # -- the hot path ----------------------------------------------------------------
    def run(self, messages: Iterable[RawMessage],
            find_dedupe: Callable[[list[tuple[int, int]]], dict[tuple[int, int], int]] | None = None) -> NormalizedBatch:
        out = NormalizedBatch()
        now = self.clock.now_us()
        lim = self.limits
        pending = []  # (msg, key, observations, problems, flags, spec version, entities to announce)
        announced = self._announced
        for msg in messages:
            cs = self.compiled.get(msg.source)
            if cs is None:
                if msg.source == api_writes.API_SOURCE:
                    pending.append(self._api_write(msg))
                    continue
                p = Problem("unknown_source", None, f"no source spec {msg.source!r} is in force", msg.source, "source")
                pending.append((msg, dedupe_key(msg.source, msg.body), [], [p], 0, 0, None))
                continue
            got = cs.fast(msg, now, lim.max_clock_skew_us, lim.late_after_us) if cs.fast is not None else None
            if got is not None:  # a clean message of a flat feed: the shortcut decided it
                obs, flags, ts, eid, dev = got
                ents = None
                if eid not in announced:
                    ents = {eid: cs.entity_info(eid, dev.lon if dev else None, dev.lat if dev else None)}
                pending.append((msg, dedupe_key(cs.id, msg.body, ts), obs, (), flags, cs.spec_version, ents))
                continue
            obs, problems, flags, key, ents = self._one(cs, msg, now, lim)
            pending.append((msg, key, obs, problems, flags, cs.spec_version, ents))

        seen = find_dedupe([p[1] for p in pending]) if find_dedupe else {}
        batch_keys: dict[tuple[int, int], int] = {}
        outcome, keep = out.outcomes.append, out.observations.extend
        for msg, key, obs, problems, flags, ver, ents in pending:
            rid = msg.id
            original = seen.get(key)
            if original is None or original == rid:
                original = batch_keys.get(key)
            if msg.replay:
                out.replayed.append(rid)
            if original is not None and original != rid:
                outcome((rid, msg.source, DUPLICATE, None, ver))
                continue
            batch_keys[key] = rid
            if problems:
                outcome((rid, msg.source, QUARANTINED, key, ver))
                out.quarantine.append((rid, msg.source, [p.as_dict() for p in problems]))
                continue
            keep(obs)
            if ents:
                if type(ents) is api_writes.Converted:
                    out.entities.update(ents.entities)
                    out.deletions += ents.deletions
                    out.attributes.update(ents.attributes)
                else:
                    out.entities.update(ents)
            outcome((rid, msg.source, FLAGGED if flags else STORED, key, ver))
        return out

    @staticmethod
    def _api_write(msg: RawMessage) -> tuple:
        """A pending row for an NGSI-LD API write (its "entities" slot carries the whole conversion).
        Every write is new: its duplicate key is its raw id, so only a replay of it matches."""
        got, problems = api_writes.convert(msg)
        key = dedupe_key(msg.source, str(msg.id).encode())
        return msg, key, got.observations if got else [], problems, 0, 0, got

    def _one(self, cs: CompiledSource, msg: RawMessage, now: int, lim: Limits):
        """Normalize one message: (observations, problems, flags, dedupe key, entities it announces)."""
        problems: list[Problem] = []
        obs: list[tuple] = []
        ents: dict[str, EntityInfo] = {}
        try:
            records = cs.format.decode(msg.body, cs.payload_cfg)
        except PayloadProblem as e:
            p = Problem(e.type, None, str(e), None, f"payload.format={cs.payload_cfg['format']}")
            return obs, [p], 0, dedupe_key(cs.id, msg.body), None
        if not records:
            return obs, [Problem("no_records", None, "the message holds no records")], 0, \
                dedupe_key(cs.id, msg.body), None
        mflags = 0
        raw_id = msg.id
        ver = cs.spec_version
        backfill = msg.meta.get("backfill", False)
        env_needed = bool(cs.lets or cs.exprs)
        dkeys = [] if cs.dedupe else None
        first_ts = 0
        many = len(records) > 1
        fields, announced = cs.fields, self._announced
        for i, rec in enumerate(records):
            where = f"records[{i}]." if many else ""
            if type(rec) is not dict:
                problems.append(Problem("wrong_type", where or None, "a record must be an object", rec))
                continue
            local = cs.entity_id(rec)
            if local is None:
                problems.append(Problem("missing_entity_id", where + cs.spec.id_template,
                                        f"no usable value (text or number) for the entity id template {cs.spec.id_template!r}",
                                        None, "entity.id"))
                continue
            eid, dev = cs.resolve(local)
            tsv = cs.ts_get(rec)
            if tsv is None or tsv == "":
                problems.append(Problem("missing_timestamp", where + cs.spec.timestamp["field"],
                                        f"no timestamp in field {cs.spec.timestamp['field']!r}", None, "timestamp.field"))
                continue
            try:
                ts, tflag = cs.ts_read(tsv)
            except TimeProblem as e:
                problems.append(Problem("bad_timestamp", where + cs.spec.timestamp["field"], str(e), tsv, "timestamp.format"))
                continue
            rflags = TIME_FLAGS[tflag]
            ahead = ts - now
            if ahead > lim.max_future_us:
                problems.append(Problem("timestamp_in_future", where + cs.spec.timestamp["field"],
                                        f"{tsv!r} is {ahead / 3.6e9:.1f} h ahead of the platform clock", tsv,
                                        "max_future_seconds"))
                continue
            if not first_ts:
                first_ts = ts
            if ahead > lim.max_clock_skew_us:
                rflags |= FLAG_CLOCK_SKEW
            elif not backfill and msg.received_at - ts > lim.late_after_us:
                rflags |= FLAG_LATE
            if dkeys is not None:
                dkeys.append(repr([g(rec) for g in cs.dedupe]))
            env = None
            if env_needed:
                env = {"device": dict(dev.attrs, name=dev.name, lon=dev.lon, lat=dev.lat) if dev else {}, "raw": rec}
                for name, op in cs.lets:
                    try:
                        env[name] = op(rec, env)
                    except Bad as b:
                        problems.append(b.problem)
                    except Exception as e:  # noqa: BLE001 - an expression error is the vendor's data, not a crash
                        problems.append(Problem("expression_error", f"let.{name}", f"{type(e).__name__}: {e}", None, "let"))
            bad_before = len(problems)
            for op in fields:
                try:
                    r = op.run(rec)
                except Bad as b:
                    problems.append(_at(b.problem, where))
                    continue
                if r is None:
                    if op.required:
                        problems.append(Problem("missing_required", where + op.name,
                                                f"required attribute {op.name!r} is missing (fields.{op.name}.from)",
                                                None, "required"))
                    continue
                obs.append((raw_id, eid, op.iri, "", r[0], r[1], op.unit, ts, r[2] | rflags, ver))
                mflags |= r[2]
                if env is not None:
                    env[op.name] = r[0] if r[1] is None else orjson.loads(r[1])
            for op in cs.exprs:
                try:
                    v = op.expr.evaluate(env)
                    if v is None:
                        if op.required:
                            problems.append(Problem("missing_required", where + op.name,
                                                    f"required attribute {op.name!r} computed no value", None, "required"))
                        continue
                    r = op.run(v)
                except Bad as b:
                    problems.append(_at(b.problem, where))
                    continue
                except Exception as e:  # noqa: BLE001 - an expression failing on a vendor's data is the data's problem
                    problems.append(Problem("expression_error", where + op.name, f"{op.name}: {type(e).__name__}: {e}",
                                            None, op.expr.text))
                    continue
                obs.append((raw_id, eid, op.iri, "", r[0], r[1], op.unit, ts, r[2] | rflags, ver))
                mflags |= r[2]
                env[op.name] = r[0] if r[1] is None else orjson.loads(r[1])
            if cs.long is not None:
                try:
                    attr, r = cs.long(rec)
                except Bad as b:
                    problems.append(_at(b.problem, where))
                else:
                    if r is not None:
                        obs.append((raw_id, eid, attr.iri, "", r[0], r[1], attr.unit, ts, r[2] | rflags, ver))
                        mflags |= r[2]
            if len(problems) > bad_before:
                continue
            mflags |= rflags
            lon = lat = None
            if cs.position is not None:
                xg, yg, tf, crs = cs.position
                x, y = xg(rec), yg(rec)
                if x is not None and y is not None and x != "" and y != "":
                    try:
                        lon, lat = tf(float(x), float(y))
                        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                            raise ValueError
                    except (TypeError, ValueError):
                        problems.append(Problem("bad_position", where + cs.spec.position["x"],
                                                f"({x!r}, {y!r}) is not a position in {crs}", [x, y], "position.crs"))
                        continue
                    geo = orjson.dumps({"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]}).decode()
                    obs.append((raw_id, eid, LOCATION_IRI, "", None, geo, None, ts, rflags, ver))
            if lon is not None or eid not in announced:
                if lon is None and dev is not None:
                    lon, lat = dev.lon, dev.lat
                ents[eid] = cs.entity_info(eid, lon, lat)
        if dkeys is not None and not problems:
            key = dedupe_key(cs.id, "\x1f".join(dkeys).encode(), first_ts)
        else:
            key = dedupe_key(cs.id, msg.body, first_ts)
        if not problems and not obs:
            problems.append(Problem("no_values", None, "the message carries no reading: every mapped field is "
                                    "missing or empty", None, "fields"))
        if problems:
            return [], problems, 0, key, None
        return obs, problems, mflags, key, ents


def _at(p: Problem, where: str) -> Problem:
    if where and p.field:
        p.field = where + p.field
    return p
