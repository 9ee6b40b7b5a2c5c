"""Messages in a chat: the cursor window, idempotent text sends, edits, soft deletes, read markers.

Data functions only: they change rows on the request's session and return what changed; publishing
the events is the flows' job (keel.apps.market.flows).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from keel.apps.market.models import (
    OPEN,
    TEXT,
    USER,
    Chat,
    ChatMember,
    Message,
    Product,
)
from keel.apps.market.schemas import (
    MemberRead,
    MessageRead,
    MessageSend,
    MessageWindow,
)
from keel.apps.market.services.chats import participant_chat, role_in, upsert_member
from keel.apps.market.services.vendors import now
from keel.apps.market.services.views import message_read
from keel.core.errors import Conflict, Forbidden, NotFound, ValidationFailed

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.core.storage import Storage
    from keel.identity import Principal


async def load_message(db: AsyncSession, chat: Chat, message_id: uuid.UUID) -> Message:
    row = await db.scalar(
        select(Message)
        .where(Message.id == message_id, Message.chat_id == chat.id)
        .options(selectinload(Message.product))
    )
    if row is None:
        raise NotFound("Message not found")
    return row


async def list_messages(
    db: AsyncSession,
    principal: Principal,
    chat_id: uuid.UUID,
    *,
    before: uuid.UUID | None,
    after: uuid.UUID | None,
    limit: int,
) -> MessageWindow:
    chat = await participant_chat(db, principal, chat_id)
    if before is not None and after is not None:
        raise ValidationFailed(details={"before": "give either before or after, not both"})
    for name, cursor in (("before", before), ("after", after)):
        if cursor is not None:
            found = await db.scalar(
                select(Message.id).where(Message.id == cursor, Message.chat_id == chat.id)
            )
            if found is None:
                raise ValidationFailed(details={name: "not a message of this chat"})
    statement = select(Message).where(Message.chat_id == chat.id).options(selectinload(Message.product))
    if after is not None:
        rows = list(
            await db.scalars(statement.where(Message.id > after).order_by(Message.id.asc()).limit(limit + 1))
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return MessageWindow(
            messages=[message_read(r) for r in rows], has_more_before=True, has_more_after=more, limit=limit
        )
    if before is not None:
        statement = statement.where(Message.id < before)
    rows = list(await db.scalars(statement.order_by(Message.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit][::-1]
    return MessageWindow(
        messages=[message_read(r) for r in rows],
        has_more_before=more,
        has_more_after=before is not None,
        limit=limit,
    )


async def check_product(db: AsyncSession, chat: Chat, product_id: uuid.UUID | None) -> Product | None:
    if product_id is None:
        return None
    product = await db.get(Product, product_id)
    if product is None or product.vendor_id != chat.vendor_id:
        raise ValidationFailed(details={"product_id": "not a product of this chat's shop"})
    return product


def require_open(chat: Chat) -> None:
    if chat.status != OPEN:
        raise Conflict("The chat is closed; reopen it to send messages")


_EXISTING: Any = None


async def existing_message(
    db: AsyncSession, chat_id: uuid.UUID, sender_id: uuid.UUID, client_id: uuid.UUID
) -> Message | None:
    global _EXISTING
    if _EXISTING is None:  # built once per process: every send runs it
        from sqlalchemy import bindparam

        _EXISTING = (
            select(Message)
            .where(
                Message.chat_id == bindparam("chat_id"),
                Message.sender_id == bindparam("sender_id"),
                Message.client_id == bindparam("client_id"),
            )
            .options(selectinload(Message.product))
        )
    params = {"chat_id": chat_id, "sender_id": sender_id, "client_id": client_id}
    return await db.scalar(_EXISTING, params)


_CHAT_FOR_SEND: Any = None


async def chat_for_send(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, client_id: uuid.UUID
) -> tuple[Chat, Message | None]:
    """The chat as `participant_chat` reads it, and the caller's message already stored under
    `client_id` (a retry), in one statement: the replay check rides along as a column. Built once."""
    global _CHAT_FOR_SEND
    if _CHAT_FOR_SEND is None:
        from sqlalchemy import bindparam

        from keel.apps.market.services.chats import participant_chat_statement

        replayed = (
            select(Message.id)
            .where(
                Message.chat_id == Chat.id,
                Message.sender_id == bindparam("sender_id"),
                Message.client_id == bindparam("client_id"),
            )
            .correlate(Chat)
            .scalar_subquery()
        )
        _CHAT_FOR_SEND = participant_chat_statement().add_columns(replayed)
    params = {"chat_id": chat_id, "user_id": principal.user_id, "sender_id": principal.user_id}
    found = (await db.execute(_CHAT_FOR_SEND, {**params, "client_id": client_id})).unique().first()
    if found is None:
        raise NotFound("Chat not found")
    chat, replayed_id = found
    return chat, None if replayed_id is None else await load_message(db, chat, replayed_id)


def _same_send(row: Message, kind: str, body: str | None, product_id: uuid.UUID | None) -> bool:
    return row.kind == kind and row.body == body and row.product_id == product_id


def _after(newest: uuid.UUID | None) -> uuid.UUID:
    """A fresh UUIDv7 greater than `newest` (two instances may draw ids in the same millisecond)."""
    from advanced_alchemy.mixins.uuid import uuid7

    fresh = uuid.UUID(str(uuid7()))
    if newest is not None and fresh <= newest:
        fresh = uuid.UUID(int=newest.int + 1)
    return fresh


async def insert_message(db: AsyncSession, chat: Chat, row: Message) -> Message:
    """Add the message (`insert_messages`), and move the sender's read marker to it: your own messages
    are read."""
    await insert_messages(db, chat, [row])
    if row.sender_id is not None:
        await upsert_member(db, chat.id, row.sender_id, read_up_to=row.id)
    return row


async def insert_messages(db: AsyncSession, chat: Chat, rows: list[Message]) -> list[Message]:
    """Add messages to one chat (`insert_batch`); the chat object's activity time follows."""
    from sqlalchemy.orm.attributes import set_committed_value

    stamps = await insert_batch(db, {chat.id: rows})
    set_committed_value(chat, "last_message_at", stamps[chat.id])
    return rows


