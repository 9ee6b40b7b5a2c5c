"""scribe routes: a transcript's summary and translations (through the platform's language model),
exports in every format (with the summary, or as a translation), and the engines."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.params import Parameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.scribe import services
from keel.apps.scribe.exports import EXPORT_FORMATS, EXPORT_MEDIA_TYPES
from keel.apps.scribe.routes.common import settings_of
from keel.apps.scribe.schemas import EngineRead, SummaryRead, TranslationCreate, TranslationRead
from keel.apps.scribe.services import insights
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.errors import Conflict, NotFound, ValidationFailed, error_responses
from keel.core.llm import (
    LanguageModel,
    ModelBadOutput,
    ModelRequestRejected,
    ModelUnavailable,
    TokenQuotaExceeded,
)
from keel.core.storage import binary_operation, content_disposition
from keel.identity import Principal

MODEL_ERRORS = error_responses(
    NotFound, Conflict, ModelUnavailable, ModelBadOutput, ModelRequestRejected, TokenQuotaExceeded
)
BASE = "/transcriptions/{transcription_id:uuid}"
TranslationLanguage = Annotated[str, Parameter(pattern=r"^[a-z]{2,3}$")]


@post(
    f"{BASE}/summary",
    status_code=201,
    responses=MODEL_ERRORS,
    summary="Summarise the transcript (the language model; without one, its key sentences, engine "
    "`extractive`) and store the summary",
)
async def create_summary(
    db_session: AsyncSession, principal: Principal, transcription_id: UUID, llm: LanguageModel | None
) -> Envelope[SummaryRead]:
    summary, row = await insights.summarise(db_session, llm, principal.user_id, transcription_id)
    return ok(insights.summary_read(summary, row))


@get(f"{BASE}/summary", responses=error_responses(NotFound), summary="The summary")
async def get_summary(
    db_session: AsyncSession, principal: Principal, transcription_id: UUID
) -> Envelope[SummaryRead]:
    summary, row = await insights.get_summary(db_session, principal.user_id, transcription_id)
    return ok(insights.summary_read(summary, row))


@post(
    f"{BASE}/translations",
    status_code=201,
    responses={**MODEL_ERRORS, **error_responses(ValidationFailed)},
    summary="Translate the transcript segment by segment and store it (needs a language model: 503 "
    "MODEL_UNAVAILABLE with Retry-After without one)",
)
async def create_translation(
    db_session: AsyncSession,
    principal: Principal,
    transcription_id: UUID,
    data: TranslationCreate,
    llm: LanguageModel | None,
) -> Envelope[TranslationRead]:
    translation, row = await insights.translate(
        db_session, llm, principal.user_id, transcription_id, data.language
    )
    return ok(insights.translation_read(translation, row))


@get(f"{BASE}/translations", responses=error_responses(NotFound))
async def list_translations(
    db_session: AsyncSession,
    principal: Principal,
    transcription_id: UUID,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Page[TranslationRead]:
    rows, total = await insights.list_translations(
        db_session, principal.user_id, transcription_id, limit, offset
    )
    return page(rows, total=total, limit=limit, offset=offset)


@get(f"{BASE}/translations/{{language:str}}", responses=error_responses(NotFound))
async def get_translation(
    db_session: AsyncSession, principal: Principal, transcription_id: UUID, language: TranslationLanguage
) -> Envelope[TranslationRead]:
    translation, row = await insights.get_translation(
        db_session, principal.user_id, transcription_id, language
    )
    return ok(insights.translation_read(translation, row))


ExportFormat = Annotated[str, QueryParameter(name="format", pattern="^(" + "|".join(EXPORT_FORMATS) + ")$")]


@get(
    "/export/{transcription_id:uuid}",
    responses=error_responses(NotFound, Conflict),
    operation_class=binary_operation(*EXPORT_MEDIA_TYPES),
    summary="Download the (edited) transcript as txt, srt, vtt, json, csv, docx or pdf; the stored summary "
    "comes first (txt, docx, pdf, json); `translation=<language>` exports a stored translation",
)
async def export_transcription(
    db_session: AsyncSession,
    principal: Principal,
    transcription_id: UUID,
    fmt: ExportFormat = "txt",
    timestamps: bool = True,
    speakers: bool = True,
    summary: bool = True,
    translation: Annotated[str | None, QueryParameter(pattern=r"^[a-z]{2,3}$")] = None,
) -> Response[bytes]:
    row = await services.get_transcription(db_session, principal.user_id, transcription_id, segments=True)
    rendered = await services.render_export(
        db_session,
        row,
        fmt,
        timestamps=timestamps,
        speakers=speakers,
        summary=summary,
        translation=translation,
    )
    title = (row.title or "transcript").strip()[:150] or "transcript"
    filename = (
        f"{title}.{translation}.{rendered.extension}" if translation else f"{title}.{rendered.extension}"
    )
    return Response(
        content=rendered.data,
        media_type=rendered.content_type,
        headers={"Content-Disposition": content_disposition(filename)},
    )


@get(
    "/engines",
    summary="Configured engines, their languages (and whether `auto` really detects), model and readiness",
)
async def list_engines(request: Request[Any, Any, Any], principal: Principal) -> Envelope[list[EngineRead]]:
    return ok(await asyncio.to_thread(services.list_engines, settings_of(request)))


route_handlers = [
    create_summary,
    get_summary,
    create_translation,
    list_translations,
    get_translation,
    export_transcription,
    list_engines,
]
