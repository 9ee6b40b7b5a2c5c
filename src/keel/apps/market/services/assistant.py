"""The shop assistant's data: its settings (the shop's owner manages them) and a chat's hand-off state
(handed to a person, a person answering, handed back to the assistant)."""

from __future__ import annotations

import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import select

from keel.apps.market.models import (
    ASSISTANT,
    OPEN,
    TEXT,
    Assistant,
    Chat,
    ChatSeller,
    Message,
    Product,
    Seller,
    Vendor,
)
from keel.apps.market.schemas import AssistantRead, AssistantUpdate, HumanHours
from keel.apps.market.services.chats import participant_chat, role_in
from keel.apps.market.services.messages import insert_messages
from keel.apps.market.services.vendors import managed_vendor, now
from keel.apps.market.services.views import message_read
from keel.core.errors import Conflict, Forbidden, NotFound, ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.apps.market.schemas import MessageRead
    from keel.identity import Principal

DEFAULT_NAME = "Shop assistant"


def assistant_read(vendor_id: uuid.UUID, row: Assistant | None, engine: str) -> AssistantRead:
    if row is None:
        return AssistantRead(
            vendor_id=vendor_id,
            enabled=False,
            name=DEFAULT_NAME,
            persona=None,
            greeting=None,
            timezone="UTC",
            human_hours=[],
            handoff_topics=["refunds", "complaints"],
            notify_email=False,
            engine=engine,
            updated_at=None,
        )
    return AssistantRead(
        vendor_id=vendor_id,
        enabled=row.enabled,
        name=row.name,
        persona=row.persona,
        greeting=row.greeting,
        timezone=row.timezone,
        human_hours=msgspec.convert(row.human_hours or [], list[HumanHours]),
        handoff_topics=list(row.handoff_topics or []),
        notify_email=row.notify_email,
        engine=engine,
        updated_at=row.updated_at,
    )


async def assistant_of(db: AsyncSession, vendor_id: uuid.UUID) -> Assistant | None:
    return await db.scalar(select(Assistant).where(Assistant.vendor_id == vendor_id))


async def get_settings(db: AsyncSession, principal: Principal, vendor_id: uuid.UUID) -> Assistant | None:
    await managed_vendor(db, principal, vendor_id)
    return await assistant_of(db, vendor_id)


