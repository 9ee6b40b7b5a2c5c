"""The security audit trail: writing events and reading them back (admin)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.identity.models import AuditEvent
from keel.identity.services.machinery import ClientInfo


def audit(
    db: AsyncSession,
    event: str,
    *,
    client: ClientInfo | None = None,
    user_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    email: str | None = None,
    **details: Any,
) -> None:
    db.add(
        AuditEvent(
            event=event,
            user_id=user_id,
            actor_id=actor_id,
            email=email,
            ip=client.ip if client else None,
            user_agent=(client.user_agent[:512] if client else None),
            details={k: v for k, v in details.items() if v is not None},
        )
    )


async def list_audit(
    db: AsyncSession,
    *,
    event: str | None,
    user_id: uuid.UUID | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[AuditEvent], int]:
    conditions: list[Any] = []
    if event:
        conditions.append(
            AuditEvent.event.like(event.replace("*", "%")) if "*" in event else AuditEvent.event == event
        )
    if user_id:
        conditions.append(or_(AuditEvent.user_id == user_id, AuditEvent.actor_id == user_id))
    if since:
        conditions.append(AuditEvent.created_at >= since)
    if until:
        conditions.append(AuditEvent.created_at < until)
    total = await db.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0
    rows = await db.scalars(
        select(AuditEvent)
        .where(*conditions)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all()), total
