"""Reading one cell (a bad value is a field error, never an exception), writing one back; row assembly."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from keel.apps.gym.catalog import ExerciseNameIndex, name_key
from keel.apps.gym.importers.model import (
    ImportedExercise,
    ImportedSet,
    ImportedWorkout,
    N,
    T,
    workout_fingerprint,
)
from keel.apps.gym.units import (
    CANONICAL_PLACES,
    DistanceUnit,
    WeightUnit,
    format_decimal,
    from_kg,
    from_metres,
)

# --------------------------------------------------------------------------- parsing helpers


class FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class RowErrors(list[FieldError]):
    """Collects every field error of a row so the user sees them all at once."""

    def attempt(self, parse: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return parse(*args, **kwargs)
        except FieldError as error:
            self.append(error)
            return None


# Bounds as in the API (schemas.SetCreate): a value past them is a typo or an attack, and would overflow the
# database's numeric columns or Decimal's context (1e400) instead of failing as a field error.
MAX_WEIGHT = Decimal(10_000)
MAX_REPS = 10_000
MAX_DISTANCE = Decimal(100_000)  # km or miles: within the column's 12 digits once in metres
MAX_SECONDS = 7 * 24 * 3600
_MAX_NUMBER = Decimal(1_000_000_000)
_MAX_TEXT = 100  # digits and signs: Decimal would happily parse a megabyte of them


def parse_decimal(
    text: str, field: str, *, allow_negative: bool = False, maximum: Decimal = _MAX_NUMBER
) -> Decimal | None:
    text = text.strip()
    if len(text) > _MAX_TEXT:
        raise FieldError(field, f"not a number: {text[:20]!r}... ({len(text)} characters)")
    if not text:
        return None
    if "," in text and "." not in text:
        text = text.replace(",", ".")  # decimal comma from European locales
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise FieldError(field, f"not a number: {text!r}") from None
    if not value.is_finite():
        raise FieldError(field, f"not a number: {text!r}")
    if value < 0 and not allow_negative:
        raise FieldError(field, f"must not be negative: {text!r}")
    if abs(value) > maximum:
        raise FieldError(field, f"out of range: {text!r} (at most {maximum})")
    return value


def parse_int(text: str, field: str, *, maximum: int = MAX_REPS) -> int | None:
    value = parse_decimal(text, field, maximum=Decimal(maximum))
    if value is None:
        return None
    if value != value.to_integral_value():
        raise FieldError(field, f"must be a whole number: {text.strip()!r}")
    return int(value)


def parse_seconds(text: str, field: str) -> int | None:
    value = parse_decimal(text, field, maximum=Decimal(MAX_SECONDS))
    return None if value is None else int(value.to_integral_value())


def parse_rpe(text: str, field: str) -> Decimal | None:
    value = parse_decimal(text, field)
    if value is not None and not Decimal(0) < value <= Decimal(10):
        raise FieldError(field, f"RPE must be between 0 and 10, got {text.strip()!r}")
    return value


def parse_datetime(text: str, field: str, formats: Sequence[str], default_tz: tzinfo | None) -> datetime:
    text = text.strip()
    if not text:
        raise FieldError(field, "missing date")
    parsed: datetime | None = None
    for fmt in formats:
        try:
            parsed = datetime.strptime(text, fmt)  # naive: exports carry no zone, see default_tz
            break
        except ValueError:
            continue
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise FieldError(field, f"unrecognised date {text!r}") from None
    if parsed.tzinfo is None and default_tz is not None:
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed


def nonzero(value: N | None) -> N | None:
    return value if value else None


def text_or_none(value: str) -> str | None:
    value = value.strip()
    return value or None


# --------------------------------------------------------------------------- assembly


class ParsedRow(msgspec.Struct, kw_only=True):
    title: str
    started_at: datetime
    ended_at: datetime | None
    duration_s: int | None
    workout_notes: str | None
    exercise_name: str
    superset_id: str | None
    exercise_notes: str | None
    order: int | None  # position marker used to spot a repeated exercise
    set: ImportedSet


class Assembler:
    """Groups rows into workouts and exercises, preserving file order."""

    def __init__(self, index: ExerciseNameIndex) -> None:
        self._index = index
        self._workouts: dict[tuple[datetime, str], ImportedWorkout] = {}
        # Last set-order marker seen in each workout's current (last) exercise.
        self._last_order: dict[tuple[datetime, str], int | None] = {}
        self._unmatched: dict[str, str] = {}

    def add(self, row: ParsedRow) -> None:
        key = (row.started_at, row.title)
        workout = self._workouts.get(key)
        if workout is None:
            workout = self._workouts[key] = ImportedWorkout(
                title=row.title,
                started_at=row.started_at,
                ended_at=row.ended_at,
                duration_s=row.duration_s,
                notes=row.workout_notes,
            )
        elif workout.notes is None:
            workout.notes = row.workout_notes
        exercise = workout.exercises[-1] if workout.exercises else None
        last_order = self._last_order.get(key)
        # The same exercise done twice in one workout shows up as a restarting set counter.
        restarted = row.order is not None and last_order is not None and row.order <= last_order
        if exercise is None or exercise.name != row.exercise_name or restarted:
            slug = self._index.match(row.exercise_name)
            if slug is None:
                self._unmatched.setdefault(name_key(row.exercise_name), row.exercise_name)
            exercise = ImportedExercise(
                name=row.exercise_name,
                slug=slug,
                superset_id=row.superset_id,
                notes=row.exercise_notes,
            )
            workout.exercises.append(exercise)
            last_order = None
        elif exercise.notes is None:
            exercise.notes = row.exercise_notes
        exercise.sets.append(row.set)
        self._last_order[key] = row.order if row.order is not None else last_order

    def finish(self) -> tuple[list[ImportedWorkout], list[str]]:
        workouts = list(self._workouts.values())
        for workout in workouts:
            workout.fingerprint = workout_fingerprint(workout.started_at, workout.title, workout.set_count)
        return workouts, list(self._unmatched.values())


class Columns:
    """Case-insensitive column access for one header, tolerant of missing optional columns."""

    def __init__(self, header: Sequence[str]) -> None:
        self.width = len(header)
        self.names = [cell.strip().lstrip("\ufeff") for cell in header]
        self._positions = {cell.strip().lstrip("\ufeff").lower(): i for i, cell in enumerate(header)}

    def has(self, name: str) -> bool:
        return name.lower() in self._positions

    def found(self) -> str:
        """The header as read, for messages that must say what the file holds."""
        return ", ".join(repr(name) for name in self.names)

    def get(self, record: Sequence[str], name: str) -> str:
        position = self._positions.get(name.lower())
        return record[position] if position is not None else ""


# --------------------------------------------------------------------------- writers


def number_cell(value: Decimal | int | None) -> str:
    if value is None:
        return ""
    return format_decimal(Decimal(value))


def all_sets(workouts: Iterable[ImportedWorkout]) -> Iterator[ImportedSet]:
    for workout in workouts:
        for exercise in workout.exercises:
            yield from exercise.sets


def entered_weight_unit(workouts: Sequence[ImportedWorkout]) -> WeightUnit:
    # A Strong file has a single unit; use the one the lifter entered weights in.
    return next((s.weight_unit for s in all_sets(workouts) if s.weight_kg is not None), WeightUnit.KG)


def entered_distance_unit(workouts: Sequence[ImportedWorkout]) -> DistanceUnit:
    return next((s.distance_unit for s in all_sets(workouts) if s.distance_m is not None), DistanceUnit.KM)


def weight_cell(weight_kg: Decimal | None, unit: WeightUnit) -> str:
    if weight_kg is None:
        return ""
    # kg is the stored unit: write all stored decimals. Two decimals recover any lb entry.
    places = CANONICAL_PLACES if unit is WeightUnit.KG else 2
    return format_decimal(from_kg(weight_kg, unit, places))


def distance_cell(distance_m: Decimal | None, unit: DistanceUnit) -> str:
    return "" if distance_m is None else format_decimal(from_metres(distance_m, unit))


def workout_end(workout: ImportedWorkout) -> datetime | None:
    if workout.ended_at is not None:
        return workout.ended_at
    if workout.duration_s is not None:
        return workout.started_at + timedelta(seconds=workout.duration_s)
    return None


# A spreadsheet runs a cell starting with one of these as a formula (CSV injection); OWASP's advice is a
# leading apostrophe. Only free text is escaped, and only on export: numbers (a negative assisted weight)
# stay numbers and imports keep what the file says.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_TRIGGERS) else text
