"""Writing routes: generate drafts in your voice (at once, or streamed as server-sent events), and
rewrite a draft."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import msgspec
from litestar import Request, post
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.segmint import drafting, networks, services, writer
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
from keel.core.errors import KeelError
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
        result = await drafting.generate(db_session, llm, seat, data)
        return ok(GenerateResult(engine=result.engine, drafts=[_draft(*d) for d in result.drafts]))

    @post(
        "/generate/stream",
        status_code=200,
        media_type="text/event-stream",
        opt={"rate_limit": "30/minute"},
        summary="Write drafts in your voice and watch them being written (server-sent events)",
        description="The body of /generate. Events: `delta` `{platform, text}` as each draft is written "
        "(a model's tokens, or the local engine's words), then one `draft` per platform (the stored draft, "
        "as /generate answers it), then `done` `{engine, drafts}`. A model that fails before it writes "
        "answers 503 (429 over the token quota) before the stream starts; one that fails mid-way sends "
        "`error` `{error: {code, message}}` and nothing is stored.",
        responses=WRITING_ERRORS,
    )
    async def generate_content_stream(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        seat: Seat,
        data: GenerateRequest,
        llm: LanguageModel | None,
    ) -> ServerSentEvent:
        prepared = await drafting.prepare(db_session, seat, data)  # 403 before anything is sent
        events = drafting.stream(llm, seat, prepared)
        first = await anext(events)  # the model down or over quota: 503/429 before the stream starts
        engine = request.app.state.sa_config.get_engine()
        settings = request.app.state.settings

        def message(event: str, body: Any) -> ServerSentEventMessage:
            return ServerSentEventMessage(event=event, data=msgspec.json.encode(body).decode())

        async def sse() -> AsyncIterator[ServerSentEventMessage]:
            variants: list[writer.Variant] = []
            try:
                item: drafting.Delta | writer.Variant = first
                while True:
                    if isinstance(item, drafting.Delta):
                        yield message("delta", {"platform": item.platform, "text": item.text})
                    else:
                        variants.append(item)
                    try:
                        item = await anext(events)
                    except StopAsyncIteration:
                        break
            except KeelError as exc:  # mid-way: say so; nothing was stored
                yield message("error", {"error": {"code": exc.code, "message": exc.message}})
                return
            async with AsyncSession(engine, expire_on_commit=False) as db, db.begin():
                db.info["segmint_settings"] = settings
                drafts = await drafting.store(db, seat, prepared, variants)
                out = [_draft(*d) for d in drafts]
            for draft in out:
                yield message("draft", draft)
            yield message("done", {"engine": drafting.engine_name(llm), "drafts": len(out)})

        return ServerSentEvent(sse(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

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
        row, engine, score = await drafting.rewrite(db_session, llm, seat, content_id, data)
        return ok(RewriteResult(engine=engine, score=score, content=services.content_read(row)))
