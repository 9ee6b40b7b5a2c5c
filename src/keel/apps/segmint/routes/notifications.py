"""Notification routes: yours, with read state; mark read; email preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, get, post, put
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.segmint import notifications
from keel.apps.segmint.routes.common import READ_ERRORS, SECURITY, TAG, WRITE_ERRORS
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.identity import Principal

Kind = Literal["submitted", "approved", "rejected", "published", "failed"]


class NotificationRead(msgspec.Struct, kw_only=True):
    id: UUID
    kind: str
    title: str
    body: str
    content_id: UUID | None
    workspace_id: UUID | None
    read: bool
    created_at: datetime


class Preferences(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Annotated[list[Kind], msgspec.Meta(max_length=5)]


class ReadAll(msgspec.Struct, kw_only=True):
    marked: int


def _read(row: notifications.Notification) -> NotificationRead:
    return NotificationRead(
        id=row.id,
        kind=row.kind,
        title=row.title,
        body=row.body,
        content_id=row.content_id,
        workspace_id=row.workspace_id,
        read=row.read_at is not None,
        created_at=row.created_at,
    )


class NotificationController(Controller):
    path = "/notifications"
    tags = TAG
    security = SECURITY

    @get(summary="Your notifications, newest first (unread=true for the unread ones)")
    async def list_notifications(
        self,
        db_session: AsyncSession,
        principal: Principal,
        limit: Limit = 20,
        offset: Offset = 0,
        unread: bool | None = None,
    ) -> Page[NotificationRead]:
        rows, total, _ = await notifications.list_mine(
            db_session, principal.user_id, unread=unread, limit=limit, offset=offset
        )
        return page([_read(r) for r in rows], total=total, limit=limit, offset=offset)

    @post("/{notification_id:uuid}/read", status_code=200, summary="Mark one read", responses=READ_ERRORS)
    async def mark_notification_read(
        self, db_session: AsyncSession, principal: Principal, notification_id: UUID
    ) -> Envelope[NotificationRead]:
        return ok(_read(await notifications.mark_read(db_session, principal.user_id, notification_id)))

    @post("/read-all", status_code=200, summary="Mark all read")
    async def mark_all_notifications_read(
        self, db_session: AsyncSession, principal: Principal
    ) -> Envelope[ReadAll]:
        return ok(ReadAll(marked=await notifications.mark_all_read(db_session, principal.user_id)))

    @get("/preferences", summary="Which notification kinds you also get by email")
    async def get_notification_preferences(
        self, db_session: AsyncSession, principal: Principal
    ) -> Envelope[Preferences]:
        return ok(Preferences(email=await notifications.email_kinds(db_session, principal.user_id)))  # type: ignore[arg-type]

    @put("/preferences", summary="Choose the kinds you also get by email", responses=WRITE_ERRORS)
    async def set_notification_preferences(
        self, db_session: AsyncSession, principal: Principal, data: Preferences
    ) -> Envelope[Preferences]:
        kinds = await notifications.set_email_kinds(db_session, principal.user_id, data.email)
        return ok(Preferences(email=kinds))  # type: ignore[arg-type]
