"""market flows: the orchestration around the data functions of `services` (Dispatch's service/flows split).

A flow calls the services on the request's session, collects the realtime events the change causes in
an `Outbox`, and the route hands the outbox to the request (`deliver_later`). The `after_response`
hook `deliver_after_commit` publishes the events once the transaction is committed, so a listener never
hears of a message it cannot fetch yet and a failed request publishes nothing; then it runs the outbox's
follow-ups (the assistant's reply), each in a transaction of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from keel.apps.market import services
from keel.apps.market.schemas import MessageSend
from keel.core.realtime import publish_many, user_channel

if TYPE_CHECKING:
    from collections.abc import AsyncIterable

    from litestar import Litestar, Request
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.apps.market.models import Chat
    from keel.apps.market.schemas import ChatCreate, MemberRead, MessageRead
    from keel.core.storage import Storage
    from keel.identity import Principal

log = structlog.get_logger("keel.market")

TYPING_SECONDS = 6
FollowUp = Callable[["Litestar"], Awaitable[None]]


@dataclass
class Outbox:
    """What a request publishes after its commit: (recipients, event) pairs, then follow-ups to run."""

    items: list[tuple[list[uuid.UUID], dict[str, Any]]] = field(default_factory=list)
    follow_ups: list[FollowUp] = field(default_factory=list)
    expected: object | None = None  # a send's first token the assistant's writer waits for (writer.py)

    def add(self, chat: Chat, event: dict[str, Any]) -> None:
        self.items.append((services.participant_ids(chat), event))

    def to(self, recipients: list[uuid.UUID], event: dict[str, Any]) -> None:
        self.items.append((list(dict.fromkeys(recipients)), event))


def message_event(kind: str, message: MessageRead) -> dict[str, Any]:
    # the struct itself: publishing encodes it to the same JSON as its builtins, without building them
    return {"type": kind, "chat_id": str(message.chat_id), "message": message}


# seen live or not at all: a reconnecting client is not sent these again (the stored message follows deltas)
TRANSIENT = frozenset({"message.delta", "typing", "presence"})


async def publish_all(app: Litestar, outbox: Outbox) -> None:
    """Each event to each recipient's `user:<id>:market` channel; all but TRANSIENT ones carry an id and
    are replayed to a stream that reconnects with an earlier Last-Event-ID."""
    for recipients, event in outbox.items:
        channels = [user_channel(user_id, "market") for user_id in recipients]
        try:  # encoded once for all its recipients
            await publish_many(app, channels, event, replay=event.get("type") not in TRANSIENT)
        except Exception:  # a broken pub/sub must not turn a sent message into an error
            log.warning("market_publish_failed", event=event.get("type"), exc_info=True)


def deliver_later(request: Request[Any, Any, Any], outbox: Outbox) -> None:
    """Called as a handler's last step, so a handler that fails delivers nothing."""
    request.state.market_outbox = outbox


async def deliver_after_commit(request: Request[Any, Any, Any]) -> None:
    """after_response: the transaction is committed by now."""
    outbox: Outbox | None = getattr(request.state, "market_outbox", None)
    if outbox is None:
        return
    await publish_all(request.app, outbox)
    for follow_up in outbox.follow_ups:
        try:
            await follow_up(request.app)
        except Exception:  # the customer's message is stored and announced; a failed extra is logged
            log.exception("market_follow_up_failed")


# --------------------------------------------------------------------------- chats


async def open_chat(db: AsyncSession, principal: Principal, data: ChatCreate, outbox: Outbox) -> Chat:
    from keel.apps.market.assistant import respond

    chat = await services.open_chat(db, principal, data)
    outbox.add(chat, chat_event("chat.created", chat))
    await respond.greet(db, chat, outbox)
    if data.first_message:
        first = MessageSend(client_id=uuid.uuid4(), body=data.first_message)
        sent = await services.send_text(db, principal, chat.id, first, chat=chat)
        outbox.add(chat, message_event("message.created", sent.message))
        respond.reply_later(outbox, chat.id, sent.message.id)
    return chat


async def _after_send(db: AsyncSession, principal: Principal, sent: services.Sent, outbox: Outbox) -> None:
    """A new message: the customer's gets the assistant's reply (if it answers this chat); one by the
    shop's people means a person answers now, and the assistant goes quiet."""
    from keel.apps.market.assistant import respond

    chat = sent.chat
    outbox.add(chat, message_event("message.created", sent.message))
    if principal.user_id == chat.customer_id:
        respond.reply_later(outbox, chat.id, sent.message.id)
    elif services.assistant.note_staff_message(chat, principal.user_id):
        await db.flush()
        assistant = await services.assistant.assistant_of(db, chat.vendor_id)
        if assistant is not None and assistant.enabled:  # only then is "a person took over" news
            event = services.assistant.state_event("chat.human", chat, user_id=str(principal.user_id))
            outbox.add(chat, event)


