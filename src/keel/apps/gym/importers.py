"""Strong and Hevy CSV import/export.

Parsing never raises on bad data: every problem becomes a :class:`RowError`
(row numbers count the header as row 1, like a spreadsheet) and the offending
row is skipped, so a 5-year export with one corrupt line still imports.
Output is normalised to canonical units (kg, metres, seconds) while keeping the
unit each value was entered in, so writers reproduce the original numbers.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import IO, Any, TypeVar

import msgspec

from keel.apps.gym.catalog import ExerciseNameIndex, default_name_index, name_key
from keel.apps.gym.records import SetType
from keel.apps.gym.units import (
    CANONICAL_PLACES,
    DistanceUnit,
    WeightUnit,
    format_decimal,
    from_kg,
    from_metres,
    parse_distance_unit,
    parse_weight_unit,
    to_kg,
    to_metres,
)

__all__ = [
    "HEVY_HEADER",
    "STRONG_HEADER",
    "CsvFormat",
    "ImportResult",
    "ImportedExercise",
    "ImportedSet",
    "ImportedWorkout",
    "RowError",
    "detect_format",
    "dumps_hevy_csv",
    "dumps_strong_csv",
    "parse_csv",
    "parse_duration",
    "workout_fingerprint",
    "write_hevy_csv",
    "write_strong_csv",
]

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
_HEVY_IMPERIAL = {"weight_kg": "weight_lbs", "distance_km": "distance_miles"}

_STRONG_REQUIRED = frozenset({"date", "workout name", "exercise name", "set order"})
_HEVY_REQUIRED = frozenset({"title", "start_time", "exercise_title", "set_type"})

_STRONG_SET_TYPES = {"W": SetType.WARMUP, "D": SetType.DROP, "F": SetType.FAILURE}
_STRONG_SET_ORDER = {value: key for key, value in _STRONG_SET_TYPES.items()}
_STRONG_SKIPPED_ORDERS = {"rest timer", "note"}  # non-set rows newer Strong versions emit
_HEVY_SET_TYPES = {
    "normal": SetType.NORMAL,
    "warmup": SetType.WARMUP,
    "dropset": SetType.DROP,
    "failure": SetType.FAILURE,
}
_HEVY_SET_TYPE_NAMES = {value: key for key, value in _HEVY_SET_TYPES.items()}

_STRONG_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")
_HEVY_DATE_FORMATS = ("%d %b %Y, %H:%M", "%d %b %Y, %H:%M:%S", "%b %d, %Y, %I:%M %p")
_STRONG_DATE_OUT = "%Y-%m-%d %H:%M:%S"
_HEVY_DATE_OUT = "%d %b %Y, %H:%M"

_T = TypeVar("_T")
_N = TypeVar("_N", int, Decimal)

_DURATION_PART = re.compile(r"(\d+)\s*(h|hr|hrs|hours?|m|min|mins|minutes?|s|sec|secs|seconds?)\b")


class CsvFormat(StrEnum):
    STRONG = "strong"
    HEVY = "hevy"


class ImportedSet(msgspec.Struct, kw_only=True):
    set_type: SetType = SetType.NORMAL
    weight_kg: Decimal | None = None
    weight_unit: WeightUnit = WeightUnit.KG  # unit the weight was entered in
    reps: int | None = None
    distance_m: Decimal | None = None
    distance_unit: DistanceUnit = DistanceUnit.KM
    duration_s: int | None = None
    rpe: Decimal | None = None
    notes: str | None = None


class ImportedExercise(msgspec.Struct, kw_only=True):
    name: str  # as written in the file
    slug: str | None = None  # catalogue match, None when the caller must create a custom exercise
    superset_id: str | None = None
    notes: str | None = None
    sets: list[ImportedSet] = msgspec.field(default_factory=list)


class ImportedWorkout(msgspec.Struct, kw_only=True):
    title: str
    started_at: datetime
    ended_at: datetime | None = None
    duration_s: int | None = None
    notes: str | None = None
    exercises: list[ImportedExercise] = msgspec.field(default_factory=list)
    fingerprint: str = ""

    @property
    def set_count(self) -> int:
        return sum(len(exercise.sets) for exercise in self.exercises)


class RowError(msgspec.Struct, frozen=True, kw_only=True):
    row: int
    field: str | None
    message: str


class ImportResult(msgspec.Struct, kw_only=True):
    format: CsvFormat | None
    workouts: list[ImportedWorkout] = msgspec.field(default_factory=list)
    errors: list[RowError] = msgspec.field(default_factory=list)
    unmatched_exercises: list[str] = msgspec.field(default_factory=list)
    rows_read: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def workout_fingerprint(started_at: datetime, title: str, set_count: int) -> str:
    """Stable duplicate-detection key: start minute + normalised title + number of sets.

    Minute precision because Hevy exports no seconds; aware times are compared in UTC.
    """
    if started_at.tzinfo is not None:
        started_at = started_at.astimezone(UTC)
    material = f"{started_at:%Y-%m-%dT%H:%M}|{name_key(title)}|{set_count}"
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def parse_duration(text: str) -> int | None:
    """Strong-style duration ("1h 5m", "45m", "30s") or bare seconds, to seconds. Blank -> None."""
    text = text.strip().lower()
    if not text:
        return None
    if text.isdigit():
        return int(text)
    total = 0
    position = 0
    for match in _DURATION_PART.finditer(text):
        if text[position : match.start()].strip():
            break
        amount, unit = int(match.group(1)), match.group(2)
        total += amount * (3600 if unit.startswith("h") else 60 if unit.startswith("m") else 1)
        position = match.end()
    if position == 0 or text[position:].strip():
        raise ValueError(f"unrecognised duration {text!r}")
    return total


def _format_duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h"] if hours else []
    if minutes or not hours:
        parts.append(f"{minutes}m")
    if secs:
        parts.append(f"{secs}s")
    return " ".join(parts)


def detect_format(header: Sequence[str]) -> CsvFormat | None:
    columns = {cell.strip().lstrip("\ufeff").lower() for cell in header}
    if _HEVY_REQUIRED <= columns:
        return CsvFormat.HEVY
    if _STRONG_REQUIRED <= columns:
        return CsvFormat.STRONG
    return None


# --------------------------------------------------------------------------- parsing helpers


class _FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class _RowErrors(list[_FieldError]):
    """Collects every field error of a row so the user sees them all at once."""

    def attempt(self, parse: Callable[..., _T], *args: Any, **kwargs: Any) -> _T | None:
        try:
            return parse(*args, **kwargs)
        except _FieldError as error:
            self.append(error)
            return None


def _decimal(text: str, field: str, *, allow_negative: bool = False) -> Decimal | None:
    text = text.strip()
    if not text:
        return None
    if "," in text and "." not in text:
        text = text.replace(",", ".")  # decimal comma from European locales
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _FieldError(field, f"not a number: {text!r}") from None
    if not value.is_finite():
        raise _FieldError(field, f"not a number: {text!r}")
    if value < 0 and not allow_negative:
        raise _FieldError(field, f"must not be negative: {text!r}")
    return value


def _int(text: str, field: str) -> int | None:
    value = _decimal(text, field)
    if value is None:
        return None
    if value != value.to_integral_value():
        raise _FieldError(field, f"must be a whole number: {text.strip()!r}")
    return int(value)


def _seconds(text: str, field: str) -> int | None:
    value = _decimal(text, field)
    return None if value is None else int(value.to_integral_value())


def _rpe(text: str, field: str) -> Decimal | None:
    value = _decimal(text, field)
    if value is not None and not Decimal(0) < value <= Decimal(10):
        raise _FieldError(field, f"RPE must be between 0 and 10, got {text.strip()!r}")
    return value


def _datetime(text: str, field: str, formats: Sequence[str], default_tz: tzinfo | None) -> datetime:
    text = text.strip()
    if not text:
        raise _FieldError(field, "missing date")
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
            raise _FieldError(field, f"unrecognised date {text!r}") from None
    if parsed.tzinfo is None and default_tz is not None:
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed


def _nonzero(value: _N | None) -> _N | None:
    return value if value else None


def _text(value: str) -> str | None:
    value = value.strip()
    return value or None


# --------------------------------------------------------------------------- assembly


class _ParsedRow(msgspec.Struct, kw_only=True):
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


class _Assembler:
    """Groups rows into workouts and exercises, preserving file order."""

    def __init__(self, index: ExerciseNameIndex) -> None:
        self._index = index
        self._workouts: dict[tuple[datetime, str], ImportedWorkout] = {}
        # Last set-order marker seen in each workout's current (last) exercise.
        self._last_order: dict[tuple[datetime, str], int | None] = {}
        self._unmatched: dict[str, str] = {}

    def add(self, row: _ParsedRow) -> None:
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


class _Columns:
    """Case-insensitive column access for one header, tolerant of missing optional columns."""

    def __init__(self, header: Sequence[str]) -> None:
        self.width = len(header)
        self._positions = {cell.strip().lstrip("\ufeff").lower(): i for i, cell in enumerate(header)}

    def has(self, name: str) -> bool:
        return name.lower() in self._positions

    def get(self, record: Sequence[str], name: str) -> str:
        position = self._positions.get(name.lower())
        return record[position] if position is not None else ""


def _parse_strong_row(
    record: Sequence[str],
    cols: _Columns,
    *,
    weight_unit: WeightUnit,
    distance_unit: DistanceUnit,
    default_tz: tzinfo | None,
    field_errors: _RowErrors,
) -> _ParsedRow | None:
    order_text = cols.get(record, "Set Order").strip()
    if order_text.lower() in _STRONG_SKIPPED_ORDERS:
        return None
    order: int | None = None
    set_type = _STRONG_SET_TYPES.get(order_text.upper())
    if set_type is None:
        order = field_errors.attempt(_int, order_text, "Set Order")
        if order is None and not field_errors:
            field_errors.append(_FieldError("Set Order", "missing set order"))
        set_type = SetType.NORMAL
    started_at = field_errors.attempt(
        _datetime, cols.get(record, "Date"), "Date", _STRONG_DATE_FORMATS, default_tz
    )
    title = cols.get(record, "Workout Name").strip()
    name = cols.get(record, "Exercise Name").strip()
    if not name:
        field_errors.append(_FieldError("Exercise Name", "missing exercise name"))
    # Strong writes 0 in every column that does not apply (distance on a bench set,
    # weight on a run), so zero means "not recorded" here.
    weight = _nonzero(
        field_errors.attempt(_decimal, cols.get(record, "Weight"), "Weight", allow_negative=True)
    )
    distance = _nonzero(field_errors.attempt(_decimal, cols.get(record, "Distance"), "Distance"))
    performed = ImportedSet(
        set_type=set_type,
        weight_kg=to_kg(weight, weight_unit) if weight is not None else None,
        weight_unit=weight_unit,
        reps=_nonzero(field_errors.attempt(_int, cols.get(record, "Reps"), "Reps")),
        distance_m=to_metres(distance, distance_unit) if distance is not None else None,
        distance_unit=distance_unit,
        duration_s=_nonzero(field_errors.attempt(_seconds, cols.get(record, "Seconds"), "Seconds")),
        rpe=field_errors.attempt(_rpe, cols.get(record, "RPE"), "RPE"),
        notes=_text(cols.get(record, "Notes")),
    )
    if field_errors or started_at is None:
        return None
    return _ParsedRow(
        title=title,
        started_at=started_at,
        ended_at=None,  # filled from Duration by the caller, which reports its errors once per workout
        duration_s=None,
        workout_notes=_text(cols.get(record, "Workout Notes")),
        exercise_name=name,
        superset_id=None,
        exercise_notes=None,
        order=order,
        set=performed,
    )


class _HevyUnits(msgspec.Struct, frozen=True):
    weight_column: str
    weight_unit: WeightUnit
    distance_column: str
    distance_unit: DistanceUnit

    @classmethod
    def for_columns(cls, cols: _Columns) -> _HevyUnits:
        pounds = cols.has("weight_lbs") and not cols.has("weight_kg")
        miles = cols.has("distance_miles") and not cols.has("distance_km")
        return cls(
            weight_column="weight_lbs" if pounds else "weight_kg",
            weight_unit=WeightUnit.LB if pounds else WeightUnit.KG,
            distance_column="distance_miles" if miles else "distance_km",
            distance_unit=DistanceUnit.MI if miles else DistanceUnit.KM,
        )


def _parse_hevy_row(
    record: Sequence[str],
    cols: _Columns,
    *,
    units: _HevyUnits,
    default_tz: tzinfo | None,
    field_errors: _RowErrors,
) -> _ParsedRow | None:
    started_at = field_errors.attempt(
        _datetime, cols.get(record, "start_time"), "start_time", _HEVY_DATE_FORMATS, default_tz
    )
    name = cols.get(record, "exercise_title").strip()
    if not name:
        field_errors.append(_FieldError("exercise_title", "missing exercise title"))
    type_text = cols.get(record, "set_type").strip().lower() or "normal"
    set_type = _HEVY_SET_TYPES.get(type_text)
    if set_type is None:
        field_errors.append(_FieldError("set_type", f"unknown set type {type_text!r}"))
    weight = field_errors.attempt(
        _decimal, cols.get(record, units.weight_column), units.weight_column, allow_negative=True
    )
    distance = field_errors.attempt(_decimal, cols.get(record, units.distance_column), units.distance_column)
    performed = ImportedSet(
        set_type=set_type or SetType.NORMAL,
        weight_kg=to_kg(weight, units.weight_unit) if weight is not None else None,
        weight_unit=units.weight_unit,
        reps=field_errors.attempt(_int, cols.get(record, "reps"), "reps"),
        distance_m=to_metres(distance, units.distance_unit) if distance is not None else None,
        distance_unit=units.distance_unit,
        duration_s=field_errors.attempt(_seconds, cols.get(record, "duration_seconds"), "duration_seconds"),
        rpe=field_errors.attempt(_rpe, cols.get(record, "rpe"), "rpe"),
    )
    order = field_errors.attempt(_int, cols.get(record, "set_index"), "set_index")
    if field_errors or started_at is None:
        return None
    return _ParsedRow(
        title=cols.get(record, "title").strip(),
        started_at=started_at,
        ended_at=None,  # filled by the caller, which reports end_time errors once per workout
        duration_s=None,
        workout_notes=_text(cols.get(record, "description")),
        exercise_name=name,
        superset_id=_text(cols.get(record, "superset_id")),
        exercise_notes=_text(cols.get(record, "exercise_notes")),
        order=order,
        set=performed,
    )


# --------------------------------------------------------------------------- public parse


def _decoded(binary: IO[bytes]) -> Iterator[str]:
    # utf-8-sig drops the BOM Excel and some exporters prepend; newline="" keeps
    # CRLF and quoted line breaks intact for the csv module.
    wrapper = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")  # type: ignore[type-var]
    try:
        yield from wrapper
    finally:
        wrapper.detach()  # leave the caller's stream open


def _text_lines(source: str | bytes | IO[str] | IO[bytes]) -> Iterator[str]:
    if isinstance(source, str):
        return iter(io.StringIO(source, newline=""))
    if isinstance(source, bytes | bytearray):
        return _decoded(io.BytesIO(source))
    if isinstance(source.read(0), bytes):
        return _decoded(source)  # type: ignore[arg-type]
    return iter(source)  # type: ignore[arg-type]


def parse_csv(
    source: str | bytes | IO[str] | IO[bytes],
    *,
    weight_unit: WeightUnit | str = WeightUnit.KG,
    distance_unit: DistanceUnit | str = DistanceUnit.KM,
    default_tz: tzinfo | None = None,
    name_index: ExerciseNameIndex | None = None,
    expected_format: CsvFormat | None = None,
    max_rows: int | None = None,
) -> ImportResult:
    """Parse a Strong or Hevy export (format detected from the header).

    ``weight_unit`` / ``distance_unit`` apply to Strong only, whose export has no
    unit column (it uses the app's display unit). Hevy names its columns by unit.
    ``default_tz`` is attached to the naive timestamps both apps export.
    ``name_index`` defaults to the built-in catalogue; pass one built with the
    user's custom exercises as ``extra`` to match those too. ``max_rows`` stops
    reading (with an error) on oversized uploads.
    """
    weight_unit = parse_weight_unit(weight_unit)
    distance_unit = parse_distance_unit(distance_unit)
    result = ImportResult(format=None)
    row_number = 0  # CSV records, header included: matches spreadsheet row numbers
    try:
        lines = _text_lines(source)
        first = next(lines, "").lstrip("\ufeff")
        # Some Strong locales export with semicolons; only switch when the header
        # clearly has no comma separators.
        delimiter = ";" if ";" in first and "," not in first else ","
        records = csv.reader(itertools.chain([first], lines), delimiter=delimiter)
        header: list[str] | None = None
        for row_number, record in enumerate(records, start=1):  # noqa: B007 - read after the loop
            if any(cell.strip() for cell in record):
                header = record
                break
        if header is None:
            result.errors.append(RowError(row=1, field=None, message="file is empty"))
            return result
        _parse_records(
            result,
            header,
            header_row=row_number,
            records=records,
            weight_unit=weight_unit,
            distance_unit=distance_unit,
            default_tz=default_tz,
            name_index=name_index or default_name_index(),
            expected_format=expected_format,
            max_rows=max_rows,
        )
    except _READ_ERRORS as error:
        result.errors.append(RowError(row=max(row_number, 1), field=None, message=_read_error_message(error)))
    return result


_READ_ERRORS = (UnicodeDecodeError, csv.Error)


def _read_error_message(error: Exception) -> str:
    if isinstance(error, UnicodeDecodeError):
        return "file is not UTF-8 text"
    return f"malformed CSV: {error}"


def _parse_records(
    result: ImportResult,
    header: list[str],
    *,
    header_row: int,
    records: Iterator[list[str]],
    weight_unit: WeightUnit,
    distance_unit: DistanceUnit,
    default_tz: tzinfo | None,
    name_index: ExerciseNameIndex,
    expected_format: CsvFormat | None,
    max_rows: int | None,
) -> None:
    detected = detect_format(header)
    if detected is None or (expected_format is not None and detected is not expected_format):
        wanted = expected_format.value if expected_format else "Strong or Hevy"
        message = f"header is not a {wanted} CSV export"
        result.errors.append(RowError(row=header_row, field=None, message=message))
        return
    result.format = detected
    parser = _RowParser(
        result, detected, _Columns(header), weight_unit, distance_unit, default_tz, _Assembler(name_index)
    )
    row_number = header_row
    try:
        for row_number, record in enumerate(records, start=header_row + 1):
            if not any(cell.strip() for cell in record):
                continue
            if max_rows is not None and result.rows_read >= max_rows:
                message = f"too many rows (limit {max_rows}); stopped"
                result.errors.append(RowError(row=row_number, field=None, message=message))
                break
            result.rows_read += 1
            parser.handle(row_number, record)
    except _READ_ERRORS as error:
        # Undecodable bytes or broken quoting: keep what was read, report where it stopped.
        result.errors.append(RowError(row=row_number + 1, field=None, message=_read_error_message(error)))
    result.workouts, result.unmatched_exercises = parser.assembler.finish()


class _RowParser:
    def __init__(
        self,
        result: ImportResult,
        fmt: CsvFormat,
        cols: _Columns,
        weight_unit: WeightUnit,
        distance_unit: DistanceUnit,
        default_tz: tzinfo | None,
        assembler: _Assembler,
    ) -> None:
        self.result = result
        self.fmt = fmt
        self.cols = cols
        self.weight_unit = weight_unit
        self.distance_unit = distance_unit
        self.default_tz = default_tz
        self.assembler = assembler
        self.hevy_units = _HevyUnits.for_columns(cols)
        # Workout-level columns repeat on every row: read (and report) them once per workout.
        self.timing: dict[tuple[datetime, str], tuple[datetime | None, int | None]] = {}

    def error(self, row: int, field: str | None, message: str) -> None:
        self.result.errors.append(RowError(row=row, field=field, message=message))

    def handle(self, row: int, record: list[str]) -> None:
        if len(record) > self.cols.width:
            self.error(row, None, f"expected {self.cols.width} fields, got {len(record)}")
            return
        field_errors = _RowErrors()
        if self.fmt is CsvFormat.STRONG:
            parsed = _parse_strong_row(
                record,
                self.cols,
                weight_unit=self.weight_unit,
                distance_unit=self.distance_unit,
                default_tz=self.default_tz,
                field_errors=field_errors,
            )
        else:
            parsed = _parse_hevy_row(
                record,
                self.cols,
                units=self.hevy_units,
                default_tz=self.default_tz,
                field_errors=field_errors,
            )
        for field_error in field_errors:
            self.error(row, field_error.field, field_error.message)
        if parsed is None:
            return
        key = (parsed.started_at, parsed.title)
        if key not in self.timing:
            try:
                self.timing[key] = _workout_timing(
                    self.fmt, record, self.cols, parsed.started_at, self.default_tz
                )
            except _FieldError as error:
                self.timing[key] = (None, None)
                self.error(row, error.field, error.message)
        parsed.ended_at, parsed.duration_s = self.timing[key]
        self.assembler.add(parsed)


def _workout_timing(
    fmt: CsvFormat,
    record: Sequence[str],
    cols: _Columns,
    started_at: datetime,
    default_tz: tzinfo | None,
) -> tuple[datetime | None, int | None]:
    if fmt is CsvFormat.STRONG:
        try:
            duration = parse_duration(cols.get(record, "Duration"))
        except ValueError as error:
            raise _FieldError("Duration", str(error)) from None
        return (started_at + timedelta(seconds=duration) if duration is not None else None), duration
    end_text = cols.get(record, "end_time")
    if not end_text.strip():
        return None, None
    ended_at = _datetime(end_text, "end_time", _HEVY_DATE_FORMATS, default_tz)
    if ended_at < started_at:
        raise _FieldError("end_time", "workout ends before it starts")
    return ended_at, int((ended_at - started_at).total_seconds())


# --------------------------------------------------------------------------- writers


def _num(value: Decimal | int | None) -> str:
    if value is None:
        return ""
    return format_decimal(Decimal(value))


def _all_sets(workouts: Iterable[ImportedWorkout]) -> Iterator[ImportedSet]:
    for workout in workouts:
        for exercise in workout.exercises:
            yield from exercise.sets


def _entered_weight_unit(workouts: Sequence[ImportedWorkout]) -> WeightUnit:
    # A Strong file has a single unit; use the one the lifter entered weights in.
    return next((s.weight_unit for s in _all_sets(workouts) if s.weight_kg is not None), WeightUnit.KG)


def _entered_distance_unit(workouts: Sequence[ImportedWorkout]) -> DistanceUnit:
    return next((s.distance_unit for s in _all_sets(workouts) if s.distance_m is not None), DistanceUnit.KM)


def _weight_cell(weight_kg: Decimal | None, unit: WeightUnit) -> str:
    if weight_kg is None:
        return ""
    # kg is the stored unit: write all stored decimals. Two decimals recover any lb entry.
    places = CANONICAL_PLACES if unit is WeightUnit.KG else 2
    return format_decimal(from_kg(weight_kg, unit, places))


def _distance_cell(distance_m: Decimal | None, unit: DistanceUnit) -> str:
    return "" if distance_m is None else format_decimal(from_metres(distance_m, unit))


def _end_time(workout: ImportedWorkout) -> datetime | None:
    if workout.ended_at is not None:
        return workout.ended_at
    if workout.duration_s is not None:
        return workout.started_at + timedelta(seconds=workout.duration_s)
    return None


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
    w_unit = parse_weight_unit(weight_unit) if weight_unit else _entered_weight_unit(workouts)
    d_unit = parse_distance_unit(distance_unit) if distance_unit else _entered_distance_unit(workouts)
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
                    order = _STRONG_SET_ORDER[performed.set_type]
                notes = performed.notes
                if notes is None and position == 0:
                    notes = exercise.notes  # Strong has no exercise-level notes column
                writer.writerow(
                    (
                        f"{workout.started_at:{_STRONG_DATE_OUT}}",
                        workout.title,
                        _format_duration(workout.duration_s),
                        exercise.name,
                        order,
                        _weight_cell(performed.weight_kg, w_unit),
                        _num(performed.reps),
                        _distance_cell(performed.distance_m, d_unit),
                        _num(performed.duration_s),
                        notes or "",
                        workout.notes or "",
                        _num(performed.rpe),
                    )
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
        header[header.index("weight_kg")] = _HEVY_IMPERIAL["weight_kg"]
    if d_unit is DistanceUnit.MI:
        header[header.index("distance_km")] = _HEVY_IMPERIAL["distance_km"]
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    for workout in workouts:
        ended_at = _end_time(workout)
        for exercise in workout.exercises:
            for index, performed in enumerate(exercise.sets):
                writer.writerow(
                    (
                        workout.title,
                        f"{workout.started_at:{_HEVY_DATE_OUT}}",
                        f"{ended_at:{_HEVY_DATE_OUT}}" if ended_at is not None else "",
                        workout.notes or "",
                        exercise.name,
                        exercise.superset_id or "",
                        exercise.notes or "",
                        index,
                        _HEVY_SET_TYPE_NAMES[performed.set_type],
                        _weight_cell(performed.weight_kg, w_unit),
                        _num(performed.reps),
                        _distance_cell(performed.distance_m, d_unit),
                        _num(performed.duration_s),
                        _num(performed.rpe),
                    )
                )


def dumps_strong_csv(workouts: Iterable[ImportedWorkout], **options: Any) -> str:
    buffer = io.StringIO(newline="")
    write_strong_csv(buffer, workouts, **options)
    return buffer.getvalue()


def dumps_hevy_csv(workouts: Iterable[ImportedWorkout], **options: Any) -> str:
    buffer = io.StringIO(newline="")
    write_hevy_csv(buffer, workouts, **options)
    return buffer.getvalue()
