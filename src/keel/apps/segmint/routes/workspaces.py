"""Workspace routes: your workspaces, members and roles, invitations by email and accepting them.

The workspace acted on is the `X-Workspace` header, like every other segmint route."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, delete, get, patch, post
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.segmint import media_store
from keel.apps.segmint.models import Workspace
from keel.apps.segmint.routes.common import WRITE_ERRORS, SegmintController, app_settings
from keel.apps.segmint.teams import Seat, workspaces
from keel.apps.segmint.teams.roles import ROLE_NAMES
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.storage import Storage
from keel.identity import Principal

RoleName = Annotated[str, msgspec.Meta(pattern="^(" + "|".join(ROLE_NAMES) + ")$")]


class WorkspaceCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class WorkspaceRename(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"\S")]


class WorkspaceRead(msgspec.Struct, kw_only=True):
    id: UUID
    name: str
    personal: bool
    my_role: str
    created_at: datetime


class MemberRead(msgspec.Struct, kw_only=True):
    user_id: UUID
    role: str
    joined_at: datetime


class RoleChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    role: RoleName


class InvitationCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
    role: RoleName = "editor"


class InvitationRead(msgspec.Struct, kw_only=True):
    id: UUID
    email: str
    role: str
    status: str
    expires_at: datetime


class InvitationAccept(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(min_length=10, max_length=200)]


def _workspace(row: Workspace, role: str) -> WorkspaceRead:
    return WorkspaceRead(
        id=row.id, name=row.name, personal=row.personal, my_role=role, created_at=row.created_at
    )


def _invitation(row: Any) -> InvitationRead:
    return InvitationRead(
        id=row.id, email=row.email, role=row.role, status=row.status, expires_at=row.expires_at
    )


class WorkspaceController(SegmintController):
    path = "/workspaces"

    @post(status_code=201, summary="Create a workspace (you are its owner)", responses=WRITE_ERRORS)
    async def create_workspace(
        self, db_session: AsyncSession, principal: Principal, data: WorkspaceCreate
    ) -> Envelope[WorkspaceRead]:
        row, role = await workspaces.create(db_session, principal, data.name)
        return ok(_workspace(row, role))

    @get(summary="Workspaces you belong to, with your role (your personal one first)")
    async def list_workspaces(
        self,
        db_session: AsyncSession,
        seat: Seat,
        principal: Principal,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[WorkspaceRead]:
        rows, total = await workspaces.mine(db_session, principal.user_id, limit=limit, offset=offset)
        return page([_workspace(w, r) for w, r in rows], total=total, limit=limit, offset=offset)

    @patch(
        "/current",
        summary="Rename the X-Workspace workspace (owner)",
        responses=WRITE_ERRORS,
    )
    async def rename_workspace(
        self, db_session: AsyncSession, seat: Seat, data: WorkspaceRename
    ) -> Envelope[WorkspaceRead]:
        return ok(_workspace(await workspaces.rename(db_session, seat, data.name), seat.role))

    @delete(
        "/current",
        status_code=204,
        summary="Delete the X-Workspace workspace and everything in it (owner; not your personal one)",
        responses=WRITE_ERRORS,
    )
    async def delete_workspace(self, db_session: AsyncSession, seat: Seat, storage: Storage) -> None:
        keys = await workspaces.delete_workspace(db_session, seat)
        media_store.discard_after_commit(db_session, storage, keys)  # its images leave storage after commit

    @get("/current/members", summary="Members of the X-Workspace workspace and their roles")
    async def list_members(
        self, db_session: AsyncSession, seat: Seat, limit: Limit = 20, offset: Offset = 0
    ) -> Page[MemberRead]:
        rows, total = await workspaces.members(db_session, seat, limit=limit, offset=offset)
        items = [MemberRead(user_id=m.user_id, role=m.role, joined_at=m.created_at) for m in rows]
        return page(items, total=total, limit=limit, offset=offset)

    @patch("/current/members/{user_id:uuid}", summary="Change a member's role", responses=WRITE_ERRORS)
    async def change_member_role(
        self, db_session: AsyncSession, seat: Seat, user_id: UUID, data: RoleChange
    ) -> Envelope[MemberRead]:
        m = await workspaces.change_role(db_session, seat, user_id, data.role)
        return ok(MemberRead(user_id=m.user_id, role=m.role, joined_at=m.created_at))

    @delete(
        "/current/members/{user_id:uuid}",
        status_code=204,
        summary="Remove a member (owner/admin), or leave (your own id); a workspace keeps one owner",
        responses=WRITE_ERRORS,
    )
    async def remove_member(self, db_session: AsyncSession, seat: Seat, user_id: UUID) -> None:
        await workspaces.remove_member(db_session, seat, user_id)

    @get(
        "/current/invitations",
        summary="Pending invitations of the X-Workspace workspace (owner/admin), newest first",
        responses=WRITE_ERRORS,
    )
    async def list_invitations(
        self, db_session: AsyncSession, seat: Seat, limit: Limit = 20, offset: Offset = 0
    ) -> Page[InvitationRead]:
        rows, total = await workspaces.invitations(db_session, seat, limit=limit, offset=offset)
        return page([_invitation(r) for r in rows], total=total, limit=limit, offset=offset)

    @post(
        "/current/invitations",
        status_code=201,
        summary="Invite someone by email (they get a link; valid 7 days)",
        responses=WRITE_ERRORS,
        opt={"rate_limit": "30/minute"},
    )
    async def invite_member(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, seat: Seat, data: InvitationCreate
    ) -> Envelope[InvitationRead]:
        settings = app_settings(request)
        row, token = await workspaces.invite(db_session, settings, seat, data.email, data.role)
        workspace = await db_session.get(Workspace, seat.workspace_id)
        await db_session.commit()  # the mail must never name an invitation that was not stored
        await workspaces.send_invitation(
            settings, workspace.name if workspace else "", row, token, seat.email
        )
        return ok(_invitation(row))

    @delete(
        "/current/invitations/{invitation_id:uuid}",
        status_code=204,
        summary="Revoke a pending invitation",
        responses=WRITE_ERRORS,
    )
    async def revoke_invitation(self, db_session: AsyncSession, seat: Seat, invitation_id: UUID) -> None:
        await workspaces.revoke(db_session, seat, invitation_id)

    @post(
        "/invitations/accept",
        status_code=200,
        summary="Accept an invitation (logged in as the invited address)",
        responses=WRITE_ERRORS,
    )
    async def accept_invitation(
        self, db_session: AsyncSession, principal: Principal, data: InvitationAccept
    ) -> Envelope[WorkspaceRead]:
        row, role = await workspaces.accept(db_session, principal, data.token)
        return ok(_workspace(row, role))
