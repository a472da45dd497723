"""The NGSI-LD write side: entities, attributes and batch operations, each taking the adapters' path
(archive → normalizer → store.apply), on both store engines."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cltest import ACME, acme_body, acme_urn, submit_and_wait
from citylink.api.app import create_app
from citylink.normalize.api_writes import API_SOURCE

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
E1 = "urn:ngsi-ld:WasteContainer:test:w1"
E2 = "urn:ngsi-ld:WasteContainer:test:w2"
S1 = "urn:ngsi-ld:Streetlight:test:s1"
A17 = acme_urn("A-17")


@pytest.fixture
def client(platform):
    assert set(submit_and_wait(platform, ACME, [acme_body(ts="2026-11-26T09:00:00+09:00", fill=10)]).values()) == {1}
    c = TestClient(create_app(platform))
    c.headers["Authorization"] = f"Bearer {platform.settings.resolved_admin_key()}"
    return c


def bin_doc(eid=E1, fill=0.4, **extra):
    return {"id": eid, "type": "WasteContainer",
            "fillingLevel": {"type": "Property", "value": fill, "observedAt": "2026-11-26T01:00:00Z"},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [127.04, 37.66]}},
            **extra}


def ok(r, status):
    assert r.status_code == status, r.text
    return r


def entity(client, eid, status=200, **params):
    return ok(client.get(f"/ngsi-ld/v1/entities/{eid}", params=params), status).json()


def problem(r, status, kind, *words):
    assert r.status_code == status, r.text
    body = r.json()
    assert body["type"] == ERR + kind, body
    for w in words:
        assert w in body["detail"], body
    return body


def test_create_retrieve_and_conflict(client, platform):
    r = ok(client.post("/ngsi-ld/v1/entities", json=bin_doc()), 201)
    assert r.headers["Location"] == f"/ngsi-ld/v1/entities/{E1}"
    e = entity(client, E1)
    assert e["type"] == "WasteContainer"
    assert e["fillingLevel"]["value"] == 0.4 and e["fillingLevel"]["observedAt"] == "2026-11-26T01:00:00.000Z"
    assert e["location"]["value"] == {"type": "Point", "coordinates": [127.04, 37.66]}
    problem(client.post("/ngsi-ld/v1/entities", json=bin_doc()), 409, "AlreadyExists", E1)
    # the write went the adapters' way: archived, counted in the ledger, in the temporal API
    led = platform.store.ledger()[API_SOURCE]
    assert led["stored"] == 1 and led["received"] == 1
    raw = platform.store.raw_messages(source=API_SOURCE)
    assert len(raw) == 1 and b"fillingLevel" in raw[0].body
    t = ok(client.get(f"/ngsi-ld/v1/temporal/entities/{E1}"), 200).json()
    assert [i["value"] for i in t["fillingLevel"]] == [0.4]
    # a type that belongs to one service is that service's entity
    assert platform.store.entity(E1).service == platform.store.entity(A17).service


def test_a_type_no_spec_declares_and_its_own_attributes(client):
    doc = {"id": S1, "type": "Streetlight", "powerState": {"type": "Property", "value": "on"},
           "lampLevel": 0.75, "refZone": {"type": "Relationship", "object": "urn:ngsi-ld:Zone:z1"},
           "name": {"type": "LanguageProperty", "languageMap": {"ko": "가로등", "en": "street light"}},
           "energy": {"type": "Property", "value": 12.5, "unitCode": "KWH"}}
    ok(client.post("/ngsi-ld/v1/entities", json=doc), 201)
    e = entity(client, S1)
    assert e["powerState"]["value"] == "on" and e["lampLevel"]["value"] == 0.75
    assert e["refZone"] == {"type": "Relationship", "object": "urn:ngsi-ld:Zone:z1",
                            "observedAt": e["refZone"]["observedAt"]}
    assert e["name"]["languageMap"]["ko"] == "가로등"
    assert e["energy"]["unitCode"] == "KWH"
    kv = entity(client, S1, options="keyValues")
    assert kv["lampLevel"] == 0.75 and kv["refZone"] == "urn:ngsi-ld:Zone:z1"
    ids = [x["id"] for x in ok(client.get("/ngsi-ld/v1/entities", params={"type": "Streetlight",
                                                                           "q": "lampLevel>0.5"}), 200).json()]
    assert ids == [S1]


@pytest.mark.parametrize("doc, words", [
    ({"type": "WasteContainer"}, ["id"]),
    ({"id": "not a uri", "type": "WasteContainer"}, ["id", "URI"]),
    ({"id": E1}, ["type"]),
    ({"id": E1, "type": "WasteContainer", "fillingLevel": {"type": "Proprety", "value": 1}}, ["fillingLevel.type"]),
    ({"id": E1, "type": "WasteContainer", "fillingLevel": {"type": "Property"}}, ["fillingLevel.value"]),
    ({"id": E1, "type": "WasteContainer", "fillingLevel": {"value": "full"}}, ["fillingLevel.value", "number"]),
    ({"id": E1, "type": "WasteContainer", "temperature": {"value": 50, "unitCode": "FAH"}},
     ["temperature.unitCode", "CEL"]),
    ({"id": E1, "type": "WasteContainer", "fillingLevel": {"type": "Relationship", "object": "urn:x:y"}},
     ["fillingLevel.type", "Property"]),
    ({"id": E1, "type": "WasteContainer", "location": {"type": "GeoProperty", "value": {"type": "Point"}}},
     ["location.value", "GeoJSON"]),
    ({"id": E1, "type": "WasteContainer", "x": {"value": 1, "observedAt": "yesterday"}}, ["x.observedAt"]),
    ({"id": E1, "type": "WasteContainer", "x": {"type": "Relationship", "object": "nope"}}, ["x.object"]),
    ({"id": E1, "type": "WasteContainer", "x": {"value": 1, "providedBy": {"type": "Relationship",
                                                                             "object": "urn:a:b"}}},
     ["x.providedBy", "sub-properties"]),
])
def test_bad_entities_are_400_naming_the_member(client, doc, words):
    problem(client.post("/ngsi-ld/v1/entities", json=doc), 400, "BadRequestData", *words)
    entity(client, E1, status=404)


def test_bad_bodies(client):
    problem(client.post("/ngsi-ld/v1/entities", content=b"{", headers={"Content-Type": "application/json"}),
            400, "InvalidRequest", "body")
    problem(client.post("/ngsi-ld/v1/entities", content=b"{}", headers={"Content-Type": "text/plain"}),
            415, "InvalidRequest", "Content-Type")
    problem(client.post("/ngsi-ld/v1/entities", json=[bin_doc()]), 400, "BadRequestData", "body")


def test_writes_want_the_admin_key(client):
    anon = TestClient(client.app)
    problem(anon.post("/ngsi-ld/v1/entities", json=bin_doc()), 401, "Unauthorized", "Authorization")
    problem(anon.delete(f"/ngsi-ld/v1/entities/{A17}"), 401, "Unauthorized")
    ok(anon.get(f"/ngsi-ld/v1/entities/{A17}"), 200)   # reads stay public


def test_append_with_and_without_overwrite(client):
    ok(client.post("/ngsi-ld/v1/entities", json=bin_doc()), 201)
    new = {"fillingLevel": {"value": 0.9}, "note": {"value": "lid sticks"}}
    r = ok(client.post(f"/ngsi-ld/v1/entities/{E1}/attrs", params={"options": "noOverwrite"}, json=new), 207)
    assert r.json()["updated"] == ["note"]
    assert [x["attributeName"] for x in r.json()["notUpdated"]] == ["fillingLevel"]
    e = entity(client, E1)
    assert e["fillingLevel"]["value"] == 0.4 and e["note"]["value"] == "lid sticks"
    ok(client.post(f"/ngsi-ld/v1/entities/{E1}/attrs", json=new), 204)
    assert entity(client, E1)["fillingLevel"]["value"] == 0.9
    problem(client.post(f"/ngsi-ld/v1/entities/{E2}/attrs", json=new), 404, "ResourceNotFound", E2)


def test_update_attributes_touches_only_existing_ones(client):
    ok(client.post("/ngsi-ld/v1/entities", json=bin_doc()), 201)
    r = ok(client.patch(f"/ngsi-ld/v1/entities/{E1}/attrs",
                        json={"fillingLevel": {"value": 0.6}, "colour": {"value": "green"}}), 207)
    assert r.json()["updated"] == ["fillingLevel"]
    assert r.json()["notUpdated"][0]["attributeName"] == "colour"
    e = entity(client, E1)
    assert e["fillingLevel"]["value"] == 0.6 and "colour" not in e
    ok(client.patch(f"/ngsi-ld/v1/entities/{E1}/attrs", json={"fillingLevel": {"value": 0.7}}), 204)
    assert entity(client, E1)["fillingLevel"]["value"] == 0.7


def test_partial_update_replace_and_delete_of_one_attribute(client):
    doc = bin_doc(airTemp={"type": "Property", "value": 21.0, "unitCode": "CEL"},
                  temperature={"type": "Property", "value": 20.0})
    ok(client.post("/ngsi-ld/v1/entities", json=doc), 201)
    assert entity(client, E1)["temperature"]["unitCode"] == "CEL"   # a spec attribute's canonical unit
    ok(client.patch(f"/ngsi-ld/v1/entities/{E1}/attrs/airTemp", json={"value": 23.5}), 204)
    t = entity(client, E1)["airTemp"]
    assert t["value"] == 23.5 and t["unitCode"] == "CEL"   # the members not given stay
    problem(client.patch(f"/ngsi-ld/v1/entities/{E1}/attrs/colour", json={"value": 1}), 404,
            "ResourceNotFound", "colour")
    ok(client.put(f"/ngsi-ld/v1/entities/{E1}/attrs/airTemp", json={"type": "Property", "value": 19.0}), 204)
    assert "unitCode" not in entity(client, E1)["airTemp"]  # replaced whole
    ok(client.delete(f"/ngsi-ld/v1/entities/{E1}/attrs/airTemp"), 204)
    assert "airTemp" not in entity(client, E1)
    problem(client.delete(f"/ngsi-ld/v1/entities/{E1}/attrs/airTemp"), 404, "ResourceNotFound", "airTemp")
    # the history stays: the temporal API still has every instance written
    t = ok(client.get(f"/ngsi-ld/v1/temporal/entities/{E1}", params={"attrs": "fillingLevel"}), 200).json()
    assert len(t["fillingLevel"]) == 1


def test_dataset_ids(client):
    doc = {"id": E1, "type": "WasteContainer",
           "reading": [{"type": "Property", "value": 1, "datasetId": "urn:ds:a"},
                       {"type": "Property", "value": 2, "datasetId": "urn:ds:b"}]}
    ok(client.post("/ngsi-ld/v1/entities", json=doc), 201)
    assert sorted(i["value"] for i in entity(client, E1)["reading"]) == [1, 2]
    ok(client.delete(f"/ngsi-ld/v1/entities/{E1}/attrs/reading", params={"datasetId": "urn:ds:a"}), 204)
    assert entity(client, E1)["reading"]["value"] == 2
    problem(client.post("/ngsi-ld/v1/entities", json={
        "id": E2, "type": "WasteContainer",
        "reading": [{"value": 1, "datasetId": "urn:ds:a"}, {"value": 2, "datasetId": "urn:ds:a"}]}),
        400, "BadRequestData", "reading[1].datasetId")


def test_replace_and_merge_patch(client):
    ok(client.post("/ngsi-ld/v1/entities", json=bin_doc(note={"value": "x"})), 201)
    ok(client.put(f"/ngsi-ld/v1/entities/{E1}", json={"id": E1, "type": "WasteContainer",
                                                      "fillingLevel": {"value": 0.1}}), 204)
    e = entity(client, E1)
    assert set(e) == {"id", "type", "fillingLevel"}   # note and location went
    problem(client.put(f"/ngsi-ld/v1/entities/{E1}", json={"id": E1, "type": "ParkingSpot"}), 400,
            "BadRequestData", "type")
    ok(client.patch(f"/ngsi-ld/v1/entities/{E1}", json={"fillingLevel": None, "note": {"value": "y"}}), 204)
    e = entity(client, E1)
    assert "fillingLevel" not in e and e["note"]["value"] == "y"
    problem(client.patch(f"/ngsi-ld/v1/entities/{E2}", json={"note": {"value": "y"}}), 404, "ResourceNotFound")


def test_delete_and_create_again(client, platform):
    ok(client.post("/ngsi-ld/v1/entities", json=bin_doc()), 201)
    ok(client.delete(f"/ngsi-ld/v1/entities/{E1}"), 204)
    entity(client, E1, status=404)
    problem(client.delete(f"/ngsi-ld/v1/entities/{E1}"), 404, "ResourceNotFound")
    ok(client.post("/ngsi-ld/v1/entities", json=bin_doc(fill=0.2)), 201)
    assert entity(client, E1)["fillingLevel"]["value"] == 0.2


def test_a_vendors_entity_deleted_comes_back_with_its_next_message(client, platform):
    ok(client.delete(f"/ngsi-ld/v1/entities/{A17}"), 204)
    entity(client, A17, status=404)
    got = submit_and_wait(platform, ACME, [acme_body(ts="2026-11-26T09:30:00+09:00", fill=44)])
    assert set(got.values()) == {1}
    assert entity(client, A17)["fillingLevel"]["value"] == 0.44


def test_writes_to_a_vendors_entity_join_its_history(client, platform):
    ok(client.patch(f"/ngsi-ld/v1/entities/{A17}/attrs",
                    json={"fillingLevel": {"value": 0.5, "observedAt": "2026-11-26T00:30:00Z"}}), 204)
    t = ok(client.get(f"/ngsi-ld/v1/temporal/entities/{A17}", params={"attrs": "fillingLevel"}), 200).json()
    assert sorted(i["value"] for i in t["fillingLevel"]) == [0.1, 0.5]
    assert platform.store.entity(A17).source == ACME   # still the vendor's entity


def test_an_api_write_replays_to_the_same_state(client, platform):
    ok(client.post("/ngsi-ld/v1/entities", json=bin_doc()), 201)
    before = entity(client, E1)
    rid = platform.store.raw_messages(source=API_SOURCE)[0].id
    assert platform.replay(API_SOURCE, ids=[rid]) == 1
    platform.bus.drain(timeout=10)
    assert entity(client, E1) == before
    assert platform.store.ledger()[API_SOURCE]["stored"] == 1


def test_a_written_position_is_found_by_a_geo_query(client):
    ok(client.post("/ngsi-ld/v1/entities", json=bin_doc()), 201)
    near = ok(client.get("/ngsi-ld/v1/entities", params={
        "type": "WasteContainer", "georel": "near;maxDistance==100", "geometry": "Point",
        "coordinates": "[127.0401,37.6601]"}), 200).json()
    assert [e["id"] for e in near] == [E1]


# -- batch operations ----------------------------------------------------------------------------------

def test_batch_create_reports_each_entity(client):
    r = ok(client.post("/ngsi-ld/v1/entityOperations/create", json=[bin_doc(E1), bin_doc(E2)]), 201)
    assert r.json() == [E1, E2]
    r = ok(client.post("/ngsi-ld/v1/entityOperations/create",
                       json=[bin_doc(E1), {"id": "urn:ngsi-ld:WasteContainer:test:w3", "type": "WasteContainer"},
                             {"id": "bad"}]), 207)
    assert r.json()["success"] == ["urn:ngsi-ld:WasteContainer:test:w3"]
    errs = {e["entityId"]: e["error"]["title"] for e in r.json()["errors"]}
    assert errs == {E1: "AlreadyExists", "bad": "BadRequestData"}
    problem(client.post("/ngsi-ld/v1/entityOperations/create", json={"id": E1}), 400, "BadRequestData", "array")


def test_batch_upsert_update_and_delete(client):
    ok(client.post("/ngsi-ld/v1/entities", json=bin_doc(E1, note={"value": "keep?"})), 201)
    r = ok(client.post("/ngsi-ld/v1/entityOperations/upsert", json=[bin_doc(E1, fill=0.8), bin_doc(E2)]), 201)
    assert r.json() == [E2]                             # only the created ones
    assert "note" not in entity(client, E1)             # replace (the default) dropped it
    ok(client.post("/ngsi-ld/v1/entityOperations/upsert", params={"options": "update"},
                   json=[{"id": E1, "type": "WasteContainer", "note": {"value": "back"}}]), 204)
    e = entity(client, E1)
    assert e["note"]["value"] == "back" and e["fillingLevel"]["value"] == 0.8
    r = ok(client.post("/ngsi-ld/v1/entityOperations/update",
                       json=[{"id": E1, "fillingLevel": {"value": 0.3}},
                             {"id": "urn:ngsi-ld:WasteContainer:test:none", "fillingLevel": {"value": 0.3}}]), 207)
    assert r.json()["success"] == [E1] and r.json()["errors"][0]["error"]["title"] == "ResourceNotFound"
    assert entity(client, E1)["fillingLevel"]["value"] == 0.3
    r = ok(client.post("/ngsi-ld/v1/entityOperations/delete", json=[E1, E2, "urn:x:none"]), 207)
    assert r.json()["success"] == [E1, E2] and r.json()["errors"][0]["entityId"] == "urn:x:none"
    entity(client, E2, status=404)
    ok(client.post("/ngsi-ld/v1/entityOperations/delete", json=[A17]), 204)


def test_the_routers_own_errors_are_problem_details_too(client):
    problem(client.get("/ngsi-ld/v1/nothing-here"), 404, "ResourceNotFound", "/ngsi-ld/v1/nothing-here")
    problem(client.put("/ngsi-ld/v1/entities"), 405, "InvalidRequest", "PUT")
    assert "GET" in client.put("/ngsi-ld/v1/entities").headers["allow"]


def test_a_trailing_slash_is_taken_as_clients_send_it(client):
    ok(client.post("/ngsi-ld/v1/entities/", json=bin_doc()), 201)
    ok(client.post("/ngsi-ld/v1/entityOperations/delete/", json=[E1]), 204)
    entity(client, E1, status=404)


def test_an_id_that_is_no_iri_is_refused_before_anything_is_written(client, platform):
    body = b'{"id": "urn:x:\\u0005\\udb43\\udf2e", "type": "WasteContainer"}'   # a control character
    problem(client.post("/ngsi-ld/v1/entities", content=body, headers={"Content-Type": "application/json"}),
            400, "BadRequestData", "id")
    assert platform.store.raw_messages(source=API_SOURCE) == []
    r = ok(client.post("/ngsi-ld/v1/entities", json=bin_doc("urn:ngsi-ld:WasteContainer:도봉:1")), 201)
    assert r.headers["Location"] == "/ngsi-ld/v1/entities/urn:ngsi-ld:WasteContainer:%EB%8F%84%EB%B4%89:1"
    assert entity(client, "urn:ngsi-ld:WasteContainer:도봉:1")["id"] == "urn:ngsi-ld:WasteContainer:도봉:1"


# -- the query operation (a read, with the selection in the body) ------------------------------------------

def test_query_operation_answers_as_the_get_query(client):
    ok(client.post("/ngsi-ld/v1/entityOperations/create", json=[bin_doc(E1, fill=0.9), bin_doc(E2, fill=0.2)]), 201)
    anon = TestClient(client.app)   # a read: no key needed
    body = {"type": "Query", "entities": [{"type": "WasteContainer"}], "q": "fillingLevel>0.5",
            "attrs": ["fillingLevel"]}
    got = ok(anon.post("/ngsi-ld/v1/entityOperations/query", json=body, params={"count": "true"}), 200)
    want = ok(anon.get("/ngsi-ld/v1/entities", params={"type": "WasteContainer", "q": "fillingLevel>0.5",
                                                      "attrs": "fillingLevel", "count": "true"}), 200)
    assert got.json() == want.json() and E1 in [e["id"] for e in got.json()]
    assert got.headers["NGSILD-Results-Count"] == want.headers["NGSILD-Results-Count"]
    near = {"type": "Query", "geoQ": {"georel": "near;maxDistance==50", "geometry": "Point",
                                      "coordinates": [127.04, 37.66]}, "entities": [{"id": E1}, {"id": E2}]}
    assert [e["id"] for e in ok(anon.post("/ngsi-ld/v1/entityOperations/query", json=near,
                                           params={"options": "keyValues"}), 200).json()] == [E1, E2]


@pytest.mark.parametrize("body, status, words", [
    ({"entities": [{"type": "WasteContainer"}]}, 400, ["type", "Query"]),
    ({"type": "Query", "q": "(fillingLevel>1"}, 400, ["q"]),
    ({"type": "Query", "entities": [{"type": "WasteContainer"}, {"id": E1}]}, 422, ["entities[].type"]),
    ({"type": "Query", "geoQ": {"georel": "near", "geometry": "Point", "coordinates": [1, 2]}}, 400, ["georel"]),
    ({"type": "Query", "temporalQ": {}}, 422, ["temporalQ"]),
])
def test_bad_query_operations_name_the_member(client, body, status, words):
    r = client.post("/ngsi-ld/v1/entityOperations/query", json=body)
    assert r.status_code == status, r.text
    for w in words:
        assert w in r.json()["detail"], r.json()
