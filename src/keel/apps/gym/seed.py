"""Seed the exercise catalogue and the predefined plans (idempotent: only missing slugs are inserted).

Run by `keel migrate`, `keel seed` and `make run` through `AppSpec.seed`. Rows an admin changed keep
their changes; a slug that is already present is never touched.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select

from keel.apps.gym.catalog import EXERCISES, PLANS
from keel.apps.gym.models import Exercise, Plan, PlanDay, PlanExercise

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.settings import Settings


async def seed(session: AsyncSession, settings: Settings | None = None) -> None:
    existing = dict(
        (await session.execute(select(Exercise.slug, Exercise.id).where(Exercise.slug.is_not(None)))).all()
    )
    for definition in EXERCISES:
        if definition.slug in existing:
            continue
        row = Exercise(
            id=uuid.uuid4(),
            owner_id=None,
            slug=definition.slug,
            name=definition.name,
            aliases=list(definition.aliases),
            primary_muscles=[str(m) for m in definition.primary_muscles],
            secondary_muscles=[str(m) for m in definition.secondary_muscles],
            equipment=str(definition.equipment),
            category=str(definition.category),
            measurement=str(definition.measurement),
        )
        session.add(row)
        existing[definition.slug] = row.id

    await session.flush()
    plans = set((await session.scalars(select(Plan.slug).where(Plan.slug.is_not(None)))).all())
    for plan in PLANS:
        if plan.slug in plans:
            continue
        session.add(
            Plan(
                owner_id=None,
                slug=plan.slug,
                name=plan.name,
                description=plan.description,
                level=plan.level,
                days_per_week=plan.days_per_week,
                days=[
                    PlanDay(
                        position=day_pos,
                        name=day.name,
                        exercises=[
                            PlanExercise(
                                exercise_id=existing[item.slug],
                                position=pos,
                                sets=item.sets,
                                reps_min=item.reps_min,
                                reps_max=item.reps_max,
                                amrap=item.amrap,
                                duration_s=item.duration_s,
                                rpe=item.rpe,
                                rest_s=item.rest_s,
                                superset=item.superset,
                                notes=item.notes,
                            )
                            for pos, item in enumerate(day.exercises, start=1)
                        ],
                    )
                    for day_pos, day in enumerate(plan.days, start=1)
                ],
            )
        )
    await session.flush()
