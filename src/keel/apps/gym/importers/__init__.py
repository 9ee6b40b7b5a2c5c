"""Strong and Hevy CSV import/export.

Parsing never raises on bad data: every problem becomes a :class:`RowError` (row numbers count the header
as row 1, like a spreadsheet) and the offending row is skipped, so a 5-year export with one corrupt line
still previews; committing refuses a file with errors. Output is normalised to canonical units (kg,
metres, seconds) while keeping the unit each value was entered in, so writers reproduce the original
numbers. One module per dialect (:mod:`.strong`, :mod:`.hevy`), the shared cell readers in :mod:`.fields`.
"""

from keel.apps.gym.importers.hevy import HEVY_HEADER, dumps_hevy_csv, write_hevy_csv
from keel.apps.gym.importers.model import (
    CsvFormat,
    ImportedExercise,
    ImportedSet,
    ImportedWorkout,
    ImportResult,
    RowError,
    detect_format,
    parse_duration,
    workout_fingerprint,
)
from keel.apps.gym.importers.parse import parse_csv
from keel.apps.gym.importers.strong import STRONG_HEADER, dumps_strong_csv, write_strong_csv

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
