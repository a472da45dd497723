"""Helpers of the open data tests (the fixtures are in conftest.py): readers' clients, downloads read back
into rows whatever their format."""
from __future__ import annotations

import csv
import io

import orjson
import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from citylink.api.app import create_app

PARKING, EV, HOMES = "dparking-vision-http", "evpark-ecocharge-mqtt", "safety-keeper-carelink-http"
DURING = "timeAt=2026-11-25T00:00:00Z&endTimeAt=2026-11-27T00:00:00Z"
PLATE = "12가3456"     # the camera vendor's example plate (dparking-vision-http)


def keyed(platform, **kw) -> TestClient:
    _, key = platform.issue_api_key("test", **kw)
    c = TestClient(create_app(platform))
    c.headers["Authorization"] = f"Bearer {key}"
    return c


def get(client, url, status=200, **kw):
    r = client.get(url, **kw)
    assert r.status_code == status, r.text
    return r


def rows_of(fmt: str, body: bytes) -> list[dict]:
    """A download's rows as dicts, whatever its format (Parquet's value/value_text joined again)."""
    if fmt == "csv":
        assert body.startswith(b"\xef\xbb\xbf")
        return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    if fmt == "json":
        return orjson.loads(body)
    if fmt == "jsonl":
        return [orjson.loads(line) for line in body.splitlines()]
    out = []
    for r in pq.read_table(io.BytesIO(body)).to_pylist():
        if "value_text" in r:   # a service's rows (a table's columns have one type each)
            text = r.pop("value_text")
            r["value"] = text if r["value"] is None else r["value"]
            r["observed_at"] = r["observed_at"].isoformat()
        out.append(r)
    return out


def download(client, dataset, fmt, query=DURING, status=200):
    r = get(client, f"/opendata/datasets/{dataset}/download.{fmt}?{query}", status)
    return r if status != 200 else rows_of(fmt, r.content)
