"""gym request and response shapes (msgspec). Input structs refuse unknown fields.

Weights are given as `weight` + `unit` (kg | lb) and answered both ways: `weight` in the unit entered
and `weight_kg` canonical. RPE is 1-10, RIR 0-10 (one or the other). Responses use the core envelope:
`data` is the object itself (a plan answers `{"status": "success", "data": {<plan>}}`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from keel.apps.gym.catalog import Category, Equipment, Measurement, Muscle
from keel.apps.gym.records import SetType
from keel.core.examples import example

# NUL is refused in every text input: PostgreSQL cannot store it in text (a 500) and SQLite would keep it
NO_NUL = r"\A[^\x00]*\Z"
Name = Annotated[str, Meta(min_length=1, max_length=120, pattern=NO_NUL)]
Notes = Annotated[str, Meta(max_length=2000, pattern=NO_NUL)]
Unit = Literal["kg", "lb"]
DistanceUnitName = Literal["m", "km", "mi"]
# inputs are JSON numbers (msgspec constrains floats, not Decimals); converted with Decimal(repr(x))
Weight = Annotated[float, Meta(ge=0, le=10_000)]
Rpe = Annotated[float, Meta(ge=1, le=10)]
Rir = Annotated[float, Meta(ge=0, le=10)]
Reps = Annotated[int, Meta(ge=0, le=10_000)]
Seconds = Annotated[int, Meta(ge=0, le=7 * 24 * 3600)]


# --------------------------------------------------------------------------- exercises


class ExerciseRead(msgspec.Struct, kw_only=True):
    id: UUID
    name: str
    slug: str | None
    custom: bool
    primary_muscles: list[str]
    secondary_muscles: list[str]
    equipment: str
    category: str
    measurement: str
    aliases: list[str] = []
    notes: str | None = None


@example(
    {
        "name": "Landmine press",
        "primary_muscles": ["front delts"],
        "secondary_muscles": ["triceps"],
        "equipment": "barbell",
    }
)
class ExerciseCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    primary_muscles: Annotated[list[Muscle], Meta(max_length=10)] = []
    secondary_muscles: Annotated[list[Muscle], Meta(max_length=10)] = []
    equipment: Equipment = Equipment.OTHER
    category: Category = Category.STRENGTH
    measurement: Measurement = Measurement.WEIGHT_REPS
    aliases: Annotated[list[Name], Meta(max_length=20)] = []
    notes: Notes | None = None


# --------------------------------------------------------------------------- plans


class PlanExerciseCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One prescribed exercise: by `exercise_id` or by `name` (a name or alias from the library)."""

    exercise_id: UUID | None = None
    name: Name | None = None
    sets: Annotated[int, Meta(ge=1, le=50)] = 3
    reps: Annotated[int, Meta(ge=1, le=1000)] | None = None
    reps_min: Annotated[int, Meta(ge=1, le=1000)] | None = None
    reps_max: Annotated[int, Meta(ge=1, le=1000)] | None = None
    amrap: bool = False
    duration_s: Annotated[int, Meta(ge=1, le=24 * 3600)] | None = None
    weight: Weight | None = None
    unit: Unit = "kg"
    rpe: Rpe | None = None
    rir: Rir | None = None
    rest_s: Annotated[int, Meta(ge=0, le=3600)] | None = None
    superset: Annotated[str, Meta(min_length=1, max_length=20, pattern=NO_NUL)] | None = None
    notes: Notes | None = None


class PlanDayCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name = "Day 1"
    exercises: Annotated[list[PlanExerciseCreate], Meta(max_length=50)] = []


@example(
    {
        "name": "Full body 3x",
        "days_per_week": 3,
        "exercises": [
            {"name": "Squat", "sets": 5, "reps": 5, "weight": 100, "unit": "kg", "rest_s": 180},
            {"name": "Bench press", "sets": 3, "reps_min": 8, "reps_max": 12},
        ],
    }
)
class PlanCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Either `days` (each with ordered exercises) or a flat `exercises` list (= one day)."""

    name: Name
    description: Notes | None = None
    level: Literal["beginner", "intermediate", "advanced"] | None = None
    days_per_week: Annotated[int, Meta(ge=1, le=7)] | None = None
    days: Annotated[list[PlanDayCreate], Meta(max_length=14)] | None = None
    exercises: Annotated[list[PlanExerciseCreate], Meta(max_length=50)] | None = None


class PlanExerciseRead(msgspec.Struct, kw_only=True):
    id: UUID
    position: int
    exercise_id: UUID
    name: str
    exercise_slug: str | None
    sets: int
    reps: int | None
    reps_min: int | None
    reps_max: int | None
    amrap: bool
    duration_s: int | None
    weight: Decimal | None
    weight_kg: Decimal | None
    unit: str
    rpe: Decimal | None
    rir: Decimal | None
    rest_s: int | None
    superset: str | None
    notes: str | None


class PlanDayRead(msgspec.Struct, kw_only=True):
    id: UUID
    position: int
    name: str
    exercises: list[PlanExerciseRead]


class PlanRead(msgspec.Struct, kw_only=True):
    id: UUID
    name: str
    description: str | None
    level: str | None
    days_per_week: int | None
    slug: str | None
    predefined: bool
    owner_id: UUID | None
    source_plan_id: UUID | None
    days: list[PlanDayRead]
    # the seed's flat shape: every prescribed exercise of every day, in order
    exercises: list[PlanExerciseRead]
    created_at: datetime
    updated_at: datetime


class PlanCopy(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name | None = None


# --------------------------------------------------------------------------- sessions and sets


@example({"name": "Monday push", "started_at": "2026-12-01T18:30:00Z"})
class SessionStart(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Start empty, or from a plan day (`plan_id` and `day` = 1-based position, or `plan_day_id`)."""

    name: Annotated[str, Meta(min_length=1, max_length=200, pattern=NO_NUL)] | None = None
    plan_id: UUID | None = None
    day: Annotated[int, Meta(ge=1, le=14)] | None = None
    plan_day_id: UUID | None = None
    started_at: datetime | None = None
    notes: Notes | None = None


