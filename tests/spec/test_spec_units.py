"""Unit codes and conversions (UN/CEFACT codes, compiled to factor/offset pairs)."""
from __future__ import annotations

import pytest

from citylink.spec.units import IDENTITY, UNITS, UnitProblem, check_code, conversion, label, symbol


def apply(src, dst, v, molar_mass=None):
    c = conversion(src, dst, molar_mass)
    return v * c.factor + c.offset


@pytest.mark.parametrize("f,c", [(32, 0), (212, 100), (54.5, 12.5), (-40, -40)])
def test_fahrenheit_to_celsius(f, c):
    assert apply("FAH", "CEL", f) == pytest.approx(c, abs=1e-9)


def test_fahrenheit_to_celsius_is_an_affine_map():
    c = conversion("FAH", "CEL")
    assert c.factor == pytest.approx(5 / 9)
    assert c.offset == pytest.approx(-160 / 9)
    assert not c.identity


def test_kelvin_to_celsius():
    assert apply("KEL", "CEL", 273.15) == pytest.approx(0, abs=1e-9)


def test_percent_to_ratio():
    assert apply("P1", "C62", 73) == pytest.approx(0.73)
    assert apply("C62", "P1", 0.5) == pytest.approx(50)


def test_millimetre_to_centimetre():
    assert apply("MMT", "CMT", 420) == pytest.approx(42)
    assert conversion("MMT", "CMT").offset == 0


def test_millivolt_to_volt():
    assert apply("2Z", "VLT", 3610) == pytest.approx(3.61)


def test_ppb_formaldehyde_to_microgram_per_cubic_metre():
    # 1 ppb HCHO (30.03 g/mol) at 25 °C, 1 atm (24.45 L/mol) ≈ 1.228 µg/m³
    assert apply("61", "GQ", 1, 30.03) == pytest.approx(30.03 / 24.45, rel=1e-6)
    assert apply("61", "GQ", 1, 30.03) == pytest.approx(1.228, abs=5e-4)
    assert apply("61", "GQ", 100, 30.03) == pytest.approx(122.82, abs=0.01)


def test_microgram_per_cubic_metre_back_to_ppb():
    assert apply("GQ", "61", 1.228220859, 30.03) == pytest.approx(1.0, rel=1e-6)


def test_ppm_to_milligram_per_cubic_metre():
    # same bridge at a thousand times the scale: 1 ppm NO2 (46.01 g/mol) ≈ 1.882 mg/m³
    assert apply("59", "GP", 1, 46.01) == pytest.approx(46.01 / 24.45, rel=1e-6)


def test_ppm_to_ppb_needs_no_molar_mass():
    assert apply("59", "61", 1) == pytest.approx(1000)


def test_mixing_ratio_to_mass_without_molar_mass_names_molar_mass():
    with pytest.raises(UnitProblem, match="molar_mass"):
        conversion("61", "GQ")


@pytest.mark.parametrize("src,dst", [("CEL", "C62"), ("MMT", "KGM"), ("SEC", "MTR")])
def test_incompatible_units(src, dst):
    with pytest.raises(UnitProblem, match=f"cannot convert {src}"):
        conversion(src, dst)


def test_unknown_code():
    with pytest.raises(UnitProblem, match="unknown unit 'DEGC'"):
        check_code("DEGC")
    with pytest.raises(UnitProblem, match="unknown unit"):
        conversion("CEL", "XYZ")


def test_same_unit_is_identity():
    assert conversion("CEL", "CEL") is IDENTITY
    assert IDENTITY.identity


def test_every_code_resolves_in_pint():
    for code in UNITS:
        assert conversion(code, code).identity
        assert label(code, "ko") and label(code, "en") and symbol(code)


def test_conversion_has_no_float_noise():
    # 5/9 rendered with 12 significant digits, not 0.55555555555554
    c = conversion("FAH", "CEL")
    assert len(repr(c.factor)) <= 16
