"""gym services: library, plans, sessions and sets, records, import/export.

Everything here runs inside the request's transaction (flush, never commit) and scopes every query to the
caller. Records and the PR flags on a logged set are computed with SQL aggregates (a bounded number of
statements whatever the history); progress and muscle statistics load the needed columns in one query and
hand them to the pure engine in :mod:`keel.apps.gym.records`, which stays the reference for records.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from sqlalchemy import Numeric, String, and_, case, exists, func, literal, or_, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from keel.apps.gym import importers
from keel.apps.gym.catalog import ExerciseNameIndex, Measurement, name_key
from keel.apps.gym.models import Exercise, Plan, PlanDay, PlanExercise, WorkoutSession, WorkoutSet
from keel.apps.gym.records import (
    ExerciseRecords,
    PerformedSet,
    Record,
    RecordConfig,
    RecordKind,
    SetType,
    estimate_1rm,
    records_broken_by,
    set_volume,
    weekly_muscle_volume,
)
from keel.apps.gym.schemas import (
    ExerciseRead,
    ExerciseRecordsRead,
    HistoryEntry,
    ImportErrorRead,
    ImportPreview,
    ImportWorkoutRead,
    LoggedSet,
    MuscleWeekRead,
    PlanDayRead,
    PlanExerciseIn,
    PlanExerciseRead,
    PlannedExercise,
    PlanRead,
    PlanWrite,
    ProgressPoint,
    RecordRead,
    SessionDetail,
    SessionFinish,
    SessionRead,
    SessionStart,
    SetIn,
    SetRead,
)
from keel.apps.gym.units import from_kg, from_metres, quantize, to_decimal, to_kg, to_metres
from keel.core.errors import Conflict, Forbidden, NotFound, Unprocessable, ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.core.cache import Cache
    from keel.identity.guards import Principal

LIBRARY_NS = "gym:library"
PLANS_NS = "gym:plans"
MANAGE_LIBRARY = "gym.library.manage"
MANAGE_PLANS = "gym.plans.manage"
REPS_MEASUREMENTS = (Measurement.WEIGHT_REPS.value, Measurement.REPS_ONLY.value)
ZERO = Decimal(0)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _dec(value: Any) -> Decimal | None:
    """Numeric columns come back as Decimal (PostgreSQL) or float (SQLite): one canonical Decimal."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return quantize(value)
    return quantize(Decimal(repr(float(value))))


# =========================================================================== library


def exercise_read(row: Exercise) -> ExerciseRead:
    return ExerciseRead(
        id=row.id,
        name=row.name,
        slug=row.slug,
        custom=row.owner_id is not None,
        primary_muscles=list(row.primary_muscles or ()),
        secondary_muscles=list(row.secondary_muscles or ()),
        equipment=row.equipment,
        category=row.category,
        measurement=row.measurement,
        aliases=list(row.aliases or ()),
        notes=row.notes,
    )


async def catalogue(db: AsyncSession, cache: Cache) -> list[ExerciseRead]:
    """Every catalogue exercise, read through the cache (namespace gym:library)."""

    async def load() -> list[ExerciseRead]:
        rows = (
            await db.scalars(select(Exercise).where(Exercise.owner_id.is_(None)).order_by(Exercise.name))
        ).all()
        return [exercise_read(r) for r in rows]

    return await cache.get_or_set(LIBRARY_NS, "catalogue", load, type=list[ExerciseRead])


async def custom_exercises(db: AsyncSession, user_id: uuid.UUID) -> list[ExerciseRead]:
    rows = (
        await db.scalars(select(Exercise).where(Exercise.owner_id == user_id).order_by(Exercise.name))
    ).all()
    return [exercise_read(r) for r in rows]


def _matches(
    item: ExerciseRead, q: str | None, muscle: str | None, equipment: str | None, category: str | None
) -> bool:
    if muscle and muscle not in item.primary_muscles and muscle not in item.secondary_muscles:
        return False
    if equipment and item.equipment != equipment:
        return False
    if category and item.category != category:
        return False
    if q:
        needle = name_key(q)
        words = q.casefold().split()
        for name in (item.name, *item.aliases):
            if needle and needle in name_key(name):
                return True
            if words and all(w in name.casefold() for w in words):
                return True
        return False
    return True


async def list_exercises(
    db: AsyncSession,
    cache: Cache,
    principal: Principal,
    *,
    q: str | None,
    muscle: str | None,
    equipment: str | None,
    category: str | None,
    custom: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[ExerciseRead], int]:
    items: list[ExerciseRead] = []
    if custom is not True:
        items.extend(await catalogue(db, cache))
    if custom is not False:
        items.extend(await custom_exercises(db, principal.user_id))
    found = [i for i in items if _matches(i, q, muscle, equipment, category)]
    found.sort(key=lambda i: (i.name.casefold(), str(i.id)))
    return found[offset : offset + limit], len(found)


async def visible_exercise(db: AsyncSession, user_id: uuid.UUID, exercise_id: uuid.UUID) -> Exercise:
    row = await db.scalar(
        select(Exercise).where(
            Exercise.id == exercise_id, or_(Exercise.owner_id.is_(None), Exercise.owner_id == user_id)
        )
    )
    if row is None:
        raise NotFound("Exercise not found")
    return row


async def name_lookup(
    db: AsyncSession, cache: Cache, user_id: uuid.UUID
) -> tuple[ExerciseNameIndex, dict[str, ExerciseRead]]:
    """A name/alias index over the catalogue and the caller's custom exercises (custom names win),
    resolving to exercise ids (as strings), and the exercises by id."""
    rows = [*await catalogue(db, cache), *await custom_exercises(db, user_id)]
    extra: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: r.custom):  # catalogue first, custom last: custom names win
        for name in (row.name, *row.aliases):
            extra[name] = str(row.id)
    index = ExerciseNameIndex((), extra)
    return index, {str(r.id): r for r in rows}


# =========================================================================== plans

PLAN_LOAD = (selectinload(Plan.days).selectinload(PlanDay.exercises).selectinload(PlanExercise.exercise),)


def _plan_exercise_read(pe: PlanExercise) -> PlanExerciseRead:
    weight_kg = _dec(pe.weight_kg)
    exact = pe.reps_min if pe.reps_min is not None and pe.reps_min == pe.reps_max else None
    return PlanExerciseRead(
        id=pe.id,
        position=pe.position,
        exercise_id=pe.exercise_id,
        name=pe.exercise.name,
        exercise_slug=pe.exercise.slug,
        sets=pe.sets,
        reps=exact,
        reps_min=pe.reps_min,
        reps_max=pe.reps_max,
        amrap=pe.amrap,
        duration_s=pe.duration_s,
        weight=from_kg(weight_kg, pe.weight_unit) if weight_kg is not None else None,
        weight_kg=weight_kg,
        unit=pe.weight_unit,
        rpe=_dec(pe.rpe),
        rir=_dec(pe.rir),
        rest_s=pe.rest_s,
        superset=pe.superset,
        notes=pe.notes,
    )


