"""The guideline page's API: ``GET /api/guideline`` (the guideline ``citylink spec doc`` writes, as an HTML body),
``GET /api/guideline/sources`` and ``POST /api/check-feed`` (what ``citylink check-feed`` reports for a sample;
nothing is stored).  One engine: nothing here is stored, the store only holds the specs and device registries.
Public routes, but a reader sees only what it may: examples of data it may not see, and values of attributes it
may not see, are withheld; a personal value is never shown as sent."""
from __future__ import annotations

import json
import re
import shutil
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from cltest import manual_clock, started_platform
from dashworld import NOW
from citylink.api.app import create_app
from citylink.api.guideline import CHECKS_PER_MINUTE, MAX_SAMPLE_BYTES
from citylink.config import BUNDLED_SPECS
from citylink.normalize.check import check_feed
from citylink.normalize.compiler import pseudonymiser
from citylink.spec.doc import EXAMPLE_WITHHELD, example_payload, guideline_version

ACME, CAMERA, HOMES, BAY = "bins-acme-http", "dparking-vision-http", "safety-keeper-carelink-http", "dparking-bay-lora"
PLATE, HOUSEHOLD, EVENT = "12가3456", "DB-WF-2210", "NV-20261126-000381"   # in the shipped examples
STORED = {"stored", "stored_flagged"}


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with started_platform("sqlite", tmp_path_factory.mktemp("data"), manual_clock(NOW), BUNDLED_SPECS) as p:
        yield p


@pytest.fixture(scope="module")
def keys(platform):
    made = {name: platform.issue_api_key(name, **kw)[1] for name, kw in {
        "parking": {"department": "welfare-mobility"}, "sanitation": {"department": "sanitation"},
        "staff": {"scopes": ["staff"]}}.items()}
    return dict(made, admin=platform.settings.resolved_admin_key())


def client(p, key: str | None = None) -> TestClient:
    """A client of a new application: its own check budget (the limit is per application and address)."""
    c = TestClient(create_app(p))
    if key:
        c.headers["Authorization"] = f"Bearer {key}"
    return c


def checked(c, source: str, body: bytes, **params) -> dict:
    r = c.post("/api/check-feed", params={"source": source, **params}, content=body)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["source"] == source and doc["messages"] == len(doc["reports"])
    assert doc["stored"] + doc["quarantined"] == doc["messages"]
    return doc


def example(p, source: str) -> bytes:
    return example_payload(p.specs.sources[source])[2]


# -- checks ------------------------------------------------------------------------------------------------

def test_every_shipped_example_checks_as_stored_exactly_as_check_feed_reports_it(platform, keys):
    with client(platform, keys["admin"]) as c:
        for sid in sorted(platform.specs.sources):
            doc = checked(c, sid, example(platform, sid))
            assert doc["quarantined"] == 0 and doc["stored"] >= 1, (sid, doc)
            assert all(r["outcome"] in STORED and r["values"] and not r["problems"] for r in doc["reports"]), sid
            # the same reports as check_feed's (the admin sees every value), with the device registry in force
            direct = check_feed(platform.specs, sid, example(platform, sid), clock=platform.clock,
                                devices=platform.store.devices(sid).get(sid, []))
            for r in direct:
                r["meta"].pop("backfill", None)
            assert doc["reports"] == direct, sid


def test_the_public_checks_a_public_source_and_sees_its_public_values(platform):
    with client(platform) as c:
        doc = checked(c, ACME, example(platform, ACME))
    values = {v["attribute"]: v for v in doc["reports"][0]["values"]}
    assert values["fillingLevel"]["value"] == 0.73 and values["fillingLevel"]["unitCode"] == "C62"
    assert values["fillingLevel"]["entity"] == "urn:ngsi-ld:WasteContainer:dobong:acme:A-17"
    assert values["fillingLevel"]["observedAt"] == "2026-11-26T00:00:00.000Z"
    # a bin's battery is internal: the public learns it is stored, not its value
    assert values["batteryLevel"]["withheld"] is True and values["batteryLevel"]["value"] is None
    assert "withheld" not in values["fillingLevel"]


def test_a_broken_payload_reports_the_field_at_fault(platform):
    sample = json.loads(example(platform, ACME))
    with client(platform) as c:
        doc = checked(c, ACME, json.dumps([sample, dict(sample, fill_pct="full")]).encode())
        assert (doc["messages"], doc["stored"], doc["quarantined"]) == (2, 1, 1)
        bad = doc["reports"][1]
        assert bad["outcome"] == "quarantined" and bad["values"] == [] and bad["meta"]["batch_index"] == 1
        assert [(p["type"], p["field"]) for p in bad["problems"]] == [("wrong_type", "fillingLevel")]
        assert "full" in bad["problems"][0]["detail"]
        cut = checked(c, ACME, b'{"deviceId": "A-17", "fill_pct": ')
        assert cut["reports"][0]["problems"][0]["type"] == "malformed_json"
        assert "line 1" in cut["reports"][0]["problems"][0]["detail"]


