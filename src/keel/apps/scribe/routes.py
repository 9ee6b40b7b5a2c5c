"""scribe routes under /api/v1/scribe: files, transcriptions (+ SSE progress), exports, engines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, delete, get, post, put
from litestar.params import Parameter, QueryParameter
from litestar.response import ServerSentEvent, Stream
from litestar.response.sse import ServerSentEventMessage
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.scribe import openai_api, services, tasks
from keel.apps.scribe.exports import EXPORT_FORMATS
from keel.apps.scribe.models import FINAL_STATES, Transcription
from keel.apps.scribe.schemas import (
    EngineRead,
    FileRead,
    TranscriptionCreate,
    TranscriptionEdit,
    TranscriptionRead,
)
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.errors import (
    Conflict,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unprocessable,
    UnsupportedMediaType,
    ValidationFailed,
    error_responses,
)
from keel.core.realtime import sse_comment
from keel.core.storage import binary_operation, content_disposition, read_multipart, stream_request_body
from keel.identity.guards import Principal

SECURITY = [{"BearerToken": []}]
UPLOAD_ERRORS = error_responses(PayloadTooLarge, UnsupportedMediaType, Unprocessable)
FORM_OVERHEAD = 256 * 1024  # multipart framing and option fields on top of the file itself
TAG = ["scribe"]


def _settings(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.settings


def _storage(request: Request[Any, Any, Any]) -> Any:
    return services.get_storage(request.app, _settings(request))


def _queue_after_response(request: Request[Any, Any, Any], transcription_id: UUID) -> None:
    request.state.scribe_enqueue = transcription_id


async def _enqueue_after_commit(request: Request[Any, Any, Any]) -> None:
    """after_response: the job is deferred once the row is committed, so the worker always finds it.
    If deferring fails the row stays `queued` and the start-up re-queue picks it up."""
    tid = getattr(request.state, "scribe_enqueue", None)
    if tid is not None:
        await tasks.defer_and_record(tasks.runtime(), tid)


# --------------------------------------------------------------------------- files


async def _upload_multipart(request: Request[Any, Any, Any], db: AsyncSession, principal: Principal) -> Any:
    settings = _settings(request)
    limit = settings.scribe_max_upload_size
    upload = await read_multipart(request, file_field="file", max_size=limit + FORM_OVERHEAD)
    row = await services.store_upload(
        db, _storage(request), settings, principal.user_id, upload.chunks, upload.filename
    )
    return row, upload.fields


@post(
    "/files/upload",
    tags=TAG,
    security=SECURITY,
    status_code=201,
    request_max_body_size=None,
    responses=UPLOAD_ERRORS,
    summary="Upload audio or video (multipart field `file`), streamed",
)
async def upload_file(
    request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal
) -> Envelope[FileRead]:
    row, _ = await _upload_multipart(request, db_session, principal)
    return ok(services.file_read(row))


@post(
    "/files/upload/raw",
    tags=TAG,
    security=SECURITY,
    status_code=201,
    request_max_body_size=None,
    responses=UPLOAD_ERRORS,
    summary="Upload audio or video as the raw request body (?filename=)",
)
async def upload_file_raw(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    principal: Principal,
    filename: Annotated[str | None, QueryParameter(name="filename", max_length=255)] = None,
) -> Envelope[FileRead]:
    settings = _settings(request)
    body = stream_request_body(request, settings.scribe_max_upload_size)
    row = await services.store_upload(
        db_session, _storage(request), settings, principal.user_id, body, filename
    )
    return ok(services.file_read(row))


@get("/files", tags=TAG, security=SECURITY, summary="Your uploaded files, newest first")
async def list_files(
    db_session: AsyncSession, principal: Principal, limit: Limit = 20, offset: Offset = 0
) -> Page[FileRead]:
    rows, total = await services.list_files(db_session, principal.user_id, limit, offset)
    return page([services.file_read(r) for r in rows], total=total, limit=limit, offset=offset)


@get("/files/{file_id:uuid}", tags=TAG, security=SECURITY, responses=error_responses(NotFound))
async def get_file(db_session: AsyncSession, principal: Principal, file_id: UUID) -> Envelope[FileRead]:
    return ok(services.file_read(await services.get_file(db_session, principal.user_id, file_id)))


@get(
    "/files/{file_id:uuid}/content",
    tags=TAG,
    security=SECURITY,
    responses=error_responses(NotFound),
    operation_class=binary_operation("audio/*", "video/*"),  # what uploads accept
    summary="Download the original file (streamed)",
)
async def download_file(
    request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, file_id: UUID
) -> Stream:
    row = await services.get_file(db_session, principal.user_id, file_id)
    return await _storage(request).download_response(row.storage_key, row.filename, row.content_type)


@delete(
    "/files/{file_id:uuid}",
    tags=TAG,
    security=SECURITY,
    status_code=HTTP_204_NO_CONTENT,
    responses=error_responses(NotFound, Conflict),
    summary="Delete a file and its stored object",
)
async def delete_file(
    request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, file_id: UUID
) -> None:
    await services.delete_file(db_session, _storage(request), principal.user_id, file_id)


# --------------------------------------------------------------------------- transcriptions


@post(
    "/transcriptions",
    tags=TAG,
    security=SECURITY,
    status_code=HTTP_202_ACCEPTED,
    after_response=_enqueue_after_commit,
    responses=error_responses(NotFound, TooManyRequests, Unprocessable),
    summary="Queue a transcription of an uploaded file",
)
async def create_transcription(
    request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, data: TranscriptionCreate
) -> Envelope[TranscriptionRead]:
    row = await services.create_transcription(db_session, _settings(request), principal.user_id, data)
    _queue_after_response(request, row.id)
    return ok(services.transcription_read(row))


def _form_options(fields: dict[str, str], file_id: UUID) -> TranscriptionCreate:
    raw: dict[str, Any] = {"file_id": str(file_id)}
    for name in ("language", "engine", "title", "prompt", "temperature"):
        if fields.get(name):
            raw[name] = fields[name]
    for flag in ("word_timestamps", "diarize"):
        if flag in fields:
            raw[flag] = fields[flag].strip().lower() in ("1", "true", "yes", "on")
    known = {"language", "engine", "title", "word_timestamps", "diarize", "prompt", "temperature"}
    unknown = set(fields) - known
    if unknown:
        raise ValidationFailed(details={name: "unknown field" for name in sorted(unknown)})
    try:
        return msgspec.convert(raw, TranscriptionCreate, strict=False)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(details={"form": str(exc)}) from exc


@post(
    "/transcriptions/upload",
    tags=TAG,
    security=SECURITY,
    status_code=HTTP_202_ACCEPTED,
    request_max_body_size=None,
    after_response=_enqueue_after_commit,
    responses={**UPLOAD_ERRORS, **error_responses(TooManyRequests)},
    summary="Upload and transcribe in one request (multipart: `file` plus language, engine, "
    "word_timestamps, diarize, title fields)",
)
async def upload_and_transcribe(
    request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal
) -> Envelope[TranscriptionRead]:
    storage = _storage(request)
    file, fields = await _upload_multipart(request, db_session, principal)
    try:
        data = _form_options(fields, file.id)
        row = await services.create_transcription(
            db_session, _settings(request), principal.user_id, data, file=file
        )
    except BaseException:
        await storage.delete(file.storage_key)  # the row rolls back with the request
        raise
    _queue_after_response(request, row.id)
    return ok(services.transcription_read(row))


@get(
    "/transcriptions",
    tags=TAG,
    security=SECURITY,
    summary="Your transcriptions (`q` searches title and text)",
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
    tags=TAG,
    security=SECURITY,
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
    tags=TAG,
    security=SECURITY,
    responses=error_responses(NotFound),
    opt={"rate_limit": None},
    summary="Server-sent progress events; the stream ends when the transcription is final",
)
async def transcription_events(
    request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, transcription_id: UUID
) -> ServerSentEvent:
    await services.get_transcription(db_session, principal.user_id, transcription_id)  # 404 before streaming
    engine = request.app.state.sa_config.get_engine()
    keepalive = float(getattr(_settings(request), "realtime_keepalive", 15.0))

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
    tags=TAG,
    security=SECURITY,
    status_code=200,
    responses=error_responses(NotFound, Conflict),
    summary="Cancel a queued or running transcription",
)
async def cancel_transcription(
    db_session: AsyncSession, principal: Principal, transcription_id: UUID
) -> Envelope[TranscriptionRead]:
    row = await services.request_cancel(db_session, principal.user_id, transcription_id)
    return ok(services.transcription_read(row))


@put(
    "/transcriptions/{transcription_id:uuid}",
    tags=TAG,
    security=SECURITY,
    responses=error_responses(NotFound, Conflict),
    summary="Edit the title, segment texts/speakers (by index; timings are kept) and speaker names",
)
async def edit_transcription(
    db_session: AsyncSession, principal: Principal, transcription_id: UUID, data: TranscriptionEdit
) -> Envelope[TranscriptionRead]:
    row = await services.edit_transcription(db_session, principal.user_id, transcription_id, data)
    return ok(services.transcription_read(row, detail=True))


@delete(
    "/transcriptions/{transcription_id:uuid}",
    tags=TAG,
    security=SECURITY,
    status_code=HTTP_204_NO_CONTENT,
    responses=error_responses(NotFound),
)
async def delete_transcription(
    db_session: AsyncSession, principal: Principal, transcription_id: UUID
) -> None:
    await services.delete_transcription(db_session, principal.user_id, transcription_id)


# --------------------------------------------------------------------------- exports and engines

ExportFormat = Annotated[str, QueryParameter(name="format", pattern="^(" + "|".join(EXPORT_FORMATS) + ")$")]


@get(
    "/export/{transcription_id:uuid}",
    tags=TAG,
    security=SECURITY,
    responses=error_responses(NotFound, Conflict),
    summary="Download the (edited) transcript as txt, srt, vtt, json, csv, docx or pdf",
)
async def export_transcription(
    db_session: AsyncSession,
    principal: Principal,
    transcription_id: UUID,
    fmt: ExportFormat = "txt",
    timestamps: bool = True,
    speakers: bool = True,
) -> Response[bytes]:
    row = await services.get_transcription(db_session, principal.user_id, transcription_id, segments=True)
    rendered = await services.render_export(row, fmt, timestamps=timestamps, speakers=speakers)
    filename = f"{(row.title or 'transcript').strip()[:150] or 'transcript'}.{rendered.extension}"
    return Response(
        content=rendered.data,
        media_type=rendered.content_type,
        headers={"Content-Disposition": content_disposition(filename)},
    )


@get(
    "/engines",
    tags=TAG,
    security=SECURITY,
    summary="Configured engines, their languages (and whether `auto` really detects), model and readiness",
)
async def list_engines(request: Request[Any, Any, Any], principal: Principal) -> Envelope[list[EngineRead]]:
    return ok(await asyncio.to_thread(services.list_engines, _settings(request)))


route_handlers = [
    upload_file,
    upload_file_raw,
    list_files,
    get_file,
    download_file,
    delete_file,
    create_transcription,
    upload_and_transcribe,
    list_transcriptions,
    get_transcription,
    transcription_events,
    cancel_transcription,
    edit_transcription,
    delete_transcription,
    export_transcription,
    list_engines,
    *openai_api.route_handlers,
]