async def put_settings(
    db: AsyncSession, principal: Principal, vendor_id: uuid.UUID, data: AssistantUpdate
) -> Assistant:
    await managed_vendor(db, principal, vendor_id)
    try:
        zoneinfo.ZoneInfo(data.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(details={"timezone": "not a known IANA time zone"}) from None
    for index, hours in enumerate(data.human_hours):
        if hours.start >= hours.end:
            raise ValidationFailed(details={f"human_hours[{index}]": "start must be before end"})
    topics = list(dict.fromkeys(t.strip() for t in data.handoff_topics if t.strip()))
    row = await assistant_of(db, vendor_id)
    if row is None:
        row = Assistant(vendor_id=vendor_id)
        db.add(row)
    row.enabled = data.enabled
    row.name = data.name.strip() or DEFAULT_NAME
    row.persona = data.persona
    row.greeting = data.greeting
    row.timezone = data.timezone
    row.human_hours = msgspec.to_builtins(data.human_hours)
    row.handoff_topics = topics
    row.notify_email = data.notify_email
    await db.flush()
    await db.refresh(row)
    return row


def humans_available(assistant: Assistant, at: datetime | None = None) -> bool | None:
    """Whether people answer right now by the shop's hours (None: the shop gave no hours)."""
    if not assistant.human_hours:
        return None
    local = (at or now()).astimezone(zoneinfo.ZoneInfo(assistant.timezone))
    clock = local.strftime("%H:%M")
    for hours in msgspec.convert(assistant.human_hours, list[HumanHours]):
        if local.weekday() in hours.days and hours.start <= clock < hours.end:
            return True
    return False


def hours_text(assistant: Assistant) -> str:
    names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    spans = []
    for hours in msgspec.convert(assistant.human_hours or [], list[HumanHours]):
        days = sorted(set(hours.days))
        contiguous = days == list(range(days[0], days[-1] + 1))
        label = (
            f"{names[days[0]]}-{names[days[-1]]}"
            if contiguous and len(days) > 1
            else ", ".join(names[d] for d in days)
        )
        spans.append(f"{label} {hours.start}-{hours.end}")
    return "; ".join(spans) + (f" ({assistant.timezone})" if spans else "")


# --------------------------------------------------------------------------- messages by the assistant


@dataclass
class Reply:
    """One message of the assistant's: its text, the product of its card, the id its deltas announced."""

    body: str
    product: Product | None = None
    message_id: uuid.UUID | None = None


def assistant_row(chat_id: uuid.UUID, engine: str, reply: Reply) -> Message:
    """A message of the assistant's, with its card's product set (nothing to read back after the insert)."""
    from sqlalchemy.orm.attributes import set_committed_value

    row = Message(
        chat_id=chat_id,
        sender_id=None,
        client_id=uuid.uuid4(),
        kind=TEXT,
        body=reply.body[:4000],
        product_id=reply.product.id if reply.product is not None else None,
        author=ASSISTANT,
        engine=engine,
        edited_at=None,
        deleted_at=None,
    )
    if reply.message_id is not None:  # announced before it was written: kept, so deltas and message match
        row.id = reply.message_id
    set_committed_value(row, "product", reply.product)
    return row


async def add_assistant_messages(
    db: AsyncSession, chat: Chat, engine: str, replies: list[Reply]
) -> list[MessageRead]:
    """The assistant's messages of one turn, in one INSERT, on the caller's transaction."""
    rows = [assistant_row(chat.id, engine, reply) for reply in replies]
    await insert_messages(db, chat, rows)
    return [message_read(row) for row in rows]


async def add_assistant_message(db: AsyncSession, chat: Chat, body: str, engine: str) -> MessageRead:
    return (await add_assistant_messages(db, chat, engine, [Reply(body)]))[0]


@dataclass
class ReplyContext:
    """What the assistant's turn reads before it answers, fetched in one statement."""

    chat: Chat  # with its shop and assigned sellers (who hears the reply)
    assistant: Assistant
    message: Message  # the customer's message to answer
    catalogue: tuple[int, object]  # the shop's active products and their latest change: the vocabulary's key


_REPLY_CONTEXT: Any = None


def _reply_context_statement() -> Any:
    """Built once per process (building it per turn cost more than running it from the cache)."""
    global _REPLY_CONTEXT
    if _REPLY_CONTEXT is None:
        from sqlalchemy import bindparam, func
        from sqlalchemy.orm import joinedload

        products = Product.__table__
        active = (products.c.vendor_id == Chat.vendor_id) & products.c.is_active.is_(True)
        count = select(func.count()).select_from(products).where(active).correlate(Chat).scalar_subquery()
        changed = select(func.max(products.c.updated_at)).where(active).correlate(Chat).scalar_subquery()
        _REPLY_CONTEXT = (
            select(Chat, Assistant, Message, count.label("products"), changed.label("changed"))
            .join(Assistant, Assistant.vendor_id == Chat.vendor_id)
            .join(Message, Message.chat_id == Chat.id)
            .where(Chat.id == bindparam("chat_id"), Message.id == bindparam("message_id"))
            .options(joinedload(Chat.vendor), joinedload(Chat.assignments).joinedload(ChatSeller.seller))
        )
    return _REPLY_CONTEXT


async def reply_context(db: AsyncSession, chat_id: uuid.UUID, message_id: uuid.UUID) -> ReplyContext | None:
    """The chat, the shop's assistant and the customer's message the assistant should answer, in one
    statement; None when it must stay quiet: no assistant or switched off, a person answering, a closed
    chat, not the customer's message (or deleted)."""
    params = {"chat_id": chat_id, "message_id": message_id}
    found = (await db.execute(_reply_context_statement(), params)).unique().first()
    if found is None:
        return None
    chat, assistant, message, count_value, changed_value = found
    if chat.status != OPEN or chat.human_since is not None or not assistant.enabled:
        return None
    if message.sender_id != chat.customer_id or message.deleted_at is not None:
        return None
    return ReplyContext(chat, assistant, message, (int(count_value or 0), changed_value))


# --------------------------------------------------------------------------- hand-off state


def hand_off(chat: Chat, reason: str) -> bool:
    """Mark the chat as waiting for a person; False when it already was (no second alert)."""
    first = chat.handoff_at is None
    if first:
        chat.handoff_at = now()
    chat.handoff_reason = reason[:80]
    return first


def note_staff_message(chat: Chat, sender_id: uuid.UUID) -> bool:
    """A person of the shop wrote: they have the chat now, the assistant goes quiet. True when that is new."""
    if sender_id == chat.customer_id or chat.human_since is not None:
        return False
    chat.human_since = now()
    return True


async def shop_people(db: AsyncSession, vendor: Vendor) -> list[uuid.UUID]:
    """The owner and every seller of the shop: who hears of a hand-off."""
    sellers = await db.scalars(select(Seller.user_id).where(Seller.vendor_id == vendor.id))
    return list(dict.fromkeys([vendor.owner_id, *sellers]))


async def take_over(db: AsyncSession, principal: Principal, chat_id: uuid.UUID) -> Chat:
    """A person of the shop takes the chat: a seller not yet assigned may take a chat waiting for a person
    (and is assigned to it); participants of the shop's side may take any of their chats."""
    try:
        chat = await participant_chat(db, principal, chat_id)
    except NotFound:
        chat = await _waiting_chat_of_my_shop(db, principal, chat_id)
    if role_in(chat, principal.user_id) == "customer":
        raise Forbidden("Only the shop's people take over a chat")
    if chat.human_since is not None:
        raise Conflict("A person already answers this chat")
    chat.human_since = now()
    await db.flush()
    return await participant_chat(db, principal, chat.id, refresh=True)


async def _waiting_chat_of_my_shop(db: AsyncSession, principal: Principal, chat_id: uuid.UUID) -> Chat:
    chat = await db.get(Chat, chat_id)
    seller = (
        await db.scalar(
            select(Seller).where(Seller.vendor_id == chat.vendor_id, Seller.user_id == principal.user_id)
        )
        if chat is not None
        else None
    )
    if chat is None or seller is None or chat.handoff_at is None:
        raise NotFound("Chat not found")
    if seller.user_id == chat.customer_id:
        raise NotFound("Chat not found")
    db.add(ChatSeller(chat_id=chat.id, seller_id=seller.id))
    await db.flush()
    return await participant_chat(db, principal, chat.id, refresh=True)


async def hand_back(db: AsyncSession, principal: Principal, chat_id: uuid.UUID) -> Chat:
    """The shop's person gives the chat back to the assistant: it answers the customer's next message."""
    chat = await participant_chat(db, principal, chat_id)
    if role_in(chat, principal.user_id) == "customer":
        raise Forbidden("Only the shop's people hand a chat back to the assistant")
    assistant = await assistant_of(db, chat.vendor_id)
    if assistant is None or not assistant.enabled:
        raise Conflict("The shop's assistant is switched off")
    if chat.human_since is None and chat.handoff_at is None:
        raise Conflict("The assistant already answers this chat")
    chat.human_since = None
    chat.handoff_at = None
    chat.handoff_reason = None
    await db.flush()
    return chat


def state_event(kind: str, chat: Chat, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "chat_id": str(chat.id), **extra}


__all__ = [
    "Reply",
    "ReplyContext",
    "add_assistant_message",
    "add_assistant_messages",
    "assistant_of",
    "assistant_read",
    "assistant_row",
    "get_settings",
    "hand_back",
    "hand_off",
    "hours_text",
    "humans_available",
    "note_staff_message",
    "put_settings",
    "reply_context",
    "shop_people",
    "state_event",
    "take_over",
]
