"""Uploaded tables in the catalogue and downloads, on both engines: per-column visibility, personal columns
pseudonymised with the platform's key (the same pseudonym as in the sensor data), downloaded whole."""
from __future__ import annotations

from pathlib import Path

import pytest

from citylink.normalize.compiler import pseudonymiser
from citylink.opendata import tables

from odtest import DURING, PLATE, download, get, keyed

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "opendata"
CSV, META = EXAMPLES / "park-facilities.csv", EXAMPLES / "park-facilities.meta.yaml"
PUBLIC_COLUMNS = ["facility_id", "name_ko", "name_en", "kind", "lon", "lat", "capacity"]


@pytest.fixture
def uploaded(platform):
    meta, version, rows = tables.upload(platform, CSV, META, by="test")
    assert (meta.id, version, rows) == ("park-facilities", 1, 5)
    return platform


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "parquet"])
def test_each_reader_downloads_the_columns_it_may_see(uploaded, public, admin, fmt):
    url = f"/opendata/datasets/park-facilities/download.{fmt}"
    assert get(public, url).headers["content-disposition"] == f'attachment; filename="park-facilities_v1.{fmt}"'
    rows = download(public, "park-facilities", fmt, query="")
    assert [list(r) for r in rows] == [PUBLIC_COLUMNS] * 5 if fmt != "parquet" else \
        [sorted(r) for r in rows] == [sorted(PUBLIC_COLUMNS)] * 5
    assert rows[0]["name_ko"] == "초안산 근린공원 체육시설"
    if fmt != "csv":   # typed as the metadata declares
        assert (rows[0]["capacity"], rows[0]["lon"], rows[3]["capacity"]) == (120, 127.0388, None)
    parks = keyed(uploaded, department="parks")
    staff = keyed(uploaded, scopes=["staff"])
    other = keyed(uploaded, department="sanitation")
    assert set(download(parks, "park-facilities", fmt, query="")[0]) == set(PUBLIC_COLUMNS) | {"manager_team",
                                                                                                  "caretaker_phone"}
    assert set(download(staff, "park-facilities", fmt, query="")[0]) == set(PUBLIC_COLUMNS) | {"manager_team"}
    assert set(download(other, "park-facilities", fmt, query="")[0]) == set(PUBLIC_COLUMNS)
    phones = [r["caretaker_phone"] for r in download(admin, "park-facilities", fmt, query="")]
    key = uploaded.settings.resolved_pseudonym_key()
    assert phones == [pseudonymiser(key)(f"010-0000-000{i}") for i in range(1, 6)]


def test_a_table_is_in_the_catalogue_for_its_readers_and_is_downloaded_whole(uploaded, public, admin):
    doc = get(public, "/opendata/catalog.jsonld").json()
    (t,) = [d for d in doc["dcat:dataset"] if d["dct:identifier"] == "park-facilities"]
    assert t["dct:publisher"]["dct:identifier"] == "parks" and t["dcat:version"] == "1"
    assert t["dct:accrualPeriodicity"]["@id"].endswith("/QUARTERLY")
    assert all(d["dcat:downloadURL"] == d["dcat:accessURL"] for d in t["dcat:distribution"])
    page = get(public, "/opendata").text
    assert 'id="park-facilities"' in page and "caretaker_phone" not in page and "manager_team" not in page
    assert "caretaker_phone" in get(admin, "/opendata").text
    body = get(public, f"/opendata/datasets/park-facilities/download.csv?{DURING}", 400).json()
    assert body["detail"] == "timeAt: 'park-facilities' is a table, downloaded whole (no time range or area)"


def test_a_personal_column_has_the_sensor_datas_pseudonym_and_is_never_public(uploaded, public, admin, tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text(f"case,plate\nC-1,{PLATE}\nC-2, {PLATE.lower()} \n", encoding="utf-8")
    meta = tmp_path / "t.yaml"
    meta.write_text("citylink: table/1\nid: parking-cases\ntitle: {ko: 단속 건, en: Parking cases}\n"
                    "department: welfare-mobility\nlicence: KOGL-1\nvisibility: public\n"
                    "columns:\n  plate: {personal: true, visibility: public}\n")
    tables.upload(uploaded, csv, meta)
    camera = {r["value"] for r in download(admin, "disabled-parking", "json") if r["attribute"] == "vehiclePlate"}
    table = {r["plate"] for r in download(admin, "parking-cases", "json", query="")}
    assert table == camera and len(table) == 1    # one key, one pseudonym, whatever the spelling
    for fmt in ("csv", "json", "parquet"):
        r = get(public, f"/opendata/datasets/parking-cases/download.{fmt}")
        assert not [s for s in table | {PLATE} if s.encode() in r.content]
    assert [list(x) for x in download(public, "parking-cases", "json", query="")] == [["case"], ["case"]]
    # replaced: the version counts up, the rows are the new ones
    csv.write_text("case,plate\nC-9,99나9999\n", encoding="utf-8")
    assert tables.upload(uploaded, csv, meta)[1:] == (2, 1)
    assert [r["case"] for r in download(public, "parking-cases", "jsonl", query="")] == ["C-9"]


def test_an_upload_may_not_take_a_services_id(uploaded, tmp_path):
    from citylink.errors import SpecError
    meta = tmp_path / "m.yaml"
    meta.write_text(META.read_text().replace("id: park-facilities", "id: waste-bins"))
    with pytest.raises(SpecError) as e:
        tables.upload(uploaded, CSV, meta)
    assert [str(p).split(": ", 1)[1] for p in e.value.problems] == \
        ["id: 'waste-bins' is a service's dataset: give the table another id"]