class SessionFinish(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    duration_s: Seconds | None = None
    finished_at: datetime | None = None
    notes: Notes | None = None


@example(
    {
        "exercise_id": "01938f6e-8a2b-7c3d-9e4f-5a6b7c8d9e0f",
        "client_id": "5f0c8a2e-3b1d-4c6e-9a7f-2d4b6c8e0a1b",
        "reps": 5,
        "weight": 100,
        "unit": "kg",
        "rpe": 8,
    }
)
class SetCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    exercise_id: UUID
    client_id: UUID | None = None
    position: Annotated[int, Meta(ge=1, le=1000)] | None = None
    set_type: SetType = SetType.NORMAL
    reps: Reps | None = None
    weight: Annotated[float, Meta(le=10_000)] | None = None  # >= 0 checked by hand: a clear field error
    unit: Unit = "kg"
    rpe: float | None = None  # 1-10, checked by hand
    rir: Rir | None = None
    duration_s: Seconds | None = None
    distance: Annotated[float, Meta(ge=0, le=100_000)] | None = None  # km or mi: fits the column in metres
    distance_unit: DistanceUnitName = "km"
    notes: Notes | None = None
    performed_at: datetime | None = None


class SetRead(msgspec.Struct, kw_only=True):
    id: UUID
    session_id: UUID
    exercise_id: UUID
    exercise_name: str
    client_id: str | None
    position: int
    set_type: str
    reps: int | None
    weight: Decimal | None
    weight_kg: Decimal | None
    unit: str
    rpe: Decimal | None
    rir: Decimal | None
    duration_s: int | None
    distance: Decimal | None
    distance_m: Decimal | None
    distance_unit: str
    notes: str | None
    performed_at: datetime


class RecordRead(msgspec.Struct, kw_only=True):
    kind: str
    value: Decimal
    achieved_at: datetime
    session_id: UUID
    set_id: UUID | None = None
    weight_kg: Decimal | None = None
    reps: int | None = None
    previous_value: Decimal | None = None


class LoggedSetRead(msgspec.Struct, kw_only=True):
    set: SetRead
    records: list[RecordRead]  # records this set broke (empty on a retry of the same client id)


class PlannedExerciseRead(msgspec.Struct, kw_only=True):
    exercise_id: UUID
    name: str
    sets: int
    reps_min: int | None
    reps_max: int | None
    weight_kg: Decimal | None
    rest_s: int | None
    superset: str | None


class SessionRead(msgspec.Struct, kw_only=True):
    id: UUID
    name: str
    plan_id: UUID | None
    plan_day_id: UUID | None
    started_at: datetime
    finished_at: datetime | None
    duration_s: int | None
    notes: str | None
    imported_from: str | None
    set_count: int
    volume_kg: Decimal


class SessionDetailRead(SessionRead, kw_only=True):
    sets: list[SetRead]
    planned: list[PlannedExerciseRead]


# --------------------------------------------------------------------------- progress


class ExerciseRecordsRead(msgspec.Struct, kw_only=True):
    exercise_id: UUID
    formula: str
    rep_cap: int
    set_count: int
    e1rm: RecordRead | None
    heaviest_weight: RecordRead | None
    best_set_volume: RecordRead | None
    best_session_volume: RecordRead | None
    longest_duration: RecordRead | None
    longest_distance: RecordRead | None
    most_reps_at_weight: list[RecordRead]


class ProgressPointRead(msgspec.Struct, kw_only=True):
    session_id: UUID
    date: datetime
    best_e1rm: Decimal | None
    top_weight_kg: Decimal | None
    volume_kg: Decimal
    sets: int


class HistoryEntryRead(msgspec.Struct, kw_only=True):
    session_id: UUID
    session_name: str
    started_at: datetime
    sets: list[SetRead]


class MuscleWeekRead(msgspec.Struct, kw_only=True):
    week_start: date
    iso_year: int
    iso_week: int
    muscle: str
    sets: Decimal
    volume_kg: Decimal


# --------------------------------------------------------------------------- import / export


class ImportErrorRead(msgspec.Struct, kw_only=True):
    row: int
    field: str | None
    message: str


class ImportWorkoutRead(msgspec.Struct, kw_only=True):
    title: str
    started_at: datetime
    sets: int
    exercises: list[str]
    fingerprint: str
    duplicate: bool


class ImportPreviewRead(msgspec.Struct, kw_only=True):
    format: str | None
    dry_run: bool
    rows_read: int
    workouts: list[ImportWorkoutRead]
    sets: int
    errors: list[ImportErrorRead]
    unmatched_exercises: list[str]
    duplicates: int
    imported_sessions: int = 0
    imported_sets: int = 0
    created_exercises: list[str] = []
