"""Downloads of a service's data in every format, on both engines: the rows and columns each reader may
see, the limits on range and area, and never a plate for the public."""
from __future__ import annotations

import orjson
import pytest

from cltest import acme_urn
from citylink.opendata import FORMATS

from odtest import DURING, PLATE, download, get, keyed, rows_of

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
COLUMNS = ["entity_id", "entity_type", "observed_at", "attribute", "value", "unit", "flags"]


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "parquet"])
def test_each_format_holds_the_readers_rows(public, admin, fmt):
    r = get(public, f"/opendata/datasets/waste-bins/download.{fmt}?{DURING}")
    assert r.headers["content-type"].startswith(FORMATS.get(fmt).media_type.split(";")[0])
    assert r.headers["content-disposition"] == f'attachment; filename="waste-bins_2026-11-25_2026-11-26.{fmt}"'
    rows = rows_of(fmt, r.content)
    assert list(rows[0]) == COLUMNS if fmt != "parquet" else set(rows[0]) == set(COLUMNS)
    got = [(x["observed_at"][:19], x["attribute"], str(x["value"]), x["unit"] or "") for x in rows]
    assert got == [("2026-11-26T00:00:00", "fillingLevel", "0.3", "C62"), ("2026-11-26T00:00:00", "status", "ok", ""),
                   ("2026-11-26T00:00:00", "temperature", "12.5", "CEL"),
                   ("2026-11-26T00:30:00", "fillingLevel", "0.35", "C62"), ("2026-11-26T00:30:00", "status", "ok", ""),
                   ("2026-11-26T00:30:00", "temperature", "12.5", "CEL")]   # time order; battery is internal
    assert {x["entity_id"] for x in rows} == {acme_urn("A-17")} and rows[0]["observed_at"] in (
        "2026-11-26T00:00:00.000Z", "2026-11-26T00:00:00+00:00")
    full = download(admin, "waste-bins", fmt)
    assert {x["attribute"] for x in full} == {"fillingLevel", "temperature", "batteryLevel", "status", "compactionCount"}
    assert [x["value"] for x in full if x["attribute"] == "compactionCount"][0] in (311, "311")
    # typed where the format has types
    if fmt in ("json", "jsonl", "parquet"):
        assert [x["value"] for x in full if x["attribute"] == "batteryLevel"] == [0.4, 0.39]


def test_the_format_may_be_a_parameter_and_the_range_selects(public):
    r = get(public, f"/opendata/datasets/waste-bins/download?format=jsonl&{DURING}")
    assert len(r.content.splitlines()) == 6
    half = "timeAt=2026-11-26T09:15:00%2B09:00&endTimeAt=2026-11-26T10:00:00%2B09:00"
    assert {x["observed_at"] for x in download(public, "waste-bins", "json", half)} == {"2026-11-26T00:30:00.000Z"}
    assert download(public, "waste-bins", "csv", "timeAt=2026-11-20T00:00:00Z&endTimeAt=2026-11-21T00:00:00Z") == []
    assert download(public, "waste-bins", "json", "timeAt=2026-11-20T00:00:00Z&endTimeAt=2026-11-21T00:00:00Z") == []
    assert rows_of("parquet", get(public, "/opendata/datasets/waste-bins/download.parquet?timeAt=2026-11-20T00:00:00Z"
                                          "&endTimeAt=2026-11-21T00:00:00Z").content) == []


def test_an_area_selects_entities_by_position(public, admin):
    bay = download(admin, "disabled-parking", "json")[0]["entity_id"]
    lon, lat = get(admin, f"/ngsi-ld/v1/entities/{bay}?options=keyValues").json()["location"]["coordinates"]
    around = f"{DURING}&bbox={lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"
    assert {x["entity_id"] for x in download(admin, "disabled-parking", "json", around)} == {bay}
    elsewhere = f"{DURING}&bbox={lon + 0.01},{lat + 0.01},{lon + 0.02},{lat + 0.02}"
    assert download(admin, "disabled-parking", "json", elsewhere) == []


