"""HTTP push: POST /ingest/{source} with a Bearer token, over a started platform on tmp SQLite."""
from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient

from cltest import ACME, BRAVO, acme_body, acme_urn, ledger_balances, make_platform
from citylink.api.app import create_app


@pytest.fixture
def client(platform):
    return TestClient(create_app(platform))


@pytest.fixture
def token(platform):
    return platform.issue_token(ACME, "test vendor")


def auth(token, ctype="application/json"):
    h = {"Authorization": f"Bearer {token}"}
    if ctype:
        h["Content-Type"] = ctype
    return h


def ledger(client):
    key = client.app.state.platform.settings.resolved_admin_key()
    r = client.get("/api/ledger", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200
    return r.json()


def archived(platform, source=ACME):
    return platform.store.raw_messages(source=source, limit=10_000)


# -- refused at the transport -------------------------------------------------------------------------

def test_missing_token_is_401_and_counted(client, platform):
    r = client.post(f"/ingest/{ACME}", content=acme_body(), headers={"Content-Type": "application/json"})
    assert r.status_code == 401
    body = r.json()
    assert body["title"] == "bad_token" and body["type"].endswith("/bad_token") and "Authorization" in body["detail"]
    assert ledger(client)[ACME]["refused_bad_token"] == 1
    assert archived(platform) == []  # nothing archived


def test_wrong_token_is_401_and_counted(client, platform, token):
    for bad in ("Bearer cl_nope", "Bearer ", "Basic " + token, "bearer  cl_also_wrong"):
        r = client.post(f"/ingest/{ACME}", content=acme_body(), headers={"Authorization": bad,
                                                                      "Content-Type": "application/json"})
        assert r.status_code == 401, bad
    led = ledger(client)[ACME]
    assert led["refused_bad_token"] == 4 and led["received"] == 0
    assert archived(platform) == []


def test_token_of_another_source_is_refused(client, platform):
    bravo_token = platform.issue_token(BRAVO)
    r = client.post(f"/ingest/{ACME}", content=acme_body(), headers=auth(bravo_token))
    assert r.status_code == 401


def test_revoked_token_is_refused(client, platform, token):
    assert client.post(f"/ingest/{ACME}", content=acme_body(), headers=auth(token)).status_code == 200
    platform.store.revoke_tokens(ACME, platform.clock.now_us())
    assert client.post(f"/ingest/{ACME}", content=acme_body(fill=1), headers=auth(token)).status_code == 401


def test_token_header_alternative(client, token):
    r = client.post(f"/ingest/{ACME}", content=acme_body(), headers={"X-CityLink-Token": token,
                                                                  "Content-Type": "application/json"})
    assert r.status_code == 200


def test_unknown_source_is_404_without_disclosing_the_known_ones(client, token):
    r = client.post("/ingest/bins-zeta", content=b"{}", headers=auth(token))
    assert r.status_code == 404
    detail = r.json()["detail"]
    assert "bins-zeta" in detail and ACME not in detail and BRAVO not in detail
    # refusals of invented names share one ledger row, so callers cannot grow the ledger
    client.post("/ingest/bins-eta", content=b"{}", headers=auth(token))
    book = ledger(client)
    assert "bins-zeta" not in book and book["(unknown)"]["refused_unknown_source"] == 2


def test_source_declared_for_another_transport_is_refused(client, platform, token, tmp_path):
    specs = platform.specs
    src = specs.sources[ACME]
    src.transport["type"] = "file"  # as if the spec declared a file feed
    try:
        r = client.post(f"/ingest/{ACME}", content=acme_body(), headers=auth(token))
    finally:
        src.transport["type"] = "http_push"
    assert r.status_code == 409 and "transport.type" in r.json()["detail"]
    assert ledger(client)[ACME]["refused_wrong_transport"] == 1
    assert platform.store.raw_messages(source=ACME) == []  # refused before it was archived


def test_wrong_content_type_is_415(client, platform, token):
    r = client.post(f"/ingest/{ACME}", content=acme_body(), headers=auth(token, "text/csv"))
    assert r.status_code == 415
    assert "application/json" in r.json()["detail"]
    assert ledger(client)[ACME]["refused_unsupported_media_type"] == 1
    assert archived(platform) == []
    # parameters of the media type are fine, and so is no content type at all
    assert client.post(f"/ingest/{ACME}", content=acme_body(), headers=auth(token, "application/json; charset=utf-8")).status_code == 200
    assert client.post(f"/ingest/{ACME}", content=acme_body(fill=5), headers=auth(token, None)).status_code == 200


def test_empty_body_is_refused(client, token):
    r = client.post(f"/ingest/{ACME}", content=b"", headers=auth(token))
    assert r.status_code == 400 and r.json()["title"] == "empty_body"


@pytest.fixture
def small(tmp_path, clock, bins_dir):
    p = make_platform(tmp_path / "small", clock, max_body_bytes=300)
    p.start(specs_dir=bins_dir, watch=False)
    yield p, TestClient(create_app(p)), p.issue_token(ACME)
    p.stop()


def test_body_over_the_limit_is_413(small):
    p, client, token = small
    r = client.post(f"/ingest/{ACME}", content=b"[" + b" " * 400 + b"]", headers=auth(token))
    assert r.status_code == 413
    assert r.json()["limit"] == 300 and "300" in r.json()["detail"]
    assert ledger(client)[ACME]["refused_too_large"] == 1
    assert archived(p) == []
    assert client.post(f"/ingest/{ACME}", content=acme_body(), headers=auth(token)).status_code == 200


def test_streamed_body_over_the_limit_is_413(small):
    p, client, token = small

    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(10):
            yield b" " * 100
    r = client.post(f"/ingest/{ACME}", content=chunks(), headers=auth(token))
    assert r.status_code == 413
    assert archived(p) == []


# -- accepted ---------------------------------------------------------------------------------------

def test_one_message_stored_is_200(client, platform, token):
    body = b'{ "deviceId" : "A-17",\n "ts": "2026-11-26T09:00:00+09:00", "fill_pct": 73 }'
    r = client.post(f"/ingest/{ACME}", content=body, headers=auth(token))
    assert r.status_code == 200
    data = r.json()
    assert data["source"] == ACME and data["received"] == 1
    [res] = data["results"]
    assert res["outcome"] == "stored" and "problems" not in res
    [raw] = archived(platform)
    assert raw.body == body  # the archive keeps the exact bytes
    assert str(raw.id) == res["id"] and raw.transport == "http_push"
    assert platform.store.entity(acme_urn("A-17")) is not None
    led = ledger(client)[ACME]
    assert led["received"] == led["stored"] == 1


def test_batch_array_is_one_message_each_with_exact_bytes(client, platform, token):
    elems = [acme_body("A-17"), b'{"deviceId":"A-18",  "ts":"2026-11-26T09:00:00+09:00","fill_pct":10}',
             '{"deviceId": "도봉-1", "ts": "2026-11-26T09:00:00+09:00", "fill_pct": 20}'.encode()]
    r = client.post(f"/ingest/{ACME}", content=b"[\n  " + b",\n  ".join(elems) + b"\n]", headers=auth(token))
    assert r.status_code == 200
    assert r.json()["received"] == 3
    assert [x["outcome"] for x in r.json()["results"]] == ["stored"] * 3
    raws = archived(platform)
    assert [m.body for m in raws] == elems
    assert [m.meta["batch_index"] for m in raws] == [0, 1, 2]
    assert [str(m.id) for m in raws] == [x["id"] for x in r.json()["results"]]


def test_partial_is_207_with_problems_per_message(client, platform, token):
    elems = [acme_body("A-17"), acme_body("A-18", fill=None), acme_body("A-19", state="5")]
    r = client.post(f"/ingest/{ACME}", content=b"[" + b",".join(elems) + b"]", headers=auth(token))
    assert r.status_code == 207
    res = r.json()["results"]
    assert [x["outcome"] for x in res] == ["stored", "quarantined", "quarantined"]
    assert "problems" not in res[0]
    assert [(p["type"], p["field"]) for p in res[1]["problems"]] == [("missing_required", "fillingLevel")]
    assert res[2]["problems"][0]["type"] == "unknown_code" and res[2]["problems"][0]["value"] == "5"
    led = ledger(client)[ACME]
    assert (led["stored"], led["quarantined"], led["received"]) == (1, 2, 3)


def test_all_quarantined_is_422(client, token):
    r = client.post(f"/ingest/{ACME}", content=b'[{"deviceId": "A-17"}, {"ts": 1}]', headers=auth(token))
    assert r.status_code == 422
    assert [x["outcome"] for x in r.json()["results"]] == ["quarantined", "quarantined"]


def test_malformed_json_is_archived_and_quarantined_with_position(client, platform, token):
    body = b'{"deviceId": "A-17",\n "ts": }'
    r = client.post(f"/ingest/{ACME}", content=body, headers=auth(token))
    assert r.status_code == 422
    [res] = r.json()["results"]
    assert res["problems"][0]["type"] == "malformed_json" and "line 2" in res["problems"][0]["detail"]
    assert [m.body for m in archived(platform)] == [body]


def test_flagged_and_duplicate_are_200(client, token):
    r = client.post(f"/ingest/{ACME}", content=acme_body(fill=150), headers=auth(token))
    assert r.status_code == 200 and r.json()["results"][0]["outcome"] == "stored_flagged"
    r = client.post(f"/ingest/{ACME}", content=acme_body(fill=150), headers=auth(token))
    assert r.status_code == 200 and r.json()["results"][0]["outcome"] == "duplicate"
    led = ledger(client)[ACME]
    assert (led["stored_flagged"], led["duplicate"]) == (1, 1)


def test_empty_array_is_nothing_to_do(client, platform, token):
    r = client.post(f"/ingest/{ACME}", content=b" [ ] ", headers=auth(token))
    assert r.status_code == 200
    assert r.json() == {"source": ACME, "received": 0, "results": []}
    assert archived(platform) == []


def test_not_normalized_in_time_is_202_pending(client, platform, token, monkeypatch):
    # the start's own writes (the alarms of registry devices never heard of, as Alert entities) go first
    assert platform.rules.wait_idle() and platform.bus.drain(10)
    monkeypatch.setattr(platform.settings, "ingest_wait_seconds", 0.05)
    monkeypatch.setattr(platform.bus, "publish", lambda batch: None)  # archived, never normalized
    r = client.post(f"/ingest/{ACME}", content=acme_body(), headers=auth(token))
    assert r.status_code == 202
    assert r.json()["results"][0]["outcome"] == "pending"
    assert ledger(client)[ACME]["pending"] == 1
    # a restart's recovery finishes the job
    monkeypatch.undo()
    assert platform.recover() == 1
    platform.bus.drain(10)
    assert ledger(client)[ACME]["stored"] == 1


def test_ledger_balances_after_a_mixed_session(client, platform, token):
    bravo_token = platform.issue_token(BRAVO)
    bodies = [acme_body(), acme_body(), b"{", acme_body(fill=None), acme_body(fill=200), b"\xff\xfe"]
    for b in bodies:
        client.post(f"/ingest/{ACME}", content=b, headers=auth(token))
    client.post(f"/ingest/{ACME}", content=b"{}", headers=auth("nope"))
    ex = platform.specs.sources[BRAVO].payload["example"]
    assert client.post(f"/ingest/{BRAVO}", content=orjson.dumps(ex), headers=auth(bravo_token)).status_code == 200
    led = ledger(client)
    ledger_balances(led)
    a = led[ACME]
    assert (a["received"], a["stored"], a["duplicate"], a["quarantined"], a["stored_flagged"], a["pending"]) == \
        (6, 1, 1, 3, 1, 0)
    assert a["refused_bad_token"] == 1
    assert led[BRAVO]["stored"] == 1


def test_csv_and_jsonl_bodies_are_cut_by_rows_and_lines(tmp_path, clock):
    from cltest import AIR_SERVICE, air_source, spec_dir
    d = spec_dir(tmp_path / "air", {
        "service.yaml": AIR_SERVICE,
        "csv.yaml": air_source("air-csv", payload="{format: csv}", ts="{field: ts, format: '%Y-%m-%d %H:%M'}"),
        "jsonl.yaml": air_source("air-jsonl", payload="{format: jsonl}")})
    p = make_platform(tmp_path / "data", clock)
    p.start(specs_dir=d, watch=False)
    try:
        client = TestClient(create_app(p))
        body = b"id,ts,t\r\nS1,2026-11-26 09:00,1\r\nS2,2026-11-26 09:00,x\r\n"
        r = client.post("/ingest/air-csv", content=body, headers=auth(p.issue_token("air-csv"), "text/csv"))
        assert r.status_code == 207
        assert [x["outcome"] for x in r.json()["results"]] == ["stored", "quarantined"]
        assert [m.body for m in archived(p, "air-csv")] == [b"id,ts,t\r\nS1,2026-11-26 09:00,1\r\n",
                                                            b"id,ts,t\r\nS2,2026-11-26 09:00,x\r\n"]
        assert client.post("/ingest/air-csv", content=body,
                           headers=auth(p.issue_token("air-csv"), "application/json")).status_code == 415
        lines = b'{"id": "S1", "ts": "2026-11-26T09:00:00+09:00", "t": 1}\n{"id": "S2", "ts": "2026-11-26T09:00:00+09:00", "t": 2}\n'
        r = client.post("/ingest/air-jsonl", content=lines, headers=auth(p.issue_token("air-jsonl"), "application/x-ndjson"))
        assert r.status_code == 200 and r.json()["received"] == 2
    finally:
        p.stop()
