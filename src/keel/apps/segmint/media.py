"""Images and videos attached to a content: uploaded while it is a draft (the bytes in storage, their
type checked by their first bytes, not by what the client says; a video's duration read from the file),
listed in order, removed; checked against each network's media rules when the content is scheduled, and
read back when it is published."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import func, select

from keel.apps.segmint import media_store, services, video
from keel.apps.segmint.network_models import Media
from keel.apps.segmint.networks import validation
from keel.apps.segmint.networks.base import Attachment
from keel.apps.segmint.paging import paged
from keel.apps.segmint.services.states import EDITABLE
from keel.core.errors import Conflict, NotFound, PayloadTooLarge, UnsupportedMediaType
from keel.core.uploads import SniffedUpload

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.apps.segmint.teams import Seat
    from keel.core.storage import Storage
    from keel.settings import Settings

MAX_BYTES = 8 * 1024 * 1024  # per image; each network's own limit is checked when scheduling
MAX_VIDEO_BYTES = 512 * 1024 * 1024  # per video: X's limit, the largest any network takes
MAX_PER_CONTENT = 20  # LinkedIn's multi-image maximum; X, Mastodon and Bluesky take 4
MIME_TYPES = (*video.IMAGE_TYPES, *video.VIDEO_TYPES)
REFUSAL = "Attach a JPEG, PNG, GIF or WebP image, or an MP4, MOV or WebM video"


async def _editable(db: AsyncSession, seat: Seat, content_id: UUID) -> Any:
    row = await services.get_content(db, seat, content_id, lock=True)
    if row.status not in EDITABLE:
        raise Conflict(
            f"Content in status '{row.status}' cannot change its media; only drafts can",
            details={"status": row.status},
        )
    return row


async def attach(
    db: AsyncSession,
    storage: Storage,
    seat: Seat,
    content_id: UUID,
    chunks: AsyncIterable[bytes],
    alt_text: str,
) -> Media:
    content = await _editable(db, seat, content_id)
    count = await db.scalar(select(func.count()).select_from(Media).where(Media.content_id == content.id))
    if (count or 0) >= MAX_PER_CONTENT:
        raise Conflict(f"A content takes at most {MAX_PER_CONTENT} media", details={"file": "too many"})
    sniffed = SniffedUpload(chunks, video.sniff, head_bytes=video.SNIFF_BYTES, refusal=REFUSAL)
    size = 0

    async def limited() -> AsyncIterator[bytes]:
        """The upload, refused (413) once it passes its kind's limit: images 8 MB, videos 512 MB."""
        nonlocal size
        async for chunk in sniffed.stream():
            size += len(chunk)
            is_video = sniffed.kind is not None and sniffed.kind.is_video
            limit = MAX_VIDEO_BYTES if is_video else MAX_BYTES
            if size > limit:
                raise PayloadTooLarge(
                    f"{'A video' if is_video else 'An image'} may be at most {limit} bytes",
                    details={"file": "too large"},
                )
            yield chunk

    key = f"segmint/{content.workspace_id}/{content.id}/{uuid.uuid4().hex}"
    try:
        await storage.put_stream(key, limited(), None, max_size=MAX_VIDEO_BYTES)
    except UnsupportedMediaType as exc:
        raise UnsupportedMediaType(REFUSAL, details={"file": f"not one of {', '.join(MIME_TYPES)}"}) from exc
    media_store.discard_on_rollback(db, storage, key)  # a request that fails takes its upload with it
    kind = sniffed.kind
    assert kind is not None
    seconds = None
    if kind.is_video:
        try:
            async with storage.local_copy(key) as path:
                seconds = await asyncio.to_thread(video.duration, path)
        except video.VideoUnreadable as exc:
            raise UnsupportedMediaType(str(exc), details={"file": "not a playable video"}) from exc
    mime = kind.mime_type
    row = Media(
        workspace_id=content.workspace_id,
        content_id=content.id,
        owner_id=seat.user_id,
        storage_key=key,
        mime_type=mime,
        size=size,
        duration=seconds,
        alt_text=alt_text.strip()[:1000],
        position=(
            await db.scalar(select(func.max(Media.position)).where(Media.content_id == content.id)) or 0
        )
        + 1,
    )
    db.add(row)
    await db.flush()
    return row


async def listed(
    db: AsyncSession, seat: Seat, content_id: UUID, *, limit: int, offset: int
) -> tuple[list[Media], int]:
    content = await services.get_content(db, seat, content_id, write=False)
    conditions = [Media.content_id == content.id]
    return await paged(
        db, Media, conditions, select(Media), order_by=(Media.position,), limit=limit, offset=offset
    )


async def detach(db: AsyncSession, storage: Storage, seat: Seat, content_id: UUID, media_id: UUID) -> None:
    content = await _editable(db, seat, content_id)
    row = await db.scalar(select(Media).where(Media.id == media_id, Media.content_id == content.id))
    if row is None:
        raise NotFound("Media not found")
    await db.delete(row)
    await db.flush()
    media_store.discard_after_commit(db, storage, [row.storage_key])


async def of_content(db: AsyncSession, content_id: UUID) -> list[Media]:
    return list(
        (await db.scalars(select(Media).where(Media.content_id == content_id).order_by(Media.position))).all()
    )


def descriptors(rows: list[Media]) -> list[validation.Media]:
    return [validation.Media(r.mime_type, r.size, r.duration) for r in rows]


@contextlib.asynccontextmanager
async def opened(settings: Settings, rows: list[Media]) -> AsyncIterator[list[Attachment]]:
    """The media as files for the adapters while a delivery runs: the stored files themselves on local
    disk, streamed temporary copies of S3 objects (removed after). A missing file fails the delivery."""
    from keel.core.storage import Storage

    storage = Storage(settings.storage_url, max_size=settings.max_upload_size)
    async with contextlib.AsyncExitStack() as files:
        out = []
        for row in rows:
            path = await files.enter_async_context(storage.local_copy(row.storage_key))
            out.append(Attachment(path, path.stat().st_size, row.mime_type, row.alt_text, row.duration))
        yield out
