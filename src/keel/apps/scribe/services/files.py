"""Uploads: sniffed (415 unless audio/video), size-limited (413), probed (422 when undecodable), streamed
to storage; a refused upload leaves neither an object nor a row."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from keel.apps.scribe import media
from keel.apps.scribe.models import ACTIVE_STATES, MediaFile, Transcription
from keel.apps.scribe.schemas import FileRead
from keel.core.errors import Conflict, NotFound, Unprocessable
from keel.core.mapping import to_read
from keel.core.uploads import SniffedUpload, clean_filename

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.core.storage import Storage
    from keel.settings import Settings

SUPPORTED_UPLOADS = "mp3, wav, m4a/aac, ogg/opus, flac, webm, mp4, mov, mkv"


def get_storage(app: Any, settings: Settings) -> Storage:
    storage = getattr(app.state, "storage", None) if app is not None else None
    if storage is None:
        from keel.core.storage import Storage

        storage = Storage(settings.storage_url, max_size=settings.scribe_max_upload_size)
        if app is not None:
            app.state.storage = storage
    return storage


def file_read(row: MediaFile) -> FileRead:
    return to_read(row, FileRead)


async def store_upload(
    db: AsyncSession,
    storage: Storage,
    settings: Settings,
    owner_id: uuid.UUID,
    chunks: AsyncIterable[bytes],
    filename: str | None,
) -> MediaFile:
    """Stream an upload to storage (sniffed, size-limited), probe it, and add its row. A refused or failed
    upload leaves neither an object nor a row (the request transaction rolls back the row)."""
    file_id = uuid.uuid4()
    key = f"scribe/{owner_id}/{file_id}"
    sniffed = SniffedUpload(
        chunks,
        media.sniff_media_type,
        head_bytes=media.SNIFF_BYTES,
        refusal=f"This file is not a supported audio or video file. Upload one of: {SUPPORTED_UPLOADS}.",
    )
    stored = await storage.put_stream(key, sniffed.stream(), None, max_size=settings.scribe_max_upload_size)
    try:
        kind = sniffed.kind
        assert kind is not None
        async with storage.local_copy(key) as path:
            try:
                info = await asyncio.to_thread(media.probe, path)
            except media.MediaError as exc:
                raise Unprocessable(str(exc)) from exc
        row = MediaFile(
            id=file_id,
            owner_id=owner_id,
            filename=clean_filename(filename, kind.extension),
            content_type=kind.content_type
            if (kind.is_video and info.has_video) or not kind.is_video
            else _audio_type(kind),
            size=stored.size,
            storage_key=key,
            duration=info.duration,
            container=info.container[:100],
            audio_codec=info.audio_codec[:50],
            sample_rate=info.sample_rate,
            channels=info.channels,
            has_video=info.has_video,
            video_codec=info.video_codec,
        )
        db.add(row)
        await db.flush()
        return row
    except BaseException:
        with contextlib.suppress(Exception):
            await storage.delete(key)
        raise


def _audio_type(kind: media.MediaKind) -> str:
    """A video container without a video track (an .m4a named .mp4, audio-only webm)."""
    return {"video/mp4": "audio/mp4", "video/webm": "audio/webm", "video/ogg": "audio/ogg"}.get(
        kind.content_type, kind.content_type
    )


async def get_file(db: AsyncSession, owner_id: uuid.UUID, file_id: uuid.UUID) -> MediaFile:
    row = await db.scalar(select(MediaFile).where(MediaFile.id == file_id, MediaFile.owner_id == owner_id))
    if row is None:
        raise NotFound("File not found")
    return row


async def list_files(
    db: AsyncSession, owner_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[MediaFile], int]:
    where = MediaFile.owner_id == owner_id
    total = await db.scalar(select(func.count()).select_from(MediaFile).where(where)) or 0
    rows = (
        await db.scalars(
            select(MediaFile)
            .where(where)
            .order_by(MediaFile.created_at.desc(), MediaFile.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return list(rows), total


async def delete_file(db: AsyncSession, storage: Storage, owner_id: uuid.UUID, file_id: uuid.UUID) -> None:
    row = await get_file(db, owner_id, file_id)
    busy = await db.scalar(
        select(func.count())
        .select_from(Transcription)
        .where(Transcription.file_id == file_id, Transcription.status.in_(ACTIVE_STATES))
    )
    if busy:
        raise Conflict("This file is being transcribed; cancel the transcription first")
    key = row.storage_key
    await db.delete(row)
    await db.flush()
    await storage.delete(key)
