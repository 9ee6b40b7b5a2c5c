"""Writing routes: generate drafts in your voice, and rewrite a draft."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import post
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.segmint import networks, services, writer
from keel.apps.segmint.routes.common import WRITE_ERRORS, WRITING_ERRORS, SegmintController
from keel.apps.segmint.schemas import (
    GeneratedDraft,
    GenerateRequest,
    GenerateResult,
    RewriteRequest,
    RewriteResult,
)
from keel.apps.segmint.teams import Seat
from keel.core.envelope import Envelope, ok
from keel.core.llm import LanguageModel


def _draft(row: Any, variant: writer.Variant, score: int) -> GeneratedDraft:
    return GeneratedDraft(
        platform=variant.platform,
        length=networks.length(variant.text, variant.platform),
        limit=networks.LIMITS.get(variant.platform),
        score=score,
        content=services.content_read(row),
    )


class WritingController(SegmintController):
    path = "/content"

    @post(
        "/generate",
        status_code=201,
        opt={"rate_limit": "30/minute"},  # a model costs money per call
        summary="Write drafts in your voice, one per platform, within each network's limit",
        description="Uses the language model when AI_BASE_URL is set, else the local engine (extractive and "
        "template composition from your own content); `engine` says which. Each draft is content version 1.",
        responses=WRITING_ERRORS,
    )
    async def generate_content(
        self, db_session: AsyncSession, seat: Seat, data: GenerateRequest, llm: LanguageModel | None
    ) -> Envelope[GenerateResult]:
        result = await writer.generate(db_session, llm, seat, data)
        return ok(GenerateResult(engine=result.engine, drafts=[_draft(*d) for d in result.drafts]))

    @post(
        "/{content_id:uuid}/rewrite",
        status_code=200,
        opt={"rate_limit": "30/minute"},
        summary="Rewrite a draft: shorter, longer, another tone, another platform, fix grammar "
        "(a new version)",
        responses={**WRITING_ERRORS, **WRITE_ERRORS},
    )
    async def rewrite_content(
        self,
        db_session: AsyncSession,
        seat: Seat,
        content_id: UUID,
        data: RewriteRequest,
        llm: LanguageModel | None,
    ) -> Envelope[RewriteResult]:
        row, engine, score = await writer.rewrite(db_session, llm, seat, content_id, data)
        return ok(RewriteResult(engine=engine, score=score, content=services.content_read(row)))