def test_a_plate_pasted_in_does_not_come_back_as_sent(platform, keys):
    plate = "34나5678"
    sample = json.dumps(dict(platform.specs.sources[CAMERA].payload["example"], plate=plate),
                        ensure_ascii=False).encode()
    with client(platform, keys["parking"]) as c:    # the owning department sees the pseudonym
        r = c.post("/api/check-feed", params={"source": CAMERA}, content=sample)
    assert r.status_code == 200 and plate not in r.text
    values = {v["attribute"]: v["value"] for v in r.json()["reports"][0]["values"]}
    assert values["vehiclePlate"] == pseudonymiser(b"check-feed")(plate) != plate
    assert values["eventRef"] == EVENT                                 # its own internal value, as stored
    with client(platform) as c:                      # the public: neither the plate nor the event reference
        r = c.post("/api/check-feed", params={"source": CAMERA}, content=sample)
    assert r.status_code == 200 and plate not in r.text and "pz:" not in r.text and EVENT not in r.text
    assert r.json()["reports"][0]["outcome"] in STORED


def test_a_problem_with_a_personal_field_names_it_without_the_value(platform, keys):
    plate = "56다7890"
    broken = dict(platform.specs.sources[CAMERA].payload["example"], plate=[plate])    # a list: not text
    for key in (keys["parking"], None):
        with client(platform, key) as c:
            doc = checked(c, CAMERA, json.dumps(broken, ensure_ascii=False).encode())
        assert doc["reports"][0]["outcome"] == "quarantined"
        (problem,) = doc["reports"][0]["problems"]
        assert (problem["type"], problem["field"]) == ("wrong_type", "vehiclePlate")
        assert problem["value"].startswith("pz:") and plate not in json.dumps(doc, ensure_ascii=False)


