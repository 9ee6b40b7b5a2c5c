"""Strong's export dialect: header, set-order markers, row parser and writer.

Strong writes two dialects: comma-separated with bare value columns (``Weight``, ``Distance``, ``Duration``
as "1h 5m") in the app's display unit, which the caller names; and semicolon-separated with the unit in
each header (``Weight (kg)``/``Weight (lbs)``, ``Distance (meters)``/``Distance (miles)``, ``Duration
(sec)``), which wins over the caller's unit. A value column that cannot be mapped refuses the file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, tzinfo
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
    entered_distance_unit,
    entered_weight_unit,
    nonzero,
    number_cell,
    parse_datetime,
    parse_decimal,
    parse_int,
    parse_rpe,
    parse_seconds,
    text_cell,
    text_or_none,
    weight_cell,
)
from keel.apps.gym.importers.model import ImportedSet, ImportedWorkout, format_duration, parse_duration
from keel.apps.gym.records import SetType
from keel.apps.gym.units import (
    DistanceUnit,
    WeightUnit,
    parse_distance_unit,
    parse_weight_unit,
    to_kg,
    to_metres,
)

STRONG_HEADER: tuple[str, ...] = (
    "Date",
    "Workout Name",
    "Duration",
    "Exercise Name",
    "Set Order",
    "Weight",
    "Reps",
    "Distance",
    "Seconds",
    "Notes",
    "Workout Notes",
    "RPE",
)
STRONG_SET_TYPES = {"W": SetType.WARMUP, "D": SetType.DROP, "F": SetType.FAILURE}
STRONG_SET_ORDER = {value: key for key, value in STRONG_SET_TYPES.items()}
STRONG_SKIPPED_ORDERS = {"rest timer", "note"}  # non-set rows newer Strong versions emit
STRONG_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")
STRONG_DATE_OUT = "%Y-%m-%d %H:%M:%S"


_UNIT_HEADER = re.compile(r"^(weight|distance|duration)\s*\((.*)\)$")
_DURATION_SECONDS = {"s", "sec", "secs", "second", "seconds"}


class StrongUnits(msgspec.Struct, frozen=True):
    """Which column holds each value, and in which unit: read once from the header."""

    weight_column: str
    weight_unit: WeightUnit
    distance_column: str
    distance_unit: DistanceUnit
    duration_column: str
    duration_in_seconds: bool

    @classmethod
    def for_columns(cls, cols: Columns, weight_unit: WeightUnit, distance_unit: DistanceUnit) -> StrongUnits:
        """Raises FieldError (naming the columns found) when a value column is missing or its unit unknown."""
        chosen: dict[str, tuple[str, str | None]] = {}
        problems: list[str] = []
        for name in cols.names:
            lowered = name.lower()
            match = _UNIT_HEADER.match(lowered)
            if match:
                chosen.setdefault(match.group(1), (name, match.group(2).strip()))
            elif lowered in ("weight", "distance", "duration"):
                chosen.setdefault(lowered, (name, None))
        try:
            w_name, w_unit = chosen["weight"]
            weight = parse_weight_unit(w_unit) if w_unit is not None else weight_unit
        except KeyError:
            problems.append("no weight column (Weight, Weight (kg) or Weight (lbs))")
        except ValueError:
            problems.append(f"unknown weight unit in {w_name!r}")
        try:
            d_name, d_unit = chosen["distance"]
            distance = parse_distance_unit(d_unit) if d_unit is not None else distance_unit
        except KeyError:
            problems.append("no distance column (Distance, Distance (meters), (km) or (miles))")
        except ValueError:
            problems.append(f"unknown distance unit in {d_name!r}")
        t_name, t_unit = chosen.get("duration", ("Duration", None))
        if t_unit is not None and t_unit not in _DURATION_SECONDS:
            problems.append(f"unknown duration unit in {t_name!r}")
        for required in ("Reps", "Seconds"):
            if not cols.has(required):
                problems.append(f"no {required!r} column")
        if problems:
            raise FieldError(
                "header",
                f"cannot map the value columns: {'; '.join(problems)}; columns found: {cols.found()}",
            )
        return cls(
            weight_column=w_name,
            weight_unit=weight,
            distance_column=d_name,
            distance_unit=distance,
            duration_column=t_name,
            duration_in_seconds=t_unit is not None,
        )


def strong_workout_timing(
    record: Sequence[str], cols: Columns, units: StrongUnits, started_at: datetime
) -> tuple[datetime | None, int | None]:
    text = cols.get(record, units.duration_column)
    try:
        if units.duration_in_seconds:
            duration = nonzero(parse_seconds(text, units.duration_column))
        else:
            duration = parse_duration(text)
    except ValueError as error:
        raise FieldError(units.duration_column, str(error)) from None
    return (started_at + timedelta(seconds=duration) if duration is not None else None), duration


def parse_strong_row(
    record: Sequence[str],
    cols: Columns,
    *,
    units: StrongUnits,
    default_tz: tzinfo | None,
    field_errors: RowErrors,
) -> ParsedRow | None:
    weight_unit, distance_unit = units.weight_unit, units.distance_unit
    order_text = cols.get(record, "Set Order").strip()
    if order_text.lower() in STRONG_SKIPPED_ORDERS:
        return None
    order: int | None = None
    set_type = STRONG_SET_TYPES.get(order_text.upper())
    if set_type is None:
        order = field_errors.attempt(parse_int, order_text, "Set Order")
        if order is None and not field_errors:
            field_errors.append(FieldError("Set Order", "missing set order"))
        set_type = SetType.NORMAL
    started_at = field_errors.attempt(
        parse_datetime, cols.get(record, "Date"), "Date", STRONG_DATE_FORMATS, default_tz
    )
    title = cols.get(record, "Workout Name").strip()
    name = cols.get(record, "Exercise Name").strip()
    if not name:
        field_errors.append(FieldError("Exercise Name", "missing exercise name"))
    # Strong writes 0 in every column that does not apply (distance on a bench set,
    # weight on a run), so zero means "not recorded" here.
    weight = nonzero(
        field_errors.attempt(
            parse_decimal,
            cols.get(record, units.weight_column),
            units.weight_column,
            allow_negative=True,
            maximum=MAX_WEIGHT,
        )
    )
    distance = nonzero(
        field_errors.attempt(
            parse_decimal,
            cols.get(record, units.distance_column),
            units.distance_column,
            maximum=MAX_DISTANCE,
        )
    )
    performed = ImportedSet(
        set_type=set_type,
        weight_kg=to_kg(weight, weight_unit) if weight is not None else None,
        weight_unit=weight_unit,
        reps=nonzero(field_errors.attempt(parse_int, cols.get(record, "Reps"), "Reps")),
        distance_m=to_metres(distance, distance_unit) if distance is not None else None,
        distance_unit=distance_unit,
        duration_s=nonzero(field_errors.attempt(parse_seconds, cols.get(record, "Seconds"), "Seconds")),
        rpe=field_errors.attempt(parse_rpe, cols.get(record, "RPE"), "RPE"),
        notes=text_or_none(cols.get(record, "Notes")),
    )
    if field_errors or started_at is None:
        return None
    return ParsedRow(
        title=title,
        started_at=started_at,
        ended_at=None,  # filled from Duration by the caller, which reports its errors once per workout
        duration_s=None,
        workout_notes=text_or_none(cols.get(record, "Workout Notes")),
        exercise_name=name,
        superset_id=None,
        exercise_notes=None,
        order=order,
        set=performed,
    )


def write_strong_csv(
    stream: IO[str],
    workouts: Iterable[ImportedWorkout],
    *,
    weight_unit: WeightUnit | str | None = None,
    distance_unit: DistanceUnit | str | None = None,
) -> None:
    """Write Strong's export format. Units default to those the data was entered in.

    Open file streams with ``newline=""`` as the csv module requires.
    """
    workouts = list(workouts)
    w_unit = parse_weight_unit(weight_unit) if weight_unit else entered_weight_unit(workouts)
    d_unit = parse_distance_unit(distance_unit) if distance_unit else entered_distance_unit(workouts)
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(STRONG_HEADER)
    for workout in workouts:
        for exercise in workout.exercises:
            normal_count = 0
            for position, performed in enumerate(exercise.sets):
                if performed.set_type is SetType.NORMAL:
                    normal_count += 1
                    order = str(normal_count)
                else:
                    order = STRONG_SET_ORDER[performed.set_type]
                notes = performed.notes
                if notes is None and position == 0:
                    notes = exercise.notes  # Strong has no exercise-level notes column
                writer.writerow(
                    (
                        f"{workout.started_at:{STRONG_DATE_OUT}}",
                        text_cell(workout.title),
                        format_duration(workout.duration_s),
                        text_cell(exercise.name),
                        order,
                        weight_cell(performed.weight_kg, w_unit),
                        number_cell(performed.reps),
                        distance_cell(performed.distance_m, d_unit),
                        number_cell(performed.duration_s),
                        text_cell(notes or ""),
                        text_cell(workout.notes or ""),
                        number_cell(performed.rpe),
                    )
                )


def dumps_strong_csv(workouts: Iterable[ImportedWorkout], **options: Any) -> str:
    buffer = io.StringIO(newline="")
    write_strong_csv(buffer, workouts, **options)
    return buffer.getvalue()
