"""What every scribe route module shares: OpenAPI tags and security, settings and storage of the app,
multipart option fields, and deferring jobs once the request's rows are committed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec
from litestar import Request

from keel.apps.scribe import services, tasks
from keel.apps.scribe.schemas import TranscriptionCreate
from keel.core.errors import (
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMediaType,
    ValidationFailed,
    error_responses,
)
from keel.core.storage import read_multipart

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.identity import Principal

SECURITY = [{"BearerToken": []}]
UPLOAD_ERRORS = error_responses(PayloadTooLarge, UnsupportedMediaType, Unprocessable)
FORM_OVERHEAD = 256 * 1024  # multipart framing and option fields on top of the file itself
TAG = ["scribe"]
OPTION_FIELDS = ("language", "engine", "title", "word_timestamps", "diarize", "prompt", "temperature")
OPTION_DOCS = {  # the multipart option fields, as the OpenAPI document shows them
    "language": "ISO 639-1 code, or auto",
    "engine": "transcription engine",
    "title": "a title for the transcription",
    "word_timestamps": "true or false",
    "diarize": "true or false: speaker turns",
    "prompt": "words to expect",
    "temperature": "sampling temperature, 0 to 1",
}


def settings_of(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.settings


def storage_of(request: Request[Any, Any, Any]) -> Any:
    return services.get_storage(request.app, settings_of(request))


def queue_after_response(request: Request[Any, Any, Any], *transcription_ids: UUID) -> None:
    queued = list(getattr(request.state, "scribe_enqueue", None) or [])
    request.state.scribe_enqueue = [*queued, *transcription_ids]


async def enqueue_after_commit(request: Request[Any, Any, Any]) -> None:
    """after_response: jobs are deferred once the rows are committed, so the worker always finds them.
    If deferring fails a row stays `queued` and the periodic sweep (or the start-up re-queue) picks it up."""
    for tid in getattr(request.state, "scribe_enqueue", None) or []:
        await tasks.defer_and_record(tasks.runtime(), tid)


async def upload_multipart(request: Request[Any, Any, Any], db: AsyncSession, principal: Principal) -> Any:
    settings = settings_of(request)
    limit = settings.scribe_max_upload_size
    upload = await read_multipart(request, file_field="file", max_size=limit + FORM_OVERHEAD)
    row = await services.store_upload(
        db, storage_of(request), settings, principal.user_id, upload.chunks, upload.filename
    )
    return row, upload.fields


def form_options(
    fields: dict[str, str], file_id: UUID, *, known: tuple[str, ...] = OPTION_FIELDS
) -> TranscriptionCreate:
    """The transcription options of a multipart form (400 naming an unknown or invalid field)."""
    raw: dict[str, Any] = {"file_id": str(file_id)}
    for name in ("language", "engine", "title", "prompt", "temperature"):
        if fields.get(name):
            raw[name] = fields[name]
    for flag in ("word_timestamps", "diarize"):
        if flag in fields:
            raw[flag] = fields[flag].strip().lower() in ("1", "true", "yes", "on")
    unknown = set(fields) - set(known)
    if unknown:
        raise ValidationFailed(details={name: "unknown field" for name in sorted(unknown)})
    try:
        return msgspec.convert(raw, TranscriptionCreate, strict=False)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(details={"form": str(exc)}) from exc
