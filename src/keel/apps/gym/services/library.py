"""The exercise library: the cached catalogue plus the caller's custom exercises, search and name matching."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, or_, select

from keel.apps.gym.catalog import ExerciseNameIndex, name_key
from keel.apps.gym.models import Exercise
from keel.apps.gym.schemas import (
    ExerciseRead,
)
from keel.apps.gym.services.common import LIBRARY_NS
from keel.core.driver_select import DriverSelect
from keel.core.errors import NotFound
from keel.core.mapping import to_read, to_reads
from keel.core.query import plain

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.core.cache import Cache
    from keel.identity import Principal

# =========================================================================== library


def exercise_read(row: Exercise) -> ExerciseRead:
    return to_read(
        row,
        ExerciseRead,
        custom=row.owner_id is not None,
        primary_muscles=list(row.primary_muscles or ()),
        secondary_muscles=list(row.secondary_muscles or ()),
        aliases=list(row.aliases or ()),
    )


async def catalogue(db: AsyncSession, cache: Cache) -> list[ExerciseRead]:
    """Every catalogue exercise, read through the cache (namespace gym:library)."""

    async def load() -> list[ExerciseRead]:
        rows = (
            await db.scalars(select(Exercise).where(Exercise.owner_id.is_(None)).order_by(Exercise.name))
        ).all()
        return [exercise_read(r) for r in rows]

    return await cache.get_or_set(LIBRARY_NS, "catalogue", load, type=list[ExerciseRead])


_exercise = Exercise.__table__
# the caller's custom exercises, every request of the library list: built once, read on the driver
CUSTOM_EXERCISES = DriverSelect(
    select(
        plain(_exercise.c.id),
        *(_exercise.c[name] for name in ("name", "slug")),
        _exercise.c.owner_id.is_not(None).label("custom"),
        *(_exercise.c[name] for name in ("primary_muscles", "secondary_muscles", "equipment", "category")),
        *(_exercise.c[name] for name in ("measurement", "aliases", "notes")),
    )
    .where(_exercise.c.owner_id == bindparam("owner_id"))
    .order_by(_exercise.c.name)
)
_LISTS = ("primary_muscles", "secondary_muscles", "aliases")


async def custom_exercises(db: AsyncSession, user_id: uuid.UUID) -> list[ExerciseRead]:
    rows = await CUSTOM_EXERCISES.rows(db, {"owner_id": user_id})
    for row in rows:  # a JSON null reads as no names, as exercise_read has it
        for name in _LISTS:
            if row[name] is None:
                row[name] = []
    return to_reads(rows, ExerciseRead)


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
