"""One page of rows and the total it is a page of: the two statements every segmint list runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def paged(
    db: AsyncSession,
    model: Any,
    conditions: Sequence[Any],
    query: Select[Any],
    *,
    order_by: Sequence[Any],
    limit: int,
    offset: int,
    tuples: bool = False,
) -> tuple[list[Any], int]:
    """The count of `model` rows meeting `conditions`, then `query` with them, ordered, limited and offset
    (`tuples`: rows of several columns instead of one entity each)."""
    total = await db.scalar(select(func.count()).select_from(model).where(*conditions)) or 0
    statement = query.where(*conditions).order_by(*order_by).limit(limit).offset(offset)
    result = await db.execute(statement) if tuples else await db.scalars(statement)
    return list(result.all()), total
