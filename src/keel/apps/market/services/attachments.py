"""Media messages: the form checks that run before any byte is stored, streaming to storage, download."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from keel.apps.market import media
from keel.apps.market.models import (
    MEDIA,
    Chat,
    Message,
)
from keel.apps.market.schemas import (
    MAX_MESSAGE_LENGTH,
)
from keel.apps.market.services.chats import participant_chat
from keel.apps.market.services.messages import (
    Sent,
    check_product,
    existing_message,
    insert_message,
    load_message,
    require_open,
)
from keel.apps.market.services.views import message_read
from keel.core.errors import Conflict, NotFound, ValidationFailed
from keel.core.uploads import SniffedUpload, clean_filename

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.core.storage import Storage
    from keel.identity import Principal


@dataclass
class MediaForm:
    client_id: uuid.UUID
    body: str | None
    product_id: uuid.UUID | None


def parse_media_fields(fields: dict[str, str]) -> MediaForm:
    unknown = set(fields) - {"client_id", "body", "product_id"}
    details: dict[str, str] = {name: "unknown field" for name in sorted(unknown)}
    client_id = product_id = None
    try:
        client_id = uuid.UUID(fields["client_id"])
    except KeyError:
        details["client_id"] = "required"
    except ValueError:
        details["client_id"] = "must be a UUID"
    if fields.get("product_id"):
        try:
            product_id = uuid.UUID(fields["product_id"])
        except ValueError:
            details["product_id"] = "must be a UUID"
    body = (fields.get("body") or "").strip() or None
    if body is not None and len(body) > MAX_MESSAGE_LENGTH:
        details["body"] = f"at most {MAX_MESSAGE_LENGTH} characters"
    if details:
        raise ValidationFailed(details=details)
    assert client_id is not None
    return MediaForm(client_id=client_id, body=body, product_id=product_id)


async def prepare_media(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, form: MediaForm
) -> tuple[Chat, Sent | None]:
    """Checks before any byte is stored: the chat (404), a replayed client id, an open chat, the product."""
    chat = await participant_chat(db, principal, chat_id)
    existing = await existing_message(db, chat.id, principal.user_id, form.client_id)
    if existing is not None:
        if existing.kind != MEDIA or existing.body != form.body or existing.product_id != form.product_id:
            raise Conflict(
                "This client_id was already used for a different message",
                details={"client_id": "already used for a different message"},
            )
        return chat, Sent(chat, message_read(existing), False)
    require_open(chat)
    await check_product(db, chat, form.product_id)
    return chat, None


async def store_media(
    db: AsyncSession,
    storage: Storage,
    principal: Principal,
    chat: Chat,
    form: MediaForm,
    chunks: AsyncIterable[bytes],
    filename: str | None,
    max_size: int,
) -> Sent:
    """Stream the upload to storage (sniffed, size-limited) and add the message. A refused upload leaves no
    object; a failure after storing removes it (the row rolls back with the request)."""
    message_id = uuid.uuid4()
    key = f"market/{chat.id}/{message_id}"
    refusal = f"This file type is not accepted in chats. Send one of: {media.ACCEPTED}."
    sniffer = SniffedUpload(chunks, media.sniff, head_bytes=media.SNIFF_BYTES, refusal=refusal)
    stored = await storage.put_stream(key, sniffer.stream(), None, max_size=max_size)
    try:
        kind = sniffer.kind
        assert kind is not None
        row = Message(
            chat_id=chat.id,
            sender_id=principal.user_id,
            client_id=form.client_id,
            kind=MEDIA,
            body=form.body,
            product_id=form.product_id,
            media_key=key,
            media_type=kind.content_type,
            media_size=stored.size,
            media_name=clean_filename(filename, kind.extension, fallback="attachment"),
        )
        inserted = await insert_message(db, chat, row)
        fresh = await load_message(db, chat, inserted.id)
    except BaseException:
        await storage.delete(key)
        raise
    return Sent(chat, message_read(fresh), True, key)


async def media_of(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, message_id: uuid.UUID
) -> Message:
    chat = await participant_chat(db, principal, chat_id)
    row = await load_message(db, chat, message_id)
    if row.kind != MEDIA or row.deleted_at is not None or row.media_key is None:
        raise NotFound("This message has no file")
    return row