@pytest.mark.parametrize("query, detail", [
    ("", "timeAt: required"),
    ("timeAt=2026-11-25T00:00:00Z", "endTimeAt: required"),
    ("timeAt=yesterday&endTimeAt=2026-11-27T00:00:00Z", "timeAt: 'yesterday' is not an ISO 8601 date-time"),
    ("timeAt=2026-11-25T00:00:00&endTimeAt=2026-11-27T00:00:00Z", "timeAt: '2026-11-25T00:00:00' has no time zone"),
    ("timeAt=2026-11-27T00:00:00Z&endTimeAt=2026-11-25T00:00:00Z", "endTimeAt: must be after timeAt"),
    ("timeAt=2025-01-01T00:00:00Z&endTimeAt=2026-11-27T00:00:00Z",
     "endTimeAt: the range is 695.0 days; a download covers at most 366 days"),
    (f"{DURING}&bbox=1,2,3", "bbox: '1,2,3' is not minLon,minLat,maxLon,maxLat"),
    (f"{DURING}&bbox=127.1,37.6,127.0,37.7", "bbox: '127.1,37.6,127.0,37.7': give minLon < maxLon"),
    (f"{DURING}&bbox=-180,-90,180,90", "bbox: 360° × 180° is larger than a download may cover (0.5° × 0.5°)"),
    (f"{DURING}&bbox=nan,1,2,3", "bbox: 'nan,1,2,3' is not minLon,minLat,maxLon,maxLat"),
])
def test_an_unbounded_or_too_large_request_is_refused_naming_the_parameter(public, query, detail):
    body = get(public, f"/opendata/datasets/waste-bins/download.csv?{query}", 400).json()
    assert body["type"] == ERR + "BadRequestData" and body["detail"].startswith(detail), body["detail"]


def test_unknown_formats_and_datasets_are_refused(public):
    assert get(public, f"/opendata/datasets/waste-bins/download.xlsx?{DURING}", 400).json()["detail"] == \
        "format: 'xlsx' is not one of csv, json, jsonl, parquet"
    assert get(public, f"/opendata/datasets/waste-bins/download?{DURING}", 400).json()["detail"].startswith(
        "format: required")
    hidden = get(public, f"/opendata/datasets/safety-keeper/download.csv?{DURING}", 404).json()
    missing = get(public, f"/opendata/datasets/no-such-thing/download.csv?{DURING}", 404).json()
    assert hidden["type"] == missing["type"] == ERR + "ResourceNotFound"
    assert hidden["detail"] == missing["detail"].replace("no-such-thing", "safety-keeper")   # nothing tells them apart


def test_a_department_downloads_its_own_restricted_data_and_no_one_elses(platform, admin):
    plates = {x["value"] for x in download(admin, "disabled-parking", "json") + download(admin, "ev-charging-parking", "json")
              if x["attribute"] == "vehiclePlate"}
    assert len(plates) == 2 and all(p.startswith("pz:") for p in plates) and PLATE not in plates
    readers = {"bays": keyed(platform, department="welfare-mobility"),    # owns disabled-parking
               "ev": keyed(platform, department="climate-energy"),        # owns ev-charging-parking
               "bins": keyed(platform, department="sanitation"),
               "homes": keyed(platform, department="welfare"),
               "staff": keyed(platform, scopes=["staff"])}
    attrs = {name: {x["attribute"] for x in download(c, "disabled-parking", "csv")} for name, c in readers.items()}
    assert {"vehiclePlate", "permitValid", "eventRef"} <= attrs["bays"]
    assert attrs["ev"] == attrs["bins"] == attrs["homes"] == {"status", "category"}   # the public's only
    assert "permitValid" in attrs["staff"] and "vehiclePlate" not in attrs["staff"]   # internal yes, restricted no
    ev = {name: {x["attribute"] for x in download(c, "ev-charging-parking", "json")} for name, c in readers.items()}
    assert "vehiclePlate" in ev["ev"] and "vehiclePlate" not in ev["bays"] | ev["staff"] | ev["bins"]
    assert "vehicleType" in ev["ev"] and "vehicleType" not in ev["bays"]
    homes = {name: c.get(f"/opendata/datasets/safety-keeper/download.json?{DURING}").status_code
             for name, c in readers.items()}
    assert homes == {"bays": 404, "ev": 404, "bins": 404, "homes": 200, "staff": 404}


def test_no_public_response_or_download_holds_a_plate(platform, public, admin):
    secrets = {PLATE} | {x["value"] for x in download(admin, "disabled-parking", "json")
                         + download(admin, "ev-charging-parking", "json") if x["attribute"] == "vehiclePlate"}
    assert len(secrets) == 3
    texts = [get(public, "/opendata/catalog.jsonld").text, get(public, "/opendata").text]
    for dataset in ("disabled-parking", "ev-charging-parking"):
        for fmt in ("csv", "json", "jsonl", "parquet"):
            rows = download(public, dataset, fmt)
            assert rows and {x["attribute"] for x in rows} <= {"status", "category"}
            texts.append(orjson.dumps(rows).decode())
            texts.append(get(public, f"/opendata/datasets/{dataset}/download.{fmt}?{DURING}").content.decode(
                "utf-8", "replace"))
        for bad in (f"{DURING}&bbox=0,0,9,9", "timeAt=x", f"{DURING}&format=x"):
            texts.append(public.get(f"/opendata/datasets/{dataset}/download.csv?{bad}").text)
    texts.append(public.get(f"/opendata/datasets/safety-keeper/download.csv?{DURING}").text)
    for text in texts:
        assert not [s for s in secrets if s in text]
