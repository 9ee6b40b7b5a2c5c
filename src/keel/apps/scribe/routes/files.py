"""scribe routes: uploaded files (multipart or raw body, streamed), listed, downloaded, deleted."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Request, delete, get, post
from litestar.params import QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.scribe import services
from keel.apps.scribe.routes.common import (
    UPLOAD_ERRORS,
    settings_of,
    storage_of,
    upload_multipart,
)
from keel.apps.scribe.schemas import FileRead
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.errors import Conflict, NotFound, error_responses
from keel.core.storage import binary_operation, stream_request_body
from keel.core.uploads import upload_operation
from keel.identity import Principal


@post(
    "/files/upload",
    status_code=201,
    request_max_body_size=None,
    responses=UPLOAD_ERRORS,
    operation_class=upload_operation(),
    summary="Upload audio or video (multipart field `file`), streamed",
)
async def upload_file(
    request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal
) -> Envelope[FileRead]:
    row, _ = await upload_multipart(request, db_session, principal)
    return ok(services.file_read(row))


@post(
    "/files/upload/raw",
    status_code=201,
    request_max_body_size=None,
    responses=UPLOAD_ERRORS,
    operation_class=upload_operation(raw=("audio/*", "video/*", "application/octet-stream"), multipart=False),
    summary="Upload audio or video as the raw request body (?filename=)",
)
async def upload_file_raw(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    principal: Principal,
    filename: Annotated[str | None, QueryParameter(name="filename", max_length=255)] = None,
) -> Envelope[FileRead]:
    settings = settings_of(request)
    body = stream_request_body(request, settings.scribe_max_upload_size)
    row = await services.store_upload(
        db_session, storage_of(request), settings, principal.user_id, body, filename
    )
    return ok(services.file_read(row))


@get("/files", summary="Your uploaded files, newest first")
async def list_files(
    db_session: AsyncSession, principal: Principal, limit: Limit = 20, offset: Offset = 0
) -> Page[FileRead]:
    rows, total = await services.list_files(db_session, principal.user_id, limit, offset)
    return page([services.file_read(r) for r in rows], total=total, limit=limit, offset=offset)


@get("/files/{file_id:uuid}", responses=error_responses(NotFound))
async def get_file(db_session: AsyncSession, principal: Principal, file_id: UUID) -> Envelope[FileRead]:
    return ok(services.file_read(await services.get_file(db_session, principal.user_id, file_id)))


@get(
    "/files/{file_id:uuid}/content",
    responses=error_responses(NotFound),
    operation_class=binary_operation("audio/*", "video/*"),  # what uploads accept
    summary="Download the original file (streamed)",
)
async def download_file(
    request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, file_id: UUID
) -> Stream:
    row = await services.get_file(db_session, principal.user_id, file_id)
    return await storage_of(request).download_response(row.storage_key, row.filename, row.content_type)


@delete(
    "/files/{file_id:uuid}",
    status_code=HTTP_204_NO_CONTENT,
    responses=error_responses(NotFound, Conflict),
    summary="Delete a file and its stored object",
)
async def delete_file(
    request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, file_id: UUID
) -> None:
    await services.delete_file(db_session, storage_of(request), principal.user_id, file_id)


route_handlers = [upload_file, upload_file_raw, list_files, get_file, download_file, delete_file]
