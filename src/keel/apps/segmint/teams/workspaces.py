"""Creating, renaming and deleting workspaces; inviting members by email, accepting, listing and revoking
invitations; listing members, changing their roles and removing them."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import delete as sa_delete
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.segmint.models import Invitation, Workspace, WorkspaceMember
from keel.apps.segmint.paging import paged
from keel.apps.segmint.teams import roles
from keel.apps.segmint.teams.seat import Seat
from keel.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from keel.identity import Mailer, Principal

INVITATION_TTL = timedelta(days=7)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create(db: AsyncSession, principal: Principal, name: str) -> tuple[Workspace, str]:
    row = Workspace(name=name.strip(), personal=False, created_by=principal.user_id)
    db.add(row)
    await db.flush()
    db.add(WorkspaceMember(workspace_id=row.id, user_id=principal.user_id, role=roles.OWNER))
    await db.flush()
    return row, roles.OWNER


async def mine(db: AsyncSession, user_id: UUID, *, limit: int, offset: int) -> tuple[list[Any], int]:
    query = select(Workspace, WorkspaceMember.role).join(
        WorkspaceMember, WorkspaceMember.workspace_id == Workspace.id
    )
    order = (Workspace.personal.desc(), Workspace.created_at, Workspace.id)
    conditions = [WorkspaceMember.user_id == user_id]
    return await paged(
        db, WorkspaceMember, conditions, query, order_by=order, limit=limit, offset=offset, tuples=True
    )


async def members(db: AsyncSession, seat: Seat, *, limit: int, offset: int) -> tuple[list[Any], int]:
    conditions = [WorkspaceMember.workspace_id == seat.workspace_id]
    order = (WorkspaceMember.created_at,)
    return await paged(
        db, WorkspaceMember, conditions, select(WorkspaceMember), order_by=order, limit=limit, offset=offset
    )


async def invite(
    db: AsyncSession, settings: Any, seat: Seat, email: str, role: str
) -> tuple[Invitation, str]:
    seat.require(roles.MANAGE_MEMBERS, "invite members")
    if seat.personal:
        raise Conflict("A personal workspace is yours alone; create a workspace to work with others")
    if role not in roles.ROLE_NAMES:
        raise ValidationFailed(details={"role": f"One of: {', '.join(roles.ROLE_NAMES)}"})
    if roles.rank(role) < roles.rank(seat.role):
        raise Forbidden(f"Your role ({seat.role}) cannot grant the role {role!r}")
    address = email.strip().lower()
    for old in await db.scalars(
        select(Invitation).where(
            Invitation.workspace_id == seat.workspace_id,
            Invitation.email == address,
            Invitation.status == "pending",
        )
    ):
        old.status = "revoked"  # a new invitation replaces a pending one (a resend)
    token = secrets.token_urlsafe(32)
    row = Invitation(
        workspace_id=seat.workspace_id,
        email=address,
        role=role,
        token_hash=_hash(token),
        invited_by=seat.user_id,
        status="pending",
        expires_at=datetime.now(UTC) + INVITATION_TTL,
    )
    db.add(row)
    await db.flush()
    return row, token


async def send_invitation(settings: Any, workspace_name: str, row: Invitation, token: str, by: str) -> None:
    link = f"{settings.frontend_url.rstrip('/')}/segmint/invitations/accept?token={token}"
    body = (
        f"{by} invited you to the segmint workspace {workspace_name!r} as {row.role}.\n\n"
        f"Accept (logged in as {row.email}) before {row.expires_at:%Y-%m-%d %H:%M} UTC:\n{link}\n"
    )
    await Mailer(settings).send(row.email, f"[segmint] Join {workspace_name}", body)


async def revoke(db: AsyncSession, seat: Seat, invitation_id: UUID) -> Invitation:
    seat.require(roles.MANAGE_MEMBERS, "revoke invitations")
    row = await db.scalar(
        select(Invitation).where(Invitation.id == invitation_id, Invitation.workspace_id == seat.workspace_id)
    )
    if row is None:
        raise NotFound("Invitation not found")
    if row.status != "pending":
        raise Conflict(f"This invitation is {row.status}", details={"status": row.status})
    row.status = "revoked"
    await db.flush()
    return row


async def accept(db: AsyncSession, principal: Principal, token: str) -> tuple[Workspace, str]:
    row = await db.scalar(select(Invitation).where(Invitation.token_hash == _hash(token)).with_for_update())
    if row is None or row.status == "revoked":
        raise NotFound("Invitation not found (it may have been revoked)")
    if row.status != "pending":
        raise Conflict(f"This invitation was already {row.status}", details={"status": row.status})
    if row.expires_at < datetime.now(UTC):
        raise Conflict("This invitation has expired; ask for a new one", details={"status": "expired"})
    if row.email != principal.email.strip().lower():
        raise Forbidden("This invitation is for another address; log in as the address it was sent to")
    workspace = await db.get(Workspace, row.workspace_id)
    assert workspace is not None
    existing = await db.scalar(
        select(WorkspaceMember).where(
            WorkspaceMember.workspace_id == row.workspace_id, WorkspaceMember.user_id == principal.user_id
        )
    )
    role = row.role
    if existing is None:
        db.add(WorkspaceMember(workspace_id=row.workspace_id, user_id=principal.user_id, role=role))
    else:
        role = existing.role  # already a member: keep the role they have
    row.status, row.accepted_by = "accepted", principal.user_id
    await db.flush()
    return workspace, role


async def change_role(db: AsyncSession, seat: Seat, user_id: UUID, role: str) -> WorkspaceMember:
    seat.require(roles.MANAGE_MEMBERS, "change roles")
    if role not in roles.ROLE_NAMES:
        raise ValidationFailed(details={"role": f"One of: {', '.join(roles.ROLE_NAMES)}"})
    row = await db.scalar(
        select(WorkspaceMember).where(
            WorkspaceMember.workspace_id == seat.workspace_id, WorkspaceMember.user_id == user_id
        )
    )
    if row is None:
        raise NotFound("Member not found")
    if min(roles.rank(role), roles.rank(row.role)) < roles.rank(seat.role):
        raise Forbidden(f"Your role ({seat.role}) cannot change an {row.role} or grant {role}")
    if row.role == roles.OWNER and role != roles.OWNER:
        owners = await db.scalar(
            select(func.count())
            .select_from(WorkspaceMember)
            .where(WorkspaceMember.workspace_id == seat.workspace_id, WorkspaceMember.role == roles.OWNER)
        )
        if (owners or 0) <= 1:
            raise Conflict("A workspace keeps at least one owner")
    row.role = role
    await db.flush()
    return row


async def rename(db: AsyncSession, seat: Seat, name: str) -> Workspace:
    seat.require(roles.MANAGE_WORKSPACE, "rename the workspace")
    row = await db.get(Workspace, seat.workspace_id)
    if row is None:
        raise NotFound("Workspace not found")
    row.name = name.strip()
    await db.flush()
    return row


async def delete_workspace(db: AsyncSession, seat: Seat) -> list[str]:
    """Owners only; everything in it goes too (content, workflows, integrations, schedules, ideas, media
    rows...: the database cascades). The personal workspace stays (409). Returns the storage keys of its
    media, for the caller to delete after the commit."""
    from keel.apps.segmint.media_store import keys_of_workspace

    seat.require(roles.MANAGE_WORKSPACE, "delete the workspace")
    if seat.personal:
        raise Conflict("Your personal workspace cannot be deleted", details={"workspace": "personal"})
    keys = await keys_of_workspace(db, seat.workspace_id)
    await db.execute(sa_delete(Workspace).where(Workspace.id == seat.workspace_id))
    return keys


async def remove_member(db: AsyncSession, seat: Seat, user_id: UUID) -> None:
    """Owners and admins remove members (an admin not an owner); anyone may leave; one owner stays."""
    if user_id != seat.user_id:
        seat.require(roles.MANAGE_MEMBERS, "remove members")
    row = await db.scalar(
        select(WorkspaceMember).where(
            WorkspaceMember.workspace_id == seat.workspace_id, WorkspaceMember.user_id == user_id
        )
    )
    if row is None:
        raise NotFound("Member not found")
    if seat.personal:
        raise Conflict("A personal workspace keeps its owner")
    if user_id != seat.user_id and roles.rank(row.role) < roles.rank(seat.role):
        raise Forbidden(f"Your role ({seat.role}) cannot remove an {row.role}")
    if row.role == roles.OWNER:
        owners = await db.scalar(
            select(func.count())
            .select_from(WorkspaceMember)
            .where(WorkspaceMember.workspace_id == seat.workspace_id, WorkspaceMember.role == roles.OWNER)
        )
        if (owners or 0) <= 1:
            raise Conflict("A workspace keeps at least one owner; make someone else owner first")
    await db.delete(row)
    await db.flush()


async def invitations(db: AsyncSession, seat: Seat, *, limit: int, offset: int) -> tuple[list[Any], int]:
    """Pending invitations that can still be accepted, newest first."""
    seat.require(roles.MANAGE_MEMBERS, "see invitations")
    conditions = [
        Invitation.workspace_id == seat.workspace_id,
        Invitation.status == "pending",
        Invitation.expires_at > datetime.now(UTC),
    ]
    order = (Invitation.created_at.desc(), Invitation.id)
    return await paged(
        db, Invitation, conditions, select(Invitation), order_by=order, limit=limit, offset=offset
    )
