"""Import (Strong/Hevy CSV, all-or-nothing) and export (CSV, JSON) of the caller's workouts."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import UTC, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio.to_thread
import msgspec
from sqlalchemy import func, insert, select
from sqlalchemy.orm import selectinload

from keel.apps.gym import importers
from keel.apps.gym.catalog import name_key
from keel.apps.gym.clock import aware, utc_now
from keel.apps.gym.models import Exercise, Plan, WorkoutSession, WorkoutSet
from keel.apps.gym.records import (
    SetType,
    set_volume,
)
from keel.apps.gym.schemas import (
    ImportErrorRead,
    ImportPreviewRead,
    ImportWorkoutRead,
)
from keel.apps.gym.services.common import ZERO
from keel.apps.gym.services.library import custom_exercises, name_lookup
from keel.apps.gym.services.plans import PLAN_LOAD, plan_read
from keel.apps.gym.services.sessions import exercise_names, session_read, set_read
from keel.apps.gym.units import db_decimal
from keel.core.errors import Unprocessable, ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.core.cache import Cache
    from keel.identity import Principal

# =========================================================================== import / export


INSERT_BATCH = 2_000  # rows per executemany: bounded statement size on both databases


async def _existing_fingerprints(
    db: AsyncSession, user_id: uuid.UUID, workouts: Sequence[importers.ImportedWorkout]
) -> set[str]:
    if not workouts:
        return set()
    lo = min(aware(w.started_at) for w in workouts) - timedelta(minutes=1)
    hi = max(aware(w.started_at) for w in workouts) + timedelta(minutes=1)
    rows = (
        await db.execute(
            select(WorkoutSession.started_at, WorkoutSession.name, func.count(WorkoutSet.id))
            .outerjoin(WorkoutSet, WorkoutSet.session_id == WorkoutSession.id)
            .where(WorkoutSession.owner_id == user_id, WorkoutSession.started_at.between(lo, hi))
            .group_by(WorkoutSession.id, WorkoutSession.started_at, WorkoutSession.name)
        )
    ).all()
    return {importers.workout_fingerprint(aware(started), name, n) for started, name, n in rows}


def time_zone(name: str) -> tzinfo:
    """An IANA zone for the wall-clock times Strong and Hevy exports carry (they write no offset)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(
            details={"timezone": f"unknown time zone {name[:64]!r}; use an IANA name such as Europe/Berlin"}
        ) from exc


async def import_csv(
    db: AsyncSession,
    cache: Cache,
    principal: Principal,
    text: str | bytes,
    *,
    fmt: str,
    unit: str,
    dry_run: bool,
    max_rows: int,
    tz: tzinfo = UTC,
) -> ImportPreviewRead:
    index, by_id = await name_lookup(db, cache, principal.user_id)
    slug_to_id = {r.slug: r.id for r in by_id.values() if r.slug}
    # parsing 50,000 rows is seconds of pure Python: off the event loop, so other requests keep flowing
    result = await anyio.to_thread.run_sync(
        functools.partial(
            importers.parse_csv,
            text,
            weight_unit=unit,
            default_tz=tz,
            name_index=index,
            expected_format=None if fmt == "auto" else importers.CsvFormat(fmt),
            max_rows=max_rows,
        )
    )
    existing = await _existing_fingerprints(db, principal.user_id, result.workouts)
    workouts = [
        ImportWorkoutRead(
            title=w.title,
            started_at=w.started_at,
            sets=w.set_count,
            exercises=[e.name for e in w.exercises],
            fingerprint=w.fingerprint,
            duplicate=w.fingerprint in existing,
        )
        for w in result.workouts
    ]
    preview = ImportPreviewRead(
        format=result.format.value if result.format else None,
        dry_run=dry_run,
        rows_read=result.rows_read,
        workouts=workouts,
        sets=sum(w.sets for w in workouts),
        errors=[ImportErrorRead(row=e.row, field=e.field, message=e.message) for e in result.errors],
        unmatched_exercises=list(result.unmatched_exercises),
        duplicates=sum(w.duplicate for w in workouts),
    )
    if (
        result.format is None
    ):  # not an export, or its value columns cannot be mapped: refused, even as a preview
        raise Unprocessable(
            "The file cannot be imported",
            details={"errors": [msgspec.to_builtins(e) for e in preview.errors]},
        )
    if dry_run:
        return preview
    if result.errors:
        raise Unprocessable(
            "The file has errors; nothing was imported",
            details={
                "errors": [msgspec.to_builtins(e) for e in preview.errors]
                or [{"row": 1, "field": None, "message": "unrecognised CSV format"}]
            },
        )
    created: dict[str, uuid.UUID] = {}
    exercise_rows: list[dict[str, Any]] = []
    for name in result.unmatched_exercises:
        key = name_key(name)
        if key in created:
            continue
        created[key] = uuid.uuid4()
        exercise_rows.append(
            {
                "id": created[key],
                "owner_id": principal.user_id,
                "name": name[:120],
                "aliases": [],
                "primary_muscles": [],
                "secondary_muscles": [],
                "equipment": "other",
                "category": "strength",
                "measurement": "weight_reps",
            }
        )
    session_rows: list[dict[str, Any]] = []
    set_rows: list[dict[str, Any]] = []
    for workout in result.workouts:
        if workout.fingerprint in existing:
            continue
        started = aware(workout.started_at)
        session_id = uuid.uuid4()
        session_rows.append(
            {
                "id": session_id,
                "owner_id": principal.user_id,
                "name": workout.title[:200],
                "started_at": started,
                "finished_at": aware(workout.ended_at)
                if workout.ended_at
                else (started + timedelta(seconds=workout.duration_s) if workout.duration_s else started),
                "duration_s": workout.duration_s,
                "notes": workout.notes,
                "imported_from": result.format.value,
            }
        )
        position = 0
        for exercise in workout.exercises:
            if exercise.slug is None:
                exercise_id = created[name_key(exercise.name)]
            elif exercise.slug in slug_to_id:
                exercise_id = slug_to_id[exercise.slug]
            else:
                exercise_id = uuid.UUID(exercise.slug)
            for performed in exercise.sets:
                position += 1
                set_rows.append(
                    {
                        "id": uuid.uuid4(),
                        "owner_id": principal.user_id,
                        "session_id": session_id,
                        "exercise_id": exercise_id,
                        "position": position,
                        "set_type": performed.set_type.value,
                        "reps": performed.reps,
                        "weight_kg": performed.weight_kg,
                        "weight_unit": performed.weight_unit.value,
                        "rpe": performed.rpe,
                        "duration_s": performed.duration_s,
                        "distance_m": performed.distance_m,
                        "distance_unit": performed.distance_unit.value,
                        "notes": performed.notes or exercise.notes,
                        "performed_at": started,
                    }
                )
    # Bulk Core inserts (executemany), not one ORM object per row: a 20,000-set file holds SQLite's write
    # lock for well under a second instead of ~29 s, so other users' writes wait briefly instead of failing;
    # still one transaction, so the import stays all-or-nothing.
    for model, rows in ((Exercise, exercise_rows), (WorkoutSession, session_rows), (WorkoutSet, set_rows)):
        for chunk in range(0, len(rows), INSERT_BATCH):
            await db.execute(insert(model), rows[chunk : chunk + INSERT_BATCH])
    sessions, sets = len(session_rows), len(set_rows)
    preview.imported_sessions = sessions
    preview.imported_sets = sets
    preview.created_exercises = sorted({n for n in result.unmatched_exercises})
    return preview


