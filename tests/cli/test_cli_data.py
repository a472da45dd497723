"""``citylink sources …``, ``devices …``, ``import``, ``replay`` and ``quarantine``."""
from __future__ import annotations

import hashlib
import json
import re

import pytest

from cltest import ACME, AIR_SERVICE, BRAVO, air_source, spec_dir, write
from citylink.errors import UnknownSource
from citylink.store import open_store

CSV_SRC = air_source("air-csv", payload="{format: csv}", entity_id='"{site}"',
                     ts="{field: time, format: '%Y-%m-%d %H:%M'}", fields="  temperature: {from: temp}\n",
                     ).replace("{type: http_push}", "{type: file}")


@pytest.fixture
def applied(run, bins_dir):
    run("spec", "apply", bins_dir)
    return run


def store_of(run):
    return open_store(f"sqlite:///{run.data_dir / 'citylink.db'}")


def table_rows(out: str) -> list[list[str]]:
    """The cells of a rich table's body rows."""
    return [[c.strip() for c in ln.strip().strip("│").split("│")] for ln in out.splitlines() if ln.startswith("│")]


def ledger_line(out: str, source: str) -> dict[str, int]:
    m = re.search(rf"{source}: received (\d+) = stored (\d+) \+ flagged (\d+) \+ duplicate (\d+) \+ "
                  rf"quarantined (\d+) \+ pending (\d+)", out)
    assert m, out
    return dict(zip(("received", "stored", "flagged", "duplicate", "quarantined", "pending"), map(int, m.groups())))


# -- sources ----------------------------------------------------------------------------------------

def test_sources_token_prints_a_token_and_stores_only_its_hash(applied):
    r = applied("sources", "token", ACME, "--label", "acme ops")
    token = r.stdout.strip()
    assert re.fullmatch(r"cl_[A-Za-z0-9_-]{40,}", token)
    digest = hashlib.sha256(token.encode()).hexdigest()
    blobs = b"".join(f.read_bytes() for f in applied.data_dir.iterdir() if f.name.startswith("citylink.db"))
    assert token.encode() not in blobs
    assert token[3:].encode() not in blobs
    assert digest.encode() in blobs
    s = store_of(applied)
    try:
        assert s.token_sources(digest) == {ACME}
    finally:
        s.close()
    assert applied("sources", "token", ACME).stdout.strip() != token  # a new one each time


def test_sources_token_revoke_old(applied):
    old = applied("sources", "token", ACME).stdout.strip()
    new = applied("sources", "token", ACME, "--revoke-old").stdout.strip()
    s = store_of(applied)
    try:
        assert s.token_sources(hashlib.sha256(old.encode()).hexdigest()) == set()
        assert s.token_sources(hashlib.sha256(new.encode()).hexdigest()) == {ACME}
    finally:
        s.close()
    assert "revoked 1 token(s)" in applied("sources", "revoke", ACME).stdout


def test_sources_token_for_an_unknown_source(applied):
    r = applied("sources", "token", "nope", code=1)
    assert isinstance(r.exception, UnknownSource)


def test_sources_list(applied):
    r = applied("sources", "list")
    rows = {row[0]: row for row in table_rows(r.stdout)}
    assert set(rows) == {ACME, BRAVO}
    assert rows[ACME][:4] == [ACME, "waste-bins", "http_push", "live"]
    assert rows[ACME][4:12] == ["0"] * 7 + ["never"]  # no message yet (and no poll health: it is pushed)


# -- devices ------------------------------------------------------------------------------------------

def test_devices_import_csv_and_yaml_then_list(applied, tmp_path):
    csv_file = write(tmp_path / "acme.csv", "local_id,entity_id,lon,lat,expected,name,bin_height_cm\n"
                                            "A-90,bin-90,127.03,37.66,true,New bin,110\nA-91,,,,no,,\n")
    assert "bins-acme-http: 2 devices in the registry" in applied("devices", "import", csv_file, "--source", ACME).stdout
    yaml_file = write(tmp_path / "bravo.yaml", "citylink: devices/1\ncrs: EPSG:5186\ndevices:\n"
                                               "  - {local_id: B0100, x: 203000, y: 563000, attributes: {bin_height_cm: 90}}\n")
    assert f"{BRAVO}: 1 devices in the registry" in applied("devices", "import", yaml_file, "--source", BRAVO).stdout
    out = applied("devices", "list").stdout
    rows = {row[1]: row for row in table_rows(out)}
    assert set(rows) == {"A-90", "A-91", "B0100"}  # the import replaced the shipped registries
    assert rows["A-90"] == [ACME, "A-90", "bin-90", "127.03", "37.66", "yes", "bin_height_cm=110"]
    assert rows["A-91"] == [ACME, "A-91", "", "", "", "no", ""]
    assert rows["B0100"][0] == BRAVO and rows["B0100"][3].startswith("127.03") and rows["B0100"][6] == "bin_height_cm=90"
    only = applied("devices", "list", "--source", BRAVO).stdout
    assert "B0100" in only and "A-90" not in only


