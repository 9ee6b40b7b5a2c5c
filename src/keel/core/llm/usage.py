"""Recording token usage and checking the per-user daily quota.

Usage is written in its own short transaction, not the caller's request transaction: the tokens were
spent even when the request that asked for them fails afterwards and rolls back.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from advanced_alchemy.mixins.uuid import uuid7  # type: ignore[attr-defined]
from sqlalchemy import func, select

from keel.core.llm.models import AiUsage

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


def today() -> date:
    return datetime.now(UTC).date()


def seconds_until_tomorrow() -> int:
    now = datetime.now(UTC)
    tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return max(1, int((tomorrow - now).total_seconds()))


def as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else uuid.UUID(str(value))


async def tokens_today(engine: AsyncEngine, user_id: UUID) -> int:
    """All apps together: the quota is the person's, not an app's."""
    async with engine.connect() as conn:
        used = await conn.scalar(
            select(func.coalesce(func.sum(AiUsage.prompt_tokens + AiUsage.completion_tokens), 0)).where(
                AiUsage.user_id == user_id, AiUsage.day == today()
            )
        )
    return int(used or 0)


_UPSERTS: dict[str, Any] = {}


def _upsert(dialect: str) -> Any:
    """The daily row's upsert with bound values, built once per dialect (building it per call cost more
    Python than running it). A conflict adds this call's tokens to the row (`excluded`: the new values)."""
    if dialect not in _UPSERTS:
        from sqlalchemy import bindparam
        from sqlalchemy.dialects import postgresql, sqlite

        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = AiUsage.__table__
        names = ["id", "user_id", "app", "day", "prompt_tokens", "completion_tokens"]
        names += ["created_at", "updated_at"]
        stmt = insert(table).values({**{name: bindparam(name) for name in names}, "requests": 1})
        new = stmt.excluded
        _UPSERTS[dialect] = stmt.on_conflict_do_update(
            index_elements=["user_id", "app", "day"],
            set_={
                "prompt_tokens": table.c.prompt_tokens + new.prompt_tokens,
                "completion_tokens": table.c.completion_tokens + new.completion_tokens,
                "requests": table.c.requests + 1,
                "updated_at": new.updated_at,
            },
        )
    return _UPSERTS[dialect]


async def record(engine: AsyncEngine, user_id: UUID, app: str, prompt: int, completion: int) -> None:
    """One upsert per call: the daily row is created on first use and incremented after."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "id": uuid7(),
        "user_id": user_id,
        "app": app,
        "day": today(),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "created_at": now,
        "updated_at": now,
    }
    async with engine.begin() as conn:
        await conn.execute(_upsert(engine.dialect.name), values)