def plan_read(plan: Plan) -> PlanRead:
    days = [
        PlanDayRead(
            id=d.id, position=d.position, name=d.name, exercises=[_plan_exercise_read(e) for e in d.exercises]
        )
        for d in plan.days
    ]
    return PlanRead(
        id=plan.id,
        name=plan.name,
        description=plan.description,
        level=plan.level,
        days_per_week=plan.days_per_week,
        slug=plan.slug,
        predefined=plan.owner_id is None,
        owner_id=plan.owner_id,
        source_plan_id=plan.source_plan_id,
        days=days,
        exercises=[e for d in days for e in d.exercises],
        created_at=plan.created_at,
        updated_at=plan.updated_at,
    )


async def predefined_plans(db: AsyncSession, cache: Cache) -> list[PlanRead]:
    async def load() -> list[PlanRead]:
        statement = select(Plan).where(Plan.owner_id.is_(None)).options(*PLAN_LOAD).order_by(Plan.name)
        return [plan_read(p) for p in (await db.scalars(statement)).all()]

    return await cache.get_or_set(PLANS_NS, "predefined", load, type=list[PlanRead])


async def list_plans(
    db: AsyncSession, cache: Cache, principal: Principal, *, scope: str, limit: int, offset: int
) -> tuple[list[PlanRead], int]:
    """`mine`: own plans, newest first; `predefined`: the catalogue (cached); `all`: predefined, then own."""
    predefined = await predefined_plans(db, cache) if scope in ("all", "predefined") else []
    if scope == "predefined":
        return predefined[offset : offset + limit], len(predefined)
    own_total = await db.scalar(
        select(func.count()).select_from(Plan).where(Plan.owner_id == principal.user_id)
    )
    items = predefined[offset : offset + limit]
    own_offset = max(0, offset - len(predefined))
    own_limit = limit - len(items)
    if own_limit > 0:
        statement = (
            select(Plan)
            .where(Plan.owner_id == principal.user_id)
            .options(*PLAN_LOAD)
            .order_by(Plan.created_at.desc(), Plan.id)
            .limit(own_limit)
            .offset(own_offset)
        )
        items.extend(plan_read(p) for p in (await db.scalars(statement)).all())
    return items, len(predefined) + (own_total or 0)


