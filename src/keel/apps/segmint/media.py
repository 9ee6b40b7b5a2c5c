"""Images attached to a content: uploaded while it is a draft (the bytes in storage, their type checked
by their first bytes, not by what the client says), listed in order, removed; checked against each
network's media rules when the content is scheduled, and read back when it is published."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import func, select

from keel.apps.segmint import media_store, services
from keel.apps.segmint.network_models import Media
from keel.apps.segmint.networks import validation
from keel.apps.segmint.networks.base import Attachment
from keel.apps.segmint.services.states import EDITABLE
from keel.core.errors import Conflict, NotFound, PayloadTooLarge, UnsupportedMediaType

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.apps.segmint.teams import Seat
    from keel.core.storage import Storage
    from keel.settings import Settings

MAX_BYTES = 8 * 1024 * 1024  # per image; each network's own limit is checked when scheduling
MAX_PER_CONTENT = 20  # LinkedIn's multi-image maximum; X, Mastodon and Bluesky take 4
MIME_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def sniff(head: bytes) -> str | None:
    """The image type the bytes are, whatever the client said."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


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
        raise Conflict(f"A content takes at most {MAX_PER_CONTENT} images", details={"file": "too many"})
    data = bytearray()
    async for chunk in chunks:
        data += chunk
        if len(data) > MAX_BYTES:
            raise PayloadTooLarge(f"An image may be at most {MAX_BYTES} bytes", details={"file": "too large"})
    mime = sniff(bytes(data[:16]))
    if mime is None:
        raise UnsupportedMediaType(
            "Attach a JPEG, PNG, GIF or WebP image", details={"file": f"not one of {', '.join(MIME_TYPES)}"}
        )

    async def once() -> Any:
        yield bytes(data)

    key = f"segmint/{content.workspace_id}/{content.id}/{uuid.uuid4().hex}"
    await storage.put_stream(key, once(), mime, max_size=MAX_BYTES)
    media_store.discard_on_rollback(db, storage, key)  # a request that fails takes its upload with it
    row = Media(
        workspace_id=content.workspace_id,
        content_id=content.id,
        owner_id=seat.user_id,
        storage_key=key,
        mime_type=mime,
        size=len(data),
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
    where = Media.content_id == content.id
    total = await db.scalar(select(func.count()).select_from(Media).where(where)) or 0
    rows = await db.scalars(select(Media).where(where).order_by(Media.position).limit(limit).offset(offset))
    return list(rows.all()), total


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
    return [validation.Media(r.mime_type, r.size) for r in rows]


async def load(settings: Settings, rows: list[Media]) -> list[Attachment]:
    """The images' bytes for the adapters (read when a delivery runs; a missing file fails it)."""
    from keel.core.storage import Storage

    storage = Storage(settings.storage_url, max_size=settings.max_upload_size)
    out = []
    for row in rows:
        data = b"".join([chunk async for chunk in storage.open_stream(row.storage_key)])
        out.append(Attachment(data, row.mime_type, row.alt_text))
    return out
