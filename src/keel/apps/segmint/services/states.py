"""The content status machine: which moves are allowed, and the audit trail recording each."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.segmint.models import (
    APPROVED,
    DRAFT,
    IN_REVIEW,
    PUBLISHED,
    REJECTED,
    SCHEDULED,
    Content,
    ContentEvent,
)
from keel.core.errors import Conflict

log = structlog.get_logger("keel.segmint")

# the status machine: from -> the states it may move to
TRANSITIONS: dict[str, tuple[str, ...]] = {
    DRAFT: (IN_REVIEW,),
    IN_REVIEW: (APPROVED, REJECTED, DRAFT),  # DRAFT: the owner withdraws it
    APPROVED: (SCHEDULED, DRAFT),
    SCHEDULED: (PUBLISHED, APPROVED),  # APPROVED: the schedule was cancelled or every target failed
    REJECTED: (DRAFT,),
    PUBLISHED: (),
}
EDITABLE = (DRAFT, REJECTED)  # editing rejected content reopens it as a draft


def move(
    db: AsyncSession,
    row: Content,
    to: str,
    *,
    action: str,
    actor_id: UUID | None,
    actor_email: str | None = None,
    comment: str | None = None,
) -> None:
    """Change the status when the machine allows it (else 409 naming what is allowed) and record why."""
    allowed = TRANSITIONS[row.status]
    if to not in allowed:
        options = ", ".join(allowed) or "nothing (it is final)"
        raise Conflict(
            f"Content in status '{row.status}' cannot become '{to}'; "
            f"from '{row.status}' it can become: {options}",
            details={"status": row.status, "requested": to, "allowed": list(allowed)},
        )
    record(db, row, action, actor_id=actor_id, actor_email=actor_email, comment=comment, to_status=to)
    row.status = to


def event_values(
    row: Content,
    action: str,
    *,
    actor_id: UUID | None,
    actor_email: str | None = None,
    comment: str | None = None,
    to_status: str | None = None,
) -> dict[str, Any]:
    """The columns of the audit event of `action` on `row` (what `record` adds)."""
    return {
        "content_id": row.id,
        "actor_id": actor_id,
        "actor_email": actor_email,
        "action": action,
        "from_status": row.status if to_status else None,
        "to_status": to_status,
        "review_round": row.review_round,
        "comment": comment,
    }


def record(
    db: AsyncSession,
    row: Content,
    action: str,
    *,
    actor_id: UUID | None,
    actor_email: str | None = None,
    comment: str | None = None,
    to_status: str | None = None,
) -> None:
    db.add(
        ContentEvent(
            **event_values(
                row, action, actor_id=actor_id, actor_email=actor_email, comment=comment, to_status=to_status
            )
        )
    )
