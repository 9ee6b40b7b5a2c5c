"""The transcription API that clients already speak: OpenAI's `POST /v1/audio/transcriptions` and
`GET /v1/models`, under the scribe router. Give an SDK `base_url="http://<host>/api/v1/scribe/v1"` and the
caller's bearer token as `api_key`.

The call answers synchronously (the transcription runs in the same worker processes as queued jobs) and is
stored as an ordinary transcription the caller can open, edit and export later (`X-Transcription-Id`).
Upload limits, quotas and ownership are scribe's. Errors here use OpenAI's shape,
`{"error": {"message", "type", "param", "code"}}`, because that is what those clients parse.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Operation, Schema
from litestar.openapi.spec.enums import OpenAPIType

from keel.apps.scribe import engines as eng
from keel.apps.scribe import exports, services, tasks
from keel.apps.scribe.models import COMPLETED
from keel.apps.scribe.schemas import TranscriptionCreate
from keel.core.errors import (
    KeelError,
    PayloadTooLarge,
    Unprocessable,
    ValidationFailed,
    to_keel_error,
)
from keel.core.storage import read_multipart
from keel.core.uploads import upload_operation
from keel.identity import Principal

TAG = ["scribe (OpenAI-compatible)"]
SECURITY = [{"BearerToken": []}]
FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
DEFAULT_MODEL = "whisper-1"  # what clients send by habit: the server's default engine
FIELDS = {"model", "language", "prompt", "response_format", "temperature", "timestamp_granularities[]"}
_TYPES = {
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "forbidden"),
    404: ("invalid_request_error", "not_found"),
    413: ("invalid_request_error", "file_too_large"),
    415: ("invalid_request_error", "unsupported_file_type"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


# --------------------------------------------------------------------------- errors in OpenAI's shape


def openai_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    err = to_keel_error(exc)
    status = err.status_code
    kind, code = _TYPES.get(status, ("server_error", "server_error") if status >= 500 else ("", ""))
    if not kind:
        kind, code = "invalid_request_error", err.code.lower()
    param = next(iter(err.details), None) if isinstance(err.details, dict) else None
    message = err.message
    if isinstance(err.details, dict) and param and err.message in ("Validation failed", err.default_message):
        message = f"{param}: {err.details[param]}"
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return Response(body, status_code=status, headers=err.headers, media_type="application/json")


OPENAI_ERRORS = {Exception: openai_error, 500: openai_error}


class OpenAIErrorBody(msgspec.Struct):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIError(msgspec.Struct):
    error: OpenAIErrorBody


def openai_error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI `responses=`: these routes answer errors in OpenAI's shape, not the Keel envelope."""
    return {
        status: ResponseSpec(data_container=OpenAIError, description=f"OpenAI-style error ({status})")
        for status in statuses
    }


def _transcription_operation() -> type[Operation]:
    """The 200 of the transcription route in each `response_format`'s media type."""

    form = upload_operation(
        fields={
            "model": "string",
            "language": "string",
            "prompt": "string",
            "response_format": "string",
            "temperature": "number",
            "timestamp_granularities[]": "string",
        }
    )

    @dataclass
    class TranscriptionOperation(form):  # type: ignore[valid-type,misc]
        def __post_init__(self) -> None:
            super().__post_init__()
            success = (self.responses or {}).get("200")
            if isinstance(success, OpenAPIResponse):
                text = Schema(type=OpenAPIType.STRING)
                success.content = {
                    "application/json": OpenAPIMediaType(schema=Schema(type=OpenAPIType.OBJECT)),
                    "text/plain": OpenAPIMediaType(schema=text),
                    "application/x-subrip": OpenAPIMediaType(schema=text),
                    "text/vtt": OpenAPIMediaType(schema=text),
                }

    return TranscriptionOperation


# --------------------------------------------------------------------------- helpers


