"""The NGSI-LD slice: retrieve, query and temporal retrieve, with ProblemDetails errors."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cltest import (ACME, BRAVO, SDM, acme_body, acme_urn, admin_client, bravo_urn, make_platform,
                    submit_and_wait)
from citylink.api.app import create_app

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
A17 = acme_urn("A-17")


@pytest.fixture
def client(platform):
    ex = platform.specs.sources[BRAVO].payload["example"]
    got = submit_and_wait(platform, ACME, [
        acme_body(ts="2026-11-26T09:00:00+09:00", fill=10, compactions=300),
        acme_body(ts="2026-11-26T09:10:00+09:00", fill=20, compactions=305),
        acme_body(ts="2026-11-26T09:20:00+09:00", fill=30, compactions=310, temp=130),   # temperature flagged
        acme_body("A-18", ts="2026-11-26T09:00:00+09:00", fill=50)])
    assert sorted(got.values()) == [1, 1, 1, 2]
    assert set(submit_and_wait(platform, BRAVO, [ex]).values()) == {1}
    return admin_client(platform)   # sees every attribute; what the public sees: test_visibility.py


def get(client, url, status=200, **kw):
    r = client.get(url, **kw)
    assert r.status_code == status, r.text
    return r


def entity_url(eid):
    return f"/ngsi-ld/v1/entities/{eid}"


def test_retrieve_normalized(client):
    r = get(client, entity_url(A17))
    assert r.headers["content-type"].startswith("application/json")
    assert "jsonldContexts/citylink" in r.headers["link"] and 'rel="http://www.w3.org/ns/json-ld#context"' in r.headers["link"]
    e = r.json()
    assert e["id"] == A17 and e["type"] == "WasteContainer"
    assert e["fillingLevel"] == {"type": "Property", "value": 0.3, "unitCode": "C62",
                                 "observedAt": "2026-11-26T00:20:00.000Z"}
    assert e["compactionCount"] == {"type": "Property", "value": 310, "observedAt": "2026-11-26T00:20:00.000Z"}
    assert e["status"]["value"] == "ok"
    assert e["temperature"]["value"] == 130 and e["temperature"]["unitCode"] == "CEL"
    assert e["temperature"]["qualityFlags"] == {"type": "Property", "value": ["out_of_range"]}
    assert "qualityFlags" not in e["fillingLevel"]
    # the registry's position
    assert e["location"] == {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [127.0471, 37.6688]}}


def test_retrieve_key_values(client):
    for q in ("options=keyValues", "format=keyValues"):
        e = get(client, entity_url(A17) + "?" + q).json()
        assert e == {"id": A17, "type": "WasteContainer", "batteryLevel": 0.88, "compactionCount": 310,
                     "fillingLevel": 0.3, "status": "ok", "temperature": 130,
                     "location": {"type": "Point", "coordinates": [127.0471, 37.6688]}}


def test_retrieve_concise(client):
    e = get(client, entity_url(A17) + "?options=concise").json()
    assert e["fillingLevel"] == {"value": 0.3, "unitCode": "C62", "observedAt": "2026-11-26T00:20:00.000Z"}
    assert "type" in e["temperature"]  # a flagged value keeps its full form
    assert e["location"] == {"value": {"type": "Point", "coordinates": [127.0471, 37.6688]}}


def test_retrieve_sys_attrs(client, platform):
    e = get(client, entity_url(A17) + "?options=sysAttrs").json()
    now = "2026-11-26T00:30:00.000Z"  # the platform's manual clock
    assert e["createdAt"] == now and e["modifiedAt"] == now
    assert e["fillingLevel"]["modifiedAt"] == now
    assert "createdAt" not in get(client, entity_url(A17)).json()


def test_retrieve_picks_attributes(client):
    e = get(client, entity_url(A17) + "?attrs=fillingLevel,status").json()
    assert set(e) == {"id", "type", "fillingLevel", "status"}
    e = get(client, entity_url(A17) + f"?attrs={SDM}fillingLevel").json()
    assert set(e) == {"id", "type", "fillingLevel"}


def test_retrieve_as_json_ld(client):
    r = get(client, entity_url(A17), headers={"Accept": "application/ld+json"})
    assert r.headers["content-type"].startswith("application/ld+json")
    assert r.json()["@context"].endswith("/ngsi-ld/v1/jsonldContexts/citylink")
    assert "link" not in r.headers


def test_context_document(client):
    ctx = get(client, "/ngsi-ld/v1/jsonldContexts/citylink").json()["@context"]
    terms = ctx[0]
    assert terms["WasteContainer"] == SDM + "WasteContainer"
    assert terms["fillingLevel"] == SDM + "fillingLevel"
    assert "location" not in terms  # a core term
    assert ctx[1].startswith("https://uri.etsi.org/ngsi-ld/")


def test_unknown_entity_is_404_problem_details(client):
    r = get(client, entity_url("urn:ngsi-ld:WasteContainer:dobong:acme:nope"), 404)
    body = r.json()
    assert body["type"] == ERR + "ResourceNotFound" and body["title"] == "ResourceNotFound"
    assert "urn:ngsi-ld:WasteContainer:dobong:acme:nope" in body["detail"]
    assert r.headers["content-type"].startswith("application/json")


def test_query_by_type_with_paging_and_count(client):
    r = get(client, "/ngsi-ld/v1/entities?type=WasteContainer&count=true")
    ids = [e["id"] for e in r.json()]
    assert r.headers["NGSILD-Results-Count"] == "4"
    assert set(ids) == {A17, acme_urn("A-18"), bravo_urn("B0042"), bravo_urn("B0043")}
    r2 = get(client, "/ngsi-ld/v1/entities?type=WasteContainer&limit=2&offset=1&count=true")
    assert [e["id"] for e in r2.json()] == ids[1:3]
    assert r2.headers["NGSILD-Results-Count"] == "4"
    assert "NGSILD-Results-Count" not in get(client, "/ngsi-ld/v1/entities?type=WasteContainer").headers
    assert get(client, "/ngsi-ld/v1/entities?type=WasteContainer&limit=0&count=true").json() == []
    assert get(client, "/ngsi-ld/v1/entities?type=WasteContainer&offset=10").json() == []


def test_query_by_expanded_type_and_by_id(client):
    assert len(get(client, f"/ngsi-ld/v1/entities?type={SDM}WasteContainer").json()) == 4
    assert get(client, "/ngsi-ld/v1/entities?type=AirQualityObserved").json() == []
    r = get(client, f"/ngsi-ld/v1/entities?id={A17},{bravo_urn('B0042')}&options=keyValues")
    got = {e["id"]: e for e in r.json()}
    assert set(got) == {A17, bravo_urn("B0042")}
    assert got[bravo_urn("B0042")]["fillingLevel"] == pytest.approx(0.65)


@pytest.mark.parametrize("query,name", [
    ("type=WasteContainer&limit=abc", "limit"), ("type=WasteContainer&offset=x", "offset"),
    ("type=WasteContainer&offset=-1", "offset"), ("type=WasteContainer&options=bogus", "options"),
    ("type=WasteContainer&format=xml", "format"), ("", "type"),
])
def test_bad_query_parameters_are_400_naming_the_parameter(client, query, name):
    body = get(client, f"/ngsi-ld/v1/entities?{query}", 400).json()
    assert body["type"] == ERR + "BadRequestData"
    assert body["detail"].startswith(name + ":"), body


def test_bad_options_on_retrieve(client):
    body = get(client, entity_url(A17) + "?options=keyValues,bogus", 400).json()
    assert body["type"] == ERR + "BadRequestData" and "bogus" in body["detail"]


def test_too_many_results_and_unsupported_queries(client):
    body = get(client, "/ngsi-ld/v1/entities?type=WasteContainer&limit=5000", 403).json()
    assert body["type"] == ERR + "TooManyResults"
    body = get(client, "/ngsi-ld/v1/entities?type=WasteContainer&scopeQ=/Dobong", 422).json()
    assert body["type"] == ERR + "OperationNotSupported" and body["detail"].startswith("scopeQ:")


# -- temporal ------------------------------------------------------------------------------------------

def temporal(client, eid=A17, query="", status=200):
    return get(client, f"/ngsi-ld/v1/temporal/entities/{eid}" + (f"?{query}" if query else ""), status).json()


def test_temporal_all_instances(client, platform):
    t = temporal(client)
    assert t["id"] == A17 and t["type"] == "WasteContainer"
    fl = t["fillingLevel"]
    assert [i["value"] for i in fl] == [0.1, 0.2, 0.3]
    assert [i["observedAt"] for i in fl] == ["2026-11-26T00:00:00.000Z", "2026-11-26T00:10:00.000Z",
                                            "2026-11-26T00:20:00.000Z"]
    raw_ids = {str(m.id) for m in platform.store.raw_messages(source=ACME)}
    assert all(i["instanceId"].startswith("urn:ngsi-ld:citylink:raw:") for i in fl)
    assert {i["instanceId"].rsplit(":", 1)[1] for i in fl} <= raw_ids
    assert t["temperature"][-1]["qualityFlags"]["value"] == ["out_of_range"]


def test_temporal_timerel(client):
    def values(q):
        return [i["value"] for i in temporal(client, query=q + "&attrs=fillingLevel")["fillingLevel"]]
    # instances at 00:00, 00:10, 00:20 (times between them, so inclusive/exclusive ends do not matter)
    assert values("timerel=before&timeAt=2026-11-26T00:05:00Z") == [0.1]
    assert values("timerel=before&timeAt=2026-11-26T00:15:00.000Z") == [0.1, 0.2]
    assert values("timerel=after&timeAt=2026-11-26T00:05:00Z") == [0.2, 0.3]
    assert values("timerel=between&timeAt=2026-11-26T00:05:00Z&endTimeAt=2026-11-26T00:15:00Z") == [0.2]
    assert values("timerel=between&timeAt=2026-11-26T09:00:00%2B09:00&endTimeAt=2026-11-26T09:20:01%2B09:00") == \
        [0.1, 0.2, 0.3]
    assert "fillingLevel" not in temporal(client, query="timerel=after&timeAt=2026-11-27T00:00:00Z")


def test_temporal_last_n_and_attrs(client):
    t = temporal(client, query="lastN=2&attrs=fillingLevel,compactionCount")
    assert set(t) == {"id", "type", "fillingLevel", "compactionCount"}
    assert [i["value"] for i in t["fillingLevel"]] == [0.2, 0.3]
    assert [i["value"] for i in t["compactionCount"]] == [305, 310]


def test_temporal_values(client):
    t = temporal(client, query="options=temporalValues&attrs=fillingLevel")
    assert t["fillingLevel"] == {"type": "Property", "values": [[0.1, "2026-11-26T00:00:00.000Z"],
                                                                [0.2, "2026-11-26T00:10:00.000Z"],
                                                                [0.3, "2026-11-26T00:20:00.000Z"]]}


@pytest.mark.parametrize("query,name", [
    ("timerel=before", "timeAt"), ("timerel=between&timeAt=2026-11-26T00:00:00Z", "endTimeAt"),
    ("timerel=between&timeAt=2026-11-26T00:10:00Z&endTimeAt=2026-11-26T00:00:00Z", "endTimeAt"),
    ("timerel=during&timeAt=2026-11-26T00:00:00Z", "timerel"), ("timerel=after&timeAt=yesterday", "timeAt"),
    ("timerel=after&timeAt=2026-11-26T00:00:00", "timeAt"), ("lastN=0", "lastN"), ("lastN=x", "lastN"),
])
def test_temporal_bad_parameters(client, query, name):
    body = temporal(client, query=query, status=400)
    assert body["type"] == ERR + "BadRequestData" and body["detail"].startswith(name + ":"), body


def test_temporal_unknown_entity(client):
    assert temporal(client, eid="urn:ngsi-ld:X:y", status=404)["type"] == ERR + "ResourceNotFound"


# -- health --------------------------------------------------------------------------------------------

def test_healthz_and_readyz(client):
    assert get(client, "/healthz").json() == {"status": "ok"}
    r = get(client, "/readyz").json()
    assert r == {"status": "ready", "checks": {"store": "ok", "specs": "ok", "normalizer": "ok"}}


def test_readyz_before_start_is_503(tmp_path, clock):
    p = make_platform(tmp_path / "idle", clock)
    try:
        r = TestClient(create_app(p)).get("/readyz")
        assert r.status_code == 503
        assert r.json()["status"] == "not ready"
        assert r.json()["checks"]["normalizer"] == "not started"
        assert TestClient(create_app(p)).get("/healthz").status_code == 200
    finally:
        p.store.close()


def test_a_testing_source_is_stored_but_not_published(client, platform, tmp_path):
    """status: testing — the data is kept, and no NGSI-LD read shows it until the source goes live."""
    spec = platform.specs.sources[ACME].origin
    testing = tmp_path / "bins-acme-http.yaml"
    text = "\n".join(ln for ln in spec.text.splitlines() if not ln.startswith("devices:"))  # registry kept as is
    testing.write_text(text.replace("status: live", "status: testing"), encoding="utf-8")
    platform.apply_specs([testing])
    platform.reload()
    assert platform.store.entity(A17) is not None                       # stored
    get(client, entity_url(A17), 404)                                   # not published
    get(client, f"/ngsi-ld/v1/temporal/entities/{A17}", 404)
    listed = get(client, "/ngsi-ld/v1/entities?type=WasteContainer&count=true")
    assert all(e["id"].startswith("urn:ngsi-ld:WasteContainer:dobong:bravo:") for e in listed.json())
    assert listed.headers["NGSILD-Results-Count"] == str(len(listed.json()))
    live = tmp_path / "live" / "bins-acme-http.yaml"
    live.parent.mkdir()
    live.write_text(text, encoding="utf-8")
    platform.apply_specs([live])
    platform.reload()
    assert get(client, entity_url(A17)).json()["id"] == A17


def test_the_served_context_scopes_terms_whose_meaning_depends_on_the_type():
    from citylink.api.context import terms
    from citylink.config import BUNDLED_SPECS
    from citylink.spec.loader import load_paths

    t = terms(load_paths([BUNDLED_SPECS]))
    assert "status" not in t  # two Smart Data Models define it differently …
    assert t["WasteContainer"]["@context"]["status"] == SDM + "status"  # … so each type says which it means
    assert t["ParkingSpot"]["@context"]["status"] == "https://smartdatamodels.org/dataModel.Parking/status"
    assert t["ParkingSpot"]["@id"] == "https://smartdatamodels.org/dataModel.Parking/ParkingSpot"
    assert t["vehiclePlate"] == "https://w3id.org/citylink/ns/vehiclePlate"  # one meaning in both parking services
    assert t["fillingLevel"] == SDM + "fillingLevel"


# -- q=, idPattern, pick/omit, GeoJSON --------------------------------------------------------------------

def ids_of(client, query, status=200, **kw):
    return sorted(e["id"] for e in get(client, "/ngsi-ld/v1/entities?" + query, status, **kw).json())


def test_query_language(client):
    assert ids_of(client, "type=WasteContainer&q=fillingLevel>=0.5") == sorted([acme_urn("A-18"), bravo_urn("B0042"),
                                                                             bravo_urn("B0043")])
    assert ids_of(client, "q=fillingLevel<0.4;temperature>100") == [A17]        # q alone is enough
    assert ids_of(client, 'type=WasteContainer&q=status=="ok";fillingLevel==0.25..0.35') == [A17]
    assert ids_of(client, "type=WasteContainer&q=temperature.observedAt>2026-11-26T00:10:00Z") == [A17]
    r = get(client, "/ngsi-ld/v1/entities?type=WasteContainer&q=fillingLevel>0&count=true&limit=1")
    assert r.headers["NGSILD-Results-Count"] == "4" and len(r.json()) == 1


def test_id_pattern_and_attrs(client):
    assert ids_of(client, "idPattern=:acme:A-1[78]$") == sorted([A17, acme_urn("A-18")])
    assert ids_of(client, "type=WasteContainer&attrs=compactionCount") == sorted([A17, acme_urn("A-18")])  # Bravo has none
    e = get(client, f"/ngsi-ld/v1/entities?id={A17}&attrs=fillingLevel").json()[0]
    assert set(e) == {"id", "type", "fillingLevel"}


def test_pick_and_omit(client):
    e = get(client, entity_url(A17) + "?pick=fillingLevel,status&options=keyValues").json()
    assert e == {"id": A17, "type": "WasteContainer", "fillingLevel": 0.3, "status": "ok"}
    e = get(client, entity_url(A17) + "?omit=location,temperature,batteryLevel&options=keyValues").json()
    assert e == {"id": A17, "type": "WasteContainer", "compactionCount": 310, "fillingLevel": 0.3, "status": "ok"}
    body = get(client, entity_url(A17) + "?pick=status&omit=location", 400).json()
    assert body["detail"].startswith("omit:")


def test_geojson(client):
    r = get(client, "/ngsi-ld/v1/entities?type=WasteContainer&options=keyValues&pick=fillingLevel,location",
            headers={"Accept": "application/geo+json"})
    assert r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 4
    a17 = next(f for f in fc["features"] if f["id"] == A17)
    assert a17["type"] == "Feature" and a17["geometry"] == {"type": "Point", "coordinates": [127.0471, 37.6688]}
    assert a17["properties"]["fillingLevel"] == 0.3 and a17["properties"]["type"] == "WasteContainer"
    one = get(client, entity_url(A17), headers={"Accept": "application/geo+json"}).json()
    assert one["type"] == "Feature" and one["geometry"]["coordinates"] == [127.0471, 37.6688]
    assert one["properties"]["fillingLevel"]["value"] == 0.3


@pytest.mark.parametrize("query, param", [
    ("type=WasteContainer&q=fillingLevel>", "q:"), ("q=(a>1", "q:"), ("q=a.foo==1", "q:"),
    ("idPattern=(", "idPattern:"), ("idPattern=" + "x" * 201, "idPattern:"), ("type=WasteContainer&attrs=,", "attrs:"),
    ("type=WasteContainer&q=fillingLevel.observedAt>5", "q:"), ("options=keyValues", "type:"),
])
def test_bad_queries_name_the_parameter(client, query, param):
    body = get(client, "/ngsi-ld/v1/entities?" + query, 400).json()
    assert body["type"] == ERR + "BadRequestData" and body["detail"].startswith(param), body


# -- aggregated temporal values and temporal queries ----------------------------------------------------

def test_aggregated_values(client):
    t = temporal(client, query="options=aggregatedValues&aggrMethods=avg,min,max,sum,totalCount&attrs=fillingLevel"
                               "&aggrPeriodDuration=PT1H&timerel=after&timeAt=2026-11-26T00:00:00Z")
    assert t["fillingLevel"]["type"] == "Property"
    assert t["fillingLevel"]["avg"] == [[pytest.approx(0.2), "2026-11-26T00:00:00.000Z", "2026-11-26T01:00:00.000Z"]]
    assert t["fillingLevel"]["sum"][0][0] == pytest.approx(0.6)
    assert t["fillingLevel"]["min"][0][0] == 0.1 and t["fillingLevel"]["max"][0][0] == 0.3
    assert t["fillingLevel"]["totalCount"][0][0] == 3
    ten = temporal(client, query="options=aggregatedValues&aggrMethods=max&attrs=fillingLevel&aggrPeriodDuration=PT10M"
                                 "&timerel=between&timeAt=2026-11-26T00:00:00Z&endTimeAt=2026-11-26T00:25:00Z")
    assert [v[0] for v in ten["fillingLevel"]["max"]] == [0.1, 0.2, 0.3]
    assert ten["fillingLevel"]["max"][-1][2] == "2026-11-26T00:25:00.000Z"  # the last period ends with the range
    whole = temporal(client, query="options=aggregatedValues&aggrMethods=totalCount,distinctCount&attrs=status")
    assert whole["status"]["totalCount"][0][0] == 3 and whole["status"]["distinctCount"][0][0] == 1


def test_temporal_query_over_a_type(client):
    body = get(client, "/ngsi-ld/v1/temporal/entities?type=WasteContainer&q=fillingLevel<0.4&attrs=fillingLevel"
                       "&timerel=after&timeAt=2026-11-25T00:00:00Z&options=temporalValues").json()
    assert [e["id"] for e in body] == [A17]
    assert [v[0] for v in body[0]["fillingLevel"]["values"]] == [0.1, 0.2, 0.3]
    agg = get(client, "/ngsi-ld/v1/temporal/entities?type=WasteContainer&attrs=fillingLevel&timerel=after"
                      "&timeAt=2026-11-25T00:00:00Z&options=aggregatedValues&aggrMethods=avg&aggrPeriodDuration=P1D"
                      "&count=true")
    assert agg.headers["NGSILD-Results-Count"] == "4"
    assert {e["id"]: len(e["fillingLevel"]["avg"]) for e in agg.json()}[A17] == 1


@pytest.mark.parametrize("query, param", [
    ("options=aggregatedValues&aggrPeriodDuration=P1M", "aggrPeriodDuration:"),
    ("options=aggregatedValues&aggrPeriodDuration=1h", "aggrPeriodDuration:"),
    ("options=aggregatedValues&aggrPeriodDuration=PT0.5S", "aggrPeriodDuration:"),
    ("options=aggregatedValues&aggrMethods=median", "aggrMethods:"),
    ("timerel=after", "timeAt:"), ("timeAt=2026-11-26T00:00:00Z", "timerel:"), ("timerel=around&timeAt=2026-11-26T00:00:00Z", "timerel:"),
    ("options=aggregatedValues&aggrPeriodDuration=PT1S&timerel=after&timeAt=2000-01-01T00:00:00Z", "aggrPeriodDuration:"),
])
def test_bad_temporal_parameters_are_named(client, query, param, monkeypatch):
    import citylink.store.base as base
    import citylink.store.postgres as postgres_store
    import citylink.store.sqlite as sqlite_store
    for module in (base, sqlite_store, postgres_store):
        monkeypatch.setattr(module, "MAX_PERIODS", 2)
    body = temporal(client, query=query, status=400)
    assert body["detail"].startswith(param), body


def test_a_temporal_query_needs_timerel(client):
    body = get(client, "/ngsi-ld/v1/temporal/entities?type=WasteContainer", 400).json()
    assert body["detail"].startswith("timerel:")


# -- discovery: types, attributes, contexts ----------------------------------------------------------------

def test_types_and_attributes(client):
    # the 130 °C reading raised a fire-risk alarm (waste-bins' rules): its NGSI-LD Alert entity is listed too
    assert get(client, "/ngsi-ld/v1/types").json()["typeList"] == ["Alert", "WasteContainer"]
    (t,) = [t for t in get(client, "/ngsi-ld/v1/types?details=true").json() if t["typeName"] != "Alert"]
    assert t["typeName"] == "WasteContainer" and t["type"] == "EntityType" and "fillingLevel" in t["attributeNames"]
    info = get(client, "/ngsi-ld/v1/types/WasteContainer").json()
    assert info["entityCount"] == 4 and info["type"] == "EntityTypeInfo"
    assert {a["attributeName"] for a in info["attributeDetails"]} >= {"fillingLevel", "temperature", "status"}
    assert get(client, "/ngsi-ld/v1/types/" + info["id"]).json()["typeName"] == "WasteContainer"  # by IRI too
    names = get(client, "/ngsi-ld/v1/attributes").json()["attributeList"]
    assert "fillingLevel" in names and "compactionCount" in names
    fill = get(client, "/ngsi-ld/v1/attributes/fillingLevel").json()
    assert fill["attributeCount"] == 4 and fill["typeNames"] == ["WasteContainer"] and fill["id"] == SDM + "fillingLevel"
    comp = next(a for a in get(client, "/ngsi-ld/v1/attributes?details=true").json()
                if a["attributeName"] == "compactionCount")
    assert comp["attributeCount"] == 2  # the ACME bins; Bravo's do not count compactions
    assert get(client, "/ngsi-ld/v1/types/ParkingSpot", 404).json()["type"] == ERR + "ResourceNotFound"
    assert get(client, "/ngsi-ld/v1/attributes/nothing", 404).json()["type"] == ERR + "ResourceNotFound"
    assert get(client, "/ngsi-ld/v1/types?details=maybe", 400).json()["detail"].startswith("details:")
    (ctx,) = get(client, "/ngsi-ld/v1/jsonldContexts").json()
    assert ctx.endswith("/ngsi-ld/v1/jsonldContexts/citylink") and get(client, ctx).json()["@context"]


def test_geo_query_over_http(client):
    near = "georel=near;maxDistance==300&geometry=Point&coordinates=[127.0471,37.6688]"
    assert ids_of(client, "type=WasteContainer&" + near) == [A17]
    # a geo-query alone is enough: the bin, and the Alert of its fire-risk alarm (the 130 °C reading), placed there
    (alert,) = ids_of(client, "type=Alert&" + near)
    assert ids_of(client, near) == sorted([A17, alert])
    body = get(client, "/ngsi-ld/v1/entities?type=WasteContainer&georel=near&geometry=Point&coordinates=[1,2]",
               400).json()
    assert body["detail"].startswith("georel:")
    body = get(client, "/ngsi-ld/v1/entities?georel=within&geometry=Polygon&coordinates=[[1,2]]", 400).json()
    assert body["detail"].startswith("coordinates:")
