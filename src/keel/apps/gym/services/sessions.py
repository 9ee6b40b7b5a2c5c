"""Workout sessions: start (empty or from a plan day), list, detail, finish, delete."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import bindparam, case, exists, func, or_, select, type_coerce
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.sqltypes import NullType

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
from keel.core.driver_select import DriverSelect
from keel.core.errors import NotFound, ValidationFailed
from keel.core.mapping import to_read, to_reads
from keel.core.query import page_with_total, plain, total_column

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from keel.identity import Principal

# =========================================================================== sessions


def _volume_expr() -> Any:
    sets = WorkoutSet.__table__.c
    return func.coalesce(
        func.sum(case((sets.set_type != SetType.WARMUP.value, sets.weight_kg * sets.reps), else_=0)), 0
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


_session = WorkoutSession.__table__
_set = WorkoutSet.__table__
_OWNED = _session.c.owner_id == bindparam("owner_id")
# each filter as a condition on bind parameters: a list statement is prebuilt per set of filters given
_FILTERS: dict[str, Any] = {
    "date_from": _session.c.started_at >= bindparam("date_from", type_=_session.c.started_at.type),
    "date_to": _session.c.started_at < bindparam("date_to", type_=_session.c.started_at.type),
    "plan_id": _session.c.plan_id == bindparam("plan_id"),
    "exercise_id": exists().where(
        _set.c.session_id == _session.c.id, _set.c.exercise_id == bindparam("exercise_id")
    ),
}


def _list_statements(filters: tuple[str, ...]) -> tuple[DriverSelect, Any]:
    """A page of the caller's sessions with their set count and volume and the total, in one statement
    (the page first, then its sets' aggregates: the sets of the page's sessions only), and the COUNT for
    a page past the end; with the conditions of `filters`."""
    conditions = (_OWNED, *(_FILTERS[name] for name in filters))
    count = select(func.count()).select_from(_session).where(*conditions)
    page = (
        select(*(_session.c[name] for name in _SESSION_COLUMNS), total_column(count))
        .where(*conditions)
        .order_by(_session.c.started_at.desc(), _session.c.id)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .cte("page")
    )
    stats = (
        select(
            _set.c.session_id.label("sid"),
            func.count(_set.c.id).label("n"),
            _volume_expr().label("volume"),
        )
        .where(_set.c.owner_id == bindparam("owner_id"), _set.c.session_id.in_(select(page.c.id)))
        .group_by(_set.c.session_id)
        .subquery("stats")
    )
    statement = (
        select(
            *(plain(page.c[name]) for name in _SESSION_COLUMNS),
            func.coalesce(stats.c.n, 0).label("set_count"),
            # the driver's number (asyncpg's Decimal, SQLite's float), made the Decimal every read has by
            # db_decimal below (SQLAlchemy's numeric result types need the driver's result metadata)
            type_coerce(stats.c.volume, NullType()).label("volume_kg"),
            page.c.total,
        )
        .select_from(page.outerjoin(stats, stats.c.sid == page.c.id))
        .order_by(page.c.started_at.desc(), page.c.id)
    )
    return DriverSelect(statement), count


_SESSION_COLUMNS = (
    "id", "name", "plan_id", "plan_day_id", "started_at", "finished_at", "duration_s", "notes",
    "imported_from",
)  # fmt: skip
# every combination of filters, built once (16 statements, each compiled on its first use)
_LISTS = {
    names: _list_statements(names)
    for size in range(len(_FILTERS) + 1)
    for names in itertools.combinations(_FILTERS, size)
}


async def list_sessions(
    db: AsyncSession | AsyncEngine,
    principal: Principal,
    *,
    date_from: datetime | None,
    date_to: datetime | None,
    plan_id: uuid.UUID | None,
    exercise_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> tuple[list[SessionRead], int]:
    given = {
        "date_from": aware(date_from) if date_from is not None else None,
        "date_to": aware(date_to) if date_to is not None else None,
        "plan_id": plan_id,
        "exercise_id": exercise_id,
    }
    filters = tuple(name for name, value in given.items() if value is not None)
    params = {name: given[name] for name in filters}
    params.update(owner_id=principal.user_id, limit=limit, offset=offset)
    page, count = _LISTS[filters]
    rows, total = await page_with_total(db, page, count, params, offset=offset)
    for row in rows:  # the volume as every read has it (3 places, 0 for none)
        row["volume_kg"] = db_decimal(row["volume_kg"]) or ZERO
    return to_reads(rows, SessionRead), total


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
