"""Hevy's export dialect: header (kg/km or lbs/miles columns), set types, row parser and writer."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import tzinfo
from typing import IO, Any

import msgspec

from keel.apps.gym.importers.fields import (
    MAX_DISTANCE,
    MAX_WEIGHT,
    Columns,
    FieldError,
    ParsedRow,
    RowErrors,
    distance_cell,
    number_cell,
    parse_datetime,
    parse_decimal,
    parse_int,
    parse_rpe,
    parse_seconds,
    text_cell,
    text_or_none,
    weight_cell,
    workout_end,
)
from keel.apps.gym.importers.model import ImportedSet, ImportedWorkout
from keel.apps.gym.records import SetType
from keel.apps.gym.units import (
    DistanceUnit,
    WeightUnit,
    parse_distance_unit,
    parse_weight_unit,
    to_kg,
    to_metres,
)

HEVY_HEADER: tuple[str, ...] = (
    "title",
    "start_time",
    "end_time",
    "description",
    "exercise_title",
    "superset_id",
    "exercise_notes",
    "set_index",
    "set_type",
    "weight_kg",
    "reps",
    "distance_km",
    "duration_seconds",
    "rpe",
)
# Hevy swaps these columns when the account uses imperial units.
HEVY_IMPERIAL = {"weight_kg": "weight_lbs", "distance_km": "distance_miles"}

HEVY_SET_TYPES = {
    "normal": SetType.NORMAL,
    "warmup": SetType.WARMUP,
    "dropset": SetType.DROP,
    "failure": SetType.FAILURE,
}
HEVY_SET_TYPE_NAMES = {value: key for key, value in HEVY_SET_TYPES.items()}

HEVY_DATE_FORMATS = ("%d %b %Y, %H:%M", "%d %b %Y, %H:%M:%S", "%b %d, %Y, %I:%M %p")
HEVY_DATE_OUT = "%d %b %Y, %H:%M"


class HevyUnits(msgspec.Struct, frozen=True):
    weight_column: str
    weight_unit: WeightUnit
    distance_column: str
    distance_unit: DistanceUnit

    @classmethod
    def for_columns(cls, cols: Columns) -> HevyUnits:
        """Raises FieldError (naming the columns found) when a value column is missing."""
        problems = [
            f"no {' or '.join(repr(c) for c in options)} column"
            for options in (
                ("weight_kg", "weight_lbs"),
                ("reps",),
                ("distance_km", "distance_miles"),
                ("duration_seconds",),
            )
            if not any(cols.has(c) for c in options)
        ]
        if problems:
            raise FieldError(
                "header",
                f"cannot map the value columns: {'; '.join(problems)}; columns found: {cols.found()}",
            )
        pounds = cols.has("weight_lbs") and not cols.has("weight_kg")
        miles = cols.has("distance_miles") and not cols.has("distance_km")
        return cls(
            weight_column="weight_lbs" if pounds else "weight_kg",
            weight_unit=WeightUnit.LB if pounds else WeightUnit.KG,
            distance_column="distance_miles" if miles else "distance_km",
            distance_unit=DistanceUnit.MI if miles else DistanceUnit.KM,
        )


def parse_hevy_row(
    record: Sequence[str],
    cols: Columns,
    *,
    units: HevyUnits,
    default_tz: tzinfo | None,
    field_errors: RowErrors,
) -> ParsedRow | None:
    started_at = field_errors.attempt(
        parse_datetime, cols.get(record, "start_time"), "start_time", HEVY_DATE_FORMATS, default_tz
    )
    name = cols.get(record, "exercise_title").strip()
    if not name:
        field_errors.append(FieldError("exercise_title", "missing exercise title"))
    type_text = cols.get(record, "set_type").strip().lower() or "normal"
    set_type = HEVY_SET_TYPES.get(type_text)
    if set_type is None:
        field_errors.append(FieldError("set_type", f"unknown set type {type_text!r}"))
    weight = field_errors.attempt(
        parse_decimal,
        cols.get(record, units.weight_column),
        units.weight_column,
        allow_negative=True,
        maximum=MAX_WEIGHT,
    )
    distance = field_errors.attempt(
        parse_decimal, cols.get(record, units.distance_column), units.distance_column, maximum=MAX_DISTANCE
    )
    performed = ImportedSet(
        set_type=set_type or SetType.NORMAL,
        weight_kg=to_kg(weight, units.weight_unit) if weight is not None else None,
        weight_unit=units.weight_unit,
        reps=field_errors.attempt(parse_int, cols.get(record, "reps"), "reps"),
        distance_m=to_metres(distance, units.distance_unit) if distance is not None else None,
        distance_unit=units.distance_unit,
        duration_s=field_errors.attempt(
            parse_seconds, cols.get(record, "duration_seconds"), "duration_seconds"
        ),
        rpe=field_errors.attempt(parse_rpe, cols.get(record, "rpe"), "rpe"),
    )
    order = field_errors.attempt(parse_int, cols.get(record, "set_index"), "set_index")
    if field_errors or started_at is None:
        return None
    return ParsedRow(
        title=cols.get(record, "title").strip(),
        started_at=started_at,
        ended_at=None,  # filled by the caller, which reports end_time errors once per workout
        duration_s=None,
        workout_notes=text_or_none(cols.get(record, "description")),
        exercise_name=name,
        superset_id=text_or_none(cols.get(record, "superset_id")),
        exercise_notes=text_or_none(cols.get(record, "exercise_notes")),
        order=order,
        set=performed,
    )


def write_hevy_csv(
    stream: IO[str],
    workouts: Iterable[ImportedWorkout],
    *,
    weight_unit: WeightUnit | str = WeightUnit.KG,
    distance_unit: DistanceUnit | str = DistanceUnit.KM,
) -> None:
    """Write Hevy's export format (``weight_lbs``/``distance_miles`` columns for imperial units)."""
    w_unit = parse_weight_unit(weight_unit)
    d_unit = parse_distance_unit(distance_unit)
    if d_unit is DistanceUnit.M:
        raise ValueError("Hevy exports distance in km or miles")
    header = list(HEVY_HEADER)
    if w_unit is WeightUnit.LB:
        header[header.index("weight_kg")] = HEVY_IMPERIAL["weight_kg"]
    if d_unit is DistanceUnit.MI:
        header[header.index("distance_km")] = HEVY_IMPERIAL["distance_km"]
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    for workout in workouts:
        ended_at = workout_end(workout)
        for exercise in workout.exercises:
            for index, performed in enumerate(exercise.sets):
                writer.writerow(
                    (
                        text_cell(workout.title),
                        f"{workout.started_at:{HEVY_DATE_OUT}}",
                        f"{ended_at:{HEVY_DATE_OUT}}" if ended_at is not None else "",
                        text_cell(workout.notes or ""),
                        text_cell(exercise.name),
                        text_cell(exercise.superset_id or ""),
                        text_cell(exercise.notes or ""),
                        index,
                        HEVY_SET_TYPE_NAMES[performed.set_type],
                        weight_cell(performed.weight_kg, w_unit),
                        number_cell(performed.reps),
                        distance_cell(performed.distance_m, d_unit),
                        number_cell(performed.duration_s),
                        number_cell(performed.rpe),
                    )
                )


def dumps_hevy_csv(workouts: Iterable[ImportedWorkout], **options: Any) -> str:
    buffer = io.StringIO(newline="")
    write_hevy_csv(buffer, workouts, **options)
    return buffer.getvalue()
