"""scribe routes: transcriptions queued from an uploaded file, uploaded and queued at once (one file or
a batch), listed, followed (JSON or SSE), cancelled, deleted; the caller's usage and limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, delete, get, post
from litestar.params import Parameter
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.scribe import services, tasks
from keel.apps.scribe.models import FINAL_STATES, Transcription
from keel.apps.scribe.routes.common import (
    FORM_OVERHEAD,
    OPTION_FIELDS,
    UPLOAD_ERRORS,
    enqueue_after_commit,
    form_options,
    queue_after_response,
    settings_of,
    storage_of,
    upload_multipart,
)
from keel.apps.scribe.schemas import TranscriptionCreate, TranscriptionRead, UsageRead
from keel.apps.scribe.services.batch import create_batch
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.errors import BadRequest, Conflict, NotFound, TooManyRequests, Unprocessable, error_responses
from keel.core.realtime import sse_comment
from keel.core.storage import iter_multipart_files
from keel.core.uploads import FieldType, upload_operation
from keel.identity import Principal

BATCH_FIELDS = tuple(f for f in OPTION_FIELDS if f != "title")  # each file is titled with its name
# the form fields of the upload routes, as their OpenAPI request body shows them
UPLOAD_OPTIONS: dict[str, FieldType] = {
    "language": "string",
    "engine": "string",
    "word_timestamps": "boolean",
    "diarize": "boolean",
    "prompt": "string",
    "temperature": "number",
}


@post(
    "/transcriptions",
    status_code=HTTP_202_ACCEPTED,
    after_response=enqueue_after_commit,
    responses=error_responses(NotFound, TooManyRequests, Unprocessable),
    summary="Queue a transcription of an uploaded file",
)
async def create_transcription(
    request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, data: TranscriptionCreate
) -> Envelope[TranscriptionRead]:
    row = await services.create_transcription(db_session, settings_of(request), principal.user_id, data)
    queue_after_response(request, row.id)
    return ok(services.transcription_read(row))


@post(
    "/transcriptions/upload",
    status_code=HTTP_202_ACCEPTED,
    request_max_body_size=None,
    after_response=enqueue_after_commit,
    responses={**UPLOAD_ERRORS, **error_responses(TooManyRequests)},
    operation_class=upload_operation(fields={**UPLOAD_OPTIONS, "title": "string"}),
    summary="Upload and transcribe in one request (multipart: `file` plus language, engine, "
    "word_timestamps, diarize, title fields)",
)
async def upload_and_transcribe(
    request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal
) -> Envelope[TranscriptionRead]:
    storage = storage_of(request)
    file, fields = await upload_multipart(request, db_session, principal)
    try:
        data = form_options(fields, file.id)
        row = await services.create_transcription(
            db_session, settings_of(request), principal.user_id, data, file=file
        )
    except BaseException:
        await storage.delete(file.storage_key)  # the row rolls back with the request
        raise
    queue_after_response(request, row.id)
    return ok(services.transcription_read(row))


@post(
    "/transcriptions/batch",
    status_code=HTTP_202_ACCEPTED,
    request_max_body_size=None,
    after_response=enqueue_after_commit,
    responses={**UPLOAD_ERRORS, **error_responses(BadRequest, TooManyRequests)},
    operation_class=upload_operation(fields=UPLOAD_OPTIONS, many=True),
    summary="Upload several files (repeated multipart field `file`, up to SCRIBE_MAX_BATCH_FILES) and queue "
    "one transcription each, with the same options; all or nothing",
)
async def upload_batch(
    request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal
) -> Envelope[list[TranscriptionRead]]:
    settings = settings_of(request)
    fields: dict[str, str] = {}
    per_file = settings.scribe_max_upload_size + FORM_OVERHEAD
    parts = iter_multipart_files(
        request,
        fields,
        file_field="file",
        max_size=per_file * settings.scribe_max_batch_files,
        max_files=settings.scribe_max_batch_files,
    )
    rows = await create_batch(
        db_session,
        storage_of(request),
        settings,
        principal.user_id,
        parts,
        lambda file_id: form_options(fields, file_id, known=BATCH_FIELDS),
    )
    queue_after_response(request, *(row.id for row in rows))
    return ok([services.transcription_read(row) for row in rows])


@get(
    "/transcriptions",
    summary="Your transcriptions (`q`: title or text contains it; GET /search finds segments)",
)
async def list_transcriptions(
    db_session: AsyncSession,
    principal: Principal,
    limit: Limit = 20,
    offset: Offset = 0,
    q: Annotated[str | None, Parameter(max_length=200)] = None,
    status: Annotated[
        str | None, Parameter(pattern="^(queued|processing|completed|failed|cancelled)$")
    ] = None,
) -> Page[TranscriptionRead]:
    rows, total = await services.list_transcriptions(db_session, principal.user_id, limit, offset, q, status)
    return page([services.transcription_read(r) for r in rows], total=total, limit=limit, offset=offset)


@get(
    "/transcriptions/{transcription_id:uuid}",
    responses=error_responses(NotFound),
    summary="Status, progress, error and (when completed) the transcript",
)
async def get_transcription(
    db_session: AsyncSession, principal: Principal, transcription_id: UUID
) -> Envelope[TranscriptionRead]:
    row = await services.get_transcription(db_session, principal.user_id, transcription_id, segments=True)
    return ok(services.transcription_read(row, detail=True))


@get(
    "/transcriptions/{transcription_id:uuid}/events",
    responses=error_responses(NotFound),
    opt={"rate_limit": None},
    summary="Server-sent progress events; the stream ends when the transcription is final",
)
async def transcription_events(
    request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, transcription_id: UUID
) -> ServerSentEvent:
    await services.get_transcription(db_session, principal.user_id, transcription_id)  # 404 before streaming
    engine = request.app.state.sa_config.get_engine()
    keepalive = float(getattr(settings_of(request), "realtime_keepalive", 15.0))

    async def events() -> AsyncIterator[ServerSentEventMessage]:
        from sqlalchemy.ext.asyncio import AsyncSession as Session

        last: tuple[str, float] | None = None
        quiet = 0.0
        while True:
            async with Session(engine) as db:
                row = await db.get(Transcription, transcription_id)
            if row is None:
                yield ServerSentEventMessage(
                    event="deleted", data=msgspec.json.encode({"id": str(transcription_id)}).decode()
                )
                return
            state = (row.status, round(row.progress, 1))
            if state != last:
                last, quiet = state, 0.0
                body = {
                    "id": str(row.id),
                    "status": row.status,
                    "progress": round(row.progress, 1),
                    "error": row.error,
                }
                yield ServerSentEventMessage(event="progress", data=msgspec.json.encode(body).decode())
                if row.status in FINAL_STATES:
                    return
            elif quiet >= keepalive:
                quiet = 0.0
                yield sse_comment("keep-alive")  # a comment, not an empty message event
            await asyncio.sleep(tasks.POLL_SECONDS)
            quiet += tasks.POLL_SECONDS

    return ServerSentEvent(events(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@post(
    "/transcriptions/{transcription_id:uuid}/cancel",
    status_code=200,
    responses=error_responses(NotFound, Conflict),
    summary="Cancel a queued or running transcription",
)
async def cancel_transcription(
    db_session: AsyncSession, principal: Principal, transcription_id: UUID
) -> Envelope[TranscriptionRead]:
    row = await services.request_cancel(db_session, principal.user_id, transcription_id)
    return ok(services.transcription_read(row))


@delete(
    "/transcriptions/{transcription_id:uuid}",
    status_code=HTTP_204_NO_CONTENT,
    responses=error_responses(NotFound),
)
async def delete_transcription(
    db_session: AsyncSession, principal: Principal, transcription_id: UUID
) -> None:
    await services.delete_transcription(db_session, principal.user_id, transcription_id)


@get(
    "/usage",
    summary="Minutes used today, jobs running and waiting, and the limits",
)
async def get_usage(
    request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal
) -> Envelope[UsageRead]:
    return ok(await services.usage(db_session, settings_of(request), principal.user_id))


route_handlers = [
    create_transcription,
    upload_and_transcribe,
    upload_batch,
    list_transcriptions,
    get_transcription,
    transcription_events,
    cancel_transcription,
    delete_transcription,
    get_usage,
]
