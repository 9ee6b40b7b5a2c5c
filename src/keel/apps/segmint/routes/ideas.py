"""Idea routes: suggest ideas from your own content, list them, turn one into a draft or dismiss it."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import get, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.segmint import ideas as ideas_service
from keel.apps.segmint import services
from keel.apps.segmint.routes.common import SegmintController
from keel.apps.segmint.schemas import ContentRead, IdeaRead, IdeaRequest
from keel.apps.segmint.teams import Seat
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.errors import Conflict, NotFound, ValidationFailed, error_responses
from keel.core.llm import LanguageModel, ModelBadOutput, ModelUnavailable


class IdeaController(SegmintController):
    path = "/ideas"

    @post(
        status_code=201,
        opt={"rate_limit": "30/minute"},  # a remote engine costs money per call
        summary="Suggest ideas from your own content, phrased in a tone",
        responses=error_responses(ValidationFailed, ModelUnavailable, ModelBadOutput),
    )
    async def suggest_ideas(
        self, db_session: AsyncSession, seat: Seat, data: IdeaRequest, llm: LanguageModel | None
    ) -> Envelope[list[IdeaRead]]:
        rows = await ideas_service.suggest(db_session, llm, seat, data)
        return ok([ideas_service.idea_read(r) for r in rows])

    @get(summary="Your ideas, newest first")
    async def list_ideas(
        self,
        db_session: AsyncSession,
        seat: Seat,
        limit: Limit = 20,
        offset: Offset = 0,
        status: Annotated[str | None, Parameter(pattern="^(new|accepted|dismissed)$")] = None,
    ) -> Page[IdeaRead]:
        rows, total = await ideas_service.list_ideas(
            db_session, seat, status=status, limit=limit, offset=offset
        )
        return page([ideas_service.idea_read(r) for r in rows], total=total, limit=limit, offset=offset)

    @post(
        "/{idea_id:uuid}/accept",
        status_code=201,
        summary="Turn an idea into a draft",
        responses=error_responses(NotFound, Conflict),
    )
    async def accept_idea(self, db_session: AsyncSession, seat: Seat, idea_id: UUID) -> Envelope[ContentRead]:
        return ok(services.content_read(await ideas_service.accept(db_session, seat, idea_id)))

    @post(
        "/{idea_id:uuid}/dismiss",
        status_code=200,
        summary="Dismiss an idea",
        responses=error_responses(NotFound, Conflict),
    )
    async def dismiss_idea(self, db_session: AsyncSession, seat: Seat, idea_id: UUID) -> Envelope[IdeaRead]:
        return ok(ideas_service.idea_read(await ideas_service.dismiss(db_session, seat, idea_id)))