def test_the_sample_size_is_capped(platform):
    with client(platform) as c:
        r = c.post("/api/check-feed", params={"source": ACME}, content=b" " * (MAX_SAMPLE_BYTES + 1))
        assert r.status_code == 413 and r.json()["detail"].startswith("body: over the limit")
        # without a Content-Length (chunked): cut while it is read
        r = c.post("/api/check-feed", params={"source": ACME},
                   content=(b" " * 65536 for _ in range(MAX_SAMPLE_BYTES // 65536 + 1)))
        assert r.status_code == 413 and r.json()["detail"].startswith("body:")


def test_a_sample_without_messages_or_for_no_source_is_refused_naming_the_parameter(platform):
    with client(platform) as c:
        r = c.post("/api/check-feed", params={"source": "no-such-source"}, content=b"{}")
        assert r.status_code == 404 and r.json()["detail"].startswith("source: no source 'no-such-source'")
        r = c.post("/api/check-feed", content=b"{}")
        assert r.status_code == 400 and "source" in r.json()["detail"]
        for empty in (b"", b"  \n"):
            r = c.post("/api/check-feed", params={"source": ACME}, content=empty)
            assert r.status_code == 400 and r.json()["detail"].startswith("body: holds no message"), r.text
        r = c.post("/api/check-feed", params={"source": "river-hangang-csv"}, content="지점,일자,시\n".encode())
        assert r.status_code == 400 and r.json()["detail"].startswith("body:")     # a header, no rows
        r = c.post("/api/check-feed", params={"source": ACME, "text": "true"}, content=b"\xff\xfe{}")
        assert r.status_code == 400 and r.json()["detail"].startswith("body: not UTF-8")


def test_checks_are_limited_per_client_address(platform):
    with client(platform) as c:
        for _ in range(CHECKS_PER_MINUTE):
            r = c.post("/api/check-feed", params={"source": ACME}, content=example(platform, ACME))
            assert r.status_code == 200
        r = c.post("/api/check-feed", params={"source": ACME}, content=example(platform, ACME))
        assert r.status_code == 429 and r.json()["detail"].startswith("client:")
        assert 1 <= int(r.headers["Retry-After"]) <= 60 / CHECKS_PER_MINUTE + 1
        assert c.get("/api/guideline/sources").status_code == 200          # reading is not limited here


# -- the guideline and the sources ---------------------------------------------------------------------

def test_the_guideline_is_the_generated_one_with_every_source_and_this_address(platform):
    with client(platform) as c:
        r = c.get("/api/guideline")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    doc = r.json()
    assert doc["version"] == guideline_version(platform.specs)
    body = doc["html"]
    assert body.startswith('<h1 id="citylink') and "<html" not in body and "<script" not in body.lower()
    assert '<h2 id="목차--contents">' in body
    links = {unquote(h) for h in re.findall(r'<a href="#([^"]+)"', body)}      # the contents: every one leads
    assert "1-전송-방식--transport-profiles" in links and links <= set(re.findall(r'<h\d id="([^"]+)"', body))
    for sid in platform.specs.sources:
        assert sid in body, sid
    assert "http://testserver/ingest/" in body and "citylink.invalid" not in body


def test_examples_of_data_the_reader_may_not_see_are_withheld(platform, keys):
    shown = {}
    for reader in (None, "sanitation", "staff", "parking", "admin"):
        with client(platform, keys.get(reader)) as c:
            body = c.get("/api/guideline").json()["html"]
            sources = {s["id"]: s for s in c.get("/api/guideline/sources").json()["sources"]}
        for secret in (PLATE, HOUSEHOLD):        # personal values as sent: nobody, not even an admin, here
            assert secret not in body and secret not in json.dumps(sources, ensure_ascii=False), (reader, secret)
        shown[reader] = {sid for sid, s in sources.items() if s["example"] is not None}
        assert all((f'예시--example--{sid}"' in body) for sid in sources)           # every example's heading
        assert body.count("예시 비공개 / Example withheld") == len(sources) - len(shown[reader]), reader
        if reader in (None, "sanitation"):
            assert EVENT not in body and "CL-H-00412" not in body, reader    # internal, restricted
    specs = platform.specs
    public = {sid for sid, s in specs.sources.items() if specs.services[s.service].visibility == "public"}
    assert shown[None] == shown["sanitation"] == public
    assert shown["staff"] == public | {BAY}                   # internal: staff; the camera's and EV plates never
    assert shown["admin"] == set(platform.specs.sources) - {CAMERA, "evpark-ecocharge-mqtt", HOMES}
    assert EXAMPLE_WITHHELD.startswith("*예시 비공개 / Example withheld.*")


def test_sources_give_what_the_form_needs(platform):
    with client(platform) as c:
        doc = c.get("/api/guideline/sources").json()
    assert [s["id"] for s in doc["services"]] == sorted(platform.specs.services)
    assert all(s["name"]["ko"] and s["name"]["en"] for s in doc["services"])
    by_id = {s["id"]: s for s in doc["sources"]}
    assert set(by_id) == set(platform.specs.sources)
    acme = by_id[ACME]
    assert (acme["service"], acme["format"], acme["encoding"], acme["contentType"]) == (
        "waste-bins", "json", "utf-8", "application/json")
    assert acme["example"] == example_payload(platform.specs.sources[ACME])[0]
    assert by_id["river-hangang-csv"]["contentType"] == "text/csv"
    assert by_id[HOMES]["example"] is None                     # restricted, and personal


# -- a spec change: the guideline follows; a source in testing may be checked ----------------------------

def test_a_reload_renders_the_guideline_again_and_a_testing_source_can_be_checked(tmp_path):
    specs = tmp_path / "specs"
    shutil.copytree(BUNDLED_SPECS, specs)
    river = specs / "riverbank-counters" / "sources" / "river-hangang-csv.yaml"
    with started_platform("sqlite", tmp_path / "data", manual_clock(NOW), specs) as p:
        with client(p) as c:
            before = c.get("/api/guideline").json()["version"]
            text = river.read_text(encoding="utf-8")
            river.write_text(text.replace("status: live", "status: testing")
                             .replace("encoding: utf-8", "encoding: cp949").replace("version: 1.1.0", "version: 1.2.0")
                             + '  - {version: 1.2.0, date: "2026-12-06", changes: "Files in cp949, in testing."}\n',
                             encoding="utf-8")
            p.apply_specs([specs])
            p.reload()
            after = c.get("/api/guideline").json()
            assert after["version"] != before and after["version"]["date"] == "2026-12-06"
            assert "시험 중" in after["html"]
            src = next(s for s in c.get("/api/guideline/sources").json()["sources"] if s["id"] == "river-hangang-csv")
            assert (src["status"], src["encoding"]) == ("testing", "cp949")
            # the form sends text: written in cp949 before the check; the same UTF-8 bytes sent raw are not cp949
            doc = checked(c, "river-hangang-csv", src["example"].encode("utf-8"), text="true")
            assert doc["stored"] == 1 and doc["reports"][0]["values"]
            raw = checked(c, "river-hangang-csv", src["example"].encode("utf-8"))
            assert raw["stored"] == 0