async def load_plan(db: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> Plan:
    plan = await db.scalar(
        select(Plan)
        .where(Plan.id == plan_id, or_(Plan.owner_id.is_(None), Plan.owner_id == principal.user_id))
        .options(*PLAN_LOAD)
        .execution_options(populate_existing=True)
    )
    if plan is None:
        raise NotFound("Workout plan not found")
    return plan


async def get_plan(db: AsyncSession, cache: Cache, principal: Principal, plan_id: uuid.UUID) -> PlanRead:
    for plan in await predefined_plans(db, cache):
        if plan.id == plan_id:
            return plan
    return plan_read(await load_plan(db, principal, plan_id))


def _check_plan_write(principal: Principal, plan: Plan) -> None:
    if plan.owner_id is None and MANAGE_PLANS not in principal.permissions:
        raise Forbidden("Predefined plans can only be changed by an administrator")


async def _resolve(
    db: AsyncSession, cache: Cache, user_id: uuid.UUID, items: Sequence[tuple[str, PlanExerciseIn]]
) -> dict[str, uuid.UUID]:
    """Exercise id per field path; ValidationFailed naming every unknown exercise."""
    index, by_id = await name_lookup(db, cache, user_id)
    found: dict[str, uuid.UUID] = {}
    errors: dict[str, str] = {}
    for path, item in items:
        if (item.exercise_id is None) == (item.name is None):
            errors[path] = "give either exercise_id or name"
            continue
        if item.exercise_id is not None:
            if str(item.exercise_id) not in by_id:
                errors[f"{path}.exercise_id"] = "unknown exercise"
                continue
            found[path] = item.exercise_id
        else:
            match = index.match(item.name or "")
            if match is None:
                errors[f"{path}.name"] = f"unknown exercise {item.name!r}"
                continue
            found[path] = uuid.UUID(match)
        if item.rpe is not None and item.rir is not None:
            errors[f"{path}.rpe"] = "give either rpe or rir, not both"
        if item.reps is not None and (item.reps_min is not None or item.reps_max is not None):
            errors[f"{path}.reps"] = "give either reps or reps_min/reps_max"
        if item.reps_min is not None and item.reps_max is not None and item.reps_min > item.reps_max:
            errors[f"{path}.reps_min"] = "reps_min must not exceed reps_max"
    if errors:
        raise ValidationFailed(details=errors)
    return found


def _day_inputs(data: PlanWrite) -> list[tuple[str, str, list[PlanExerciseIn]]]:
    if data.days is not None and data.exercises is not None:
        raise ValidationFailed(details={"days": "give either days or exercises, not both"})
    if data.days is not None:
        return [(f"days[{i}]", d.name, d.exercises) for i, d in enumerate(data.days)]
    return [("", "Day 1", data.exercises or [])]


def _build_days(data: PlanWrite, resolved: dict[str, uuid.UUID]) -> list[PlanDay]:
    days: list[PlanDay] = []
    for day_pos, (prefix, name, items) in enumerate(_day_inputs(data), start=1):
        day = PlanDay(position=day_pos, name=name, exercises=[])
        for pos, item in enumerate(items, start=1):
            path = f"{prefix}.exercises[{pos - 1}]".lstrip(".")
            reps_min, reps_max = (
                (item.reps, item.reps) if item.reps is not None else (item.reps_min, item.reps_max)
            )
            day.exercises.append(
                PlanExercise(
                    exercise_id=resolved[path],
                    position=pos,
                    sets=item.sets,
                    reps_min=reps_min,
                    reps_max=None if item.amrap else reps_max,
                    amrap=item.amrap,
                    duration_s=item.duration_s,
                    weight_kg=to_kg(item.weight, item.unit) if item.weight is not None else None,
                    weight_unit=item.unit,
                    rpe=to_decimal(item.rpe) if item.rpe is not None else None,
                    rir=to_decimal(item.rir) if item.rir is not None else None,
                    rest_s=item.rest_s,
                    superset=item.superset,
                    notes=item.notes,
                )
            )
        days.append(day)
    return days


async def _resolve_plan(
    db: AsyncSession, cache: Cache, user_id: uuid.UUID, data: PlanWrite
) -> dict[str, uuid.UUID]:
    items = [
        (f"{prefix}.exercises[{i}]".lstrip("."), item)
        for prefix, _, day_items in _day_inputs(data)
        for i, item in enumerate(day_items)
    ]
    return await _resolve(db, cache, user_id, items)


async def create_plan(db: AsyncSession, cache: Cache, principal: Principal, data: PlanWrite) -> PlanRead:
    resolved = await _resolve_plan(db, cache, principal.user_id, data)
    plan = Plan(
        owner_id=principal.user_id,
        name=data.name,
        description=data.description,
        level=data.level,
        days_per_week=data.days_per_week,
        days=_build_days(data, resolved),
    )
    db.add(plan)
    await db.flush()
    return plan_read(await load_plan(db, principal, plan.id))


async def replace_plan(
    db: AsyncSession, cache: Cache, principal: Principal, plan_id: uuid.UUID, data: PlanWrite
) -> PlanRead:
    plan = await load_plan(db, principal, plan_id)
    _check_plan_write(principal, plan)
    resolved = await _resolve_plan(db, cache, principal.user_id, data)
    plan.name = data.name
    plan.description = data.description
    plan.level = data.level
    plan.days_per_week = data.days_per_week
    plan.days = _build_days(data, resolved)
    await db.flush()
    if plan.owner_id is None:
        await cache.invalidate_on_commit(db, PLANS_NS)
    return plan_read(await load_plan(db, principal, plan.id))


async def delete_plan(db: AsyncSession, cache: Cache, principal: Principal, plan_id: uuid.UUID) -> None:
    plan = await load_plan(db, principal, plan_id)
    _check_plan_write(principal, plan)
    predefined = plan.owner_id is None
    await db.delete(plan)
    await db.flush()
    if predefined:
        await cache.invalidate_on_commit(db, PLANS_NS)


async def copy_plan(db: AsyncSession, principal: Principal, plan_id: uuid.UUID, name: str | None) -> PlanRead:
    source = await load_plan(db, principal, plan_id)
    copy = Plan(
        owner_id=principal.user_id,
        name=name or source.name,
        description=source.description,
        level=source.level,
        days_per_week=source.days_per_week,
        source_plan_id=source.id,
        days=[
            PlanDay(
                position=d.position,
                name=d.name,
                exercises=[
                    PlanExercise(
                        exercise_id=e.exercise_id,
                        position=e.position,
                        sets=e.sets,
                        reps_min=e.reps_min,
                        reps_max=e.reps_max,
                        amrap=e.amrap,
                        duration_s=e.duration_s,
                        weight_kg=e.weight_kg,
                        weight_unit=e.weight_unit,
                        rpe=e.rpe,
                        rir=e.rir,
                        rest_s=e.rest_s,
                        superset=e.superset,
                        notes=e.notes,
                    )
                    for e in d.exercises
                ],
            )
            for d in source.days
        ],
    )
    db.add(copy)
    await db.flush()
    return plan_read(await load_plan(db, principal, copy.id))


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
    return SessionRead(
        id=row.id,
        name=row.name,
        plan_id=row.plan_id,
        plan_day_id=row.plan_day_id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_s=row.duration_s,
        notes=row.notes,
        imported_from=row.imported_from,
        set_count=set_count,
        volume_kg=_dec(volume) or ZERO,
    )


async def own_session(db: AsyncSession, principal: Principal, session_id: uuid.UUID) -> WorkoutSession:
    row = await db.scalar(
        select(WorkoutSession).where(
            WorkoutSession.id == session_id, WorkoutSession.owner_id == principal.user_id
        )
    )
    if row is None:
        raise NotFound("Session not found")
    return row


async def start_session(db: AsyncSession, principal: Principal, data: SessionStart) -> SessionDetail:
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
        started_at=_aware(data.started_at) if data.started_at else _now(),
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
        conditions.append(WorkoutSession.started_at >= _aware(date_from))
    if date_to is not None:
        conditions.append(WorkoutSession.started_at < _aware(date_to))
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


_SET_READ_COLUMNS = tuple(
    getattr(WorkoutSet, name)
    for name in (
        "id", "session_id", "exercise_id", "client_id", "position", "set_type", "reps", "weight_kg",
        "weight_unit", "rpe", "rir", "duration_s", "distance_m", "distance_unit", "notes", "performed_at",
    )
)  # fmt: skip


def set_read(row: WorkoutSet | Any, exercise_name: str) -> SetRead:
    weight_kg = _dec(row.weight_kg)
    distance_m = _dec(row.distance_m)
    return SetRead(
        id=row.id,
        session_id=row.session_id,
        exercise_id=row.exercise_id,
        exercise_name=exercise_name,
        client_id=row.client_id,
        position=row.position,
        set_type=row.set_type,
        reps=row.reps,
        weight=from_kg(weight_kg, row.weight_unit) if weight_kg is not None else None,
        weight_kg=weight_kg,
        unit=row.weight_unit,
        rpe=_dec(row.rpe),
        rir=_dec(row.rir),
        duration_s=row.duration_s,
        distance=from_metres(distance_m, row.distance_unit) if distance_m is not None else None,
        distance_m=distance_m,
        distance_unit=row.distance_unit,
        notes=row.notes,
        performed_at=row.performed_at,
    )


async def _exercise_names(db: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    return dict((await db.execute(select(Exercise.id, Exercise.name).where(Exercise.id.in_(wanted)))).all())


async def session_detail(db: AsyncSession, principal: Principal, session_id: uuid.UUID) -> SessionDetail:
    row = await db.scalar(
        select(WorkoutSession)
        .where(WorkoutSession.id == session_id, WorkoutSession.owner_id == principal.user_id)
        .options(selectinload(WorkoutSession.sets))
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound("Session not found")
    names = await _exercise_names(db, (s.exercise_id for s in row.sets))
    planned: list[PlannedExercise] = []
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
            PlannedExercise(
                exercise_id=i.exercise_id,
                name=i.exercise.name,
                sets=i.sets,
                reps_min=i.reps_min,
                reps_max=i.reps_max,
                weight_kg=_dec(i.weight_kg),
                rest_s=i.rest_s,
                superset=i.superset,
            )
            for i in items
        ]
    sets = [set_read(s, names.get(s.exercise_id, "")) for s in row.sets]
    volume = sum((set_volume(s.weight_kg, s.reps) for s in sets if s.set_type != SetType.WARMUP), ZERO)
    base = session_read(row, len(sets), volume)
    return SessionDetail(**msgspec.structs.asdict(base), sets=sets, planned=planned)


async def finish_session(
    db: AsyncSession, principal: Principal, session_id: uuid.UUID, data: SessionFinish
) -> SessionDetail:
    row = await own_session(db, principal, session_id)
    finished = _aware(data.finished_at) if data.finished_at else _now()
    started = _aware(row.started_at)
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


# =========================================================================== sets


def check_editable(row: WorkoutSession, window_hours: int) -> None:
    if row.finished_at is None:
        return
    if _now() - _aware(row.finished_at) > timedelta(hours=window_hours):
        raise Conflict(
            f"This session finished more than {window_hours} hours ago; its sets can no longer change",
            details={"session_id": f"finished more than {window_hours}h ago (GYM_EDIT_WINDOW_HOURS)"},
        )


def validate_set(values: dict[str, Any], exercise: Exercise) -> None:
    errors: dict[str, str] = {}
    weight, reps, rpe = values.get("weight"), values.get("reps"), values.get("rpe")
    if weight is not None and weight < 0:
        errors["weight"] = "must not be negative"
    if rpe is not None and not (1 <= rpe <= 10):
        errors["rpe"] = "must be between 1 and 10"
    if rpe is not None and values.get("rir") is not None:
        errors["rir"] = "give either rpe or rir, not both"
    if exercise.measurement in REPS_MEASUREMENTS and (reps is None or reps < 1):
        errors["reps"] = f"must be at least 1 for a {exercise.measurement.replace('_', ' ')} exercise"
    if errors:
        raise ValidationFailed(details=errors)


def _performed(row: WorkoutSet | Any) -> PerformedSet:
    return PerformedSet(
        set_id=row.id,
        session_id=row.session_id,
        exercise_id=row.exercise_id,
        performed_at=_aware(row.performed_at),
        set_type=SetType(row.set_type),
        reps=row.reps,
        weight_kg=_dec(row.weight_kg),
        duration_s=row.duration_s,
        distance_m=_dec(row.distance_m),
        rpe=_dec(row.rpe),
    )


_SET_COLUMNS = (
    WorkoutSet.id,
    WorkoutSet.session_id,
    WorkoutSet.exercise_id,
    WorkoutSet.performed_at,
    WorkoutSet.set_type,
    WorkoutSet.reps,
    WorkoutSet.weight_kg,
    WorkoutSet.duration_s,
    WorkoutSet.distance_m,
    WorkoutSet.rpe,
)


async def _history(
    db: AsyncSession, user_id: uuid.UUID, exercise_id: uuid.UUID, *extra: Any
) -> list[PerformedSet]:
    """One query: the columns the record engine needs, chronological."""
    rows = await db.execute(
        select(*_SET_COLUMNS)
        .where(WorkoutSet.owner_id == user_id, WorkoutSet.exercise_id == exercise_id, *extra)
        .order_by(WorkoutSet.performed_at, WorkoutSet.position, WorkoutSet.id)
    )
    return [_performed(r) for r in rows]


# --------------------------------------------------------------------------- records in SQL
#
# Records are computed by the database instead of replaying the history in Python. Every kind is "the
# best value, held by the earliest set reaching it (ties keep the first), with the best value before that
# set as `previous_value`": aggregates find the bests, ordered LIMIT 1 queries on
# ix_gym_set_owner_exercise_performed the first set reaching each, aggregates again the bests before it.
# e1RM's Decimal rounding is only exact in Python, so SQL returns the heaviest load per rep count (e1RM
# never falls as the load grows at a fixed rep count) and Python estimates from those few. Loads compare
# within half a gram (`_HALF_GRAM`) so SQLite's floats and PostgreSQL's numerics agree with the Decimals.
# `tests/gym/test_gym_records_sql.py` checks the result against `records.compute_records`.

_CHRONO = (WorkoutSet.performed_at, WorkoutSet.position, WorkoutSet.id)
_COUNTS = WorkoutSet.set_type != SetType.WARMUP.value
_LOADED = and_(_COUNTS, WorkoutSet.weight_kg > 0, WorkoutSet.reps > 0)
_HALF_GRAM = Decimal("0.0005")  # half the canonical step: equality on the 3-decimal grid, float-safe
_MILLI = Decimal("0.001")
_E1RM_LOAD = "e1rm_load_"
_BOUND = Numeric(14, 4)


def _mine(user_id: uuid.UUID, exercise_id: uuid.UUID) -> tuple[Any, Any]:
    return WorkoutSet.owner_id == user_id, WorkoutSet.exercise_id == exercise_id


def _grid_bound(weight: Decimal) -> Any:
    """A bound half a gram off the grid, bound with a 4th decimal (as the column's NUMERIC(10, 3) it would
    be rounded back onto the grid by PostgreSQL)."""
    return literal(weight, _BOUND)


def _same_weight(column: Any, weight: Decimal) -> Any:
    return column.between(_grid_bound(weight - _HALF_GRAM), _grid_bound(weight + _HALF_GRAM))


def _reps_key() -> Any:
    """The most-reps-at-weight bucket: the load, or 0 for unloaded sets (as `records._weight_key`)."""
    return case((WorkoutSet.weight_kg > 0, WorkoutSet.weight_kg), else_=0)


def _e1rm_top_reps(rep_cap: int, formula: str) -> int:
    return min(rep_cap, 36) if formula == "brzycki" else rep_cap  # Brzycki has no estimate from 37 reps


def _e1rm_columns(rep_cap: int, formula: str) -> list[Any]:
    """Heaviest counting load per rep count that can give an e1RM (1..cap, Brzycki below 37)."""
    return [
        func.max(case((and_(WorkoutSet.reps == r, _LOADED), WorkoutSet.weight_kg))).label(f"{_E1RM_LOAD}{r}")
        for r in range(1, _e1rm_top_reps(rep_cap, formula) + 1)
    ]


def _best_e1rm(row: Any, rep_cap: int, formula: str) -> tuple[Decimal | None, dict[int, Decimal]]:
    """(best e1RM, heaviest load per rep count) from a row of `_e1rm_columns`."""
    loads = {
        int(key.removeprefix(_E1RM_LOAD)): _dec(value)
        for key, value in row._mapping.items()
        if key.startswith(_E1RM_LOAD)
    }
    loads = {r: w for r, w in loads.items() if w is not None}
    estimates = [estimate_1rm(w, r, formula, rep_cap=rep_cap) for r, w in loads.items()]  # type: ignore[arg-type]
    return max((e for e in estimates if e is not None), default=None), loads


def _lightest_load_for(e1rm: Decimal, reps: int, heaviest: Decimal, rep_cap: int, formula: str) -> Decimal:
    """The lightest load on the 3-decimal grid whose e1RM at `reps` rounds to `e1rm` (binary search)."""
    low, high = 1, int(heaviest / _MILLI)  # e1rm(high) == e1rm, and e1RM never falls as the load grows
    while low < high:
        middle = (low + high) // 2
        estimate = estimate_1rm(Decimal(middle) * _MILLI, reps, formula, rep_cap=rep_cap)  # type: ignore[arg-type]
        if estimate is not None and estimate >= e1rm:
            high = middle
        else:
            low = middle + 1
    return Decimal(high) * _MILLI


def _before(row: Any) -> Any:
    """Sets logged before `row` in history order (performed_at, position, id)."""
    at, position, set_id = WorkoutSet.performed_at, WorkoutSet.position, WorkoutSet.id
    return or_(
        at < row.performed_at,
        and_(
            at == row.performed_at,
            or_(position < row.position, and_(position == row.position, set_id < row.id)),
        ),
    )


_RECORD_SET_COLUMNS = (
    WorkoutSet.id,
    WorkoutSet.session_id,
    WorkoutSet.performed_at,
    WorkoutSet.position,
    WorkoutSet.weight_kg,
    WorkoutSet.reps,
)
_VOLUME = WorkoutSet.weight_kg * WorkoutSet.reps


def _best_columns(config: RecordConfig, mine: tuple[Any, ...]) -> list[Any]:
    """Aggregates of one scan: the heaviest load per rep count (for e1RM) and every single-value best."""
    per_session = (
        select(func.sum(_VOLUME).label("total")).where(*mine, _LOADED).group_by(WorkoutSet.session_id)
    )
    return [
        *_e1rm_columns(config.rep_cap, config.formula),
        func.max(case((_LOADED, WorkoutSet.weight_kg))).label(RecordKind.HEAVIEST_WEIGHT.value),
        func.max(case((_LOADED, _VOLUME))).label(RecordKind.BEST_SET_VOLUME.value),
        select(func.max(per_session.subquery().c.total))
        .scalar_subquery()
        .label(RecordKind.BEST_SESSION_VOLUME.value),
        func.max(case((and_(_COUNTS, WorkoutSet.duration_s > 0), WorkoutSet.duration_s))).label(
            RecordKind.LONGEST_DURATION.value
        ),
        func.max(case((and_(_COUNTS, WorkoutSet.distance_m > 0), WorkoutSet.distance_m))).label(
            RecordKind.LONGEST_DISTANCE.value
        ),
    ]


def _first_set(kind: RecordKind, *where: Any) -> Any:
    """The earliest set (history order) matching `where`, labelled with the record it holds."""
    first = select(literal(kind.value, String).label("kind"), *_RECORD_SET_COLUMNS).where(*where)
    return select(first.order_by(*_CHRONO).limit(1).subquery())


def _first_to_session_best(mine: tuple[Any, ...], best: Decimal) -> Any:
    """The set that first took a session's volume to `best`: a running sum over the (usually one) sessions
    whose total reaches it."""
    at_best = _grid_bound(best - _HALF_GRAM)
    # MATERIALIZED: computed once, even when stale statistics (say, right after a bulk import) would make
    # PostgreSQL re-run the grouping for every set in a nested loop (seen: 13 s for 5,000 sets)
    sessions = select(WorkoutSet.session_id).where(*mine, _LOADED).group_by(WorkoutSet.session_id)
    sessions = sessions.having(func.sum(_VOLUME) >= at_best).cte("top_sessions").prefix_with("MATERIALIZED")
    running = select(
        *_RECORD_SET_COLUMNS,
        func.sum(_VOLUME)
        .over(partition_by=WorkoutSet.session_id, order_by=_CHRONO, rows=(None, 0))
        .label("so_far"),
    ).where(*mine, _LOADED, WorkoutSet.session_id.in_(select(sessions.c.session_id)))
    running = running.subquery()
    first = select(
        literal(RecordKind.BEST_SESSION_VOLUME.value, String).label("kind"),
        *(running.c[c.name] for c in _RECORD_SET_COLUMNS),
    ).where(running.c.so_far >= at_best)
    return select(
        first.order_by(running.c.performed_at, running.c.position, running.c.id).limit(1).subquery()
    )


def _record_value(kind: RecordKind, raw: Any) -> Decimal | None:
    """A value as `records.py` writes it: loads and volumes to 3 places, counts as integers."""
    if raw is None:
        return None
    if kind in (RecordKind.MOST_REPS_AT_WEIGHT, RecordKind.LONGEST_DURATION):
        return Decimal(int(raw))
    return _dec(raw)


_SINGLE_KINDS = (
    RecordKind.HEAVIEST_WEIGHT,
    RecordKind.BEST_SET_VOLUME,
    RecordKind.BEST_SESSION_VOLUME,
    RecordKind.LONGEST_DURATION,
    RecordKind.LONGEST_DISTANCE,
)


async def _sql_records(
    db: AsyncSession, user_id: uuid.UUID, exercise_id: uuid.UUID, config: RecordConfig
) -> tuple[ExerciseRecords, int]:
    """(current records, number of logged sets) in four statements, whatever the history's length.

    A record is the best value, held by the earliest set reaching it, with the best value before that set as
    `previous_value`: (1) the bests in one aggregate scan, (2) the first set reaching each (ordered LIMIT 1
    each, one UNION), (3) the bests before each of those sets (one aggregate scan), (4) most reps per load.
    """
    mine = _mine(user_id, exercise_id)
    formula, cap = config.formula, config.rep_cap
    bests = (
        await db.execute(select(func.count().label("set_count"), *_best_columns(config, mine)).where(*mine))
    ).one()
    values = {kind: _record_value(kind, bests._mapping[kind.value]) for kind in _SINGLE_KINDS}
    best_e1rm, loads = _best_e1rm(bests, cap, formula)
    firsts: list[Any] = []
    if best_e1rm is not None:
        reaching = [
            and_(
                WorkoutSet.reps == reps,
                WorkoutSet.weight_kg
                >= _grid_bound(_lightest_load_for(best_e1rm, reps, load, cap, formula) - _HALF_GRAM),
            )
            for reps, load in loads.items()
            if estimate_1rm(load, reps, formula, rep_cap=cap) == best_e1rm  # type: ignore[arg-type]
        ]
        firsts.append(_first_set(RecordKind.E1RM, *mine, _LOADED, or_(*reaching)))
    near = {kind: _grid_bound(value - _HALF_GRAM) for kind, value in values.items() if value is not None}
    if RecordKind.HEAVIEST_WEIGHT in near:
        firsts.append(
            _first_set(
                RecordKind.HEAVIEST_WEIGHT,
                *mine,
                _LOADED,
                WorkoutSet.weight_kg >= near[RecordKind.HEAVIEST_WEIGHT],
            )
        )
    if RecordKind.BEST_SET_VOLUME in near:
        firsts.append(
            _first_set(
                RecordKind.BEST_SET_VOLUME, *mine, _LOADED, _VOLUME >= near[RecordKind.BEST_SET_VOLUME]
            )
        )
    if RecordKind.BEST_SESSION_VOLUME in near:
        firsts.append(_first_to_session_best(mine, values[RecordKind.BEST_SESSION_VOLUME]))  # type: ignore[arg-type]
    if RecordKind.LONGEST_DURATION in near:
        firsts.append(
            _first_set(
                RecordKind.LONGEST_DURATION,
                *mine,
                _COUNTS,
                WorkoutSet.duration_s >= near[RecordKind.LONGEST_DURATION],
            )
        )
    if RecordKind.LONGEST_DISTANCE in near:
        firsts.append(
            _first_set(
                RecordKind.LONGEST_DISTANCE,
                *mine,
                _COUNTS,
                WorkoutSet.distance_m >= near[RecordKind.LONGEST_DISTANCE],
            )
        )
    holders = {RecordKind(row.kind): row for row in await db.execute(union_all(*firsts))} if firsts else {}
    previous = await _bests_before_each(db, mine, holders, config)

    found: list[Record] = []
    for kind, holder in holders.items():
        with_load = kind in (RecordKind.E1RM, RecordKind.HEAVIEST_WEIGHT, RecordKind.BEST_SET_VOLUME)
        found.append(
            Record(
                kind=kind,
                exercise_id=exercise_id,
                value=best_e1rm if kind is RecordKind.E1RM else values[kind],  # type: ignore[arg-type]
                achieved_at=_aware(holder.performed_at),
                session_id=holder.session_id,
                set_id=None if kind is RecordKind.BEST_SESSION_VOLUME else holder.id,
                weight_kg=_dec(holder.weight_kg) if with_load else None,
                reps=holder.reps if with_load else None,
                previous_value=previous.get(kind),
            )
        )
    found += await _most_reps_records(db, mine, exercise_id)
    return ExerciseRecords(exercise_id).apply(found), bests.set_count


async def _bests_before_each(
    db: AsyncSession, mine: tuple[Any, ...], holders: dict[RecordKind, Any], config: RecordConfig
) -> dict[RecordKind, Decimal | None]:
    """Each record's `previous_value`: the best of its kind among the sets before the set holding it."""
    if not holders:
        return {}
    columns: list[Any] = []
    for kind, holder in holders.items():
        earlier = _before(holder)
        if kind is RecordKind.E1RM:
            columns += [
                func.max(case((and_(WorkoutSet.reps == r, _LOADED, earlier), WorkoutSet.weight_kg))).label(
                    f"{_E1RM_LOAD}{r}"
                )
                for r in range(1, _e1rm_top_reps(config.rep_cap, config.formula) + 1)
            ]
        elif kind is RecordKind.BEST_SESSION_VOLUME:
            so_far = select(func.sum(case((earlier, _VOLUME))).label("so_far")).where(*mine, _LOADED)
            so_far = so_far.group_by(WorkoutSet.session_id).subquery()
            columns.append(select(func.max(so_far.c.so_far)).scalar_subquery().label(kind.value))
        else:
            value, counted = {
                RecordKind.HEAVIEST_WEIGHT: (WorkoutSet.weight_kg, _LOADED),
                RecordKind.BEST_SET_VOLUME: (_VOLUME, _LOADED),
                RecordKind.LONGEST_DURATION: (
                    WorkoutSet.duration_s,
                    and_(_COUNTS, WorkoutSet.duration_s > 0),
                ),
                RecordKind.LONGEST_DISTANCE: (
                    WorkoutSet.distance_m,
                    and_(_COUNTS, WorkoutSet.distance_m > 0),
                ),
            }[kind]
            columns.append(func.max(case((and_(counted, earlier), value))).label(kind.value))
    row = (await db.execute(select(*columns).where(*mine))).one()
    previous: dict[RecordKind, Decimal | None] = {
        kind: _record_value(kind, row._mapping[kind.value]) for kind in holders if kind in _SINGLE_KINDS
    }
    if RecordKind.E1RM in holders:
        previous[RecordKind.E1RM] = _best_e1rm(row, config.rep_cap, config.formula)[0]
    return previous


async def _most_reps_records(db: AsyncSession, mine: tuple[Any, ...], exercise_id: uuid.UUID) -> list[Record]:
    """Most reps per load (0 for unloaded sets): the first set reaching each load's best is the one whose
    best-so-far at that load was lower (window functions, one statement)."""
    load = _reps_key()
    chrono = dict(partition_by=load, order_by=_CHRONO)
    per_load = select(
        *_RECORD_SET_COLUMNS,
        func.max(WorkoutSet.reps).over(partition_by=load).label("best"),
        func.max(WorkoutSet.reps).over(**chrono, rows=(None, -1)).label("before"),  # type: ignore[arg-type]
    ).where(*mine, _COUNTS, WorkoutSet.reps > 0)
    per_load = per_load.subquery()
    rows = await db.execute(
        select(per_load).where(
            per_load.c.reps == per_load.c.best,
            or_(per_load.c.before.is_(None), per_load.c.before < per_load.c.best),
        )
    )
    records = []
    for row in rows:
        weight = _dec(row.weight_kg)
        records.append(
            Record(
                kind=RecordKind.MOST_REPS_AT_WEIGHT,
                exercise_id=exercise_id,
                value=Decimal(row.reps),
                achieved_at=_aware(row.performed_at),
                session_id=row.session_id,
                set_id=row.id,
                weight_kg=weight if weight is not None and weight > 0 else Decimal(0),
                reps=row.reps,
                previous_value=Decimal(row.before) if row.before is not None else None,
            )
        )
    return records


async def _bests_before(
    db: AsyncSession, user_id: uuid.UUID, new_set: PerformedSet
) -> tuple[ExerciseRecords, Decimal]:
    """The exercise's current bests as of `new_set` (sets performed at or before it) and the volume already
    lifted in its session, in one aggregate statement: what `records_broken_by` needs, no history rows."""
    exercise_id, session_id = new_set.exercise_id, new_set.session_id
    mine = (*_mine(user_id, exercise_id), WorkoutSet.performed_at <= new_set.performed_at)  # type: ignore[arg-type]
    load = (
        new_set.weight_kg.quantize(_MILLI)
        if new_set.weight_kg is not None and new_set.weight_kg > 0
        else None
    )
    if load is None:  # the unloaded bucket, as `records._weight_key`
        same_load = or_(WorkoutSet.weight_kg.is_(None), WorkoutSet.weight_kg <= 0)
    else:
        same_load = _same_weight(WorkoutSet.weight_kg, load)
    config = RecordConfig()  # what a logged set is flagged against (the records endpoint's defaults)
    this_session = case((and_(_LOADED, WorkoutSet.session_id == session_id), _VOLUME))
    reps_at_load = case((and_(_COUNTS, WorkoutSet.reps > 0, same_load), WorkoutSet.reps))
    row = (
        await db.execute(
            select(
                *_best_columns(config, mine),
                func.sum(this_session).label("this_session"),
                func.max(reps_at_load).label(RecordKind.MOST_REPS_AT_WEIGHT.value),
            ).where(*mine)
        )
    ).one()

    def best(kind: RecordKind, value: Decimal | None) -> Record | None:
        if value is None:
            return None
        return Record(
            kind=kind,
            exercise_id=exercise_id,
            value=value,
            achieved_at=new_set.performed_at,
            session_id=session_id,
        )

    singles = {
        kind.value: best(kind, _record_value(kind, row._mapping[kind.value])) for kind in _SINGLE_KINDS
    }
    most_reps = best(
        RecordKind.MOST_REPS_AT_WEIGHT,
        _record_value(RecordKind.MOST_REPS_AT_WEIGHT, row._mapping[RecordKind.MOST_REPS_AT_WEIGHT.value]),
    )
    current = ExerciseRecords(
        exercise_id,
        e1rm=best(RecordKind.E1RM, _best_e1rm(row, config.rep_cap, config.formula)[0]),
        most_reps_at_weight={load or Decimal(0): most_reps} if most_reps else {},
        **singles,  # type: ignore[arg-type]
    )
    return current, _dec(row.this_session) or ZERO


def record_read(record: Record) -> RecordRead:
    return RecordRead(
        kind=record.kind.value,
        value=record.value,
        achieved_at=record.achieved_at,
        session_id=record.session_id,  # type: ignore[arg-type]
        set_id=record.set_id,  # type: ignore[arg-type]
        weight_kg=record.weight_kg,
        reps=record.reps,
        previous_value=record.previous_value,
    )


def _set_values(data: SetIn | dict[str, Any]) -> dict[str, Any]:
    return data if isinstance(data, dict) else {f: getattr(data, f) for f in data.__struct_fields__}


def _apply_set(row: WorkoutSet, values: dict[str, Any]) -> None:
    if "set_type" in values:
        row.set_type = str(values["set_type"])
    for key in ("reps", "duration_s", "notes", "position"):
        if key in values and not (key == "position" and values[key] is None):
            setattr(row, key, values[key])
    for key in ("rpe", "rir"):
        if key in values:
            setattr(row, key, to_decimal(values[key]) if values[key] is not None else None)
    if "unit" in values:
        row.weight_unit = values["unit"]
    if "weight" in values:
        row.weight_kg = to_kg(values["weight"], row.weight_unit) if values["weight"] is not None else None
    if "distance_unit" in values:
        row.distance_unit = values["distance_unit"]
    if "distance" in values:
        row.distance_m = (
            to_metres(values["distance"], row.distance_unit) if values["distance"] is not None else None
        )
    if values.get("performed_at") is not None:
        row.performed_at = _aware(values["performed_at"])


async def log_set(
    db: AsyncSession,
    principal: Principal,
    session_id: uuid.UUID,
    data: SetIn,
    *,
    idempotency_key: str | None,
    window_hours: int,
) -> tuple[LoggedSet, bool]:
    """(the logged set with the records it broke, created?). A retry with the same client id answers the
    stored set, not a duplicate."""
    session = await own_session(db, principal, session_id)
    client_id = str(data.client_id) if data.client_id else (idempotency_key or None)
    if client_id:
        existing = await db.scalar(
            select(WorkoutSet).where(
                WorkoutSet.owner_id == principal.user_id, WorkoutSet.client_id == client_id
            )
        )
        if existing is not None:
            if existing.session_id != session_id:
                raise Conflict("This client id was already used for a set of another session")
            names = await _exercise_names(db, [existing.exercise_id])
            return LoggedSet(set=set_read(existing, names.get(existing.exercise_id, "")), records=[]), False
    check_editable(session, window_hours)
    try:
        exercise = await visible_exercise(db, principal.user_id, data.exercise_id)
    except NotFound:
        raise ValidationFailed(details={"exercise_id": "unknown exercise"}) from None
    values = _set_values(data)
    validate_set(values, exercise)
    position = data.position
    if position is None:
        last = await db.scalar(
            select(func.max(WorkoutSet.position)).where(WorkoutSet.session_id == session_id)
        )
        position = (last or 0) + 1
    row = WorkoutSet(
        id=uuid.uuid4(),
        owner_id=principal.user_id,
        session_id=session_id,
        exercise_id=exercise.id,
        client_id=client_id,
        position=position,
        weight_unit=data.unit,
        distance_unit=data.distance_unit,
        performed_at=_aware(data.performed_at) if data.performed_at else _now(),
    )
    _apply_set(row, {k: v for k, v in values.items() if k not in ("exercise_id", "client_id", "position")})
    # the bests before this set (one aggregate statement, whatever the history's length)
    performed = _performed(row)
    current, session_volume = await _bests_before(db, principal.user_id, performed)
    broken = records_broken_by(current, performed, session_volume_before=session_volume)
    db.add(row)
    try:
        await db.flush()
    except IntegrityError as exc:  # the same client id raced in from a second request
        raise Conflict("A set with this client id is being logged") from exc
    return LoggedSet(set=set_read(row, exercise.name), records=[record_read(r) for r in broken]), True


async def _own_set(
    db: AsyncSession, principal: Principal, session_id: uuid.UUID, set_id: uuid.UUID
) -> WorkoutSet:
    row = await db.scalar(
        select(WorkoutSet).where(
            WorkoutSet.id == set_id,
            WorkoutSet.session_id == session_id,
            WorkoutSet.owner_id == principal.user_id,
        )
    )
    if row is None:
        raise NotFound("Set not found")
    return row


async def update_set(
    db: AsyncSession,
    principal: Principal,
    session_id: uuid.UUID,
    set_id: uuid.UUID,
    values: dict[str, Any],
    *,
    window_hours: int,
) -> SetRead:
    session = await own_session(db, principal, session_id)
    row = await _own_set(db, principal, session_id, set_id)
    check_editable(session, window_hours)
    values.pop("client_id", None)
    exercise_id = values.pop("exercise_id", None) or row.exercise_id
    try:
        exercise = await visible_exercise(db, principal.user_id, exercise_id)
    except NotFound:
        raise ValidationFailed(details={"exercise_id": "unknown exercise"}) from None
    # RPE and RIR are two scales for one thing: setting one replaces the other unless both are sent
    for given, other in (("rpe", "rir"), ("rir", "rpe")):
        if values.get(given) is not None and other not in values:
            values[other] = None
    merged = {
        "weight": values.get("weight"),
        "rpe": values.get("rpe", _dec(row.rpe)),
        "rir": values.get("rir", _dec(row.rir)),
        "reps": values.get("reps", row.reps),
    }
    validate_set(merged, exercise)
    row.exercise_id = exercise.id
    _apply_set(row, values)
    await db.flush()
    return set_read(row, exercise.name)


async def delete_set(
    db: AsyncSession, principal: Principal, session_id: uuid.UUID, set_id: uuid.UUID, *, window_hours: int
) -> None:
    session = await own_session(db, principal, session_id)
    row = await _own_set(db, principal, session_id, set_id)
    check_editable(session, window_hours)
    await db.delete(row)
    await db.flush()


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
    records, count = await _sql_records(db, principal.user_id, exercise_id, config)
    return _records_read(exercise_id, records, formula, rep_cap, count)


async def exercise_progress(
    db: AsyncSession,
    principal: Principal,
    exercise_id: uuid.UUID,
    *,
    formula: str = "epley",
    rep_cap: int = 12,
) -> list[ProgressPoint]:
    await visible_exercise(db, principal.user_id, exercise_id)
    history = await _history(db, principal.user_id, exercise_id)
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
        ProgressPoint(
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
) -> tuple[list[HistoryEntry], int]:
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
                select(*_SET_READ_COLUMNS)
                .where(*where, WorkoutSet.session_id.in_(ids))
                .order_by(WorkoutSet.position)
            )
        ).all()
        for row in rows:
            sets[row.session_id].append(set_read(row, exercise.name))
    return [
        HistoryEntry(session_id=s.id, session_name=s.name, started_at=s.started_at, sets=sets[s.id])
        for s in sessions
    ], total or 0


