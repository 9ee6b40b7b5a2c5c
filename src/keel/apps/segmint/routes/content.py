"""Content routes: create, list, read, change, delete, versions and restore, history, submit and reopen."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Request, delete, get, patch, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.segmint import media_store, services
from keel.apps.segmint.routes.common import (
    READ_ERRORS,
    WRITE_ERRORS,
    SegmintController,
    VersionNumber,
)
from keel.apps.segmint.schemas import (
    CommentBody,
    ContentCreate,
    ContentRead,
    ContentStatus,
    ContentUpdate,
    EventRead,
    SubmitBody,
    Tone,
    VersionRead,
)
from keel.apps.segmint.teams import Seat, WorkspaceHeader
from keel.core.db import reader_of, session_of
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.errors import ValidationFailed, error_responses
from keel.core.mapping import to_reads
from keel.core.storage import Storage
from keel.identity import authenticate_connection


class ContentController(SegmintController):
    path = "/content"

    @post(status_code=201, summary="Create content (a draft, version 1)", responses=WRITE_ERRORS)
    async def create_content(
        self, db_session: AsyncSession, seat: Seat, data: ContentCreate
    ) -> Envelope[ContentRead]:
        return ok(services.draft_read(*await services.insert_draft(db_session, seat, data)))

    @get(
        summary="Your content, paginated",
        description="Search `q` in title and text; filter by status, tone, tag; sort by created_at, "
        "updated_at, title, status, tone, published_at (prefix - for descending; default -created_at).",
        responses=error_responses(ValidationFailed),
    )
    async def list_content(
        self,
        request: Request[Any, Any, Any],
        workspace: WorkspaceHeader = None,
        limit: Limit = 20,
        offset: Offset = 0,
        q: Annotated[str | None, Parameter(max_length=100)] = None,
        status: ContentStatus | None = None,
        tone: Tone | None = None,
        tag: Annotated[str | None, Parameter(max_length=50)] = None,
        sort: Annotated[str, Parameter(max_length=100)] = "-created_at",
    ) -> Page[ContentRead]:
        # a hot list: no dependency and no session (the page's statement checks the membership itself)
        principal = await authenticate_connection(request)
        rows, total = await services.list_content(
            reader_of(request),
            lambda: session_of(request),
            principal,
            workspace,
            limit=limit,
            offset=offset,
            q=q,
            status=status,
            tone=tone,
            tag=tag,
            sort=sort,
        )
        return page(to_reads(rows, ContentRead), total=total, limit=limit, offset=offset)

    @get(
        "/{content_id:uuid}",
        summary="One content (owner, or an approver of its workflow)",
        responses=READ_ERRORS,
    )
    async def get_content(
        self, db_session: AsyncSession, seat: Seat, content_id: UUID
    ) -> Envelope[ContentRead]:
        row = await services.get_content(db_session, seat, content_id, write=False)
        return ok(services.content_read(row))

    @patch(
        "/{content_id:uuid}",
        summary="Change content (drafts; rejected content becomes a draft again). "
        "Text changes make a version",
        responses=WRITE_ERRORS,
    )
    async def update_content(
        self, db_session: AsyncSession, seat: Seat, content_id: UUID, data: ContentUpdate
    ) -> Envelope[ContentRead]:
        row = await services.update_content(db_session, seat, content_id, data)
        return ok(services.content_read(row))

    @delete("/{content_id:uuid}", status_code=204, summary="Delete content", responses=WRITE_ERRORS)
    async def delete_content(
        self, db_session: AsyncSession, seat: Seat, storage: Storage, content_id: UUID
    ) -> None:
        keys = await services.delete_content(db_session, seat, content_id)
        media_store.discard_after_commit(db_session, storage, keys)  # its images leave storage after commit

    @get("/{content_id:uuid}/versions", summary="Versions, newest first", responses=WRITE_ERRORS)
    async def list_versions(
        self,
        db_session: AsyncSession,
        seat: Seat,
        content_id: UUID,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[VersionRead]:
        rows, total = await services.list_versions(db_session, seat, content_id, limit=limit, offset=offset)
        return page([services.version_read(r) for r in rows], total=total, limit=limit, offset=offset)

    @post(
        "/{content_id:uuid}/versions/{number:int}/restore",
        status_code=200,
        summary="Restore an older version (as a new version)",
        responses=WRITE_ERRORS,
    )
    async def restore_version(
        self, db_session: AsyncSession, seat: Seat, content_id: UUID, number: VersionNumber
    ) -> Envelope[ContentRead]:
        row = await services.restore_version(db_session, seat, content_id, number)
        return ok(services.content_read(row))

    @get(
        "/{content_id:uuid}/history",
        summary="Audit trail: every status change and review decision",
        responses=WRITE_ERRORS,
    )
    async def content_history(
        self,
        db_session: AsyncSession,
        seat: Seat,
        content_id: UUID,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[EventRead]:
        rows, total = await services.history(db_session, seat, content_id, limit=limit, offset=offset)
        return page(rows, total=total, limit=limit, offset=offset)

    @post(
        "/{content_id:uuid}/submit",
        status_code=200,
        summary="Submit a draft for approval with one of your workflows (draft → in_review)",
        responses=WRITE_ERRORS,
    )
    async def submit_content(
        self, db_session: AsyncSession, seat: Seat, content_id: UUID, data: SubmitBody
    ) -> Envelope[ContentRead]:
        row = await services.submit(db_session, seat, content_id, data.workflow_id, data.comment)
        return ok(services.content_read(row))

    @post(
        "/{content_id:uuid}/reopen",
        status_code=200,
        summary="Back to draft (withdraw from review, un-approve, or after a rejection)",
        responses=WRITE_ERRORS,
    )
    async def reopen_content(
        self,
        db_session: AsyncSession,
        seat: Seat,
        content_id: UUID,
        data: CommentBody | None = None,
    ) -> Envelope[ContentRead]:
        row = await services.reopen(db_session, seat, content_id, data.comment if data else None)
        return ok(services.content_read(row))
