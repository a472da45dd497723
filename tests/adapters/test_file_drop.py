"""File import: a CSV / JSON-lines file cut into raw messages, archived and normalized as a backfill."""
from __future__ import annotations

import pytest

from cltest import AIR_SERVICE, air_source, ledger_balances, make_platform, spec_dir, write
from citylink.adapters import transport_names, transports
from citylink.adapters.file_drop import import_file
from citylink.errors import UnknownSource

CSV_SRC = air_source("air-csv", payload="{format: csv, encoding: cp949}", entity_id='"{site}"',
                     ts="{field: time, format: '%Y%m%d%H'}",
                     fields="  temperature: {from: temp}\n  stationName: {from: note}\n").replace(
    "{type: http_push}", "{type: file}")
JSONL_SRC = air_source("air-jsonl", payload="{format: jsonl}")


@pytest.fixture
def air_platform(tmp_path, clock):
    d = spec_dir(tmp_path / "air-specs", {"service.yaml": AIR_SERVICE, "csv.yaml": CSV_SRC, "jsonl.yaml": JSONL_SRC})
    p = make_platform(tmp_path / "data", clock)
    p.start(specs_dir=d, watch=False)
    yield p
    p.stop()


def test_transports_are_registered():
    assert {"http_push", "file"} <= set(transport_names())
    assert transports()["file"].title["en"]


def test_csv_import_one_message_per_row_as_a_backfill(air_platform, tmp_path):
    p = air_platform
    rows = ["site,time,temp,note", "도봉1,2019010124,1.5,\"두 줄\n메모\"", "도봉2,2019010201,2.5,plain", "",
            "도봉3,2019010202,bad,x"]
    f = write(tmp_path / "backfill.csv", ("\r\n".join(rows) + "\r\n").encode("cp949"))
    seen = []
    ids = import_file(p, "air-csv", f, chunk=2, progress=lambda done, total: seen.append((done, total)))
    assert len(ids) == 3 and ids == sorted(ids)
    p.bus.drain(10)
    raws = p.store.raw_messages(source="air-csv")
    head = "site,time,temp,note\r\n".encode("cp949")
    assert raws[0].body == head + "도봉1,2019010124,1.5,\"두 줄\n메모\"\r\n".encode("cp949")
    assert all(m.transport == "file" and m.meta["backfill"] is True and m.meta["file"] == str(f) for m in raws)
    assert [m.meta["line"] for m in raws] == [2, 4, 6]
    assert seen and seen[-1][0] == seen[-1][1]  # progress reaches the end
    led = p.store.ledger()["air-csv"]
    # 2019 readings are not "late": a file is a backfill
    assert (led["received"], led["stored"], led["stored_flagged"], led["quarantined"]) == (3, 2, 0, 1)
    ledger_balances(p.store.ledger())
    e = p.store.entity("urn:ngsi-ld:AirQualityObserved:dobong:air-csv:%EB%8F%84%EB%B4%891")
    names = {a.name: a for a in e.attrs}
    assert names["stationName"].value_json == '"두 줄\\n메모"'
    assert names["temperature"].observed_at == 1546354800000000  # 2019-01-01 24:00 KST


def test_jsonl_import(air_platform, tmp_path):
    p = air_platform
    lines = ['{"id": "S1", "ts": "2026-11-26T08:00:00+09:00", "t": 1}', "",
             '{"id": "S2", "ts": "2026-11-26T08:00:00+09:00", "t": 2}', "{broken"]
    f = write(tmp_path / "x.jsonl", "\n".join(lines))
    ids = import_file(p, "air-jsonl", f)
    p.bus.drain(10)
    assert len(ids) == 3
    outs = p.store.outcomes(ids)
    assert [outs[i][0] for i in ids] == [1, 1, 4]
    assert outs[ids[2]][1][0]["type"] == "malformed_json"


def test_import_of_an_unknown_source(air_platform, tmp_path):
    with pytest.raises(UnknownSource, match="air-csv"):
        import_file(air_platform, "nope", write(tmp_path / "x.csv", "a\n1\n"))


