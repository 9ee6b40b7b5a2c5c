"""What a parsed export is: formats, workouts, exercises, sets, row errors; fingerprints, durations."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

import msgspec

from keel.apps.gym.catalog import name_key
from keel.apps.gym.records import SetType
from keel.apps.gym.units import (
    DistanceUnit,
    WeightUnit,
)

STRONG_REQUIRED = frozenset({"date", "workout name", "exercise name", "set order"})
HEVY_REQUIRED = frozenset({"title", "start_time", "exercise_title", "set_type"})

T = TypeVar("T")
N = TypeVar("N", int, Decimal)

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


MAX_WORKOUT_SECONDS = 7 * 24 * 3600


def parse_duration(text: str) -> int | None:
    """Strong-style duration ("1h 5m", "45m", "30s") or bare seconds, to seconds. Blank -> None."""
    text = text.strip().lower()
    if not text:
        return None
    if text.isdigit():
        if len(text) > 9 or int(text) > MAX_WORKOUT_SECONDS:
            raise ValueError(f"duration {text[:40]!r} is longer than a week")
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
        raise ValueError(f"unrecognised duration {text[:40]!r}")
    if total > MAX_WORKOUT_SECONDS:
        raise ValueError(f"duration {text[:40]!r} is longer than a week")
    return total


def format_duration(seconds: int | None) -> str:
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
    if HEVY_REQUIRED <= columns:
        return CsvFormat.HEVY
    if STRONG_REQUIRED <= columns:
        return CsvFormat.STRONG
    return None
