"""segmint content and approval workflows: owner-scoped queries, the status machine, versions, audit trail.

Nothing here commits: the request's transaction does (tasks use their own sessions).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
import structlog
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from keel.apps.segmint.models import (
    APPROVED,
    DRAFT,
    IN_REVIEW,
    PUBLISHED,
    REJECTED,
    SCHEDULED,
    Content,
    ContentEvent,
    ContentTag,
    ContentVersion,
    Workflow,
    WorkflowApprover,
)
from keel.apps.segmint.schemas import (
    ApproverRead,
    ContentCreate,
    ContentRead,
    ContentUpdate,
    EventRead,
    ReviewRead,
    VersionRead,
    WorkflowCreate,
    WorkflowRead,
    WorkflowUpdate,
)
from keel.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from keel.identity.models import User

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
SORTABLE = {"created_at", "updated_at", "title", "status", "tone", "published_at"}


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
            content_id=row.id,
            actor_id=actor_id,
            actor_email=actor_email,
            action=action,
            from_status=row.status if to_status else None,
            to_status=to_status,
            review_round=row.review_round,
            comment=comment,
        )
    )


# --------------------------------------------------------------------------- reading


def content_read(row: Content) -> ContentRead:
    return ContentRead(
        id=row.id,
        title=row.title,
        text=row.text,
        tone=row.tone,
        status=row.status,  # type: ignore[arg-type]
        platforms=list(row.platforms or []),
        tags=[t.tag for t in row.tags],
        version=row.version,
        workflow_id=row.workflow_id,
        published_at=row.published_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        owner_id=row.owner_id,
    )


def _reviewer_of(user_id: UUID) -> Any:
    """Content submitted to a workflow naming this user as an approver (a draft being reworked is the
    owner's business again until it is resubmitted)."""
    approves = select(WorkflowApprover.workflow_id).where(WorkflowApprover.user_id == user_id)
    return and_(Content.status != DRAFT, Content.workflow_id.in_(approves))


async def get_content(
    db: AsyncSession, user_id: UUID, content_id: UUID, *, write: bool = True, lock: bool = False
) -> Content:
    """The owner's content. With write=False approvers of its workflow may read it too; anyone else: 404.
    An approver asking to write gets 403 (they can see it, so 404 would be a lie)."""
    visible = or_(Content.owner_id == user_id, _reviewer_of(user_id))
    statement = select(Content).where(Content.id == content_id, visible).options(selectinload(Content.tags))
    if lock:
        statement = statement.with_for_update(of=Content)
    row = (await db.scalars(statement)).one_or_none()
    if row is None:
        raise NotFound("Content not found")
    if write and row.owner_id != user_id:
        raise Forbidden("Approvers can read this content but only its owner can change it")
    return row


async def list_content(
    db: AsyncSession,
    owner_id: UUID,
    *,
    limit: int,
    offset: int,
    q: str | None,
    status: str | None,
    tone: str | None,
    tag: str | None,
    sort: str,
) -> tuple[list[Content], int]:
    conditions: list[Any] = [Content.owner_id == owner_id]
    if q:
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", q.lower()) + "%"
        conditions.append(
            or_(
                func.lower(Content.title).like(pattern, escape="\\"),
                func.lower(Content.text).like(pattern, escape="\\"),
            )
        )
    if status:
        conditions.append(Content.status == status)
    if tone:
        conditions.append(Content.tone == tone)
    if tag:
        conditions.append(exists().where(ContentTag.content_id == Content.id, ContentTag.tag == tag.lower()))
    total = await db.scalar(select(func.count()).select_from(Content).where(*conditions)) or 0
    rows = (
        await db.scalars(
            select(Content)
            .where(*conditions)
            .options(selectinload(Content.tags))
            .order_by(*order_by(sort), Content.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return list(rows), total


def order_by(sort: str) -> list[Any]:
    orders = []
    for raw in sort.split(","):
        key = raw.strip()
        name = key.lstrip("-+")
        if name not in SORTABLE:
            raise ValidationFailed(
                details={
                    "sort": f"Unknown sort field {name!r}; sortable: {', '.join(sorted(SORTABLE))} "
                    "(prefix - for descending)"
                }
            )
        column = getattr(Content, name)
        orders.append(column.desc() if key.startswith("-") else column.asc())
    return orders


# --------------------------------------------------------------------------- writing


def default_title(text: str) -> str:
    words = text.split()
    title = " ".join(words[:8])
    return (title[:197] + "...") if len(title) > 200 else (title + ("..." if len(words) > 8 else ""))


def _set_tags(row: Content, tags: Iterable[str]) -> None:
    wanted = sorted({t.lower() for t in tags})
    current = {t.tag: t for t in row.tags}
    row.tags = [current.get(tag) or ContentTag(tag=tag) for tag in wanted]


async def create_content(
    db: AsyncSession, owner_id: UUID, data: ContentCreate, *, event: str = "created"
) -> Content:
    row = Content(
        owner_id=owner_id,
        title=data.title or default_title(data.text),
        text=data.text,
        tone=data.tone,
        status=DRAFT,
        platforms=sorted(set(data.platforms)),
        version=1,
        review_round=0,
        tags=[],
    )
    _set_tags(row, data.tags)
    db.add(row)
    await db.flush()
    db.add(
        ContentVersion(
            content_id=row.id, number=1, title=row.title, text=row.text, tone=row.tone, author_id=owner_id
        )
    )
    record(db, row, event, actor_id=owner_id)
    await db.flush()
    return row


def _require_editable(row: Content) -> None:
    if row.status not in EDITABLE:
        raise Conflict(
            f"Content in status '{row.status}' cannot be edited; only drafts (and rejected content, "
            "which becomes a draft again) can",
            details={"status": row.status},
        )


async def _new_version(db: AsyncSession, row: Content, user_id: UUID) -> None:
    row.version += 1
    db.add(
        ContentVersion(
            content_id=row.id,
            number=row.version,
            title=row.title,
            text=row.text,
            tone=row.tone,
            author_id=user_id,
        )
    )


async def update_content(db: AsyncSession, user_id: UUID, content_id: UUID, data: ContentUpdate) -> Content:
    row = await get_content(db, user_id, content_id, lock=True)
    given = {f: v for f in data.__struct_fields__ if (v := getattr(data, f)) is not msgspec.UNSET}
    if not given:
        return row
    _require_editable(row)
    if row.status == REJECTED:
        move(db, row, DRAFT, action="reopened", actor_id=user_id, comment="edited after rejection")
    changed_text = False
    for name in ("title", "text", "tone"):
        if name in given and given[name] != getattr(row, name):
            setattr(row, name, given[name])
            changed_text = True
    if "platforms" in given:
        row.platforms = sorted(set(given["platforms"]))
    if "tags" in given:
        _set_tags(row, given["tags"])
    if changed_text:
        await _new_version(db, row, user_id)
    row.updated_at = datetime.now(UTC)  # tag-only changes touch no column of the row itself
    await db.flush()
    return row


async def list_versions(
    db: AsyncSession, user_id: UUID, content_id: UUID, *, limit: int, offset: int
) -> tuple[list[ContentVersion], int]:
    await get_content(db, user_id, content_id)
    where = ContentVersion.content_id == content_id
    total = await db.scalar(select(func.count()).select_from(ContentVersion).where(where)) or 0
    rows = await db.scalars(
        select(ContentVersion).where(where).order_by(ContentVersion.number.desc()).limit(limit).offset(offset)
    )
    return list(rows.all()), total


def version_read(row: ContentVersion) -> VersionRead:
    return VersionRead(
        number=row.number,
        title=row.title,
        text=row.text,
        tone=row.tone,
        author_id=row.author_id,
        created_at=row.created_at,
    )


async def restore_version(db: AsyncSession, user_id: UUID, content_id: UUID, number: int) -> Content:
    """Bring back an older version's title/text/tone as a NEW version (history is never rewritten)."""
    row = await get_content(db, user_id, content_id, lock=True)
    old = await db.scalar(
        select(ContentVersion).where(ContentVersion.content_id == content_id, ContentVersion.number == number)
    )
    if old is None:
        raise NotFound(f"Version {number} not found")
    _require_editable(row)
    if row.status == REJECTED:
        move(db, row, DRAFT, action="reopened", actor_id=user_id, comment=f"restored version {number}")
    if (row.title, row.text, row.tone) == (old.title, old.text, old.tone):
        raise Conflict(f"Version {number} is what the content already says", details={"version": row.version})
    row.title, row.text, row.tone = old.title, old.text, old.tone
    await _new_version(db, row, user_id)
    record(db, row, "restored", actor_id=user_id, comment=f"restored version {number}")
    await db.flush()
    return row


async def delete_content(db: AsyncSession, user_id: UUID, content_id: UUID) -> None:
    row = await get_content(db, user_id, content_id, lock=True)
    if row.status == SCHEDULED:
        raise Conflict(
            "Scheduled content cannot be deleted; cancel its schedule first", details={"status": row.status}
        )
    await db.delete(row)
    await db.flush()


async def history(
    db: AsyncSession, user_id: UUID, content_id: UUID, *, limit: int, offset: int
) -> tuple[list[EventRead], int]:
    await get_content(db, user_id, content_id)
    where = ContentEvent.content_id == content_id
    total = await db.scalar(select(func.count()).select_from(ContentEvent).where(where)) or 0
    rows = await db.scalars(
        select(ContentEvent)
        .where(where)
        .order_by(ContentEvent.created_at, ContentEvent.id)
        .limit(limit)
        .offset(offset)
    )
    return [
        EventRead(
            action=e.action,
            from_status=e.from_status,
            to_status=e.to_status,
            actor_id=e.actor_id,
            actor_email=e.actor_email,
            review_round=e.review_round,
            comment=e.comment,
            created_at=e.created_at,
        )
        for e in rows.all()
    ], total


async def reopen(db: AsyncSession, user_id: UUID, content_id: UUID, comment: str | None) -> Content:
    """Back to draft: withdraw from review, un-approve, or start over after a rejection."""
    row = await get_content(db, user_id, content_id, lock=True)
    move(db, row, DRAFT, action="reopened", actor_id=user_id, comment=comment)
    await db.flush()
    return row


# --------------------------------------------------------------------------- workflows


def workflow_read(row: Workflow) -> WorkflowRead:
    return WorkflowRead(
        id=row.id,
        name=row.name,
        required_approvals=row.required_approvals,
        approvers=[ApproverRead(user_id=a.user_id, email=a.email) for a in row.approvers],
        created_at=row.created_at,
    )


async def _approvers(
    db: AsyncSession, owner_id: UUID, emails: Iterable[str], required: int
) -> dict[str, User]:
    """The accounts behind the emails, refusing unknown ones, the owner, or more approvals than approvers."""
    wanted = sorted({e.strip().lower() for e in emails})
    users = {u.email: u for u in (await db.scalars(select(User).where(User.email.in_(wanted)))).all()}
    unknown = [e for e in wanted if e not in users]
    if unknown:
        raise ValidationFailed(details={"approver_emails": f"No account for: {', '.join(unknown)}"})
    if any(u.id == owner_id for u in users.values()):
        raise ValidationFailed(details={"approver_emails": "You cannot approve your own content"})
    if required > len(wanted):
        raise ValidationFailed(
            details={"required_approvals": f"Needs {required} approvals but names {len(wanted)} approvers"}
        )
    return users


async def _name_free(db: AsyncSession, owner_id: UUID, name: str, but: UUID | None = None) -> None:
    statement = select(Workflow.id).where(Workflow.owner_id == owner_id, Workflow.name == name)
    if but is not None:
        statement = statement.where(Workflow.id != but)
    if await db.scalar(statement):
        raise Conflict(f"You already have a workflow named {name!r}", details={"name": "already used"})


async def create_workflow(db: AsyncSession, owner_id: UUID, data: WorkflowCreate) -> Workflow:
    users = await _approvers(db, owner_id, data.approver_emails, data.required_approvals)
    await _name_free(db, owner_id, data.name)
    row = Workflow(
        owner_id=owner_id,
        name=data.name,
        required_approvals=data.required_approvals,
        approvers=[WorkflowApprover(user_id=u.id, email=e) for e, u in sorted(users.items())],
    )
    db.add(row)
    await db.flush()
    return row


async def _in_review(db: AsyncSession, workflow_id: UUID) -> int:
    return (
        await db.scalar(
            select(func.count())
            .select_from(Content)
            .where(Content.workflow_id == workflow_id, Content.status == IN_REVIEW)
        )
        or 0
    )


async def update_workflow(
    db: AsyncSession, owner_id: UUID, workflow_id: UUID, data: WorkflowUpdate
) -> Workflow:
    """Rename any time; approvers and approvals needed only while nothing is in review with it (the rules
    of a running review do not change under it)."""
    row = await get_workflow(db, owner_id, workflow_id)
    if isinstance(data.name, str):
        await _name_free(db, owner_id, data.name, but=row.id)
        row.name = data.name
    emails = (
        data.approver_emails if isinstance(data.approver_emails, list) else [a.email for a in row.approvers]
    )
    required = data.required_approvals if isinstance(data.required_approvals, int) else row.required_approvals
    if not isinstance(data.approver_emails, list) and not isinstance(data.required_approvals, int):
        await db.flush()
        return row
    busy = await _in_review(db, row.id)
    if busy:
        raise Conflict(
            f"{busy} content item(s) are in review with this workflow; decide or withdraw them first"
        )
    users = await _approvers(db, owner_id, emails, required)
    current = {a.email: a for a in row.approvers}
    row.approvers = [
        current.get(e) or WorkflowApprover(user_id=u.id, email=e) for e, u in sorted(users.items())
    ]
    row.required_approvals = required
    await db.flush()
    return row


async def get_workflow(db: AsyncSession, owner_id: UUID, workflow_id: UUID) -> Workflow:
    row = await db.scalar(
        select(Workflow)
        .where(Workflow.id == workflow_id, Workflow.owner_id == owner_id)
        .options(selectinload(Workflow.approvers))
    )
    if row is None:
        raise NotFound("Workflow not found")
    return row


async def list_workflows(
    db: AsyncSession, owner_id: UUID, *, limit: int, offset: int
) -> tuple[Sequence[Workflow], int]:
    where = Workflow.owner_id == owner_id
    total = await db.scalar(select(func.count()).select_from(Workflow).where(where)) or 0
    rows = await db.scalars(
        select(Workflow)
        .where(where)
        .options(selectinload(Workflow.approvers))
        .order_by(Workflow.created_at.desc(), Workflow.id)
        .limit(limit)
        .offset(offset)
    )
    return rows.all(), total


async def delete_workflow(db: AsyncSession, owner_id: UUID, workflow_id: UUID) -> None:
    row = await get_workflow(db, owner_id, workflow_id)
    busy = await db.scalar(
        select(func.count())
        .select_from(Content)
        .where(Content.workflow_id == row.id, Content.status == IN_REVIEW)
    )
    if busy:
        raise Conflict(
            f"{busy} content item(s) are in review with this workflow; decide or withdraw them first"
        )
    await db.delete(row)
    await db.flush()


async def submit(
    db: AsyncSession, user_id: UUID, content_id: UUID, workflow_id: UUID, comment: str | None
) -> Content:
    row = await get_content(db, user_id, content_id, lock=True)
    workflow = await db.scalar(
        select(Workflow).where(Workflow.id == workflow_id, Workflow.owner_id == user_id)
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
    conditions = [Content.status == IN_REVIEW, _reviewer_of(user_id), ~_decided_this_round(user_id)]
    total = await db.scalar(select(func.count()).select_from(Content).where(*conditions)) or 0
    rows = (
        await db.scalars(
            select(Content)
            .where(*conditions)
            .options(selectinload(Content.tags), selectinload(Content.workflow))
            .order_by(Content.updated_at, Content.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
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
        .where(Content.id == content_id, _reviewer_of(user_id))
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
    if decision == "reject":
        if not comment:
            raise ValidationFailed(details={"comment": "Say why when rejecting, so the author can fix it"})
        move(db, row, REJECTED, action="rejected", actor_id=user_id, actor_email=email, comment=comment)
        await db.flush()
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
    return _review_read(row, approvals, "approved")
