"""Submitting content for review, and approvers deciding on it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from keel.apps.segmint import notifications
from keel.apps.segmint.models import (
    APPROVED,
    IN_REVIEW,
    REJECTED,
    Content,
    ContentEvent,
    Workflow,
    WorkflowApprover,
)
from keel.apps.segmint.paging import paged
from keel.apps.segmint.schemas import (
    ReviewRead,
)
from keel.apps.segmint.services.content import content_read, get_content, reviewing
from keel.apps.segmint.services.states import TRANSITIONS, move, record
from keel.apps.segmint.teams import Seat
from keel.core.errors import Conflict, Forbidden, NotFound, ValidationFailed


async def submit(
    db: AsyncSession, seat: Seat, content_id: UUID, workflow_id: UUID, comment: str | None
) -> Content:
    row = await get_content(db, seat, content_id, lock=True)
    user_id = seat.user_id
    workflow = await db.scalar(
        select(Workflow).where(Workflow.id == workflow_id, Workflow.workspace_id == row.workspace_id)
    )
    if workflow is None:
        raise NotFound("Workflow not found")
    if row.status == REJECTED:
        raise Conflict(
            "Rejected content goes back to draft before it is submitted again (edit it or reopen it)",
            details={"status": row.status, "allowed": list(TRANSITIONS[REJECTED])},
        )
    if IN_REVIEW not in TRANSITIONS[row.status]:
        move(
            db, row, IN_REVIEW, action="submitted", actor_id=user_id
        )  # raises the 409 naming what is allowed
    row.review_round += 1  # a new round: earlier decisions no longer count
    row.workflow_id = workflow.id
    move(db, row, IN_REVIEW, action="submitted", actor_id=user_id, comment=comment)
    await db.flush()
    approvers = await db.scalars(
        select(WorkflowApprover.user_id).where(WorkflowApprover.workflow_id == workflow.id)
    )
    notifications.notify(
        db, approvers, "submitted", row, comment or "Waiting for your review", actor_id=user_id
    )
    return row


def _decided_this_round(user_id: UUID) -> Any:
    return exists().where(
        ContentEvent.content_id == Content.id,
        ContentEvent.review_round == Content.review_round,
        ContentEvent.actor_id == user_id,
        ContentEvent.action.in_(("approved", "rejected")),
    )


async def pending_reviews(
    db: AsyncSession, user_id: UUID, *, limit: int, offset: int
) -> tuple[list[ReviewRead], int]:
    """Content in review on a workflow naming the caller, that the caller has not decided on yet."""
    conditions = [Content.status == IN_REVIEW, await reviewing(db, user_id), ~_decided_this_round(user_id)]
    query = select(Content).options(selectinload(Content.tags), selectinload(Content.workflow))
    order = (Content.updated_at, Content.id)
    rows, total = await paged(db, Content, conditions, query, order_by=order, limit=limit, offset=offset)
    counts = await _approval_counts(db, rows)
    return [_review_read(r, counts.get(r.id, 0), None) for r in rows], total


async def _approval_counts(db: AsyncSession, rows: Sequence[Content]) -> dict[UUID, int]:
    if not rows:
        return {}
    result = await db.execute(
        select(ContentEvent.content_id, func.count(func.distinct(ContentEvent.actor_id)))
        .join(
            Content,
            and_(Content.id == ContentEvent.content_id, Content.review_round == ContentEvent.review_round),
        )
        .where(ContentEvent.content_id.in_([r.id for r in rows]), ContentEvent.action == "approved")
        .group_by(ContentEvent.content_id)
    )
    return {content_id: count for content_id, count in result.all()}


def _review_read(row: Content, approvals: int, mine: str | None) -> ReviewRead:
    assert row.workflow is not None and row.workflow_id is not None
    return ReviewRead(
        content=content_read(row),
        workflow_id=row.workflow_id,
        workflow_name=row.workflow.name,
        required_approvals=row.workflow.required_approvals,
        approvals=approvals,
        review_round=row.review_round,
        my_decision=mine,
    )


async def _review_content(
    db: AsyncSession, user_id: UUID, content_id: UUID, *, lock: bool = False
) -> Content:
    statement = (
        select(Content)
        .where(Content.id == content_id, await reviewing(db, user_id))
        .options(selectinload(Content.tags), selectinload(Content.workflow))
    )
    if lock:
        statement = statement.with_for_update(of=Content)
    row = await db.scalar(statement)
    if row is None:
        raise NotFound("Nothing to review with this id")
    return row


async def _my_decision(db: AsyncSession, row: Content, user_id: UUID) -> str | None:
    return await db.scalar(
        select(ContentEvent.action).where(
            ContentEvent.content_id == row.id,
            ContentEvent.review_round == row.review_round,
            ContentEvent.actor_id == user_id,
            ContentEvent.action.in_(("approved", "rejected")),
        )
    )


async def get_review(db: AsyncSession, user_id: UUID, content_id: UUID) -> ReviewRead:
    row = await _review_content(db, user_id, content_id)
    counts = await _approval_counts(db, [row])
    return _review_read(row, counts.get(row.id, 0), await _my_decision(db, row, user_id))


async def decide(
    db: AsyncSession, user_id: UUID, email: str, content_id: UUID, decision: str, comment: str | None
) -> ReviewRead:
    row = await _review_content(db, user_id, content_id, lock=True)
    if row.status != IN_REVIEW:
        raise Conflict(
            f"This content is '{row.status}', not in review: there is nothing to decide",
            details={"status": row.status},
        )
    if await _my_decision(db, row, user_id) is not None:
        raise Conflict("You already decided on this submission", details={"review_round": row.review_round})
    assert row.workflow is not None
    submitter = await db.scalar(
        select(ContentEvent.actor_id).where(
            ContentEvent.content_id == row.id,
            ContentEvent.review_round == row.review_round,
            ContentEvent.action == "submitted",
        )
    )
    if user_id in (row.owner_id, submitter):
        raise Forbidden("You cannot approve or reject content you wrote or submitted")
    concerned = [row.owner_id, submitter]
    if decision == "reject":
        if not comment:
            raise ValidationFailed(details={"comment": "Say why when rejecting, so the author can fix it"})
        move(db, row, REJECTED, action="rejected", actor_id=user_id, actor_email=email, comment=comment)
        await db.flush()
        notifications.notify(db, concerned, "rejected", row, f"{email}: {comment}", actor_id=user_id)
        return _review_read(row, (await _approval_counts(db, [row])).get(row.id, 0), "rejected")
    record(db, row, "approved", actor_id=user_id, actor_email=email, comment=comment)
    await db.flush()
    approvals = (await _approval_counts(db, [row])).get(row.id, 0)
    if approvals >= row.workflow.required_approvals:
        move(
            db,
            row,
            APPROVED,
            action="approval_complete",
            actor_id=None,
            comment=f"{approvals} of {row.workflow.required_approvals} approvals",
        )
        await db.flush()
        body = f"{approvals} of {row.workflow.required_approvals} approvals; it can be scheduled now"
        notifications.notify(db, concerned, "approved", row, body, actor_id=user_id)
    return _review_read(row, approvals, "approved")
