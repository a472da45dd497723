"""NGSI-LD API writes as raw messages of the built-in source: what the normalizer makes of a resolved
write, and how an archived write that cannot be applied is quarantined like any vendor's message."""
from __future__ import annotations

import pytest

from cltest import submit_and_wait
from citylink.normalize import api_writes
from citylink.normalize.compiler import LOCATION_IRI
from citylink.normalize.records import QUARANTINED, STORED, RawMessage
from citylink.spec.model import API_SOURCE

E = "urn:ngsi-ld:Thing:t1"
ENT = {"id": E, "type": "Thing", "service": API_SOURCE, "department": "platform"}
PT = {"type": "Point", "coordinates": [127.04, 37.66]}


def msg(body: bytes) -> RawMessage:
    return RawMessage(7, API_SOURCE, 0, body, api_writes.TRANSPORT)


def test_a_resolved_write_becomes_observations_deletions_and_new_attributes():
    body = api_writes.encode(ENT, [
        {"iri": "urn:x:level", "name": "level", "kind": "Property", "value": 3, "unit": "MTR", "datasetId": "",
         "observedAt": 1_000},
        {"iri": "urn:x:label", "name": "label", "kind": "Property", "value": {"ko": "가"}, "unit": None,
         "datasetId": "urn:ds:1", "observedAt": 2_000},
        {"iri": LOCATION_IRI, "name": "location", "kind": "GeoProperty", "value": PT, "unit": None,
         "datasetId": "", "observedAt": 3_000}], delete=[{"iri": "urn:x:old", "datasetId": None}])
    got, problems = api_writes.convert(msg(body))
    assert problems == []
    assert got.observations == [(7, E, "urn:x:level", "", 3.0, None, "MTR", 1_000, 0, 0),
                                (7, E, "urn:x:label", "urn:ds:1", None, '{"ko":"가"}', None, 2_000, 0, 0),
                                (7, E, LOCATION_IRI, "", None, '{"type":"Point","coordinates":[127.04,37.66]}',
                                 None, 3_000, 0, 0)]
    assert got.deletions == [(7, E, "urn:x:old", None)]
    assert got.attributes["urn:x:level"] == ("level", "Property", api_writes.VALUE_TYPE, "MTR")
    info = got.entities[E]
    assert (info.source, info.lon, info.lat) == (API_SOURCE, 127.04, 37.66)


def test_deleting_the_entity_deletes_nothing_else():
    got, _ = api_writes.convert(msg(api_writes.encode(ENT, [], delete_entity=True)))
    assert got.deletions == [(7, E, None, None)] and got.observations == [] and got.entities == {}


@pytest.mark.parametrize("body, reason, field", [
    (b"{", "malformed_json", None),
    (b'{"v": 2}', "unknown_write_format", "v"),
    (b'{"v": 1, "entity": {"id": "urn:a:b"}}', "bad_write", "entity"),
    (api_writes.encode(ENT, [{"iri": "urn:x:a", "name": "a", "kind": "Thing", "value": 1, "observedAt": 1}]),
     "bad_write", "attrs[0].kind"),
    (api_writes.encode(ENT, [{"iri": "urn:x:a", "name": "a", "kind": "Property", "value": 1, "observedAt": "x"}]),
     "bad_write", "attrs[0].observedAt"),
])
def test_a_write_that_cannot_be_applied_is_quarantined_with_its_reason(platform, body, reason, field):
    got = submit_and_wait(platform, API_SOURCE, [body])
    assert set(got.values()) == {QUARANTINED}
    (q,) = platform.store.quarantined(API_SOURCE)
    assert (q["reason"], q["field"]) == (reason, field), q
    assert platform.store.entity(E) is None


def test_a_good_write_is_stored_and_counted_in_the_ledger(platform):
    body = api_writes.encode(ENT, [{"iri": "urn:x:a", "name": "a", "kind": "Property", "value": 1.5,
                                    "observedAt": 1_764_000_000_000_000}])
    assert set(submit_and_wait(platform, API_SOURCE, [body]).values()) == {STORED}
    e = platform.store.entity(E)
    assert [(a.name, a.value_num) for a in e.attrs] == [("a", 1.5)] and e.service == API_SOURCE
    assert platform.store.ledger()[API_SOURCE]["stored"] == 1
