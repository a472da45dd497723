"""The real datasets in examples/real-data, imported through the CLI with their specs alone.

The figures asserted here are the ones examples/real-data/README.md reports."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citylink.cli import app
from citylink.clock import to_us
from citylink.ids import entity_urn, local_id_part
from citylink.normalize.check import check_feed
from citylink.normalize.records import flag_names
from citylink.spec.loader import load_paths
from citylink.store import open_store

REAL = Path(__file__).resolve().parents[2] / "examples" / "real-data"
SPECS = REAL / "specs"
SEOUL = REAL / "outdoor-air-seoul" / "seoul_daily_air_pollution_by_station_2019_cp949.csv"
MELBOURNE = REAL / "pedestrian-counts" / "melbourne_pedestrian_hourly_2016_bourke-st-mall-south_birrarung-marr.csv"
UTC = timezone.utc

EXPECTED = {
    # 335 rows are empty in all six pollutant columns (a station not measuring that day): no_values
    "seoul-air-daily": {"received": 17745, "stored": 17745 - 335, "stored_flagged": 0, "duplicate": 0,
                        "quarantined": 335, "pending": 0},
    "melbourne-pedestrian-hourly": {"received": 18982, "stored": 16196, "stored_flagged": 2,
                                    "duplicate": 743 + 671, "quarantined": 1370, "pending": 0},
}


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """Both files imported into one fresh data directory through ``citylink import``."""
    data = tmp_path_factory.mktemp("real-data")
    runner = CliRunner()
    outputs = {}
    for source, path in (("seoul-air-daily", SEOUL), ("melbourne-pedestrian-hourly", MELBOURNE)):
        result = runner.invoke(app, ["--data-dir", str(data), "import", "--specs", str(SPECS),
                                     "--source", source, str(path)])
        assert result.exit_code == 0, result.output
        outputs[source] = result.output
    store = open_store(f"sqlite:///{data / 'citylink.db'}")
    yield store, outputs
    store.close()


def test_the_files_are_the_published_bytes():
    assert SEOUL.stat().st_size == 769_773
    assert MELBOURNE.stat().st_size == 1_373_742
    assert SEOUL.read_bytes().decode("cp949").count("\n") == 17_745 + 1


@pytest.mark.parametrize("source", EXPECTED)
def test_ledger_figures(imported, source):
    store, outputs = imported
    ledger = store.ledger()[source]
    assert {k: ledger.get(k, 0) for k in EXPECTED[source]} == EXPECTED[source]
    assert f"{source}: received {EXPECTED[source]['received']}" in " ".join(outputs[source].split())


def test_seoul_station_names_round_trip_from_cp949(imported):
    store, _ = imported
    eid = entity_urn("AirQualityObserved", "dobong", local_id_part("도봉구"), "seoul")
    assert eid == "urn:ngsi-ld:AirQualityObserved:dobong:seoul:%EB%8F%84%EB%B4%89%EA%B5%AC"
    ent = store.entity(eid)
    assert ent is not None and ent.type == "AirQualityObserved" and ent.service == "seoul-outdoor-air"
    latest = {a.name: a for a in ent.attrs}
    assert set(latest) == {"no2", "o3", "co", "so2", "pm10", "pm25"}
    # the last day of 2019 in Seoul: 2019-12-31 00:00 KST
    assert {a.observed_at for a in latest.values()} == {to_us(datetime(2019, 12, 30, 15, tzinfo=UTC))}
    assert latest["pm10"].unit == "GQ" and latest["no2"].unit == "59"
    # every day of the year, six pollutants each
    assert len(store.temporal(eid).attrs) == 365 * 6
    _, n = store.entities(types=["AirQualityObserved"], limit=100)
    assert n == 50


def test_seoul_first_row_values(imported):
    store, _ = imported
    eid = entity_urn("AirQualityObserved", "dobong", local_id_part("강남구"), "seoul")
    day = to_us(datetime(2018, 12, 31, 15, tzinfo=UTC))  # 2019-01-01 KST
    got = {a.name: a.value_num for a in store.temporal(eid, start=day, end=day + 1).attrs}
    assert got == {"no2": 0.027, "o3": 0.013, "co": 0.6, "so2": 0.005, "pm10": 35, "pm25": 30}


def test_melbourne_missing_counts_are_quarantined_as_missing_required(imported):
    store, _ = imported
    rows = store.quarantined("melbourne-pedestrian-hourly", limit=5000)
    assert len(rows) == 1370
    assert {r["reason"] for r in rows} == {"missing_required"}
    assert {r["field"] for r in rows} == {"peopleCount"}


def test_melbourne_repeated_dst_hour_is_flagged_ambiguous(imported):
    store, _ = imported
    start = to_us(datetime(2016, 4, 2, 14, tzinfo=UTC))
    for sensor, count in (("2", 10), ("7", 52)):
        eid = f"urn:ngsi-ld:CrowdFlowObserved:dobong:melbourne:{sensor}"
        attrs = [a for a in store.temporal(eid, attrs=None, start=start, end=start + 4 * 3_600_000_000).attrs
                 if a.name == "peopleCount"]
        flagged = [a for a in attrs if a.flags]
        assert len(flagged) == 1
        # 2016-04-03 02:00 in Melbourne, read as the first (AEDT, UTC+11) of the two
        assert flagged[0].observed_at == to_us(datetime(2016, 4, 2, 15, tzinfo=UTC))
        assert flag_names(flagged[0].flags) == ["ambiguous_local_time"]
        assert flagged[0].value_num == count


def test_melbourne_skipped_dst_hour_would_be_flagged_nonexistent():
    """In the file the skipped hour has no count (quarantined above); with a count it is stored, flagged."""
    specs = load_paths([SPECS])
    row = ("hourly_counts,date_time,year,month,month_day,week_day,hour,sensor_id,sensor_name\n"
           "12,2016-10-02 02:00:00,2016,October,2,Sunday,2,2,Bourke Street Mall (South)\n").encode()
    [report] = check_feed(specs, "melbourne-pedestrian-hourly", row)
    assert report["outcome"] == "stored_flagged"
    assert all("nonexistent_local_time" in v["flags"] for v in report["values"])