_BATCH: tuple[Any, Any, Any] | None = None


def _batch_statements() -> tuple[Any, Any, Any]:
    """insert_batch's statements, built once per process (every send and every batch of answers runs
    them): lock the chats while moving their activity time forward, returning it; the same returning
    their newest ids too (SQLite); their newest ids (PostgreSQL)."""
    global _BATCH
    if _BATCH is None:
        from sqlalchemy import bindparam, case, update

        chats = Chat.__table__
        activity = chats.c.last_message_at
        ids = chats.c.id.in_(bindparam("ids", expanding=True))
        stamp = bindparam("stamp", type_=activity.type)
        last = (
            select(Message.id)
            .where(Message.chat_id == chats.c.id)
            .order_by(Message.id.desc())
            .limit(1)
            .correlate(chats)
            .scalar_subquery()
        )  # (PostgreSQL has no max() of uuid)
        move = (
            update(chats)
            .where(ids)
            .values(last_message_at=case((activity.is_(None) | (activity < stamp), stamp), else_=activity))
        )
        _BATCH = (
            move.returning(chats.c.id, chats.c.last_message_at),
            move.returning(chats.c.id, chats.c.last_message_at, last),
            select(chats.c.id, last).where(ids),
        )
    return _BATCH


async def insert_batch(
    db: AsyncSession, rows_by_chat: dict[uuid.UUID, list[Message]]
) -> dict[uuid.UUID, datetime]:
    """Add messages to one or more chats in one INSERT and move the chats' activity time (a fixed number
    of statements however many chats and rows); returns each chat's new activity time, which its new
    rows are stamped with.

    Sends to one chat are serialised: the statement that moves the chats' activity time (forward only)
    takes their row locks (PostgreSQL holds them, SQLite its write lock, until commit), and only then
    are the ids drawn, greater than every id already in the chat (rows without an id get one, in
    order). So ids follow commit order within a chat, and a read marker ("read up to id X") never skips
    a message that committed late with a smaller id. The rows' time is the chat's activity time as that
    statement left it (returned by it, after any lock wait): never earlier than an earlier message's.
    A concurrent retry with the same client id that slipped past the replay check fails the unique
    constraint: 409, and the client's next retry gets the stored message. Each row's `product` must be
    set (or None) by the caller: nothing is read back."""
    move, move_newest, newest_of = _batch_statements()
    ids = sorted(rows_by_chat)  # one lock order for every writer
    unnumbered = [chat_id for chat_id in ids if any(row.id is None for row in rows_by_chat[chat_id])]
    newest: dict[uuid.UUID, uuid.UUID | None] = dict.fromkeys(unnumbered)
    params = {"ids": ids, "stamp": now()}
    # SQLite reads the newest ids in the locking statement (RETURNING): its write lock comes with a
    # snapshot no other writer has moved (or the statement fails busy). PostgreSQL's RETURNING would read
    # them with the snapshot from before a lock wait, missing a message committed meanwhile: a statement
    # later. (The returned activity time is the locked row's own, current after the wait on both.)
    sqlite = db.get_bind().dialect.name == "sqlite"
    stamps: dict[uuid.UUID, datetime] = {}
    if sqlite and unnumbered:
        for chat_id, stamp, last in await db.execute(move_newest, params):
            stamps[chat_id] = stamp
            if chat_id in newest:
                newest[chat_id] = last
    else:
        stamps.update({chat_id: stamp for chat_id, stamp in await db.execute(move, params)})
    if unnumbered and not sqlite:
        found = await db.execute(newest_of, {"ids": unnumbered})
        newest.update({chat_id: last for chat_id, last in found})
    values = []
    for chat_id in ids:
        if chat_id not in stamps:  # deleted since it was read
            raise NotFound("Chat not found")
        stamp = stamps[chat_id]
        for row in rows_by_chat[chat_id]:
            if row.id is None:
                row.id = newest[chat_id] = _after(newest[chat_id])
            row.created_at = row.updated_at = stamp
            row.author = row.author or USER
            values.append({key: getattr(row, key) for key in _MESSAGE_COLUMNS})
    # one INSERT for all of them, without the unit of work: the rows stay plain objects (what the caller
    # reads back from them is set above; `load_message` reads a stored row afresh)
    await db.execute(_insert_messages(), values)
    return stamps


