"""Content: workspace-scoped reads, writes, versions, history.

Functions take the caller's `Seat` (workspace, user, role); a bare user id means that user's personal
workspace as its owner (seed data, and callers written before workspaces)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast
from uuid import UUID

import msgspec
from advanced_alchemy.mixins.uuid import uuid7 as _uuid7  # type: ignore[attr-defined]
from sqlalchemy import Table, and_, exists, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from keel.apps.segmint.models import (
    DRAFT,
    REJECTED,
    SCHEDULED,
    Content,
    ContentEvent,
    ContentTag,
    ContentVersion,
    WorkflowApprover,
    Workspace,
    WorkspaceMember,
)
from keel.apps.segmint.paging import paged
from keel.apps.segmint.schemas import (
    ContentCreate,
    ContentRead,
    ContentUpdate,
    EventRead,
    VersionRead,
)
from keel.apps.segmint.services.states import EDITABLE, event_values, move, record
from keel.apps.segmint.teams import Seat, personal_seat
from keel.apps.segmint.teams import roles as team_roles
from keel.core.errors import Conflict, Forbidden, NotFound

# the create path's plain INSERTs, built once (values come as parameters)
_INSERT_CONTENT = insert(cast(Table, Content.__table__))
_INSERT_TAG = insert(cast(Table, ContentTag.__table__))
_INSERT_VERSION = insert(cast(Table, ContentVersion.__table__))
_INSERT_EVENT = insert(cast(Table, ContentEvent.__table__))

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


def as_seat(who: Seat | UUID) -> Seat:
    return who if isinstance(who, Seat) else personal_seat(who)


def reviewer_of(user_id: UUID, approving_roles: Iterable[str]) -> Any:
    """Content submitted to a workflow naming this user as an approver (a draft being reworked is the
    author's business again until it is resubmitted). In a shared workspace the approver must still be a
    member whose role approves; a personal workspace's approvers are whoever its owner named."""
    approves = select(WorkflowApprover.workflow_id).where(WorkflowApprover.user_id == user_id)
    personal = exists().where(Workspace.id == Content.workspace_id, Workspace.personal.is_(True))
    member = Content.workspace_id.in_(
        select(WorkspaceMember.workspace_id).where(
            WorkspaceMember.user_id == user_id, WorkspaceMember.role.in_(list(approving_roles))
        )
    )
    return and_(Content.status != DRAFT, Content.workflow_id.in_(approves), or_(personal, member))


async def reviewing(db: AsyncSession, user_id: UUID) -> Any:
    return reviewer_of(user_id, await team_roles.roles_granting(db, team_roles.APPROVE))


async def get_content(
    db: AsyncSession,
    who: Seat | UUID,
    content_id: UUID,
    *,
    write: bool = True,
    members_only: bool = False,
    lock: bool = False,
) -> Content:
    """Content of the seat's workspace; with write=False (and not members_only) the approvers of its
    workflow may read it too; anyone else: 404. Writing needs `content.write`: an approver or a viewer
    asking to write gets 403 (they can see it, so 404 would be a lie)."""
    seat = as_seat(who)
    visible = or_(Content.workspace_id == seat.workspace_id, await reviewing(db, seat.user_id))
    statement = select(Content).where(Content.id == content_id, visible).options(selectinload(Content.tags))
    if lock:
        statement = statement.with_for_update(of=Content)
    row = (await db.scalars(statement)).one_or_none()
    if row is None:
        raise NotFound("Content not found")
    if row.workspace_id != seat.workspace_id:
        if write or members_only:
            raise Forbidden("Approvers can read this content but only its workspace's editors can change it")
        return row
    if write:
        seat.require(team_roles.WRITE, "change content")
    return row


# --------------------------------------------------------------------------- writing


def default_title(text: str) -> str:
    words = text.split()
    title = " ".join(words[:8])
    return (title[:197] + "...") if len(title) > 200 else (title + ("..." if len(words) > 8 else ""))


def _set_tags(row: Content, tags: Iterable[str]) -> None:
    wanted = sorted({t.lower() for t in tags})
    current = {t.tag: t for t in row.tags}
    row.tags = [current.get(tag) or ContentTag(tag=tag) for tag in wanted]


async def insert_draft(
    db: AsyncSession, who: Seat | UUID, data: ContentCreate, *, event: str = "created"
) -> tuple[dict[str, Any], list[str]]:
    """A draft (version 1) with its tags, its first version and its audit event: four prebuilt Core
    INSERTs, one per table, on the caller's transaction (the id and timestamps are made here, so nothing
    is read back). The unit of work's flush of the draft and its tag was ~1,500 Python calls, most of the
    create's cost, and nothing in the request needs the rows tracked. Returns the draft's columns and
    its tags."""
    seat = as_seat(who)
    seat.require(team_roles.WRITE, "create content")
    owner_id = seat.user_id
    now = datetime.now(UTC)
    content_id = _uuid7()
    title = data.title or default_title(data.text)
    values = {
        "id": content_id,
        "owner_id": owner_id,
        "workspace_id": seat.workspace_id,
        "title": title,
        "text": data.text,
        "tone": data.tone,
        "status": DRAFT,
        "platforms": sorted(set(data.platforms)),
        "version": 1,
        "workflow_id": None,
        "review_round": 0,
        "published_at": None,
        "created_at": now,
        "updated_at": now,
    }
    tags = sorted({t.lower() for t in data.tags})
    # the statements go to the session's connection: the session's ORM execution layer has nothing to
    # add to a plain INSERT (same transaction, same cursor events, so the statement counts see them)
    connection = await db.connection()
    await connection.execute(_INSERT_CONTENT, values)
    if tags:
        await connection.execute(  # one statement for all of them (executemany)
            _INSERT_TAG,
            [
                {"id": _uuid7(), "content_id": content_id, "tag": t, "created_at": now, "updated_at": now}
                for t in tags
            ],
        )
    await connection.execute(
        _INSERT_VERSION,
        {
            "content_id": content_id,
            "number": 1,
            "title": title,
            "text": data.text,
            "tone": data.tone,
            "author_id": owner_id,
        },
    )
    draft = SimpleNamespace(id=content_id, status=DRAFT, review_round=0)  # what event_values reads
    await connection.execute(_INSERT_EVENT, event_values(draft, event, actor_id=owner_id))  # type: ignore[arg-type]
    return values, tags


async def create_content(
    db: AsyncSession, who: Seat | UUID, data: ContentCreate, *, event: str = "created"
) -> Content:
    """`insert_draft`, as a detached `Content` (its tags loaded) for callers that keep working with the
    row; a later read in the same session loads the stored one."""
    values, tags = await insert_draft(db, who, data, event=event)
    row = Content(**values)
    row.tags = [ContentTag(content_id=row.id, tag=tag) for tag in tags]
    return row


def draft_read(values: dict[str, Any], tags: list[str]) -> ContentRead:
    """What `content_read` says of a draft `insert_draft` wrote, from the columns it wrote (the other
    columns among them are ignored)."""
    return msgspec.convert({**values, "tags": tags}, ContentRead)


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


async def update_content(db: AsyncSession, seat: Seat, content_id: UUID, data: ContentUpdate) -> Content:
    row = await get_content(db, seat, content_id, lock=True)
    user_id = seat.user_id
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
    db: AsyncSession, seat: Seat, content_id: UUID, *, limit: int, offset: int
) -> tuple[list[ContentVersion], int]:
    await get_content(db, seat, content_id, write=False, members_only=True)
    conditions = [ContentVersion.content_id == content_id]
    order = (ContentVersion.number.desc(),)
    return await paged(
        db, ContentVersion, conditions, select(ContentVersion), order_by=order, limit=limit, offset=offset
    )


