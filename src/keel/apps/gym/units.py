"""Weight and distance units.

Everything is stored canonically (kilograms, metres) as ``Decimal`` quantised to
three places; the unit the lifter typed is kept alongside so it can be rendered
back exactly (225 lb -> 102.058 kg -> "225").
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import TypeAlias

__all__ = [
    "CANONICAL_PLACES",
    "KG_PER_LB",
    "METRES_PER_KM",
    "METRES_PER_MILE",
    "DistanceUnit",
    "Number",
    "WeightUnit",
    "db_decimal",
    "format_decimal",
    "format_distance",
    "format_weight",
    "from_kg",
    "from_metres",
    "parse_distance_unit",
    "parse_weight_unit",
    "quantize",
    "to_decimal",
    "to_kg",
    "to_metres",
]

Number: TypeAlias = Decimal | int | float | str

KG_PER_LB = Decimal("0.45359237")  # exact, by international definition (1959)
METRES_PER_KM = Decimal(1000)
METRES_PER_MILE = Decimal("1609.344")  # exact
CANONICAL_PLACES = 3
# Three decimals in kg is < 0.0011 lb of error, so any value entered with up to two
# decimals in lb survives the round trip.


class WeightUnit(StrEnum):
    KG = "kg"
    LB = "lb"


class DistanceUnit(StrEnum):
    M = "m"
    KM = "km"
    MI = "mi"


_WEIGHT_ALIASES = {
    "kg": WeightUnit.KG,
    "kgs": WeightUnit.KG,
    "kilogram": WeightUnit.KG,
    "kilograms": WeightUnit.KG,
    "lb": WeightUnit.LB,
    "lbs": WeightUnit.LB,
    "pound": WeightUnit.LB,
    "pounds": WeightUnit.LB,
}
_DISTANCE_ALIASES = {
    "m": DistanceUnit.M,
    "meter": DistanceUnit.M,
    "meters": DistanceUnit.M,
    "metre": DistanceUnit.M,
    "metres": DistanceUnit.M,
    "km": DistanceUnit.KM,
    "kilometer": DistanceUnit.KM,
    "kilometers": DistanceUnit.KM,
    "kilometre": DistanceUnit.KM,
    "kilometres": DistanceUnit.KM,
    "mi": DistanceUnit.MI,
    "mile": DistanceUnit.MI,
    "miles": DistanceUnit.MI,
}
_METRES_PER_UNIT = {
    DistanceUnit.M: Decimal(1),
    DistanceUnit.KM: METRES_PER_KM,
    DistanceUnit.MI: METRES_PER_MILE,
}


def parse_weight_unit(value: str | WeightUnit) -> WeightUnit:
    """Accept the spellings lifters and apps use ("kg", "lbs", "Pounds"...)."""
    try:
        return _WEIGHT_ALIASES[str(value).strip().lower()]
    except KeyError:
        raise ValueError(f"unknown weight unit: {value!r}") from None


def parse_distance_unit(value: str | DistanceUnit) -> DistanceUnit:
    try:
        return _DISTANCE_ALIASES[str(value).strip().lower()]
    except KeyError:
        raise ValueError(f"unknown distance unit: {value!r}") from None


def to_decimal(value: Number) -> Decimal:
    """Convert without binary-float artefacts (0.1 -> Decimal("0.1"), not 0.1000000000000000055...)."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise TypeError("bool is not a number here")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    else:
        raise TypeError(f"unsupported number type: {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def db_decimal(value: object) -> Decimal | None:
    """Numeric columns come back as Decimal (PostgreSQL) or float (SQLite): one canonical Decimal."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return quantize(value)
    return quantize(Decimal(repr(float(value))))  # type: ignore[arg-type]


def quantize(value: Decimal, places: int = CANONICAL_PLACES) -> Decimal:
    """Round half-up (what people expect from a scale), to ``places`` decimals.

    ValueError (not decimal.InvalidOperation) for a value too large to hold that many decimals (1e400)."""
    try:
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(f"number out of range: {value:.6g}") from None


def to_kg(value: Number, unit: WeightUnit | str = WeightUnit.KG) -> Decimal:
    """Canonical kilograms, three decimals."""
    amount = to_decimal(value)
    if parse_weight_unit(unit) is WeightUnit.LB:
        amount *= KG_PER_LB
    return quantize(amount)


def from_kg(kg: Number, unit: WeightUnit | str, places: int = 2) -> Decimal:
    """Kilograms back to ``unit``, rounded to ``places`` (2 recovers anything typed in the app)."""
    amount = to_decimal(kg)
    if parse_weight_unit(unit) is WeightUnit.LB:
        amount /= KG_PER_LB
    return quantize(amount, places)


def to_metres(value: Number, unit: DistanceUnit | str = DistanceUnit.M) -> Decimal:
    amount = to_decimal(value) * _METRES_PER_UNIT[parse_distance_unit(unit)]
    return quantize(amount)


def from_metres(metres: Number, unit: DistanceUnit | str, places: int = 3) -> Decimal:
    return quantize(to_decimal(metres) / _METRES_PER_UNIT[parse_distance_unit(unit)], places)


def format_decimal(value: Decimal) -> str:
    """Plain notation without trailing zeros: 100.00 -> "100", 102.50 -> "102.5", never "1E+2"."""
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in {"", "-0"} else text


def format_weight(kg: Number, unit: WeightUnit | str, places: int = 2, *, with_unit: bool = True) -> str:
    """Render a stored weight in its entered unit: ``format_weight("102.058", "lb") == "225 lb"``."""
    unit = parse_weight_unit(unit)
    text = format_decimal(from_kg(kg, unit, places))
    return f"{text} {unit.value}" if with_unit else text


def format_distance(
    metres: Number, unit: DistanceUnit | str, places: int = 3, *, with_unit: bool = True
) -> str:
    unit = parse_distance_unit(unit)
    text = format_decimal(from_metres(metres, unit, places))
    return f"{text} {unit.value}" if with_unit else text
