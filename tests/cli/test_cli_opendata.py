"""``citylink opendata upload|list|remove``: the shipped example table, replaced by a second upload, and
uploads refused with every problem located."""
from __future__ import annotations

from pathlib import Path

import orjson

from citylink.config import BUNDLED_SPECS
from citylink.store import open_store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "opendata"
CSV, META = EXAMPLES / "park-facilities.csv", EXAMPLES / "park-facilities.meta.yaml"


def test_upload_list_replace_remove(run):
    run("spec", "apply", BUNDLED_SPECS)
    out = run("opendata", "upload", CSV, "--meta", META, "--by", "parks team").stdout
    assert out.strip() == "park-facilities: version 1, 5 rows, KOGL-1, visibility public"
    assert "version 2, 5 rows" in run("opendata", "upload", CSV, "--meta", META).stdout   # replaced, counted up
    listed = run("opendata", "list").stdout
    assert "park-facilities" in listed and "table" in listed and "quarterly" in listed and "waste-bins" in listed
    s = open_store(f"sqlite:///{run.data_dir / 'citylink.db'}")
    try:
        (t,) = s.open_tables("park-facilities")
        cells = [c for chunk in s.open_table_chunks("park-facilities") for c in chunk]
    finally:
        s.close()
    assert (t.version, t.row_count, t.uploaded_by) == (2, 5, None) and len(cells) == 5
    phones = [orjson.loads(c[0])[8] for c in cells]
    assert all(p.startswith("pz:") for p in phones) and len(set(phones)) == 5   # pseudonymised on upload
    blob = b"".join(f.read_bytes() for f in run.data_dir.glob("citylink.db*"))   # the file and its WAL
    assert b"010-0000-0001" not in blob and phones[0].encode() in blob
    assert run("opendata", "remove", "park-facilities").stdout.strip() == "removed park-facilities"
    assert "park-facilities" not in run("opendata", "list").stdout
    assert "table_id: no uploaded table" in run("opendata", "remove", "park-facilities", code=2).stderr


def test_a_bad_upload_names_file_and_line_and_stores_nothing(run, tmp_path):
    run("spec", "apply", BUNDLED_SPECS)
    meta = tmp_path / "meta.yaml"
    meta.write_text(META.read_text().replace("department: parks", "department: tourism")
                    .replace("  capacity: {type: Integer", "  seats: {type: Integer"))
    err = run("opendata", "upload", CSV, "--meta", meta, code=1).stderr
    line = next(i for i, ln in enumerate(meta.read_text().splitlines(), 1) if ln.startswith("department:"))
    assert f"{meta}:{line}: department: no department 'tourism'" in err
    assert "columns.seats: the CSV has no column 'seats'" in err
    bad_csv = tmp_path / "t.csv"
    bad_csv.write_text(CSV.read_text().replace(",120,", ",lots,").replace("PK-005,", "PK-005,x,"))
    err = run("opendata", "upload", bad_csv, "--meta", META, code=1).stderr
    assert f"{bad_csv}:2: capacity: 'lots' is not an integer" in err
    assert f"{bad_csv}:6: (document): 10 cells, the header has 9" in err
    assert "park-facilities" not in run("opendata", "list").stdout   # nothing stored