def version_read(row: ContentVersion) -> VersionRead:
    return VersionRead(
        number=row.number,
        title=row.title,
        text=row.text,
        tone=row.tone,
        author_id=row.author_id,
        created_at=row.created_at,
    )


async def restore_version(db: AsyncSession, seat: Seat, content_id: UUID, number: int) -> Content:
    """Bring back an older version's title/text/tone as a NEW version (history is never rewritten)."""
    row = await get_content(db, seat, content_id, lock=True)
    user_id = seat.user_id
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


async def delete_content(db: AsyncSession, seat: Seat, content_id: UUID) -> list[str]:
    """Delete the content (its versions, events and media rows cascade); the storage keys of its media,
    for the caller to delete after the commit."""
    from keel.apps.segmint.media_store import keys_of_content

    row = await get_content(db, seat, content_id, lock=True)
    if row.status == SCHEDULED:
        raise Conflict(
            "Scheduled content cannot be deleted; cancel its schedule first", details={"status": row.status}
        )
    keys = await keys_of_content(db, row.id)
    await db.delete(row)
    await db.flush()
    return keys


async def history(
    db: AsyncSession, seat: Seat, content_id: UUID, *, limit: int, offset: int
) -> tuple[list[EventRead], int]:
    await get_content(db, seat, content_id, write=False, members_only=True)
    order = (ContentEvent.created_at, ContentEvent.id)
    rows, total = await paged(
        db,
        ContentEvent,
        [ContentEvent.content_id == content_id],
        select(ContentEvent),
        order_by=order,
        limit=limit,
        offset=offset,
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
        for e in rows
    ], total


async def reopen(db: AsyncSession, seat: Seat, content_id: UUID, comment: str | None) -> Content:
    """Back to draft: withdraw from review, un-approve, or start over after a rejection."""
    row = await get_content(db, seat, content_id, lock=True)
    move(db, row, DRAFT, action="reopened", actor_id=seat.user_id, comment=comment)
    await db.flush()
    return row
