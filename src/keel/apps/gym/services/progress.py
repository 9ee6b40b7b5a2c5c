"""Records, progress points, per-exercise history and weekly muscle statistics."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, func, select

from keel.apps.gym.clock import utc_now
from keel.apps.gym.models import Exercise, WorkoutSession, WorkoutSet
from keel.apps.gym.records import (
    PERFORMED_COLUMNS,
    ExerciseRecords,
    Record,
    RecordConfig,
    estimate_1rm,
    performed_history,
    records_for,
    set_volume,
    to_performed,
    weekly_muscle_volume,
)
from keel.apps.gym.schemas import (
    ExerciseRecordsRead,
    HistoryEntryRead,
    MuscleWeekRead,
    ProgressPointRead,
    RecordRead,
    SetRead,
)
from keel.apps.gym.services.common import ZERO, record_read
from keel.apps.gym.services.library import visible_exercise
from keel.apps.gym.services.sessions import SET_READ_COLUMNS, set_read

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.identity import Principal

# =========================================================================== records, progress, stats


def _records_read(
    exercise_id: uuid.UUID, records: ExerciseRecords | None, formula: str, rep_cap: int, count: int
) -> ExerciseRecordsRead:
    def one(record: Record | None) -> RecordRead | None:
        return record_read(record) if record is not None else None

    r = records or ExerciseRecords(exercise_id)
    return ExerciseRecordsRead(
        exercise_id=exercise_id,
        formula=formula,
        rep_cap=rep_cap,
        set_count=count,
        e1rm=one(r.e1rm),
        heaviest_weight=one(r.heaviest_weight),
        best_set_volume=one(r.best_set_volume),
        best_session_volume=one(r.best_session_volume),
        longest_duration=one(r.longest_duration),
        longest_distance=one(r.longest_distance),
        most_reps_at_weight=[record_read(r.most_reps_at_weight[w]) for w in sorted(r.most_reps_at_weight)],
    )


async def exercise_records(
    db: AsyncSession, principal: Principal, exercise_id: uuid.UUID, *, formula: str, rep_cap: int
) -> ExerciseRecordsRead:
    await visible_exercise(db, principal.user_id, exercise_id)
    config = RecordConfig(formula=formula, rep_cap=rep_cap)  # type: ignore[arg-type]
    records, count = await records_for(db, principal.user_id, exercise_id, config)
    return _records_read(exercise_id, records, formula, rep_cap, count)


async def exercise_progress(
    db: AsyncSession,
    principal: Principal,
    exercise_id: uuid.UUID,
    *,
    formula: str = "epley",
    rep_cap: int = 12,
) -> list[ProgressPointRead]:
    await visible_exercise(db, principal.user_id, exercise_id)
    history = await performed_history(db, principal.user_id, exercise_id)
    points: dict[Any, dict[str, Any]] = {}
    for s in history:
        if not s.counts:
            continue
        point = points.setdefault(
            s.session_id, {"date": s.performed_at, "e1rm": None, "top": None, "volume": ZERO, "sets": 0}
        )
        point["sets"] += 1
        point["volume"] += set_volume(s.weight_kg, s.reps)
        if s.weight_kg is not None and s.weight_kg > 0:
            point["top"] = s.weight_kg if point["top"] is None else max(point["top"], s.weight_kg)
            if s.reps:
                e1rm = estimate_1rm(s.weight_kg, s.reps, formula, rep_cap=rep_cap)  # type: ignore[arg-type]
                if e1rm is not None and (point["e1rm"] is None or e1rm > point["e1rm"]):
                    point["e1rm"] = e1rm
    return [
        ProgressPointRead(
            session_id=sid,
            date=p["date"],
            best_e1rm=p["e1rm"],
            top_weight_kg=p["top"],
            volume_kg=p["volume"],
            sets=p["sets"],
        )
        for sid, p in points.items()
    ]


async def exercise_history(
    db: AsyncSession, principal: Principal, exercise_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[HistoryEntryRead], int]:
    exercise = await visible_exercise(db, principal.user_id, exercise_id)
    where = (WorkoutSet.owner_id == principal.user_id, WorkoutSet.exercise_id == exercise_id)
    total = await db.scalar(select(func.count(func.distinct(WorkoutSet.session_id))).where(*where))
    sessions = (
        await db.execute(
            select(WorkoutSession.id, WorkoutSession.name, WorkoutSession.started_at)
            .where(
                WorkoutSession.owner_id == principal.user_id,
                exists().where(*where, WorkoutSet.session_id == WorkoutSession.id),
            )
            .order_by(WorkoutSession.started_at.desc(), WorkoutSession.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    ids = [s.id for s in sessions]
    sets: dict[uuid.UUID, list[SetRead]] = defaultdict(list)
    if ids:
        # plain rows, not entities: a page holds hundreds of sets and the identity map buys nothing here
        rows = (
            await db.execute(
                select(*SET_READ_COLUMNS)
                .where(*where, WorkoutSet.session_id.in_(ids))
                .order_by(WorkoutSet.position)
            )
        ).all()
        for row in rows:
            sets[row.session_id].append(set_read(row, exercise.name))
    return [
        HistoryEntryRead(session_id=s.id, session_name=s.name, started_at=s.started_at, sets=sets[s.id])
        for s in sessions
    ], total or 0


async def muscle_stats(db: AsyncSession, principal: Principal, *, weeks: int) -> list[MuscleWeekRead]:
    today = utc_now().date()
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    since = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    rows = (
        await db.execute(
            select(*PERFORMED_COLUMNS).where(
                WorkoutSet.owner_id == principal.user_id, WorkoutSet.performed_at >= since
            )
        )
    ).all()
    performed = [to_performed(r) for r in rows]
    ids = {p.exercise_id for p in performed}
    exercises = {}
    if ids:
        exercises = {e.id: e for e in (await db.scalars(select(Exercise).where(Exercise.id.in_(ids)))).all()}
    return [
        MuscleWeekRead(
            week_start=w.week_start,
            iso_year=w.iso_year,
            iso_week=w.iso_week,
            muscle=w.muscle,
            sets=w.sets,
            volume_kg=w.volume_kg,
        )
        for w in weekly_muscle_volume(performed, exercises)
    ]