async def _release_request_session(request: Request[Any, Any, Any]) -> None:
    """Authentication opened the request's DB session: end it before minutes of work, so no transaction
    (on SQLite, the write lock of `last_seen_at`) stays open while the audio is transcribed."""
    await request.app.state.sa_config.release(request.scope, commit=True)


class Options(msgspec.Struct, kw_only=True):
    engine: str | None
    language: str
    prompt: str | None
    response_format: str
    temperature: float | None
    granularities: set[str]


def _options(items: list[tuple[str, str]], settings: Any) -> Options:
    fields: dict[str, str] = {}
    granularities: set[str] = set()
    for name, value in items:
        if name in ("timestamp_granularities[]", "timestamp_granularities"):
            granularities.add(value.strip())
        elif name in FIELDS:
            fields[name] = value
        else:
            raise ValidationFailed(details={name: "unknown field"})
    bad = granularities - {"segment", "word"}
    if bad:
        raise ValidationFailed(details={"timestamp_granularities[]": "must be segment and/or word"})
    model = (fields.get("model") or DEFAULT_MODEL).strip()
    engine = None if model == DEFAULT_MODEL else model
    fmt = (fields.get("response_format") or "json").strip()
    if fmt not in FORMATS:
        raise ValidationFailed(details={"response_format": f"one of {', '.join(FORMATS)}"})
    temperature = None
    if fields.get("temperature", "").strip():
        try:
            temperature = float(fields["temperature"])
        except ValueError:
            raise ValidationFailed(details={"temperature": "a number from 0 to 1"}) from None
        if not 0 <= temperature <= 1:
            raise ValidationFailed(details={"temperature": "a number from 0 to 1"})
    prompt = fields.get("prompt") or None
    if prompt and len(prompt) > 2000:
        raise ValidationFailed(details={"prompt": "at most 2000 characters"})
    language = (fields.get("language") or "auto").strip().lower()
    return Options(
        engine=engine,
        language=language,
        prompt=prompt,
        response_format=fmt,
        temperature=temperature,
        granularities=granularities or {"segment"},
    )


def _language_name(code: str | None) -> str:
    names = {v: k for k, v in eng.LANGUAGE_NAMES.items()}
    return names.get(code or "", code or "english")


def _render(row: Any, opts: Options) -> Response[Any]:
    headers = {"X-Transcription-Id": str(row.id)}
    text = row.text or ""
    if opts.response_format == "json":
        return Response({"text": text}, headers=headers, media_type="application/json")
    if opts.response_format == "text":
        return Response(text + "\n", headers=headers, media_type="text/plain")  # Litestar adds the charset
    if opts.response_format in ("srt", "vtt"):
        plain = exports.ExportOptions(include_speakers=False)
        rendered = exports.render(services.to_export(row), opts.response_format, plain)
        return Response(rendered.data, headers=headers, media_type=rendered.content_type)
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": _language_name(
            row.detected_language or (row.language if row.language != "auto" else "en")
        ),
        "duration": row.duration,
        "text": text,
    }
    if "segment" in opts.granularities:
        body["segments"] = [
            {
                "id": s.index,
                "seek": 0,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": [],
                "temperature": opts.temperature or 0.0,
                "avg_logprob": _logprob(s.confidence),
                "compression_ratio": 1.0,
                "no_speech_prob": 0.0,
            }
            for s in row.segments
        ]
    if "word" in opts.granularities:
        body["words"] = [
            {"word": w[2], "start": w[0], "end": w[1]}
            for s in row.segments
            for w in (s.words or [])
            if isinstance(w, list) and len(w) >= 3
        ]
    if row.language_note:
        body["language_note"] = row.language_note  # not OpenAI's: why `language` was not detected
    return Response(body, headers=headers, media_type="application/json")


def _logprob(confidence: float | None) -> float:
    import math

    return round(math.log(confidence), 4) if confidence and confidence > 0 else 0.0


# --------------------------------------------------------------------------- routes


