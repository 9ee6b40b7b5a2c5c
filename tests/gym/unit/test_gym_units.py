from decimal import Decimal

import pytest

from keel.apps.gym.units import (
    DistanceUnit,
    WeightUnit,
    format_decimal,
    format_distance,
    format_weight,
    from_kg,
    parse_weight_unit,
    to_decimal,
    to_kg,
    to_metres,
)


def test_pounds_convert_to_three_decimal_kg() -> None:
    assert to_kg(225, WeightUnit.LB) == Decimal("102.058")
    assert to_kg("45", "lbs") == Decimal("20.412")
    assert to_kg(100) == Decimal("100.000")


def test_entered_pounds_render_back_exactly() -> None:
    for entered in ("225", "135", "2.5", "317.5", "0.25", "1005"):
        stored = to_kg(entered, "lb")
        assert format_weight(stored, "lb") == f"{format_decimal(Decimal(entered))} lb"


def test_kg_values_render_without_noise() -> None:
    assert format_weight(Decimal("102.500"), WeightUnit.KG) == "102.5 kg"
    assert format_weight(Decimal("100.000"), "kg", with_unit=False) == "100"
    assert from_kg(Decimal("102.058"), "lb") == Decimal("225.00")


def test_floats_do_not_leak_binary_noise() -> None:
    assert to_decimal(0.1) == Decimal("0.1")
    assert to_kg(0.1) == Decimal("0.100")


@pytest.mark.parametrize("bad", ["abc", "nan", "inf", ""])
def test_bad_numbers_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        to_decimal(bad)


def test_unit_spellings() -> None:
    assert parse_weight_unit("Pounds") is WeightUnit.LB
    assert parse_weight_unit(" KGS ") is WeightUnit.KG
    with pytest.raises(ValueError):
        parse_weight_unit("stone")


def test_distances() -> None:
    assert to_metres(5, DistanceUnit.KM) == Decimal("5000.000")
    assert to_metres(1, "mi") == Decimal("1609.344")
    assert format_distance(to_metres("3.1", "mi"), "mi") == "3.1 mi"
    assert format_distance(Decimal("5000"), "km") == "5 km"
    assert format_distance(Decimal("400"), "m") == "400 m"