async def _workouts(db: AsyncSession, user_id: uuid.UUID) -> list[importers.ImportedWorkout]:
    sessions = (
        await db.scalars(
            select(WorkoutSession)
            .where(WorkoutSession.owner_id == user_id)
            .options(selectinload(WorkoutSession.sets))
            .order_by(WorkoutSession.started_at)
        )
    ).all()
    names = await exercise_names(db, (s.exercise_id for w in sessions for s in w.sets))
    out: list[importers.ImportedWorkout] = []
    for session in sessions:
        exercises: list[importers.ImportedExercise] = []
        by_exercise: dict[uuid.UUID, importers.ImportedExercise] = {}
        for s in session.sets:
            if s.exercise_id not in by_exercise or exercises[-1] is not by_exercise[s.exercise_id]:
                by_exercise[s.exercise_id] = importers.ImportedExercise(name=names.get(s.exercise_id, "?"))
                exercises.append(by_exercise[s.exercise_id])
            by_exercise[s.exercise_id].sets.append(
                importers.ImportedSet(
                    set_type=SetType(s.set_type),
                    weight_kg=db_decimal(s.weight_kg),
                    weight_unit=s.weight_unit,
                    reps=s.reps,
                    distance_m=db_decimal(s.distance_m),
                    distance_unit=s.distance_unit if s.distance_unit != "m" else "km",
                    duration_s=s.duration_s,
                    rpe=db_decimal(s.rpe),
                    notes=s.notes,
                )
            )
        out.append(
            importers.ImportedWorkout(
                title=session.name,
                started_at=aware(session.started_at),
                ended_at=aware(session.finished_at) if session.finished_at else None,
                duration_s=session.duration_s,
                notes=session.notes,
                exercises=exercises,
            )
        )
    return out


async def export_csv(
    db: AsyncSession, principal: Principal, *, fmt: str, unit: str | None, tz: tzinfo = UTC
) -> str:
    workouts = await _workouts(db, principal.user_id)
    for workout in workouts:  # both formats write wall-clock times: the caller's zone, not UTC
        workout.started_at = workout.started_at.astimezone(tz)
        if workout.ended_at is not None:
            workout.ended_at = workout.ended_at.astimezone(tz)
    if fmt == "hevy":
        return importers.dumps_hevy_csv(workouts, weight_unit=unit or "kg")
    return importers.dumps_strong_csv(workouts, weight_unit=unit)


async def export_json(db: AsyncSession, principal: Principal) -> dict[str, Any]:
    exercises = await custom_exercises(db, principal.user_id)
    plans = (
        await db.scalars(
            select(Plan)
            .where(Plan.owner_id == principal.user_id)
            .options(*PLAN_LOAD)
            .order_by(Plan.created_at)
        )
    ).all()
    sessions = (
        await db.scalars(
            select(WorkoutSession)
            .where(WorkoutSession.owner_id == principal.user_id)
            .options(selectinload(WorkoutSession.sets))
            .order_by(WorkoutSession.started_at)
        )
    ).all()
    names = await exercise_names(db, (s.exercise_id for w in sessions for s in w.sets))
    return {
        "exported_at": utc_now(),
        "user_id": principal.user_id,
        "exercises": exercises,
        "plans": [plan_read(p) for p in plans],
        "sessions": [
            {
                **msgspec.to_builtins(
                    session_read(
                        s,
                        len(s.sets),
                        sum(
                            (
                                set_volume(db_decimal(x.weight_kg), x.reps)
                                for x in s.sets
                                if x.set_type != "warmup"
                            ),
                            ZERO,
                        ),
                    )
                ),
                "sets": [set_read(x, names.get(x.exercise_id, "")) for x in s.sets],
            }
            for s in sessions
        ],
    }
