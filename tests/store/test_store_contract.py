"""The store contract: what every engine must do, checked on each (see conftest.py).

Batches are built by hand (no normalizer): the tuple layouts are those of
:class:`citylink.normalize.records.NormalizedBatch`.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import datetime, timezone

import pytest

from citylink.clock import from_us, to_us
from citylink.errors import StoreError
from citylink.normalize.records import (DUPLICATE, FLAGGED, OUTCOME_NAMES, PENDING, QUARANTINED, STORED,
                                        EntityInfo, NormalizedBatch, RawMessage)
from citylink.spec.devices import Device
from citylink.store.base import migrations
from citylink.store.postgres import _asyncpg_dsn

UTC = timezone.utc
T0 = to_us(datetime(2024, 3, 10, 12, 0, tzinfo=UTC))
MIN = 60_000_000
NOW = T0 + 60 * MIN
SRC, SRC2 = "bins-acme", "bins-other"
NS = "https://citylink.example/ns#"
FILL, TEMP, STATUS, LOC = NS + "fillLevel", NS + "temperature", NS + "status", "https://uri.etsi.org/ngsi-ld/location"
CATALOG = {FILL: ("fillLevel", "Property", "Number", "P1"), TEMP: ("temperature", "Property", "Number", "CEL"),
           STATUS: ("status", "Property", "Text", None), LOC: ("location", "GeoProperty", "GeoProperty", None)}
BIN1, BIN2, BIN3 = (f"urn:ngsi-ld:WasteContainer:test:{n}" for n in ("b1", "b2", "b3"))
pg_only = pytest.mark.parametrize("engine", ["postgres"])  # overrides the two-engine fixture
PROBLEM = {"type": "out_of_range", "field": "fill_pct", "rule": "range", "value": 140, "detail": "140 > 100 (max)"}


def msg(i: int, source: str = SRC, replay: bool = False) -> RawMessage:
    return RawMessage(i, source, T0 + i, b'{"n": %d, "raw": "\xff\x00"}' % i, "http_push", {"ip": "10.0.0.7"}, replay)


def ent(eid: str, lon: float | None = None, lat: float | None = None, type_: str = "WasteContainer",
        source: str = SRC) -> EntityInfo:
    return EntityInfo(eid, type_, "waste", "sanitation", source, lon, lat)


def obs(raw_id: int, eid: str, iri: str, value, at: int, flags: int = 0, ds: str = "") -> tuple:
    num, js = (float(value), None) if isinstance(value, (int, float)) else (None, json.dumps(value))
    return (raw_id, eid, iri, ds, num, js, CATALOG[iri][3], at, flags, 7)


def outcome(raw_id: int, code: int = STORED, source: str = SRC, key: int | None = None) -> tuple:
    return (raw_id, source, code, None if code == DUPLICATE else (T0, key if key is not None else raw_id * 31), 7)


def archived(store, *messages: RawMessage) -> list[RawMessage]:
    store.archive(list(messages))
    return list(messages)


def batch(observations=(), entities=(), outcomes=(), quarantine=(), replayed=()) -> NormalizedBatch:
    return NormalizedBatch(list(observations), {e.id: e for e in entities}, list(outcomes), list(quarantine),
                           list(replayed))


def check_ledger(store, source: str = SRC, received: int | None = None) -> dict[str, int]:
    """The ledger agrees with the archive: each counter is the number of messages in that state,
    and received is their sum."""
    d = store.ledger()[source]
    for code, name in OUTCOME_NAMES.items():
        assert d[name] == len(store.raw_messages(source=source, status=code)), name
    assert d["received"] == sum(d[name] for name in OUTCOME_NAMES.values())
    if received is not None:
        assert d["received"] == received
    return d


def values(row) -> dict[str, tuple]:
    return {(a.name, a.dataset_id): (a.value_num if a.value_num is not None else a.value_json, a.observed_at, a.raw_id)
            for a in row.attrs}


def series(store, eid: str, **kw) -> list[tuple]:
    return [(a.name, a.value_num, a.observed_at, a.raw_id) for a in store.temporal(eid, **kw).attrs]


@pytest.fixture
def ready(store):
    """A migrated store that knows the attribute catalog."""
    store.register_attributes(CATALOG)
    return store


# -- life cycle -------------------------------------------------------------------------------
def test_migrate_is_idempotent(open_unmigrated, engine):
    head = max(v for v, _, _ in migrations(engine))
    s = open_unmigrated()
    assert s.schema_version() == 0
    assert s.migrate() == list(range(1, head + 1))
    assert s.migrate() == []
    assert s.schema_version() == head
    again = open_unmigrated()
    assert again.migrate() == [] and again.schema_version() == head
    again.ping()


def _write_as_version_1(store, *messages: RawMessage) -> None:
    """Archive as the schema-1 code did (today's archive also keeps columns of later migrations)."""
    pg = store.url.startswith("postgres")
    p = "%s" if pg else "?"
    with store._tx() as c:
        for m in messages:
            c.execute(f"INSERT INTO sources(name) VALUES ({p}) ON CONFLICT (name) DO NOTHING", (m.source,))
            sid = c.execute(f"SELECT sid FROM sources WHERE name={p}", (m.source,)).fetchone()[0]
            meta = json.dumps(m.meta)
            c.execute(f"INSERT INTO raw_messages(id, sid, received_at, transport, meta, body) "
                      f"VALUES ({p},{p},{p},{p},{p},{p})",
                      (m.id, sid, from_us(m.received_at) if pg else m.received_at, m.transport, meta, m.body))
            c.execute(f"INSERT INTO ledger VALUES ({p}, 'pending', 1) ON CONFLICT (sid, outcome) "
                      "DO UPDATE SET n = ledger.n + 1", (sid,))


def test_upgrade_keeps_data(open_unmigrated, engine):
    s = open_unmigrated()
    assert s.migrate(target=1) == [1]
    assert s.schema_version() == 1
    _write_as_version_1(s, msg(1), msg(2), msg(3, SRC2))  # what a CityLink of schema 1 wrote
    s.count_refused(SRC, "bad_token", NOW)
    assert s.migrate() == [v for v, _, _ in migrations(engine) if v > 1]
    for store in (s, open_unmigrated()):
        assert [m.id for m in store.raw_messages()] == [1, 2, 3]
        assert store.ledger()[SRC]["pending"] == 2 and store.ledger()[SRC]["refused_bad_token"] == 1
    s.register_attributes(CATALOG)
    s.apply(batch([obs(1, BIN1, FILL, 40, T0)], [ent(BIN1)], [outcome(1), outcome(2, DUPLICATE)]), NOW)
    assert check_ledger(s, received=2)["stored"] == 1
    assert values(s.entity(BIN1)) == {("fillLevel", ""): (40.0, T0, 1)}


# -- the archive ------------------------------------------------------------------------------
def test_raw_messages_round_trip(store):
    sent = archived(store, msg(5), msg(6), msg(7, SRC2), RawMessage(8, SRC, T0 + 123_456, b"", "mqtt", {}))
    got = store.raw_messages()
    assert [(m.id, m.source, m.received_at, m.body, m.transport, m.meta) for m in got] == \
        [(m.id, m.source, m.received_at, m.body, m.transport, m.meta) for m in sent]
    assert [m.id for m in store.raw_messages(source=SRC)] == [5, 6, 8]
    assert [m.id for m in store.raw_messages(ids=[8, 6, 99])] == [6, 8]
    assert store.raw_messages(ids=[]) == []
    assert [m.id for m in store.raw_messages(after_id=5, limit=2)] == [6, 7]
    assert [m.id for m in store.raw_messages(status=PENDING)] == [5, 6, 7, 8]
    assert store.outcomes([5, 7]) == {5: (PENDING, None), 7: (PENDING, None)}
    assert check_ledger(store, received=3)["pending"] == 3
    assert check_ledger(store, SRC2, received=1)["pending"] == 1


def test_count_refused_appears_in_ledger(store):
    archived(store, msg(1))
    store.count_refused(SRC, "bad_token", NOW)
    store.count_refused(SRC, "bad_token", NOW + 1)
    store.count_refused(SRC, "too_large", NOW)
    store.count_refused("nobody", "unknown_source", NOW)
    led = store.ledger()
    assert led[SRC]["refused_bad_token"] == 2 and led[SRC]["refused_too_large"] == 1
    assert led[SRC]["received"] == 1  # refusals were never received
    assert led["nobody"]["refused_unknown_source"] == 1 and led["nobody"]["received"] == 0


# -- the pipeline -----------------------------------------------------------------------------
def test_archive_apply_then_read_entities(ready):
    s = ready
    archived(s, msg(1), msg(2), msg(3), msg(4))
    s.apply(batch(
        [obs(1, BIN1, FILL, 40, T0), obs(1, BIN1, TEMP, 21.5, T0), obs(1, BIN1, STATUS, "ok", T0),
         obs(2, BIN2, FILL, 75, T0 + MIN, flags=1), obs(3, BIN1, FILL, 42, T0 + 2 * MIN),
         obs(3, BIN1, FILL, 43, T0 + 2 * MIN, ds="urn:ds:second"),
         obs(3, BIN3, LOC, {"type": "Point", "coordinates": [126.97, 37.56]}, T0 + 2 * MIN)],
        [ent(BIN1, 126.9, 37.5), ent(BIN2), ent(BIN3, type_="Bench")],
        [outcome(1), outcome(2, FLAGGED), outcome(3), outcome(4, DUPLICATE)]), NOW)

    e = s.entity(BIN1)
    assert (e.id, e.type, e.service, e.department, e.source, e.lon, e.lat, e.created_at, e.modified_at) == \
        (BIN1, "WasteContainer", "waste", "sanitation", SRC, 126.9, 37.5, NOW, NOW)
    assert values(e) == {("fillLevel", ""): (42.0, T0 + 2 * MIN, 3), ("fillLevel", "urn:ds:second"): (43.0, T0 + 2 * MIN, 3),
                         ("status", ""): ('"ok"', T0, 1), ("temperature", ""): (21.5, T0, 1)}
    temp = next(a for a in e.attrs if a.name == "temperature")
    assert (temp.iri, temp.kind, temp.vtype, temp.unit, temp.flags, temp.spec_version, temp.modified_at) == \
        (TEMP, "Property", "Number", "CEL", 0, 7, NOW)
    assert [a.name for a in e.attrs] == ["fillLevel", "fillLevel", "status", "temperature"]
    assert next(a for a in s.entity(BIN2).attrs).flags == 1
    loc = s.entity(BIN3).attrs[0]
    assert (loc.kind, json.loads(loc.value_json)) == ("GeoProperty", {"type": "Point", "coordinates": [126.97, 37.56]})
    assert s.entity("urn:ngsi-ld:WasteContainer:test:none") is None

    ents, total = s.entities(types=["WasteContainer"])
    assert total == 2 and [x.id for x in ents] == [BIN1, BIN2] and values(ents[0]) == values(e)
    ents, total = s.entities(limit=2, offset=1)
    assert total == 3 and [x.id for x in ents] == [BIN2, BIN3]
    ents, total = s.entities(types=["WasteContainer", "Bench"], ids=[BIN3, BIN1], limit=1)
    assert total == 2 and [x.id for x in ents] == [BIN1]
    ents, total = s.entities(exclude_sources={SRC})  # every entity here came from SRC
    assert (ents, total) == ([], 0)
    ents, total = s.entities(types=["WasteContainer"], exclude_sources={"some-other-source"})
    assert total == 2
    assert s.entities(types=["Nothing"]) == ([], 0)
    d = check_ledger(s, received=4)
    assert (d["stored"], d["stored_flagged"], d["duplicate"], d["pending"]) == (2, 1, 1, 0)


def test_temporal_reads(ready):
    s = ready
    archived(s, *(msg(i) for i in range(1, 6)))
    s.apply(batch([obs(i, BIN1, FILL, 10 * i, T0 + i * MIN) for i in range(1, 6)]
                  + [obs(i, BIN1, TEMP, 20 + i, T0 + i * MIN) for i in (1, 3)],
                  [ent(BIN1)], [outcome(i) for i in range(1, 6)]), NOW)
    assert series(s, BIN1) == [("fillLevel", 10.0 * i, T0 + i * MIN, i) for i in range(1, 6)] + \
        [("temperature", 21.0, T0 + MIN, 1), ("temperature", 23.0, T0 + 3 * MIN, 3)]
    assert series(s, BIN1, attrs=["fillLevel"], start=T0 + 2 * MIN, end=T0 + 4 * MIN) == \
        [("fillLevel", 20.0, T0 + 2 * MIN, 2), ("fillLevel", 30.0, T0 + 3 * MIN, 3)]
    assert series(s, BIN1, attrs=[TEMP]) == [("temperature", 21.0, T0 + MIN, 1), ("temperature", 23.0, T0 + 3 * MIN, 3)]
    assert series(s, BIN1, last_n=2) == [("fillLevel", 40.0, T0 + 4 * MIN, 4), ("fillLevel", 50.0, T0 + 5 * MIN, 5),
                                         ("temperature", 21.0, T0 + MIN, 1), ("temperature", 23.0, T0 + 3 * MIN, 3)]
    assert series(s, BIN1, attrs=["fillLevel"], end=T0 + 4 * MIN, last_n=1) == [("fillLevel", 30.0, T0 + 3 * MIN, 3)]
    assert all(a.modified_at is None for a in s.temporal(BIN1).attrs)
    assert s.temporal("urn:ngsi-ld:WasteContainer:test:none") is None


def test_times_keep_microseconds(ready):
    at = T0 + 123_457
    archived(ready, msg(1))
    ready.apply(batch([(1, BIN1, FILL, "", 3, None, "P1", at, 0, None)], [ent(BIN1)], [outcome(1)]), NOW + 1)
    assert values(ready.entity(BIN1)) == {("fillLevel", ""): (3, at, 1)}
    assert ready.entity(BIN1).created_at == NOW + 1
    assert ready.temporal(BIN1, start=at, end=at + 1).attrs[0].observed_at == at
    assert ready.temporal(BIN1, start=at + 1).attrs == []


def test_late_data_never_moves_current_state_backwards(ready):
    s = ready
    archived(s, msg(1), msg(2), msg(3))
    s.apply(batch([obs(1, BIN1, FILL, 60, T0 + 10 * MIN)], [ent(BIN1)], [outcome(1)]), NOW)
    s.apply(batch([obs(2, BIN1, FILL, 30, T0)], [], [outcome(2, FLAGGED)]), NOW + 1)
    assert values(s.entity(BIN1)) == {("fillLevel", ""): (60.0, T0 + 10 * MIN, 1)}
    assert [x[1] for x in series(s, BIN1)] == [30.0, 60.0]
    s.apply(batch([obs(3, BIN1, FILL, 70, T0 + 10 * MIN)], [], [outcome(3)]), NOW + 2)  # same time: the newer wins
    assert values(s.entity(BIN1)) == {("fillLevel", ""): (70.0, T0 + 10 * MIN, 3)}
    check_ledger(s, received=3)


def test_entity_position_follows_announcements(ready):
    archived(ready, msg(1), msg(2))
    ready.apply(batch([obs(1, BIN1, FILL, 1, T0)], [ent(BIN1, 10.0, 50.0)], [outcome(1)]), NOW)
    ready.apply(batch([obs(2, BIN1, FILL, 2, T0 + MIN)], [ent(BIN1, 10.5, 50.5)], [outcome(2)]), NOW + 5)
    e = ready.entity(BIN1)
    assert (e.lon, e.lat, e.created_at, e.modified_at) == (10.5, 50.5, NOW, NOW + 5)


def test_one_message_writing_a_key_twice_keeps_the_last(ready):
    archived(ready, msg(1))
    ready.apply(batch([obs(1, BIN1, FILL, 1, T0), obs(1, BIN1, FILL, 2, T0)], [ent(BIN1)], [outcome(1)]), NOW)
    assert series(ready, BIN1) == [("fillLevel", 2.0, T0, 1)]
    assert values(ready.entity(BIN1)) == {("fillLevel", ""): (2.0, T0, 1)}


def test_ledger_balances_through_quarantine_and_replay(ready):
    s = ready
    archived(s, msg(1), msg(2), msg(3), msg(4), msg(5, SRC2))
    assert check_ledger(s, received=4)["pending"] == 4
    s.apply(batch([obs(1, BIN1, FILL, 40, T0)], [ent(BIN1)],
                  [outcome(1), outcome(2, QUARANTINED), outcome(3, QUARANTINED), outcome(5, source=SRC2)],
                  [(2, SRC, [PROBLEM]), (3, SRC, [PROBLEM, PROBLEM | {"field": "temp_c"}])]), NOW)
    d = check_ledger(s, received=4)
    assert (d["stored"], d["quarantined"], d["pending"]) == (1, 2, 1)
    check_ledger(s, SRC2, received=1)
    q = s.quarantined()
    assert [(x["raw_id"], x["source"], x["reason"], x["field"], x["detail"]) for x in q] == \
        [(2, SRC, "out_of_range", "fill_pct", PROBLEM["detail"]), (3, SRC, "out_of_range", "fill_pct", PROBLEM["detail"])]
    assert q[1]["problems"] == [PROBLEM, PROBLEM | {"field": "temp_c"}]
    assert (q[0]["quarantined_at"], q[0]["received_at"]) == (NOW, T0 + 2)
    assert [x["raw_id"] for x in s.quarantined(source=SRC, after_id=2)] == [3]
    assert s.quarantined(source=SRC2) == [] and len(s.quarantined(limit=1)) == 1
    assert s.outcomes([1, 2, 4]) == {1: (STORED, None), 2: (QUARANTINED, [PROBLEM]), 4: (PENDING, None)}

    # the spec was fixed: replay both quarantined messages; one now passes, one is still bad
    s.apply(batch([obs(2, BIN1, FILL, 100, T0 + MIN)], [], [outcome(2), outcome(3, QUARANTINED)],
                  [(3, SRC, [PROBLEM | {"detail": "still"}])], replayed=[2, 3]), NOW + 1)
    d = check_ledger(s, received=4)
    assert (d["stored"], d["quarantined"], d["pending"]) == (2, 1, 1)
    assert [(x["raw_id"], x["detail"], x["quarantined_at"]) for x in s.quarantined()] == [(3, "still", NOW + 1)]
    assert s.outcomes([2, 3]) == {2: (STORED, None), 3: (QUARANTINED, [PROBLEM | {"detail": "still"}])}
    assert values(s.entity(BIN1)) == {("fillLevel", ""): (100.0, T0 + MIN, 2)}

    # a replay of a stored message that is quarantined now: its observations go, the state falls back
    s.apply(batch([], [], [outcome(2, QUARANTINED)], [(2, SRC, [PROBLEM])], replayed=[2]), NOW + 2)
    d = check_ledger(s, received=4)
    assert (d["stored"], d["quarantined"], d["pending"]) == (1, 2, 1)
    assert [x["raw_id"] for x in s.quarantined()] == [2, 3]
    assert values(s.entity(BIN1)) == {("fillLevel", ""): (40.0, T0, 1)}

    s.apply(batch([], [], [outcome(4, DUPLICATE)]), NOW + 3)
    d = check_ledger(s, received=4)
    assert (d["stored"], d["quarantined"], d["duplicate"], d["pending"]) == (1, 2, 1, 0)


def test_replay_replaces_what_a_message_produced(ready):
    s = ready
    archived(s, msg(1), msg(2))
    s.apply(batch([obs(1, BIN1, FILL, 40, T0), obs(1, BIN1, TEMP, 20, T0), obs(1, BIN2, FILL, 10, T0),
                   obs(2, BIN1, FILL, 45, T0 + MIN)], [ent(BIN1), ent(BIN2)], [outcome(1), outcome(2)]), NOW)
    before = check_ledger(s, received=2)
    redo = batch([obs(1, BIN1, FILL, 41, T0), obs(1, BIN1, FILL, 42, T0 + 30_000_000)],
                 [ent(BIN1)], [outcome(1, FLAGGED)], replayed=[1])
    s.apply(redo, NOW + 1)
    first = (series(s, BIN1), series(s, BIN2), values(s.entity(BIN1)), values(s.entity(BIN2)))
    assert first[0] == [("fillLevel", 41.0, T0, 1), ("fillLevel", 42.0, T0 + 30_000_000, 1),
                        ("fillLevel", 45.0, T0 + MIN, 2)]
    assert first[1] == [] and first[3] == {}  # BIN2's only value came from message 1
    assert first[2] == {("fillLevel", ""): (45.0, T0 + MIN, 2)}  # temperature came from message 1 only
    s.apply(redo, NOW + 2)
    assert (series(s, BIN1), series(s, BIN2), values(s.entity(BIN1)), values(s.entity(BIN2))) == first
    after = check_ledger(s, received=2)
    assert (after["stored"], after["stored_flagged"]) == (before["stored"] - 1, 1)


def test_replay_moving_a_value_earlier_recomputes_current_state(ready):
    s = ready
    archived(s, msg(1), msg(2))
    s.apply(batch([obs(1, BIN1, FILL, 50, T0 + 10 * MIN), obs(2, BIN1, FILL, 40, T0 + 5 * MIN)],
                  [ent(BIN1)], [outcome(1), outcome(2)]), NOW)
    assert values(s.entity(BIN1)) == {("fillLevel", ""): (50.0, T0 + 10 * MIN, 1)}
    # message 1 read with a corrected time zone: its reading is older than message 2's
    s.apply(batch([obs(1, BIN1, FILL, 55, T0 + MIN)], [], [outcome(1)], replayed=[1]), NOW + 1)
    assert values(s.entity(BIN1)) == {("fillLevel", ""): (40.0, T0 + 5 * MIN, 2)}
    assert series(s, BIN1) == [("fillLevel", 55.0, T0 + MIN, 1), ("fillLevel", 40.0, T0 + 5 * MIN, 2)]


def test_failed_apply_leaves_no_trace(ready):
    s = ready
    archived(s, msg(1), msg(2))
    with pytest.raises(StoreError):
        s.apply(batch([obs(1, BIN1, FILL, 1, T0), (1, BIN1, NS + "unregistered", "", 1.0, None, None, T0, 0, 7)],
                      [ent(BIN1)], [outcome(1)]), NOW)
    assert s.entity(BIN1) is None and s.entities() == ([], 0)
    check_ledger(s, received=2)
    s.apply(batch([obs(2, BIN1, FILL, 2, T0)], [ent(BIN1)], [outcome(2)]), NOW + 1)
    assert values(s.entity(BIN1)) == {("fillLevel", ""): (2.0, T0, 2)}


def test_attributes_a_rolled_back_batch_registered_are_forgotten(ready):
    """A batch may register new attributes (NGSI-LD API writes); if it rolls back, their ids must not stay
    cached, or a later attribute would share an id with one that never was."""
    s = ready
    archived(s, msg(1), msg(2))
    failing = batch([(1, BIN1, NS + "ghost", "", 1.0, None, None, T0, 0, 7),
                     (1, BIN1, NS + "unannounced", "", 1.0, None, None, T0, 0, 7)], [], [outcome(1)])
    failing.attributes = {NS + "ghost": ("ghost", "Property", "Any", None)}
    with pytest.raises(StoreError):
        s.apply(failing, NOW)
    archived(s, msg(3))
    with pytest.raises(StoreError, match="not registered"):   # not written under an id that never was
        s.apply(batch([(3, BIN1, NS + "ghost", "", 1.0, None, None, T0, 0, 7)], [ent(BIN1)], [outcome(3)]), NOW)
    ok = batch([(2, BIN1, NS + "real", "", 5.0, None, None, T0, 0, 7), obs(2, BIN1, FILL, 2, T0)], [ent(BIN1)],
               [outcome(2)])
    ok.attributes = {NS + "real": ("real", "Property", "Any", None)}
    s.apply(ok, NOW + 1)
    assert values(s.entity(BIN1)) == {("fillLevel", ""): (2.0, T0, 2), ("real", ""): (5.0, T0, 2)}


def test_deletions_remove_current_state_and_keep_history(ready):
    s = ready
    archived(s, msg(1), msg(2), msg(3))
    s.apply(batch([obs(1, BIN1, FILL, 1, T0), obs(1, BIN1, TEMP, 20, T0)], [ent(BIN1, 127.0, 37.6)],
                  [outcome(1)]), NOW)
    d = batch(outcomes=[outcome(2)])
    d.deletions = [(2, BIN1, TEMP, None), (2, BIN1, NS + "never-written", None)]
    s.apply(d, NOW + 1)
    assert set(values(s.entity(BIN1))) == {("fillLevel", "")}
    assert ("temperature", 20.0, T0, 1) in series(s, BIN1)    # the history stays
    gone = batch(outcomes=[outcome(3)])
    gone.deletions = [(3, BIN1, None, None)]
    s.apply(gone, NOW + 2)
    assert s.entity(BIN1) is None and s.entities() == ([], 0)


def test_a_message_written_twice_without_replay_is_refused(ready):
    archived(ready, msg(1), msg(2))
    first = batch([obs(1, BIN1, FILL, 1, T0)], [ent(BIN1)], [outcome(1)])
    ready.apply(first, NOW)
    with pytest.raises(Exception):  # the engine's integrity error: the whole batch is refused
        ready.apply(batch(first.observations + [obs(2, BIN1, FILL, 2, T0 + MIN)], [], [outcome(2), outcome(1)]), NOW + 1)
    assert series(ready, BIN1) == [("fillLevel", 1.0, T0, 1)]
    assert check_ledger(ready, received=2)["pending"] == 1


def test_find_dedupe(ready):
    s = ready
    archived(s, msg(1), msg(2), msg(3))
    s.apply(batch([obs(1, BIN1, FILL, 1, T0)], [ent(BIN1)],
                  [outcome(1, key=-(2 ** 63)), outcome(2, QUARANTINED, key=2 ** 63 - 1), outcome(3, DUPLICATE)],
                  [(2, SRC, [PROBLEM])]), NOW)
    assert s.find_dedupe([(T0, -(2 ** 63)), (T0, 2 ** 63 - 1), (T0, 5), (T0 + 1, -(2 ** 63))]) == \
        {(T0, -(2 ** 63)): 1, (T0, 2 ** 63 - 1): 2}
    assert s.find_dedupe([]) == {}
    led = s.ledger()
    s.apply(batch(), NOW + 1)  # an empty batch changes nothing
    assert s.ledger() == led


# -- specs, tokens, devices -------------------------------------------------------------------
def test_specs_and_config_revision(store):
    rev = store.config_revision()
    vid, created = store.put_spec("source", "bins-acme", "1.0.0", "aa" * 32, "specs/acme.yaml", "a: 1\n", NOW)
    assert created and store.config_revision() == rev + 1
    assert store.put_spec("source", "bins-acme", "1.0.0", "aa" * 32, "specs/acme.yaml", "a: 1\n", NOW + 1) == (vid, False)
    assert store.config_revision() == rev + 1
    vid2, created = store.put_spec("source", "bins-acme", "1.1.0", "bb" * 32, "specs/acme.yaml", "a: 2\n", NOW + 2)
    assert created and vid2 != vid and store.config_revision() == rev + 2
    sid, _ = store.put_spec("service", "waste", "1.0.0", "cc" * 32, None, "s: 1\n", NOW + 3)
    assert [(r.id, r.kind, r.name, r.version, r.sha256, r.file, r.body, r.applied_at) for r in store.specs_in_force()] \
        == [(sid, "service", "waste", "1.0.0", "cc" * 32, None, "s: 1\n", NOW + 3),
            (vid2, "source", "bins-acme", "1.1.0", "bb" * 32, "specs/acme.yaml", "a: 2\n", NOW + 2)]
    assert [r.id for r in store.spec_history()] == [vid, vid2, sid]
    assert [r.version for r in store.spec_history("source", "bins-acme")] == ["1.0.0", "1.1.0"]
    assert [r.id for r in store.spec_history(kind="service")] == [sid]
    # going back to the old text is a new version (the newest is in force)
    vid3, created = store.put_spec("source", "bins-acme", "1.0.0", "aa" * 32, "specs/acme.yaml", "a: 1\n", NOW + 4)
    assert created and vid3 not in (vid, vid2) and store.config_revision() == rev + 4


def test_tokens(store):
    t1 = store.add_token(SRC, "h1", "ops laptop", NOW)
    t2 = store.add_token(SRC, "h2", None, NOW)
    store.add_token(SRC2, "h3", None, NOW)
    assert t1 != t2
    assert store.token_sources("h1") == {SRC} and store.token_sources("h3") == {SRC2}
    assert store.token_sources("nope") == set()
    assert store.revoke_tokens(SRC, NOW + 1) == 2
    assert store.revoke_tokens(SRC, NOW + 2) == 0
    assert store.token_sources("h1") == set() and store.token_sources("h2") == set()
    assert store.token_sources("h3") == {SRC2}


def test_devices(store):
    rev = store.config_revision()
    devs = [Device("A-2", None, None, None, False, None, {}),
            Device("A-1", "urn:ngsi-ld:WasteContainer:x:1", 126.978, 37.566, True, "Gwanghwamun",
                   {"bin_height_cm": 120, "zone": "중구", "facility_type": "street", "ok": True})]
    assert store.put_devices(SRC, devs, NOW) == 2
    store.put_devices(SRC2, [Device("B-1")], NOW)
    assert store.config_revision() == rev + 2
    got = store.devices(SRC)[SRC]
    assert got == [devs[1], devs[0]]
    assert list(got[0].attrs) == ["bin_height_cm", "zone", "facility_type", "ok"]  # column order is kept
    assert sorted(store.devices()) == [SRC, SRC2]
    store.put_devices(SRC, [Device("A-3")], NOW + 1)
    assert store.devices(SRC) == {SRC: [Device("A-3")]}
    assert store.devices(SRC2) == {SRC2: [Device("B-1")]}


# -- threads ----------------------------------------------------------------------------------
def test_reads_from_many_threads_while_writing(ready):
    s = ready
    archived(s, *(msg(i) for i in range(1, 41)))
    errors = []

    def read():
        try:
            for _ in range(10):
                s.entities(types=["WasteContainer"])
                s.ledger()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(1, 41):
        s.apply(batch([obs(i, BIN1, FILL, i, T0 + i * MIN)], [ent(BIN1)], [outcome(i)]), NOW + i)
    for t in threads:
        t.join()
    assert errors == []
    assert check_ledger(s, received=40)["stored"] == 40
    assert len(series(s, BIN1)) == 40


# -- PostgreSQL: monthly partitions -----------------------------------------------------------
def _where(pg) -> dict[str, int]:
    return dict(pg.execute("SELECT tableoid::regclass::text, count(*) FROM observations GROUP BY 1").fetchall())


@pg_only
def test_observations_land_in_monthly_partitions(ready, pg):
    april = to_us(datetime(2024, 4, 1, tzinfo=UTC))
    archived(ready, msg(1), msg(2))
    ready.apply(batch([obs(1, BIN1, FILL, 1, april - 1), obs(1, BIN1, TEMP, 1, T0), obs(2, BIN1, FILL, 2, april)],
                      [ent(BIN1)], [outcome(1), outcome(2)]), NOW)
    assert _where(pg) == {"observations_y2024m03": 2, "observations_y2024m04": 1}
    parts = {r[0] for r in pg.execute("SELECT inhrelid::regclass::text FROM pg_inherits "
                                      "WHERE inhparent = 'observations'::regclass").fetchall()}
    assert parts == {"observations_default", "observations_y2024m03", "observations_y2024m04"}
    assert pg.execute("SELECT count(*) FROM observations_default").fetchone()[0] == 0
    assert series(ready, BIN1, attrs=["fillLevel"]) == [("fillLevel", 1.0, april - 1, 1), ("fillLevel", 2.0, april, 2)]


@pg_only
def test_rows_in_the_default_partition_move_to_their_month(ready, pg, open_unmigrated):
    archived(ready, msg(1))
    ready.apply(batch([obs(1, BIN1, FILL, 1, T0)], [ent(BIN1)], [outcome(1)]), NOW)
    may = datetime(2024, 5, 3, tzinfo=UTC)
    pg.execute("INSERT INTO observations (eid, aid, observed_at, raw_id, value_num) "
               "SELECT eid, aid, %s, 1, 9 FROM entity_attrs", (may,))  # behind the store's back
    assert _where(pg) == {"observations_y2024m03": 1, "observations_default": 1}
    other = open_unmigrated()  # a process that has not seen May yet
    archived(other, msg(2))
    other.apply(batch([obs(2, BIN1, FILL, 2, to_us(may) + MIN)], [ent(BIN1)], [outcome(2)]), NOW + 1)
    assert _where(pg) == {"observations_y2024m03": 1, "observations_y2024m05": 2}
    assert [x[1] for x in series(other, BIN1)] == [1.0, 9.0, 2.0]


# -- PostgreSQL: the reads awaited on an event loop (asyncpg) ---------------------------------
def test_awaited_reads_take_libpq_connect_timeout_from_the_url():
    # asyncpg would send a parameter it does not know to the server as a setting
    assert _asyncpg_dsn("postgresql://u@h:5433/db?connect_timeout=3&application_name=citylink") == \
        ("postgresql://u@h:5433/db?application_name=citylink", 3.0)
    assert _asyncpg_dsn("postgresql://u:p@h/db") == ("postgresql://u:p@h/db", 10.0)


@pg_only
def test_awaited_reads_close_with_the_store(ready, pg, open_unmigrated):
    archived(ready, msg(1))
    ready.apply(batch([obs(1, BIN1, FILL, 1, T0)], [ent(BIN1)], [outcome(1)]), NOW)
    others = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    before = pg.execute(others).fetchone()[0]
    running = []
    with asyncio.Runner() as runner:           # a loop that has stopped but is not closed, when the store closes
        store = open_unmigrated()

        async def read():
            running.append(await store.aentity(BIN1))
            running.append(await store.aentity("urn:ngsi-ld:WasteContainer:test:none"))
        runner.run(read())
        assert running[0].id == BIN1 and [a.name for a in running[0].attrs] == ["fillLevel"] and running[1] is None
        assert pg.execute(others).fetchone()[0] == before + 2      # the store's own connection, and one for reads
        store.close()
        deadline = time.monotonic() + 5         # a server process leaves a moment after its socket closes
        while pg.execute(others).fetchone()[0] > before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pg.execute(others).fetchone()[0] == before


def test_poll_cursors(ready):
    assert ready.poll_cursor("vendor-api") is None
    ready.set_poll_cursor("vendor-api", "2026-11-26T09:00:00Z", NOW)
    ready.set_poll_cursor("vendor-api", "2026-11-26T09:05:00Z", NOW + 1)
    ready.set_poll_cursor("other", "42", NOW)
    assert ready.poll_cursor("vendor-api") == "2026-11-26T09:05:00Z" and ready.poll_cursor("other") == "42"


def test_transport_health_counts_failures_in_a_row_and_resets_on_success(ready):
    assert ready.transport_health() == {}
    ready.set_transport_health("vendor-api", "HTTPStatusError: 500 from the vendor", NOW)
    ready.set_transport_health("vendor-api", "ConnectError: refused", NOW + 1)
    h = ready.transport_health()["vendor-api"]
    assert h == {"ok": False, "failures": 2, "last_error": "ConnectError: refused", "last_success_at": None,
                 "last_failure_at": NOW + 1}
    ready.set_transport_health("vendor-api", None, NOW + 2)
    h = ready.transport_health()["vendor-api"]
    assert h["ok"] and h["failures"] == 0 and h["last_success_at"] == NOW + 2 and h["last_failure_at"] == NOW + 1
    assert h["last_error"] == "ConnectError: refused"  # the last error stays readable after recovery


def test_last_received_per_source(ready):
    s = ready
    archived(s, msg(1), msg(2, SRC2))
    first = s.ledger()[SRC]["last_received_at"]
    assert first > 0 and s.ledger()[SRC2]["last_received_at"] > 0
    m = msg(3)
    m.received_at = first + 5_000_000
    archived(s, m)
    assert s.ledger()[SRC]["last_received_at"] == first + 5_000_000