def test_import_same_file_twice_gives_duplicates(air_platform, tmp_path):
    p = air_platform
    f = write(tmp_path / "x.jsonl", '{"id": "S1", "ts": "2026-11-26T08:00:00+09:00", "t": 1}\n')
    import_file(p, "air-jsonl", f)
    import_file(p, "air-jsonl", f)
    p.bus.drain(10)
    led = p.store.ledger()["air-jsonl"]
    assert (led["stored"], led["duplicate"]) == (1, 1)


# -- a watched drop directory --------------------------------------------------------------------------
from citylink.adapters.file_drop import FileDrop  # noqa: E402


@pytest.fixture
def drop(tmp_path, clock):
    folder = tmp_path / "drop"
    folder.mkdir()
    src = CSV_SRC.replace("{type: file}", f"{{type: file, directory: '{folder}', pattern: '*.csv'}}")
    d = spec_dir(tmp_path / "drop-specs", {"service.yaml": AIR_SERVICE, "csv.yaml": src})
    p = make_platform(tmp_path / "data", clock)
    p.start(specs_dir=d, watch=False)
    yield p, folder, FileDrop(p)
    p.stop()


def csv_bytes(*rows: str) -> bytes:
    return ("site,time,temp,note\r\n" + "".join(r + "\r\n" for r in rows)).encode("cp949")


def test_a_dropped_file_is_taken_once_it_stops_growing(drop):
    p, folder, watcher = drop
    f = write(folder / "IAQ_1.csv", csv_bytes("도봉1,2019010101,1.5,a"))
    write(folder / "notes.txt", "not a csv: the pattern leaves it alone")
    assert watcher.scan() == []                        # first sight: maybe still being written
    with open(f, "ab") as out:                         # … and it was
        out.write("도봉2,2019010102,2.5,b\r\n".encode("cp949"))
    assert watcher.scan() == []
    assert watcher.scan() == [(f, "done")]             # unchanged since the last scan: taken
    assert (folder / "done" / "IAQ_1.csv").exists() and not f.exists()
    assert (folder / "notes.txt").exists()
    p.bus.drain(10)
    led = p.store.ledger()["air-csv"]
    assert led["received"] == 2 and led["stored"] == 2
    raw = p.store.raw_messages(source="air-csv")
    assert {m.transport for m in raw} == {"file"} and all(m.meta["file"].endswith("processing/IAQ_1.csv") for m in raw)


def test_bad_rows_are_quarantined_and_the_file_is_still_done(drop):
    p, folder, watcher = drop
    f = write(folder / "IAQ_2.csv", csv_bytes("도봉1,2019010101,hot,a", "도봉2,2019010102,2.5,b"))
    watcher.scan()
    assert watcher.scan() == [(f, "done")]
    p.bus.drain(10)
    led = p.store.ledger()["air-csv"]
    assert led["quarantined"] == 1 and led["stored"] == 1
    ledger_balances(p.store.ledger())


def test_a_file_with_nothing_in_it_goes_to_failed_with_the_reason(drop):
    p, folder, watcher = drop
    f = write(folder / "IAQ_3.csv", b"")
    watcher.scan()
    assert watcher.scan() == [(f, "failed")]
    assert (folder / "failed" / "IAQ_3.csv").exists()
    assert "no rows" in (folder / "failed" / "IAQ_3.csv.reason").read_text()
    # the same name again does not overwrite the first
    write(folder / "IAQ_3.csv", b"")
    watcher.scan()
    watcher.scan()
    assert (folder / "failed" / "IAQ_3.1.csv").exists()


def test_the_watcher_runs_by_itself(drop):
    p, folder, _ = drop
    watcher = FileDrop(p, interval=0.05).start()
    try:
        write(folder / "IAQ_4.csv", csv_bytes("도봉1,2019010101,1.5,a"))
        from cltest import wait_until
        assert wait_until(lambda: (folder / "done" / "IAQ_4.csv").exists(), 10)
    finally:
        watcher.stop()
