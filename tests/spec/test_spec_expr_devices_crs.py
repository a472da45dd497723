"""Expressions, device registries and coordinate reference systems."""
from __future__ import annotations

import pytest

from cltest import write
from citylink.config import BUNDLED_SPECS
from citylink.errors import SpecError
from citylink.spec.crs import CrsProblem, to_wgs84
from citylink.spec.devices import load_registry
from citylink.spec.expr import Expr, ExprProblem

# -- expressions -----------------------------------------------------------------------------


def test_expression_evaluates_with_functions():
    e = Expr("clamp(1 - d / h, 0, 1)", {"d", "h"})
    assert e.evaluate({"d": 42, "h": 120}) == pytest.approx(0.65)
    assert e.evaluate({"d": 200, "h": 120}) == 0
    assert e.names == {"d", "h"}


def test_expression_constants_and_coalesce():
    assert Expr("coalesce(a, b, 3)", {"a", "b"}).evaluate({"a": None, "b": None}) == 3
    assert Expr("a if a is not null else 0", {"a"}).evaluate({"a": None}) == 0
    assert Expr("true and not false", set()).evaluate({}) is True


def test_expression_reads_device_columns():
    assert Expr("device['h'] * 2", {"device"}).evaluate({"device": {"h": 4}}) == 8


def test_expression_problems():
    with pytest.raises(ExprProblem, match="unknown name 'x'"):
        Expr("x + 1", {"y"})
    with pytest.raises(ExprProblem, match="unknown function 'open'"):
        Expr("open('/etc/passwd')", set())
    with pytest.raises(ExprProblem, match="syntax error"):
        Expr("1 +", set())


def test_expression_cannot_reach_python_internals():
    import simpleeval
    for text in ("a.__class__", "a.__class__.__bases__"):
        with pytest.raises(simpleeval.FeatureNotAvailable):
            Expr(text, {"a"}).evaluate({"a": 1})


# -- device registries ---------------------------------------------------------------------------


def test_shipped_registries_load():
    bravo = load_registry(BUNDLED_SPECS / "waste-bins/devices/bins-bravo-gateway.yaml")
    assert [d.local_id for d in bravo] == ["B0042", "B0043", "B0044"]
    assert bravo[0].attrs == {"bin_height_cm": 120}
    assert bravo[2].expected is False
    acme = load_registry(BUNDLED_SPECS / "waste-bins/devices/bins-acme-http.csv")
    assert acme[0].local_id == "A-17" and acme[0].lon == pytest.approx(127.0471) and acme[0].entity_id is None


def test_csv_registry_types_and_entity_id(tmp_path):
    f = write(tmp_path / "d.csv", "\ufefflocal_id,entity_id,lon,lat,expected,name,bin_height_cm,kind\n"
                                  "007,bin-1,127.03,37.66,no,첫째,120,steel\n"
                                  "8,,,,,,,\n")
    d = load_registry(f)
    assert d[0].local_id == "007"  # ids stay text
    assert d[0].entity_id == "bin-1" and d[0].expected is False and d[0].name == "첫째"
    assert d[0].attrs == {"bin_height_cm": 120, "kind": "steel"}
    assert d[1].expected is True and d[1].lon is None and d[1].attrs == {}


def test_yaml_registry_with_projected_positions(tmp_path):
    f = write(tmp_path / "d.yaml", "citylink: devices/1\ncrs: EPSG:5186\ndevices:\n"
                                   "  - {local_id: S1, x: 203000, y: 563000}\n")
    [d] = load_registry(f)
    assert d.lon == pytest.approx(127.034, abs=1e-3) and d.lat == pytest.approx(37.667, abs=1e-3)


def test_registry_problems_are_located(tmp_path):
    f = write(tmp_path / "d.csv", "local_id,lon,lat,expected\nA,127,37,true\nA,127,37,true\n,1,2,true\nB,500,37,true\n"
                                  "C,127,37,maybe\n")
    with pytest.raises(SpecError) as ei:
        load_registry(f)
    got = [(p.line, p.type) for p in ei.value.problems]
    assert got == [(3, "registry_duplicate"), (4, "registry_row"), (5, "registry_position"), (6, "registry_row")]
    assert all(p.file == str(f) for p in ei.value.problems)


def test_registry_without_local_id_column(tmp_path):
    with pytest.raises(SpecError, match="local_id"):
        load_registry(write(tmp_path / "d.csv", "id,lon\n1,2\n"))


def test_registry_wrong_file_kind(tmp_path):
    with pytest.raises(SpecError, match=".csv or .yaml"):
        load_registry(write(tmp_path / "d.txt", "x"))
    with pytest.raises(SpecError, match="devices/1"):
        load_registry(write(tmp_path / "d.yaml", "citylink: source/1\n"))


# -- CRS ---------------------------------------------------------------------------------------


def test_korea_central_belt_to_wgs84():
    lon, lat = to_wgs84("EPSG:5186", 203000, 563000)
    assert lon == pytest.approx(127.034, abs=1e-3)
    assert lat == pytest.approx(37.667, abs=1e-3)


def test_wgs84_passes_through():
    assert to_wgs84("EPSG:4326", 127.03, 37.66) == (127.03, 37.66)


def test_unknown_crs():
    with pytest.raises(CrsProblem, match="EPSG:999999"):
        to_wgs84("EPSG:999999", 1, 2)