def test_devices_import_bad_file(applied, tmp_path):
    bad = write(tmp_path / "bad.csv", "local_id,lon,lat\nA,1,2\nA,1,2\n")
    r = applied("devices", "import", bad, "--source", ACME, code=1)
    assert "listed twice" in str(r.exception)
    r = applied("devices", "import", bad, "--source", "nope", code=1)
    assert isinstance(r.exception, UnknownSource)


# -- import, quarantine, replay ------------------------------------------------------------------------

@pytest.fixture
def air_specs(tmp_path):
    return spec_dir(tmp_path / "air-specs", {"service.yaml": AIR_SERVICE, "csv.yaml": CSV_SRC})


def test_import_csv_through_the_pipeline(run, air_specs, tmp_path):
    f = write(tmp_path / "backfill.csv", "site,time,temp\nS1,2019-01-01 09:00,1.5\nS2,2019-01-01 09:00,2.5\n"
                                         "S3,2019-01-01 09:00,hot\nS1,2019-01-01 09:00,1.5\n")
    r = run("import", f, "--source", "air-csv", "--specs", air_specs)
    assert ledger_line(r.stdout, "air-csv") == {"received": 4, "stored": 2, "flagged": 0, "duplicate": 1,
                                               "quarantined": 1, "pending": 0}
    s = store_of(run)
    try:
        e = s.entity("urn:ngsi-ld:AirQualityObserved:dobong:air-csv:S2")
        assert e.attrs[0].value_num == 2.5
    finally:
        s.close()
    r = run("quarantine", "--source", "air-csv", "--json")
    [q] = json.loads(r.stdout)
    assert q["reason"] == "wrong_type" and q["field"] == "temperature" and q["source"] == "air-csv"
    assert "wrong_type" in run("quarantine").stdout


def test_import_unknown_source(run, air_specs, tmp_path):
    f = write(tmp_path / "x.csv", "a\n1\n")
    r = run("import", f, "--source", "nope", "--specs", air_specs, code=1)
    assert isinstance(r.exception, UnknownSource)


def test_replay_after_spec_fix(run, air_specs, tmp_path):
    # the mistake: the wrong time format, so every row is quarantined
    (air_specs / "csv.yaml").write_text(CSV_SRC.replace("time, format: '%Y-%m-%d %H:%M'", "time, format: '%Y%m%d'"))
    f = write(tmp_path / "x.csv", "site,time,temp\nS1,2019-01-01 09:00,1.5\nS2,2019-01-01 09:00,2.5\n")
    r = run("import", f, "--source", "air-csv", "--specs", air_specs)
    assert ledger_line(r.stdout, "air-csv")["quarantined"] == 2
    assert "bad_timestamp" in run("quarantine", "--source", "air-csv").stdout
    (air_specs / "csv.yaml").write_text(CSV_SRC.replace("version: 1.0.0", "version: 1.0.1"))
    assert "new version" in run("spec", "apply", air_specs).stdout
    r = run("replay", "--source", "air-csv")
    assert "replayed 2 messages" in r.stdout
    assert ledger_line(r.stdout, "air-csv") == {"received": 2, "stored": 2, "flagged": 0, "duplicate": 0,
                                               "quarantined": 0, "pending": 0}
    r = run("replay", "--source", "air-csv")
    assert "replayed 0 messages" in r.stdout
    assert json.loads(run("quarantine", "--json").stdout) == []


def test_replay_needs_a_source_or_messages(applied):
    r = applied("replay", code=1)
    assert "--source" in r.stderr
    assert isinstance(applied("replay", "--source", "nope", code=1).exception, UnknownSource)