def chat_event(kind: str, chat: Chat, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "chat_id": str(chat.id), "title": chat.title, "status": chat.status, **extra}


async def rename_chat(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, title: str, outbox: Outbox
) -> Chat:
    chat = await services.rename_chat(db, principal, chat_id, title)
    outbox.add(chat, chat_event("chat.renamed", chat, by=str(principal.user_id)))
    return chat


async def set_status(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, status: str, outbox: Outbox
) -> Chat:
    chat = await services.set_status(db, principal, chat_id, status)
    kind = "chat.closed" if status == "closed" else "chat.reopened"
    outbox.add(chat, chat_event(kind, chat, by=str(principal.user_id)))
    return chat


async def set_archived(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, archived: bool, outbox: Outbox
) -> Chat:
    chat = await services.set_archived(db, principal, chat_id, archived)
    # archiving is personal: only the caller's other devices hear of it
    outbox.to([principal.user_id], chat_event("chat.archived" if archived else "chat.unarchived", chat))
    return chat


async def assign_seller(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, seller_id: uuid.UUID, outbox: Outbox
) -> Chat:
    chat = await services.assign_seller(db, principal, chat_id, seller_id)
    outbox.add(chat, chat_event("chat.seller_assigned", chat, seller_id=str(seller_id)))
    return chat


async def unassign_seller(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, seller_id: uuid.UUID, outbox: Outbox
) -> None:
    chat, removed_user = await services.unassign_seller(db, principal, chat_id, seller_id)
    event = chat_event("chat.seller_removed", chat, seller_id=str(seller_id), user_id=str(removed_user))
    outbox.to([*services.participant_ids(chat), removed_user], event)


async def take_over(db: AsyncSession, principal: Principal, chat_id: uuid.UUID, outbox: Outbox) -> Chat:
    chat = await services.assistant.take_over(db, principal, chat_id)
    outbox.add(chat, services.assistant.state_event("chat.human", chat, user_id=str(principal.user_id)))
    return chat


async def hand_back(db: AsyncSession, principal: Principal, chat_id: uuid.UUID, outbox: Outbox) -> Chat:
    chat = await services.assistant.hand_back(db, principal, chat_id)
    outbox.add(chat, services.assistant.state_event("chat.assistant", chat, user_id=str(principal.user_id)))
    return chat


async def typing(db: AsyncSession, principal: Principal, chat_id: uuid.UUID, outbox: Outbox) -> None:
    """ "Someone is typing", for TYPING_SECONDS: clients show it until `until` unless it is renewed."""
    from datetime import timedelta

    chat = await services.participant_chat(db, principal, chat_id)
    until = services.now() + timedelta(seconds=TYPING_SECONDS)
    others = [u for u in services.participant_ids(chat) if u != principal.user_id]
    event = {
        "type": "typing",
        "chat_id": str(chat.id),
        "user_id": str(principal.user_id),
        "role": services.role_in(chat, principal.user_id),
        "until": until.isoformat(),
    }
    outbox.to(others, event)


# --------------------------------------------------------------------------- messages


async def send_text(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, data: MessageSend, outbox: Outbox
) -> services.Sent:
    sent = await services.send_text(db, principal, chat_id, data)
    if sent.created:
        await _after_send(db, principal, sent, outbox)
    return sent


async def send_media(
    db: AsyncSession,
    storage: Storage,
    principal: Principal,
    chat: Chat,
    form: services.MediaForm,
    chunks: AsyncIterable[bytes],
    filename: str | None,
    max_size: int,
    outbox: Outbox,
) -> services.Sent:
    sent = await services.store_media(db, storage, principal, chat, form, chunks, filename, max_size)
    await _after_send(db, principal, sent, outbox)
    return sent


async def edit_message(
    db: AsyncSession,
    principal: Principal,
    chat_id: uuid.UUID,
    message_id: uuid.UUID,
    body: str,
    outbox: Outbox,
) -> MessageRead:
    changed = await services.edit_message(db, principal, chat_id, message_id, body)
    outbox.add(changed.chat, message_event("message.updated", changed.message))
    return changed.message


async def delete_message(
    db: AsyncSession,
    storage: Storage,
    principal: Principal,
    chat_id: uuid.UUID,
    message_id: uuid.UUID,
    outbox: Outbox,
) -> None:
    changed = await services.delete_message(db, storage, principal, chat_id, message_id)
    outbox.add(changed.chat, message_event("message.deleted", changed.message))


async def mark_read(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, message_id: uuid.UUID, outbox: Outbox
) -> MemberRead:
    read = await services.mark_read(db, principal, chat_id, message_id)
    if read.moved:
        outbox.add(
            read.chat,
            {
                "type": "read",
                "chat_id": str(read.chat.id),
                "user_id": str(principal.user_id),
                "last_read_message_id": str(message_id),
            },
        )
    return read.marker