_MESSAGE_COLUMNS = tuple(c.key for c in Message.__table__.columns if c.key != "sa_orm_sentinel")
_INSERT: Any = None


def _insert_messages() -> Any:
    global _INSERT
    if _INSERT is None:
        from sqlalchemy import insert

        _INSERT = insert(Message.__table__)
    return _INSERT


@dataclass
class Sent:
    """A send's outcome: `created` is False for a replayed client id (nothing new to announce)."""

    chat: Chat
    message: MessageRead
    created: bool
    storage_key: str | None = None


@dataclass
class Changed:
    """A message that changed, with its chat (whose participants hear of it)."""

    chat: Chat
    message: MessageRead


async def send_text(
    db: AsyncSession,
    principal: Principal,
    chat_id: uuid.UUID,
    data: MessageSend,
    *,
    chat: Chat | None = None,
) -> Sent:
    if chat is None:
        chat, existing = await chat_for_send(db, principal, chat_id, data.client_id)
    else:  # a chat just opened with its first message
        existing = await existing_message(db, chat.id, principal.user_id, data.client_id)
    body = data.body.strip()
    if not body:
        raise ValidationFailed(details={"body": "must not be blank"})
    if existing is not None:
        return _replay(chat, existing, TEXT, body, data.product_id)
    require_open(chat)
    product = await check_product(db, chat, data.product_id)
    row = Message(
        chat_id=chat.id,
        sender_id=principal.user_id,
        client_id=data.client_id,
        kind=TEXT,
        body=body,
        product_id=data.product_id,
    )
    set_committed_value(row, "product", product)  # what the card shows: no reload after the insert
    inserted = await insert_message(db, chat, row)
    return Sent(chat, message_read(inserted), True)


def _replay(chat: Chat, existing: Message, kind: str, body: str | None, product_id: uuid.UUID | None) -> Sent:
    if not _same_send(existing, kind, body, product_id):
        raise Conflict(
            "This client_id was already used for a different message",
            details={"client_id": "already used for a different message"},
        )
    return Sent(chat, message_read(existing), False)


async def _own_message(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, message_id: uuid.UUID
) -> tuple[Chat, Message]:
    chat = await participant_chat(db, principal, chat_id)
    row = await load_message(db, chat, message_id)
    if row.sender_id != principal.user_id:
        raise Forbidden("You can only change your own messages")
    if row.deleted_at is not None:
        raise Conflict("The message was deleted")
    return chat, row


async def edit_message(
    db: AsyncSession,
    principal: Principal,
    chat_id: uuid.UUID,
    message_id: uuid.UUID,
    body: str,
) -> Changed:
    chat, row = await _own_message(db, principal, chat_id, message_id)
    text = body.strip()
    if not text:
        raise ValidationFailed(details={"body": "must not be blank"})
    row.body = text
    row.edited_at = now()
    await db.flush()
    return Changed(chat, message_read(row))


async def delete_message(
    db: AsyncSession,
    storage: Storage,
    principal: Principal,
    chat_id: uuid.UUID,
    message_id: uuid.UUID,
) -> Changed:
    chat, row = await _own_message(db, principal, chat_id, message_id)
    key = row.media_key
    row.deleted_at = now()
    row.body = None
    row.product_id = None
    row.media_key = None
    await db.flush()
    if key is not None:
        await storage.delete(key)  # the file is gone with the message; the row stays as "deleted"
    return Changed(chat, message_read(row))


@dataclass
class ReadMarker:
    chat: Chat
    marker: MemberRead
    moved: bool  # False when the marker was already at or past the message


async def mark_read(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, message_id: uuid.UUID
) -> ReadMarker:
    chat = await participant_chat(db, principal, chat_id)
    found = await db.scalar(select(Message.id).where(Message.id == message_id, Message.chat_id == chat.id))
    if found is None:
        raise ValidationFailed(details={"message_id": "not a message of this chat"})
    # markers only move forward, also when two marks race: the upsert compares in the database
    moved = await upsert_member(db, chat.id, principal.user_id, read_up_to=message_id)
    current = await db.scalar(
        select(ChatMember.last_read_message_id).where(
            ChatMember.chat_id == chat.id, ChatMember.user_id == principal.user_id
        )
    )
    marker = MemberRead(
        user_id=principal.user_id,
        role=role_in(chat, principal.user_id),  # type: ignore[arg-type]
        last_read_message_id=current,
    )
    return ReadMarker(chat, marker, moved)