async def muscle_stats(db: AsyncSession, principal: Principal, *, weeks: int) -> list[MuscleWeekRead]:
    today = _now().date()
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    since = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    rows = (
        await db.execute(
            select(*_SET_COLUMNS).where(
                WorkoutSet.owner_id == principal.user_id, WorkoutSet.performed_at >= since
            )
        )
    ).all()
    performed = [_performed(r) for r in rows]
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


# =========================================================================== import / export


async def _existing_fingerprints(
    db: AsyncSession, user_id: uuid.UUID, workouts: Sequence[importers.ImportedWorkout]
) -> set[str]:
    if not workouts:
        return set()
    lo = min(_aware(w.started_at) for w in workouts) - timedelta(minutes=1)
    hi = max(_aware(w.started_at) for w in workouts) + timedelta(minutes=1)
    rows = (
        await db.execute(
            select(WorkoutSession.started_at, WorkoutSession.name, func.count(WorkoutSet.id))
            .outerjoin(WorkoutSet, WorkoutSet.session_id == WorkoutSession.id)
            .where(WorkoutSession.owner_id == user_id, WorkoutSession.started_at.between(lo, hi))
            .group_by(WorkoutSession.id, WorkoutSession.started_at, WorkoutSession.name)
        )
    ).all()
    return {importers.workout_fingerprint(_aware(started), name, n) for started, name, n in rows}


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
) -> ImportPreview:
    index, by_id = await name_lookup(db, cache, principal.user_id)
    slug_to_id = {r.slug: r.id for r in by_id.values() if r.slug}
    result = importers.parse_csv(
        text,
        weight_unit=unit,
        default_tz=tz,
        name_index=index,
        expected_format=None if fmt == "auto" else importers.CsvFormat(fmt),
        max_rows=max_rows,
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
    preview = ImportPreview(
        format=result.format.value if result.format else None,
        dry_run=dry_run,
        rows_read=result.rows_read,
        workouts=workouts,
        sets=sum(w.sets for w in workouts),
        errors=[ImportErrorRead(row=e.row, field=e.field, message=e.message) for e in result.errors],
        unmatched_exercises=list(result.unmatched_exercises),
        duplicates=sum(w.duplicate for w in workouts),
    )
    if dry_run:
        return preview
    if result.errors or result.format is None:
        raise Unprocessable(
            "The file has errors; nothing was imported",
            details={
                "errors": [msgspec.to_builtins(e) for e in preview.errors]
                or [{"row": 1, "field": None, "message": "unrecognised CSV format"}]
            },
        )
    created: dict[str, uuid.UUID] = {}
    for name in result.unmatched_exercises:
        key = name_key(name)
        if key in created:
            continue
        row = Exercise(
            id=uuid.uuid4(),
            owner_id=principal.user_id,
            name=name[:120],
            aliases=[],
            primary_muscles=[],
            secondary_muscles=[],
            equipment="other",
            category="strength",
            measurement="weight_reps",
        )
        db.add(row)
        created[key] = row.id
    sessions = 0
    sets = 0
    for workout in result.workouts:
        if workout.fingerprint in existing:
            continue
        started = _aware(workout.started_at)
        session = WorkoutSession(
            id=uuid.uuid4(),
            owner_id=principal.user_id,
            name=workout.title[:200],
            started_at=started,
            finished_at=_aware(workout.ended_at)
            if workout.ended_at
            else (started + timedelta(seconds=workout.duration_s) if workout.duration_s else started),
            duration_s=workout.duration_s,
            notes=workout.notes,
            imported_from=result.format.value,
        )
        db.add(session)
        sessions += 1
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
                sets += 1
                db.add(
                    WorkoutSet(
                        owner_id=principal.user_id,
                        session_id=session.id,
                        exercise_id=exercise_id,
                        position=position,
                        set_type=performed.set_type.value,
                        reps=performed.reps,
                        weight_kg=performed.weight_kg,
                        weight_unit=performed.weight_unit.value,
                        rpe=performed.rpe,
                        duration_s=performed.duration_s,
                        distance_m=performed.distance_m,
                        distance_unit=performed.distance_unit.value,
                        notes=performed.notes or exercise.notes,
                        performed_at=started,
                    )
                )
    await db.flush()
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
    names = await _exercise_names(db, (s.exercise_id for w in sessions for s in w.sets))
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
                    weight_kg=_dec(s.weight_kg),
                    weight_unit=s.weight_unit,
                    reps=s.reps,
                    distance_m=_dec(s.distance_m),
                    distance_unit=s.distance_unit if s.distance_unit != "m" else "km",
                    duration_s=s.duration_s,
                    rpe=_dec(s.rpe),
                    notes=s.notes,
                )
            )
        out.append(
            importers.ImportedWorkout(
                title=session.name,
                started_at=_aware(session.started_at),
                ended_at=_aware(session.finished_at) if session.finished_at else None,
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
    names = await _exercise_names(db, (s.exercise_id for w in sessions for s in w.sets))
    return {
        "exported_at": _now(),
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
                            (set_volume(_dec(x.weight_kg), x.reps) for x in s.sets if x.set_type != "warmup"),
                            ZERO,
                        ),
                    )
                ),
                "sets": [set_read(x, names.get(x.exercise_id, "")) for x in s.sets],
            }
            for s in sessions
        ],
    }
