"""Units: UN/CEFACT common codes (as NGSI-LD ``unitCode`` uses them) and conversions.

Conversions are compiled once, when a spec is loaded, into ``(factor, offset)``
pairs with pint; the normalizer's hot path is then ``value * factor + offset``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import pint

# UN/CEFACT Recommendation 20 common code → (pint expression, Korean, English, symbol)
UNITS: dict[str, tuple[str, str, str, str]] = {
    "C62": ("dimensionless", "개수/비율(무차원)", "one (dimensionless)", "1"),
    "P1": ("percent", "퍼센트", "percent", "%"),
    "59": ("ppm", "ppm", "part per million", "ppm"),
    "61": ("ppb", "ppb", "part per billion", "ppb"),
    "GQ": ("microgram / meter ** 3", "마이크로그램/세제곱미터", "microgram per cubic metre", "µg/m³"),
    "GP": ("milligram / meter ** 3", "밀리그램/세제곱미터", "milligram per cubic metre", "mg/m³"),
    "CEL": ("degC", "섭씨도", "degree Celsius", "°C"),
    "FAH": ("degF", "화씨도", "degree Fahrenheit", "°F"),
    "KEL": ("kelvin", "켈빈", "kelvin", "K"),
    "MMT": ("millimeter", "밀리미터", "millimetre", "mm"),
    "CMT": ("centimeter", "센티미터", "centimetre", "cm"),
    "MTR": ("meter", "미터", "metre", "m"),
    "KMT": ("kilometer", "킬로미터", "kilometre", "km"),
    "INH": ("inch", "인치", "inch", "in"),
    "SEC": ("second", "초", "second", "s"),
    "MIN": ("minute", "분", "minute", "min"),
    "HUR": ("hour", "시간", "hour", "h"),
    "DAY": ("day", "일", "day", "d"),
    "VLT": ("volt", "볼트", "volt", "V"),
    "2Z": ("millivolt", "밀리볼트", "millivolt", "mV"),
    "WTT": ("watt", "와트", "watt", "W"),
    "KWT": ("kilowatt", "킬로와트", "kilowatt", "kW"),
    "WHR": ("watt_hour", "와트시", "watt hour", "Wh"),
    "KWH": ("kilowatt_hour", "킬로와트시", "kilowatt hour", "kWh"),
    "A97": ("hectopascal", "헥토파스칼", "hectopascal", "hPa"),
    "PAL": ("pascal", "파스칼", "pascal", "Pa"),
    "KGM": ("kilogram", "킬로그램", "kilogram", "kg"),
    "GRM": ("gram", "그램", "gram", "g"),
    "LTR": ("liter", "리터", "litre", "L"),
    "KMH": ("kilometer / hour", "킬로미터/시", "kilometre per hour", "km/h"),
    "MTS": ("meter / second", "미터/초", "metre per second", "m/s"),
    "LUX": ("lux", "럭스", "lux", "lx"),
    "DD": ("degree", "도(각도)", "degree (angle)", "°"),
}

MOLAR_VOLUME_L_PER_MOL = 24.45  # ideal gas at 25 °C and 1 atm, as air-quality standards use


class UnitProblem(ValueError):
    """A unit code is unknown or two units cannot be converted; the message says which."""


@dataclass(frozen=True)
class Conversion:
    factor: float
    offset: float

    @property
    def identity(self) -> bool:
        return self.factor == 1.0 and self.offset == 0.0


IDENTITY = Conversion(1.0, 0.0)


@lru_cache(maxsize=1)
def _ureg() -> pint.UnitRegistry:
    ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    if "ppb" not in ureg:  # pint defines ppm but not ppb
        ureg.define("ppb = 1e-9 = parts_per_billion")
    return ureg


def check_code(code: str) -> None:
    if code not in UNITS:
        raise UnitProblem(f"unknown unit {code!r}: use a UN/CEFACT common code such as "
                          "CEL, FAH, P1, C62, GQ, 59 (ppm), 61 (ppb), CMT, MMT")


def label(code: str, lang: str = "en") -> str:
    expr, ko, en, symbol = UNITS[code]
    return ko if lang == "ko" else en


def symbol(code: str) -> str:
    return UNITS[code][3]


@lru_cache(maxsize=None)
def conversion(src: str, dst: str, molar_mass: float | None = None) -> Conversion:
    """The (factor, offset) taking a value in ``src`` to ``dst``.

    With ``molar_mass`` (g/mol), a volume mixing ratio (ppm, ppb) converts to a
    mass concentration (µg/m³, mg/m³) at 25 °C and 1 atm, and back.
    """
    check_code(src)
    check_code(dst)
    if src == dst:
        return IDENTITY
    ureg = _ureg()
    q0 = ureg.Quantity(0.0, UNITS[src][0])
    q1 = ureg.Quantity(1.0, UNITS[src][0])
    if molar_mass is not None:
        bridge = ureg.Quantity(molar_mass, "g/mol") / ureg.Quantity(MOLAR_VOLUME_L_PER_MOL, "L/mol")
        if q1.dimensionless:
            q0, q1 = q0 * bridge, q1 * bridge
        else:
            q0, q1 = q0 / bridge, q1 / bridge
    try:
        v0 = q0.to(UNITS[dst][0]).magnitude
        v1 = q1.to(UNITS[dst][0]).magnitude
    except pint.DimensionalityError:
        hint = " (give molar_mass to convert a mixing ratio to a mass concentration)" \
            if molar_mass is None and {src, dst} & {"59", "61"} else ""
        raise UnitProblem(f"cannot convert {src} ({symbol(src)}) to {dst} ({symbol(dst)}){hint}") from None
    # pint's offset arithmetic leaves noise in the last digits (5/9 → 0.55555555555554)
    return Conversion(float(f"{v1 - v0:.12g}"), float(f"{v0:.12g}"))
