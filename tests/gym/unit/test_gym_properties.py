"""Property tests: unit conversions round-trip, and the CSV importers never raise whatever the input."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel.apps.gym.importers import (
    HEVY_HEADER,
    STRONG_HEADER,
    ImportedExercise,
    ImportedSet,
    ImportedWorkout,
    dumps_hevy_csv,
    dumps_strong_csv,
    parse_csv,
)
from keel.apps.gym.records import SetType
from keel.apps.gym.units import WeightUnit, from_kg, from_metres, to_decimal, to_kg, to_metres

QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# what a lifter types: up to two decimals, within the API's bounds
entered = st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False, allow_infinity=False)
distances = st.decimals(min_value=0, max_value=100_000, places=3, allow_nan=False, allow_infinity=False)


@QUICK
@given(entered, st.sampled_from(["kg", "lb"]))
def test_weight_round_trips_in_its_entered_unit(value: Decimal, unit: str) -> None:
    assert from_kg(to_kg(value, unit), unit) == value


@QUICK
@given(distances, st.sampled_from(["m", "km", "mi"]))
def test_distance_round_trips(value: Decimal, unit: str) -> None:
    assert from_metres(to_metres(value, unit), unit) == value


@QUICK
@given(st.one_of(st.text(max_size=30), st.floats(), st.integers(), st.decimals()))
def test_conversions_raise_only_value_or_type_errors(value: object) -> None:
    for convert in (to_decimal, to_kg, to_metres):
        try:
            result = convert(value)  # type: ignore[operator]
        except (ValueError, TypeError):
            continue
        assert result.is_finite()


cell = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
numberish = st.one_of(
    cell,
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.sampled_from(["1e400", "-0", "NaN", "inf", "1,5", "", "0", "10**30", "\x00", "1h 5m", "99999999999h"]),
)


@QUICK
@given(st.lists(st.lists(numberish, min_size=0, max_size=14), max_size=8), st.sampled_from([",", ";"]))
def test_parse_csv_never_raises_on_rows_under_a_real_header(rows: list[list[str]], delimiter: str) -> None:
    for header in (STRONG_HEADER, HEVY_HEADER):
        text = "\n".join(delimiter.join(r) for r in [list(header), *rows])
        result = parse_csv(text)
        # every parsed set is in range: nothing reached the database layer that would overflow it
        for workout in result.workouts:
            for exercise in workout.exercises:
                for s in exercise.sets:
                    assert s.weight_kg is None or abs(s.weight_kg) <= Decimal(10_000)
                    assert s.reps is None or 0 <= s.reps <= 10_000


@QUICK
@given(st.binary(max_size=300))
def test_parse_csv_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    result = parse_csv(b"Date,Workout Name,Exercise Name,Set Order\n" + data)
    assert result.format is not None or result.errors


names = (
    st.text(
        alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFF, exclude_categories=("Cs",)),
        min_size=1,
        max_size=20,
    )
    .map(str.strip)
    .filter(lambda n: n and n[0] not in "=+-@'")
)
sets = st.builds(
    ImportedSet,
    set_type=st.sampled_from(list(SetType)),
    weight_kg=st.one_of(st.none(), entered.map(lambda v: to_kg(v, "kg")).filter(bool)),
    reps=st.one_of(st.none(), st.integers(min_value=1, max_value=10_000)),
)


@QUICK
@given(st.lists(st.tuples(names, names, st.lists(sets, min_size=1, max_size=4)), min_size=1, max_size=4))
def test_export_then_import_gives_the_same_sets(workouts: list[tuple[str, str, list[ImportedSet]]]) -> None:
    built = [
        ImportedWorkout(
            title=title,
            started_at=datetime(2026, 1, 1 + i, 8, 0),
            exercises=[ImportedExercise(name=exercise, sets=chosen)],
        )
        for i, (title, exercise, chosen) in enumerate(workouts)
    ]
    for dumps in (dumps_strong_csv, dumps_hevy_csv):
        text = dumps(built, weight_unit=WeightUnit.KG)
        result = parse_csv(text)
        assert result.errors == [], (text, result.errors)
        got = [
            (s.set_type, s.weight_kg, s.reps) for w in result.workouts for e in w.exercises for s in e.sets
        ]
        want = [(s.set_type, s.weight_kg, s.reps) for w in built for e in w.exercises for s in e.sets]
        assert got == want
