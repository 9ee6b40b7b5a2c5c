"""A user's sets as the engines see them: the columns they need, one query, chronological."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from keel.apps.gym.clock import aware
from keel.apps.gym.models import WorkoutSet
from keel.apps.gym.records.rules import (
    PerformedSet,
    SetType,
)
from keel.apps.gym.units import db_decimal

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


def to_performed(row: WorkoutSet | Any) -> PerformedSet:
    return PerformedSet(
        set_id=row.id,
        session_id=row.session_id,
        exercise_id=row.exercise_id,
        performed_at=aware(row.performed_at),
        set_type=SetType(row.set_type),
        reps=row.reps,
        weight_kg=db_decimal(row.weight_kg),
        duration_s=row.duration_s,
        distance_m=db_decimal(row.distance_m),
        rpe=db_decimal(row.rpe),
    )


PERFORMED_COLUMNS = (
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


async def performed_history(
    db: AsyncSession, user_id: uuid.UUID, exercise_id: uuid.UUID, *extra: Any
) -> list[PerformedSet]:
    """One query: the columns the record engine needs, chronological."""
    rows = await db.execute(
        select(*PERFORMED_COLUMNS)
        .where(WorkoutSet.owner_id == user_id, WorkoutSet.exercise_id == exercise_id, *extra)
        .order_by(WorkoutSet.performed_at, WorkoutSet.position, WorkoutSet.id)
    )
    return [to_performed(r) for r in rows]
