"""Workout plans: predefined (shared, cached) and the caller's own; days of ordered exercises."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from keel.apps.gym.models import Plan, PlanDay, PlanExercise
from keel.apps.gym.schemas import (
    PlanCreate,
    PlanDayRead,
    PlanExerciseCreate,
    PlanExerciseRead,
    PlanRead,
)
from keel.apps.gym.services.common import MANAGE_PLANS, PLANS_NS, load_fields
from keel.apps.gym.services.library import name_lookup
from keel.apps.gym.units import to_decimal, to_kg
from keel.core.errors import Forbidden, NotFound, ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.core.cache import Cache
    from keel.identity import Principal

# =========================================================================== plans

PLAN_LOAD = (selectinload(Plan.days).selectinload(PlanDay.exercises).selectinload(PlanExercise.exercise),)


def plan_exercise_read(pe: PlanExercise | Any, name: str, slug: str | None) -> PlanExerciseRead:
    """`pe` is an entry or any row with its columns; `name` and `slug` are its exercise's."""
    exact = pe.reps_min if pe.reps_min is not None and pe.reps_min == pe.reps_max else None
    return PlanExerciseRead(
        id=pe.id,
        position=pe.position,
        exercise_id=pe.exercise_id,
        name=name,
        exercise_slug=slug,
        sets=pe.sets,
        reps=exact,
        reps_min=pe.reps_min,
        reps_max=pe.reps_max,
        amrap=pe.amrap,
        duration_s=pe.duration_s,
        **load_fields(pe),
        rest_s=pe.rest_s,
        superset=pe.superset,
        notes=pe.notes,
    )


def plan_read(plan: Plan) -> PlanRead:
    days = [
        PlanDayRead(
            id=d.id,
            position=d.position,
            name=d.name,
            exercises=[plan_exercise_read(e, e.exercise.name, e.exercise.slug) for e in d.exercises],
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
    db: AsyncSession, cache: Cache, user_id: uuid.UUID, items: Sequence[tuple[str, PlanExerciseCreate]]
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


def _day_inputs(data: PlanCreate) -> list[tuple[str, str, list[PlanExerciseCreate]]]:
    if data.days is not None and data.exercises is not None:
        raise ValidationFailed(details={"days": "give either days or exercises, not both"})
    if data.days is not None:
        return [(f"days[{i}]", d.name, d.exercises) for i, d in enumerate(data.days)]
    return [("", "Day 1", data.exercises or [])]


def _build_days(data: PlanCreate, resolved: dict[str, uuid.UUID]) -> list[PlanDay]:
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
    db: AsyncSession, cache: Cache, user_id: uuid.UUID, data: PlanCreate
) -> dict[str, uuid.UUID]:
    items = [
        (f"{prefix}.exercises[{i}]".lstrip("."), item)
        for prefix, _, day_items in _day_inputs(data)
        for i, item in enumerate(day_items)
    ]
    return await _resolve(db, cache, user_id, items)


async def create_plan(db: AsyncSession, cache: Cache, principal: Principal, data: PlanCreate) -> PlanRead:
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
    db: AsyncSession, cache: Cache, principal: Principal, plan_id: uuid.UUID, data: PlanCreate
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
