"""Reading a whole export: decoding, delimiter and dialect detection, row limits, per-row errors."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import IO

from keel.apps.gym.catalog import ExerciseNameIndex, default_name_index
from keel.apps.gym.importers.fields import Assembler, Columns, FieldError, RowErrors, parse_datetime
from keel.apps.gym.importers.hevy import HEVY_DATE_FORMATS, HevyUnits, parse_hevy_row
from keel.apps.gym.importers.model import (
    MAX_WORKOUT_SECONDS,
    CsvFormat,
    ImportResult,
    RowError,
    detect_format,
)
from keel.apps.gym.importers.strong import StrongUnits, parse_strong_row, strong_workout_timing
from keel.apps.gym.units import (
    DistanceUnit,
    WeightUnit,
    parse_distance_unit,
    parse_weight_unit,
)

# --------------------------------------------------------------------------- public parse


def _decoded(binary: IO[bytes]) -> Iterator[str]:
    # utf-8-sig drops the BOM Excel and some exporters prepend; newline="" keeps
    # CRLF and quoted line breaks intact for the csv module.
    wrapper = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")  # type: ignore[type-var]
    try:
        yield from wrapper
    finally:
        # leave the caller's stream open; a generator closed after its stream was closed has nothing to detach
        if not binary.closed:
            wrapper.detach()


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
    cols = Columns(header)
    try:
        units: StrongUnits | HevyUnits = (
            StrongUnits.for_columns(cols, weight_unit, distance_unit)
            if detected is CsvFormat.STRONG
            else HevyUnits.for_columns(cols)
        )
    except FieldError as error:  # refused whole: importing without its values would lose them silently
        result.errors.append(RowError(row=header_row, field=None, message=error.message))
        return
    result.format = detected
    parser = _RowParser(result, detected, cols, units, default_tz, Assembler(name_index))
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
        cols: Columns,
        units: StrongUnits | HevyUnits,
        default_tz: tzinfo | None,
        assembler: Assembler,
    ) -> None:
        self.result = result
        self.fmt = fmt
        self.cols = cols
        self.units = units
        self.default_tz = default_tz
        self.assembler = assembler
        # Workout-level columns repeat on every row: read (and report) them once per workout.
        self.timing: dict[tuple[datetime, str], tuple[datetime | None, int | None]] = {}

    def error(self, row: int, field: str | None, message: str) -> None:
        self.result.errors.append(RowError(row=row, field=field, message=message))

    def handle(self, row: int, record: list[str]) -> None:
        if len(record) != self.cols.width:
            self.error(row, None, f"expected {self.cols.width} fields like the header, got {len(record)}")
            return
        nul = [name for name, cell in zip(self.cols.names, record, strict=True) if "\x00" in cell]
        if nul:
            for name in nul:
                self.error(row, name, "contains a NUL byte")
            return
        field_errors = RowErrors()
        if self.fmt is CsvFormat.STRONG:
            parsed = parse_strong_row(
                record,
                self.cols,
                units=self.units,  # type: ignore[arg-type]
                default_tz=self.default_tz,
                field_errors=field_errors,
            )
        else:
            parsed = parse_hevy_row(
                record,
                self.cols,
                units=self.units,  # type: ignore[arg-type]
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
                self.timing[key] = self.workout_timing(record, parsed.started_at)
            except FieldError as error:
                self.timing[key] = (None, None)
                self.error(row, error.field, error.message)
        parsed.ended_at, parsed.duration_s = self.timing[key]
        self.assembler.add(parsed)

    def workout_timing(self, record: Sequence[str], started: datetime) -> tuple[datetime | None, int | None]:
        if isinstance(self.units, StrongUnits):
            return strong_workout_timing(record, self.cols, self.units, started)
        return hevy_workout_timing(record, self.cols, started, self.default_tz)


def hevy_workout_timing(
    record: Sequence[str], cols: Columns, started_at: datetime, default_tz: tzinfo | None
) -> tuple[datetime | None, int | None]:
    end_text = cols.get(record, "end_time")
    if not end_text.strip():
        return None, None
    ended_at = parse_datetime(end_text, "end_time", HEVY_DATE_FORMATS, default_tz)
    if ended_at < started_at:
        raise FieldError("end_time", "workout ends before it starts")
    if ended_at - started_at > timedelta(seconds=MAX_WORKOUT_SECONDS):
        raise FieldError("end_time", "workout is longer than a week")
    return ended_at, int((ended_at - started_at).total_seconds())