@post(
    "/v1/audio/transcriptions",
    tags=TAG,
    security=SECURITY,
    status_code=200,
    request_max_body_size=None,
    exception_handlers=OPENAI_ERRORS,
    responses=openai_error_responses(400, 401, 403, 404, 413, 415, 422, 429, 500),
    operation_class=_transcription_operation(),
    summary="OpenAI-compatible transcription (multipart: file, model, language, prompt, response_format, "
    "temperature, timestamp_granularities[]); answers when done, stored as a transcription",
)
async def openai_create_transcription(request: Request[Any, Any, Any], principal: Principal) -> Response[Any]:
    settings = request.app.state.settings
    storage = services.get_storage(request.app, settings)
    await _release_request_session(request)
    rt = tasks.runtime()
    upload = await read_multipart(
        request, file_field="file", max_size=settings.scribe_max_upload_size + 256 * 1024
    )
    async with rt.sessions() as db:
        try:
            async with db.begin():
                file = await services.store_upload(
                    db, storage, settings, principal.user_id, upload.chunks, upload.filename
                )
                opts = _options(upload.items, settings)
                if file.duration > settings.scribe_sync_max_seconds:
                    raise PayloadTooLarge(
                        f"This file is {file.duration / 60:.0f} minutes long; this endpoint answers within "
                        f"the request up to {settings.scribe_sync_max_seconds / 60:.0f} minutes. Use "
                        "POST /api/v1/scribe/transcriptions/upload (queued, with progress) instead.",
                        details={"file": "too long for a synchronous transcription"},
                    )
                data = TranscriptionCreate(
                    file_id=file.id,
                    language=opts.language,
                    engine=opts.engine,
                    prompt=opts.prompt,
                    temperature=opts.temperature,
                    word_timestamps="word" in opts.granularities,
                )
                try:
                    msgspec.convert(msgspec.to_builtins(data), TranscriptionCreate)
                except msgspec.ValidationError as exc:  # e.g. `$.language`: name the form field
                    path = str(exc).rsplit("$.", 1)[-1].strip("`") if "$." in str(exc) else "language"
                    field = {"engine": "model"}.get(path, path)
                    raise ValidationFailed(details={field: str(exc)}) from exc
                try:
                    row = await services.create_transcription(
                        db, settings, principal.user_id, data, file=file, synchronous=True
                    )
                except ValidationFailed as exc:
                    if exc.details and "engine" in exc.details:
                        raise ValidationFailed(
                            details={"model": f"unknown model; see GET /v1/models ({exc.details['engine']})"}
                        ) from exc
                    raise
                tid = row.id
        except BaseException:
            if "file" in locals():
                with contextlib.suppress(Exception):
                    await storage.delete(file.storage_key)
            raise
    # shielded: a client that hangs up does not leave the row half-done; the work finishes and is stored
    status = await asyncio.shield(tasks.run_transcription(tid, wait_for_slot=False))
    async with rt.sessions() as db:
        row = await services.get_transcription(db, principal.user_id, tid, segments=True)
    if status != COMPLETED:
        err = KeelError(row.error or f"The transcription was {status}.")
        if status != "failed":
            err = Unprocessable(f"The transcription was {status}.")
        raise err
    return _render(row, opts)


@get(
    "/v1/models",
    tags=TAG,
    security=SECURITY,
    exception_handlers=OPENAI_ERRORS,
    responses=openai_error_responses(400, 401, 429),
    summary="OpenAI-compatible model list: whisper-1 (the default engine) and each ready engine",
)
async def openai_list_models(request: Request[Any, Any, Any], principal: Principal) -> dict[str, Any]:
    engines = await asyncio.to_thread(services.list_engines, request.app.state.settings)
    ready = [e for e in engines if e.ready]
    data = [{"id": DEFAULT_MODEL, "object": "model", "created": 0, "owned_by": "keel"}]
    data += [{"id": e.name, "object": "model", "created": 0, "owned_by": "keel"} for e in ready]
    return {"object": "list", "data": data}


route_handlers = [openai_create_transcription, openai_list_models]
