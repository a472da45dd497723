"""Entity queries with q=, idPattern and attrs, on both engines: the same answers from SQLite and
PostgreSQL, for every kind of value the normalizer stores."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

import pytest

from citylink.clock import iso, to_us
from citylink.normalize.records import STORED, EntityInfo, NormalizedBatch, RawMessage
from citylink.query.qlang import parse

T0 = to_us(datetime(2026, 11, 26, 0, 0, tzinfo=timezone.utc))
NS = "https://citylink.example/ns#"
CATALOG = {NS + "fill": ("fill", "Property", "Number", "C62"), NS + "status": ("status", "Property", "Text", None),
           NS + "lid": ("lid", "Property", "Boolean", None), NS + "address": ("address", "Property", "Object", None),
           NS + "emptiedAt": ("emptiedAt", "Property", "DateTime", None),
           "https://other.example/fill": ("fill", "Property", "Number", "P1")}   # one term, two IRIs
BINS = {  # id: (fill, status, lid, address, emptied µs, observed µs)
    "urn:ngsi-ld:Bin:dobong:a1": (0.9, "ok", False, {"district": "Dobong", "no": 12}, T0 - 3_600_000_000, T0),
    "urn:ngsi-ld:Bin:dobong:a2": (0.2, "lidOpen", True, {"district": "Nowon", "no": 3}, T0 - 86_400_000_000, T0 + 60_000_000),
    "urn:ngsi-ld:Bin:dobong:b7": (0.55, "ok", True, {"district": "Dobong", "no": 40}, None, T0 + 120_000_000),
    "urn:ngsi-ld:Sensor:dobong:s1": (None, "say \"hi\"", None, None, None, T0),
}


def encode(vtype, v):
    if vtype == "Boolean":
        return (1.0 if v else 0.0), ("true" if v else "false")
    if vtype == "DateTime":
        return float(v), json.dumps(iso(v))
    if vtype == "Number":
        return float(v), None
    return None, json.dumps(v)


@pytest.fixture
def bins(store):
    store.register_attributes(CATALOG)
    msgs, obs, ents, outs = [], [], {}, []
    for i, (eid, (fill, status, lid, address, emptied, at)) in enumerate(BINS.items(), 1):
        msgs.append(RawMessage(i, "bins", at, b"{}", "http_push", {}))
        ents[eid] = EntityInfo(eid, eid.split(":")[2], "waste", "sanitation", "bins", None, None)
        for iri, v in ((NS + "fill", fill), (NS + "status", status), (NS + "lid", lid), (NS + "address", address),
                       (NS + "emptiedAt", emptied)):
            if v is not None:
                num, js = encode(CATALOG[iri][2], v)
                obs.append((i, eid, iri, "", num, js, CATALOG[iri][3], at, 0, 1))
        outs.append((i, "bins", STORED, (at, i), 1))
    obs.append((1, "urn:ngsi-ld:Bin:dobong:a1", "https://other.example/fill", "", 55.0, None, "P1", T0, 0, 1))
    store.archive(msgs)
    store.apply(NormalizedBatch(obs, ents, outs, [], []), T0 + 1)
    return store


@pytest.fixture(scope="module", autouse=True)
def loop():
    """One event loop for the module's awaited reads (the API's path: asyncpg on PostgreSQL)."""
    global RUNNER
    with asyncio.Runner() as RUNNER:
        yield RUNNER


def ids(store, q=None, **kw):
    """The entities' short ids, read both ways — as the rest of the platform reads (``entities``) and as
    the API does, awaited on an event loop (``aentities``) — which must agree."""
    args = dict(q=parse(q) if q else None, limit=100, **kw)
    ents, total = store.entities(**args)
    assert total == len(ents)
    assert RUNNER.run(store.aentities(**args)) == (ents, total)
    return sorted(e.id.rsplit(":", 1)[1] for e in ents)


@pytest.mark.parametrize("q, want", [
    ("fill>0.5", ["a1", "b7"]),                       # a1 also has 55 under the other IRI of "fill"
    ("fill<0.3", ["a2"]),
    ("fill==0.2", ["a2"]), ("fill!=0.2", ["a1", "b7"]),  # != needs the attribute: s1 has no fill
    ("fill==0.5..1", ["a1", "b7"]), ("fill!=0.5..1", ["a1", "a2"]),  # a1: its other "fill" (55) is outside
    ('status=="ok"', ["a1", "b7"]), ('status=="ok","lidOpen"', ["a1", "a2", "b7"]), ('status!="ok"', ["a2", "s1"]),
    (r'status=="say \"hi\""', ["s1"]), ("status>\"m\"", ["a1", "b7", "s1"]),  # texts compare as texts
    ("status~=^lid", ["a2"]), ("status!~=^lid", ["a1", "b7", "s1"]),
    ("lid==true", ["a2", "b7"]), ("lid==false", ["a1"]), ("lid!=true", ["a1"]),
    ("lid==1", []), ("lid==0..1", []), ("lid!=2", []),   # true and false are kept as 1 and 0, and are not numbers
    ('fill==0.2,"x"', ["a2"]), ("emptiedAt>0", []),       # a date-time is kept as µs, and is not a number
    ('address[district]=="Dobong"', ["a1", "b7"]), ("address[no]>10", ["a1", "b7"]), ("address[no]==3..12", ["a1", "a2"]),
    ("address[district]~=^No", ["a2"]), ("address[zip]", []), ("address[no]", ["a1", "a2", "b7"]),
    ("emptiedAt<2026-11-25T12:00:00Z", ["a2"]), ("emptiedAt>=2026-11-25T12:00:00Z", ["a1"]),
    ("fill.observedAt>=2026-11-26T00:01:00Z", ["a2", "b7"]), ('fill.unitCode=="P1"', ["a1"]),
    ("lid", ["a1", "a2", "b7"]), ("nothing", []), ("nothing!=1", []),
    ('fill>0.5;status=="ok"', ["a1", "b7"]), ('fill>0.5;lid==true|status=="lidOpen"', ["a2", "b7"]),
    ('fill>0.5;(lid==true|status=="lidOpen")', ["b7"]),
    (NS + "fill>0.5", ["a1", "b7"]), ("https://other.example/fill>50", ["a1"]),
])
def test_q(bins, q, want):
    assert ids(bins, q) == want


def test_id_pattern_type_and_having(bins):
    assert ids(bins, id_pattern=r":a\d$") == ["a1", "a2"]
    assert ids(bins, id_pattern="^urn:ngsi-ld:Sensor:") == ["s1"]
    assert ids(bins, types=["Bin"], q="fill<0.6") == ["a2", "b7"]
    assert ids(bins, having=["lid", "nothing"]) == ["a1", "a2", "b7"]
    assert ids(bins, having=["nothing"]) == []


def test_scope_keeps_to_the_services_and_types_a_reader_may_see(bins):
    assert ids(bins, scope=[("waste", "Bin")], q="fill>0") == ["a1", "a2", "b7"]
    assert ids(bins, scope=[("waste", "Bin"), ("waste", "Sensor")], id_pattern=".") == ["a1", "a2", "b7", "s1"]
    assert ids(bins, scope=[("waste", "Sensor"), ("other", "Bin")], id_pattern=".") == ["s1"]
    assert ids(bins, scope=[], id_pattern=".") == []
    assert bins.catalogue(scope=[("waste", "Sensor")])[0] == {"Sensor": 1}


def test_types_are_matched_exactly_whatever_their_characters(store):
    # PostgreSQL writes the types it holds into the statement as literals (ReadCatalogue): quotes, the
    # drivers' parameter marks and backslashes in a type must stay characters of the type
    odd = ["Odd'Type", "Per%sCent%%", "Back\\slash", "Dollar$1"]
    store.apply(NormalizedBatch([], {f"urn:ngsi-ld:X:{i}": EntityInfo(f"urn:ngsi-ld:X:{i}", t, "waste", "sanitation",
                                                                       "bins", None, None)
                                     for i, t in enumerate(odd)}, [], [], []), T0)
    for i, t in enumerate(odd):
        assert ids(store, types=[t]) == [str(i)]
    assert ids(store, types=odd[:2]) == ["0", "1"]
    assert ids(store, types=["Per%sCent%", "Odd", "Odd'Type'"]) == []
    assert ids(store, types=[odd[3], "NeverSeen"]) == ["3"]   # a known type and one the store does not hold


def test_attributes_another_process_adds_are_found(store, open_unmigrated, monkeypatch):
    # a second store on the same database stands for another process (a second API server)
    other = open_unmigrated()
    store.register_attributes(CATALOG)
    ent = EntityInfo("urn:ngsi-ld:Bin:z1", "Bin", "waste", "sanitation", "bins", None, None)

    def observe(iri, value, i):
        store.archive([RawMessage(i, "bins", T0, b"{}", "http_push", {})])
        store.apply(NormalizedBatch([(i, ent.id, iri, "", value, None, None, T0, 0, 1)], {ent.id: ent},
                                    [(i, "bins", STORED, (T0, i), 1)], [], []), T0 + 1)

    observe(NS + "fill", 0.1, 1)
    assert ids(other, q="fill>0.5") == []
    cat = getattr(other, "_cat", None)   # PostgreSQL's copy of the attributes (ReadCatalogue)
    # a new IRI under a term the other store knows already: seen once the copy is MAX_AGE_S old
    store.register_attributes({"https://third.example/fill": ("fill", "Property", "Number", None)})
    observe("https://third.example/fill", 0.9, 2)
    if cat:
        monkeypatch.setattr(cat, "MAX_AGE_S", 0)
    assert ids(other, q="fill>0.5") == ["z1"]
    # a term the copy lacks: reloaded at once (at most once per MISS_S)
    if cat:
        monkeypatch.setattr(cat, "MAX_AGE_S", 3600)
        monkeypatch.setattr(cat, "MISS_S", 0)
    store.register_attributes({NS + "depth": ("depth", "Property", "Number", None)})
    observe(NS + "depth", 3.0, 3)
    assert ids(other, q="depth>1") == ["z1"]


def test_values_travel_as_parameters(bins):
    # a value that would be SQL if pasted is only ever a value
    assert ids(bins, q="status==\"ok') OR 1=1 --\"") == []
    assert ids(bins, q='address[a\'b"c]=="x"') == []


# -- temporal aggregation, in the database -------------------------------------------------------------

HOUR = 3_600_000_000


@pytest.fixture
def series(store):
    """Bin a1: fill every 10 minutes for three hours (0, 1, …, 17 %), status alternating ok/lidOpen."""
    store.register_attributes(CATALOG)
    eid = "urn:ngsi-ld:Bin:dobong:a1"
    msgs, obs, outs = [], [], []
    for i in range(18):
        at = T0 + i * 600_000_000
        msgs.append(RawMessage(i + 1, "bins", at, b"{}", "http_push", {}))
        obs.append((i + 1, eid, NS + "fill", "", float(i), None, "P1", at, 0, 1))
        obs.append((i + 1, eid, NS + "status", "", None, json.dumps("ok" if i % 2 else "lidOpen"), None, at, 0, 1))
        outs.append((i + 1, "bins", STORED, (at, i + 1), 1))
    store.archive(msgs)
    store.apply(NormalizedBatch(obs, {eid: EntityInfo(eid, "Bin", "waste", "sanitation", "bins", None, None)}, outs,
                                [], []), T0 + 1)
    return store, eid


def test_hourly_aggregates(series):
    store, eid = series
    [fill] = store.aggregate([eid], attrs=["fill"], start=T0, end=T0 + 3 * HOUR, period=HOUR, origin=T0)
    assert (fill.entity_id, fill.name, fill.kind, fill.dataset_id) == (eid, "fill", "Property", "")
    assert fill.starts == [T0, T0 + HOUR, T0 + 2 * HOUR]
    assert fill.values == {"avg": [2.5, 8.5, 14.5], "min": [0, 6, 12], "max": [5, 11, 17], "sum": [15, 51, 87],
                           "total": [6, 6, 6], "distinct": [6, 6, 6]}


def test_texts_are_counted_not_averaged_and_ranges_cut(series):
    store, eid = series
    [status] = store.aggregate([eid], attrs=["status"], start=T0 + HOUR, end=None, period=2 * HOUR,
                               origin=T0 + HOUR)
    assert status.starts == [T0 + HOUR]
    assert {m: status.values[m] for m in ("avg", "sum", "total", "distinct")} == {
        "avg": [None], "sum": [None], "total": [12], "distinct": [2]}
    both = store.aggregate([eid, "urn:ngsi-ld:Bin:dobong:none"], attrs=None, start=None, end=T0 + HOUR,
                           period=HOUR, origin=0)
    assert [(s.name, s.values["total"]) for s in both] == [("fill", [6]), ("status", [6])]
    assert all(s.starts == [T0] for s in both)  # hours counted from the epoch


def test_only_the_methods_asked_are_computed(series):
    store, eid = series
    full = store.aggregate([eid], attrs=None, start=T0, end=T0 + 3 * HOUR, period=HOUR, origin=T0)
    lean = store.aggregate([eid], attrs=None, start=T0, end=T0 + 3 * HOUR, period=HOUR, origin=T0,
                           methods=["avg", "total"])
    assert [s.values.keys() for s in lean] == [{"avg", "total"}] * 2
    assert [(s.name, s.starts, s.values) for s in lean] == [
        (s.name, s.starts, {"avg": s.values["avg"], "total": s.values["total"]}) for s in full]
    assert [s.values["distinct"] for s in full] == [[6, 6, 6], [2, 2, 2]]


def test_too_many_periods_is_refused(series, monkeypatch):
    import sys

    from citylink.store import base
    store, eid = series
    monkeypatch.setattr(base, "MAX_PERIODS", 5)                                # checked on the rows
    monkeypatch.setattr(sys.modules[type(store).__module__], "MAX_PERIODS", 5)  # the engine's LIMIT
    with pytest.raises(base.TooManyPeriods):
        store.aggregate([eid], attrs=["fill"], start=T0, end=None, period=600_000_000, origin=T0)


# -- geo-queries on positions, SQLite (index + shapely) and PostgreSQL (PostGIS) alike ----------------------

from citylink.query.geo import GeoError, parse as parse_geo  # noqa: E402

PLACES = {"office": (127.0471, 37.6688), "ssangmun": (127.0418, 37.6554), "changdong": (127.0437, 37.6376),
          "nowhere": (None, None)}
SQUARE = "[[[127.04,37.66],[127.05,37.66],[127.05,37.67],[127.04,37.67],[127.04,37.66]]]"


@pytest.fixture
def placed(store):
    store.register_attributes(CATALOG)
    msgs, obs, ents, outs = [], [], {}, []
    for i, (name, (lon, lat)) in enumerate(PLACES.items(), 1):
        eid = f"urn:ngsi-ld:Bin:dobong:{name}"
        msgs.append(RawMessage(i, "bins", T0, b"{}", "http_push", {}))
        ents[eid] = EntityInfo(eid, "Bin", "waste", "sanitation", "bins", lon, lat)
        obs.append((i, eid, NS + "fill", "", 0.5, None, "C62", T0, 0, 1))
        outs.append((i, "bins", STORED, (T0, i), 1))
    store.archive(msgs)
    store.apply(NormalizedBatch(obs, ents, outs, [], []), T0 + 1)
    return store


@pytest.mark.parametrize("georel, geometry, coordinates, want", [
    ("near;maxDistance==2000", "Point", "[127.0471,37.6688]", ["office", "ssangmun"]),
    ("near;maxDistance==1000", "Point", "[127.0471,37.6688]", ["office"]),
    ("near;minDistance==2000", "Point", "[127.0471,37.6688]", ["changdong"]),
    ("near;minDistance==1000;maxDistance==2000", "Point", "[127.0471,37.6688]", ["ssangmun"]),
    ("within", "Polygon", SQUARE, ["office"]),
    ("intersects", "Polygon", SQUARE, ["office"]),
    ("disjoint", "Polygon", SQUARE, ["changdong", "ssangmun"]),
    ("equals", "Point", "[127.0471,37.6688]", ["office"]),
    ("contains", "Point", "[127.0418,37.6554]", ["ssangmun"]),
    ("overlaps", "Polygon", SQUARE, []),
    ("within", "MultiPolygon", "[" + SQUARE + ",[[[127.03,37.63],[127.05,37.63],[127.05,37.64],[127.03,37.64],[127.03,37.63]]]]",
     ["changdong", "office"]),
])
def test_geo_queries(placed, georel, geometry, coordinates, want):
    ents, total = placed.entities(geo=parse_geo(georel, geometry, coordinates), limit=10)
    assert sorted(e.id.rsplit(":", 1)[1] for e in ents) == want and total == len(want)


@pytest.mark.parametrize("args, param", [
    (("near", "Point", "[127,37]"), "georel"), (("near;maxDistance==-5", "Point", "[127,37]"), "georel"),
    (("within;maxDistance==5", "Polygon", SQUARE), "georel"), (("inside", "Polygon", SQUARE), "georel"),
    (("within", "Circle", "[127,37]"), "geometry"), (("near;maxDistance==5", "Polygon", SQUARE), "geometry"),
    (("within", "Polygon", "[[127.04,37.66]]"), "coordinates"), (("within", "Point", "[200,37]"), "coordinates"),
    (("within", "Polygon", "[[[0,0],[1,1],[1,0],[0,1],[0,0]]]"), "coordinates"),  # a bow tie crosses itself
    (("within", "Point", "not json"), "coordinates"), (("within", None, "[1,2]"), "geometry"),
])
def test_bad_geo_queries_name_the_parameter(args, param):
    with pytest.raises(GeoError) as e:
        parse_geo(*args)
    assert e.value.param == param and str(e.value).startswith(param + ":")

