"""Media routes: images and videos attached to a draft, in the order they are shown, posted with it to
each network (X, Mastodon and Bluesky up to 4 images in one post; LinkedIn up to 20, several as a
multi-image post; a video goes alone)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from litestar import Request, delete, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.segmint import media
from keel.apps.segmint.network_models import Media
from keel.apps.segmint.routes.common import READ_ERRORS, WRITE_ERRORS, SegmintController
from keel.apps.segmint.teams import Seat
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.errors import (
    BadRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    error_responses,
)
from keel.core.storage import Storage, read_multipart

UPLOAD_ERRORS = {**WRITE_ERRORS, **error_responses(BadRequest, PayloadTooLarge, UnsupportedMediaType)}
FORM_OVERHEAD = 64 * 1024  # the form's other parts and boundaries around the file


class MediaRead(msgspec.Struct, kw_only=True):
    id: UUID
    content_id: UUID
    mime_type: str  # what the bytes are (checked), not what the client said
    size: int
    duration: float | None  # seconds, for a video (read from the file)
    alt_text: str
    position: int
    created_at: datetime


def _read(row: Media) -> MediaRead:
    return MediaRead(
        id=row.id,
        content_id=row.content_id,
        mime_type=row.mime_type,
        size=row.size,
        duration=row.duration,
        alt_text=row.alt_text,
        position=row.position,
        created_at=row.created_at,
    )


class MediaController(SegmintController):
    path = "/content"

    @post(
        "/{content_id:uuid}/media",
        status_code=201,
        request_max_body_size=None,
        opt={"rate_limit": "60/minute"},
        summary="Attach an image or a video to a draft (multipart: optional `alt` field first, then `file`)",
        description="JPEG, PNG, GIF or WebP images (at most 8 MB) and MP4, MOV or WebM videos (at most "
        "512 MB; their duration is read from the file), recognised by their bytes; 20 per content. Each "
        "network's own count, type, size and duration rules are checked when the content is scheduled.",
        responses=UPLOAD_ERRORS,
    )
    async def attach_media(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        seat: Seat,
        storage: Storage,
        content_id: UUID,
    ) -> Envelope[MediaRead]:
        upload = await read_multipart(
            request, file_field="file", max_size=media.MAX_VIDEO_BYTES + FORM_OVERHEAD
        )
        unknown = sorted(set(upload.fields) - {"alt"})
        if unknown:
            raise ValidationFailed(details=dict.fromkeys(unknown, "unknown field"))
        alt = upload.fields.get("alt", "")
        if len(alt) > 1000:
            raise ValidationFailed(details={"alt": "at most 1000 characters"})
        row = await media.attach(db_session, storage, seat, content_id, upload.chunks, alt)
        return ok(_read(row))

    @get("/{content_id:uuid}/media", summary="A content's images, in order", responses=READ_ERRORS)
    async def list_media(
        self, db_session: AsyncSession, seat: Seat, content_id: UUID, limit: Limit = 20, offset: Offset = 0
    ) -> Page[MediaRead]:
        rows, total = await media.listed(db_session, seat, content_id, limit=limit, offset=offset)
        return page([_read(r) for r in rows], total=total, limit=limit, offset=offset)

    @delete(
        "/{content_id:uuid}/media/{media_id:uuid}",
        status_code=204,
        summary="Remove an image or video from a draft (its file leaves storage)",
        responses=WRITE_ERRORS,
    )
    async def detach_media(
        self, db_session: AsyncSession, seat: Seat, storage: Storage, content_id: UUID, media_id: UUID
    ) -> None:
        await media.detach(db_session, storage, seat, content_id, media_id)
