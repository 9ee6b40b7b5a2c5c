"""Workout sessions: start (empty or from a plan day), list, detail, finish, delete."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.orm import selectinload

from keel.apps.gym.clock import aware, utc_now
from keel.apps.gym.models import Exercise, Plan, PlanDay, PlanExercise, WorkoutSession, WorkoutSet
from keel.apps.gym.records import (
    SetType,
    set_volume,
)
from keel.apps.gym.schemas import (
    PlannedExerciseRead,
    SessionDetailRead,
    SessionFinish,
    SessionRead,
    SessionStart,
    SetRead,
)
from keel.apps.gym.services.common import ZERO, load_fields
from keel.apps.gym.units import db_decimal, from_metres
from keel.core.errors import NotFound, ValidationFailed
from keel.core.mapping import to_read

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.identity import Principal

# =========================================================================== sessions


def _volume_expr() -> Any:
    return func.coalesce(
        func.sum(
            case(
                (WorkoutSet.set_type != SetType.WARMUP.value, WorkoutSet.weight_kg * WorkoutSet.reps),
                else_=0,
            )
        ),
        0,
    )


def session_read(row: WorkoutSession, set_count: int, volume: Any) -> SessionRead:
    return to_read(row, SessionRead, set_count=set_count, volume_kg=db_decimal(volume) or ZERO)


async def own_session(db: AsyncSession, principal: Principal, session_id: uuid.UUID) -> WorkoutSession:
    row = await db.scalar(
        select(WorkoutSession).where(
            WorkoutSession.id == session_id, WorkoutSession.owner_id == principal.user_id
        )
    )
    if row is None:
        raise NotFound("Session not found")
    return row


async def start_session(db: AsyncSession, principal: Principal, data: SessionStart) -> SessionDetailRead:
    plan_id = data.plan_id
    day_id = data.plan_day_id
    name = data.name
    if day_id is not None or plan_id is not None:
        statement = (
            select(PlanDay, Plan)
            .join(Plan, Plan.id == PlanDay.plan_id)
            .where(or_(Plan.owner_id.is_(None), Plan.owner_id == principal.user_id))
        )
        if day_id is not None:
            statement = statement.where(PlanDay.id == day_id)
            if plan_id is not None:
                statement = statement.where(Plan.id == plan_id)
        else:
            statement = statement.where(Plan.id == plan_id, PlanDay.position == (data.day or 1))
        found = (await db.execute(statement)).first()
        if found is None:
            field = "plan_day_id" if day_id is not None else ("day" if data.day else "plan_id")
            raise ValidationFailed(details={field: "no such plan day"})
        day, plan = found
        plan_id, day_id = plan.id, day.id
        name = name or f"{plan.name} - {day.name}"
    row = WorkoutSession(
        owner_id=principal.user_id,
        plan_id=plan_id,
        plan_day_id=day_id,
        name=name or "Workout",
        started_at=aware(data.started_at) if data.started_at else utc_now(),
        notes=data.notes,
    )
    db.add(row)
    await db.flush()
    return await session_detail(db, principal, row.id)


async def list_sessions(
    db: AsyncSession,
    principal: Principal,
    *,
    date_from: datetime | None,
    date_to: datetime | None,
    plan_id: uuid.UUID | None,
    exercise_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> tuple[list[SessionRead], int]:
    conditions: list[Any] = [WorkoutSession.owner_id == principal.user_id]
    if date_from is not None:
        conditions.append(WorkoutSession.started_at >= aware(date_from))
    if date_to is not None:
        conditions.append(WorkoutSession.started_at < aware(date_to))
    if plan_id is not None:
        conditions.append(WorkoutSession.plan_id == plan_id)
    if exercise_id is not None:
        conditions.append(
            exists().where(WorkoutSet.session_id == WorkoutSession.id, WorkoutSet.exercise_id == exercise_id)
        )
    total = await db.scalar(select(func.count()).select_from(WorkoutSession).where(*conditions))
    stats = (
        select(
            WorkoutSet.session_id.label("sid"),
            func.count(WorkoutSet.id).label("n"),
            _volume_expr().label("volume"),
        )
        .where(WorkoutSet.owner_id == principal.user_id)
        .group_by(WorkoutSet.session_id)
        .subquery()
    )
    rows = (
        await db.execute(
            select(WorkoutSession, stats.c.n, stats.c.volume)
            .outerjoin(stats, stats.c.sid == WorkoutSession.id)
            .where(*conditions)
            .order_by(WorkoutSession.started_at.desc(), WorkoutSession.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return [session_read(s, n or 0, v) for s, n, v in rows], total or 0


SET_READ_COLUMNS = tuple(
    getattr(WorkoutSet, name)
    for name in (
        "id", "session_id", "exercise_id", "client_id", "position", "set_type", "reps", "weight_kg",
        "weight_unit", "rpe", "rir", "duration_s", "distance_m", "distance_unit", "notes", "performed_at",
    )
)  # fmt: skip


def set_read(row: WorkoutSet | Any, exercise_name: str) -> SetRead:
    distance_m = db_decimal(row.distance_m)
    return SetRead(
        id=row.id,
        session_id=row.session_id,
        exercise_id=row.exercise_id,
        exercise_name=exercise_name,
        client_id=row.client_id,
        position=row.position,
        set_type=row.set_type,
        reps=row.reps,
        **load_fields(row),
        duration_s=row.duration_s,
        distance=from_metres(distance_m, row.distance_unit) if distance_m is not None else None,
        distance_m=distance_m,
        distance_unit=row.distance_unit,
        notes=row.notes,
        performed_at=row.performed_at,
    )


async def exercise_names(db: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    return dict((await db.execute(select(Exercise.id, Exercise.name).where(Exercise.id.in_(wanted)))).all())


async def session_detail(db: AsyncSession, principal: Principal, session_id: uuid.UUID) -> SessionDetailRead:
    row = await db.scalar(
        select(WorkoutSession)
        .where(WorkoutSession.id == session_id, WorkoutSession.owner_id == principal.user_id)
        .options(selectinload(WorkoutSession.sets))
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound("Session not found")
    names = await exercise_names(db, (s.exercise_id for s in row.sets))
    planned: list[PlannedExerciseRead] = []
    if row.plan_day_id is not None:
        items = (
            await db.scalars(
                select(PlanExercise)
                .where(PlanExercise.day_id == row.plan_day_id)
                .options(selectinload(PlanExercise.exercise))
                .order_by(PlanExercise.position)
            )
        ).all()
        planned = [
            PlannedExerciseRead(
                exercise_id=i.exercise_id,
                name=i.exercise.name,
                sets=i.sets,
                reps_min=i.reps_min,
                reps_max=i.reps_max,
                weight_kg=db_decimal(i.weight_kg),
                rest_s=i.rest_s,
                superset=i.superset,
            )
            for i in items
        ]
    sets = [set_read(s, names.get(s.exercise_id, "")) for s in row.sets]
    volume = sum((set_volume(s.weight_kg, s.reps) for s in sets if s.set_type != SetType.WARMUP), ZERO)
    base = session_read(row, len(sets), volume)
    return SessionDetailRead(**msgspec.structs.asdict(base), sets=sets, planned=planned)


async def finish_session(
    db: AsyncSession, principal: Principal, session_id: uuid.UUID, data: SessionFinish
) -> SessionDetailRead:
    row = await own_session(db, principal, session_id)
    finished = aware(data.finished_at) if data.finished_at else utc_now()
    started = aware(row.started_at)
    if finished < started:
        raise ValidationFailed(details={"finished_at": "must not be before the session started"})
    row.finished_at = finished
    row.duration_s = (
        data.duration_s if data.duration_s is not None else int((finished - started).total_seconds())
    )
    if data.notes is not None:
        row.notes = data.notes
    await db.flush()
    return await session_detail(db, principal, session_id)


async def delete_session(db: AsyncSession, principal: Principal, session_id: uuid.UUID) -> None:
    row = await own_session(db, principal, session_id)
    await db.delete(row)
    await db.flush()
