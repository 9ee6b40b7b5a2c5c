"""Chats between a customer and a shop: who takes part, the chat list with unread counts, the chat's
state (title, open/closed, archived, assigned sellers).

A chat's participants are its customer, the vendor's owner and the sellers assigned to it; to anyone
else the chat and everything under it does not exist (404).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from keel.apps.market.models import (
    CLOSED,
    Chat,
    ChatMember,
    ChatSeller,
    Message,
    Seller,
    Vendor,
)
from keel.apps.market.schemas import (
    ChatCreate,
    ChatRead,
    ChatSellerRead,
    MemberRead,
)
from keel.apps.market.services.sellers import seller_of
from keel.apps.market.services.vendors import can_manage_vendor, now
from keel.apps.market.services.views import message_read
from keel.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from keel.identity import user_names

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.identity import Principal


CUSTOMER, OWNER, SELLER = "customer", "owner", "seller"
_KEEP: Any = object()  # upsert_member: leave the column as it is


def participant_filter(user_id: uuid.UUID) -> Any:
    """Chats `user_id` takes part in: as the customer, the vendor's owner, or an assigned seller."""
    return or_(
        Chat.customer_id == user_id,
        Chat.vendor_id.in_(select(Vendor.id).where(Vendor.owner_id == user_id)),
        Chat.id.in_(
            select(ChatSeller.chat_id)
            .join(Seller, Seller.id == ChatSeller.seller_id)
            .where(Seller.user_id == user_id)
        ),
    )


def _chat_load() -> list[Any]:
    return [joinedload(Chat.vendor), selectinload(Chat.assignments).selectinload(ChatSeller.seller)]


_PARTICIPANT_CHAT: Any = None


def participant_chat_statement() -> Any:
    """The chat `:chat_id` if `:user_id` takes part in it, with its shop and assigned sellers joined, in
    one statement (no LIMIT here, unlike the lists). Built once per process: every chat route runs it,
    and building it cost more than its cache lookup."""
    global _PARTICIPANT_CHAT
    if _PARTICIPANT_CHAT is None:
        _PARTICIPANT_CHAT = (
            select(Chat)
            .where(Chat.id == bindparam("chat_id"), participant_filter(bindparam("user_id")))
            .options(joinedload(Chat.vendor), joinedload(Chat.assignments).joinedload(ChatSeller.seller))
        )
    return _PARTICIPANT_CHAT


async def participant_chat(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, *, refresh: bool = False
) -> Chat:
    statement = participant_chat_statement()
    if refresh:  # reload relations changed earlier in this transaction
        statement = statement.execution_options(populate_existing=True)
    params = {"chat_id": chat_id, "user_id": principal.user_id}
    chat = (await db.execute(statement, params)).unique().scalar_one_or_none()
    if chat is None:
        raise NotFound("Chat not found")
    return chat


async def recent_chats_of(db: AsyncSession, user_id: uuid.UUID, limit: int) -> list[Chat]:
    """The `limit` chats `user_id` takes part in with the latest activity (whom presence concerns)."""
    activity = func.coalesce(Chat.last_message_at, Chat.created_at)
    statement = select(Chat).where(participant_filter(user_id)).options(*_chat_load())
    return list(await db.scalars(statement.order_by(activity.desc(), Chat.id.desc()).limit(limit)))


def role_in(chat: Chat, user_id: uuid.UUID) -> str:
    if chat.customer_id == user_id:
        return CUSTOMER
    if chat.vendor.owner_id == user_id:
        return OWNER
    return SELLER


def participant_ids(chat: Chat) -> list[uuid.UUID]:
    ids = [chat.customer_id, chat.vendor.owner_id, *(a.seller.user_id for a in chat.assignments)]
    return list(dict.fromkeys(ids))


async def _chat_summaries(db: AsyncSession, user_id: uuid.UUID, chats: Sequence[Chat]) -> list[ChatRead]:
    """Chat rows → ChatRead with last message, unread count and seller names, in a fixed number of
    queries whatever the page size."""
    if not chats:
        return []
    ids = [c.id for c in chats]
    ranked = (
        select(
            Message.id,
            func.row_number().over(partition_by=Message.chat_id, order_by=Message.id.desc()).label("rank"),
        )
        .where(Message.chat_id.in_(ids))
        .subquery()
    )
    last_rows = await db.scalars(
        select(Message)
        .join(ranked, ranked.c.id == Message.id)
        .where(ranked.c.rank == 1)
        .options(selectinload(Message.product))
    )
    last = {m.chat_id: m for m in last_rows}
    members = {
        m.chat_id: m
        for m in await db.scalars(
            select(ChatMember)
            .where(ChatMember.chat_id.in_(ids), ChatMember.user_id == user_id)
            .execution_options(populate_existing=True)  # rows upserted by this request are current
        )
    }
    unread = await _unread_counts(db, user_id, ids)
    names = await user_names(db, [a.seller.user_id for c in chats for a in c.assignments])
    out = []
    for chat in chats:
        member = members.get(chat.id)
        message = last.get(chat.id)
        out.append(
            ChatRead(
                id=chat.id,
                title=chat.title,
                status=chat.status,  # type: ignore[arg-type]
                customer_id=chat.customer_id,
                vendor_id=chat.vendor_id,
                vendor_name=chat.vendor.name,
                my_role=role_in(chat, user_id),  # type: ignore[arg-type]
                archived=member is not None and member.archived_at is not None,
                unread_count=unread.get(chat.id, 0),
                last_message=message_read(message) if message is not None else None,
                last_message_at=chat.last_message_at,
                created_at=chat.created_at,
                closed_at=chat.closed_at,
                handoff_at=chat.handoff_at,
                handoff_reason=chat.handoff_reason,
                human_since=chat.human_since,
                sellers=[
                    ChatSellerRead(
                        seller_id=a.seller_id, user_id=a.seller.user_id, name=names.get(a.seller.user_id, "")
                    )
                    for a in chat.assignments
                ],
            )
        )
    return out


async def _unread_counts(
    db: AsyncSession, user_id: uuid.UUID, chat_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Messages of others after the caller's read marker (all of them without one), per chat."""
    statement = (
        select(Message.chat_id, func.count())
        .outerjoin(ChatMember, and_(ChatMember.chat_id == Message.chat_id, ChatMember.user_id == user_id))
        .where(
            Message.chat_id.in_(chat_ids),
            Message.deleted_at.is_(None),
            or_(Message.sender_id.is_(None), Message.sender_id != user_id),
            or_(ChatMember.last_read_message_id.is_(None), Message.id > ChatMember.last_read_message_id),
        )
        .group_by(Message.chat_id)
    )
    return dict((await db.execute(statement)).all())  # type: ignore[arg-type]


async def chat_detail(
    db: AsyncSession, principal: Principal, chat: Chat, presence: dict[str, str] | None = None
) -> ChatRead:
    """The chat with its members (their read markers, and `presence` when given: id -> online/away)."""
    read = (await _chat_summaries(db, principal.user_id, [chat]))[0]
    markers = dict(
        (
            await db.execute(
                select(ChatMember.user_id, ChatMember.last_read_message_id).where(
                    ChatMember.chat_id == chat.id
                )
            )
        ).all()
    )
    read.members = [
        MemberRead(
            user_id=uid,
            role=role_in(chat, uid),  # type: ignore[arg-type]
            last_read_message_id=markers.get(uid),
            presence=(presence or {}).get(str(uid)),  # type: ignore[arg-type]
        )
        for uid in participant_ids(chat)
    ]
    return read


async def list_chats(
    db: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    archived: bool,
    role: str | None,
    vendor_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> tuple[list[ChatRead], int]:
    me = principal.user_id
    member = and_(ChatMember.chat_id == Chat.id, ChatMember.user_id == me)
    conditions: list[Any] = [participant_filter(me)]
    if status is not None:
        conditions.append(Chat.status == status)
    if vendor_id is not None:
        conditions.append(Chat.vendor_id == vendor_id)
    archived_condition = ChatMember.archived_at.is_not(None)
    conditions.append(
        archived_condition if archived else or_(ChatMember.id.is_(None), ChatMember.archived_at.is_(None))
    )
    if role == CUSTOMER:
        conditions.append(Chat.customer_id == me)
    elif role == OWNER:
        conditions.append(Chat.vendor_id.in_(select(Vendor.id).where(Vendor.owner_id == me)))
    elif role == SELLER:
        conditions.append(
            Chat.id.in_(
                select(ChatSeller.chat_id)
                .join(Seller, Seller.id == ChatSeller.seller_id)
                .where(Seller.user_id == me)
            )
        )
    base = select(Chat).outerjoin(ChatMember, member).where(*conditions)
    total = await db.scalar(select(func.count()).select_from(base.subquery())) or 0
    activity = func.coalesce(Chat.last_message_at, Chat.created_at)
    chats = list(
        await db.scalars(
            base.options(*_chat_load()).order_by(activity.desc(), Chat.id.desc()).limit(limit).offset(offset)
        )
    )
    return await _chat_summaries(db, me, chats), total


async def open_chat(db: AsyncSession, principal: Principal, data: ChatCreate) -> Chat:
    """The chat row (its first message, if any, is sent by the flow)."""
    vendor = await db.get(Vendor, data.vendor_id)
    if vendor is None or not (vendor.is_active or can_manage_vendor(principal, vendor)):
        raise ValidationFailed(details={"vendor_id": "no such shop"})
    if not vendor.is_active:
        raise Conflict("This shop is not taking new chats", details={"vendor_id": "shop is inactive"})
    if vendor.owner_id == principal.user_id or await seller_of(db, vendor.id, principal.user_id) is not None:
        raise ValidationFailed(details={"vendor_id": "you cannot open a chat with your own shop"})
    chat = Chat(
        customer_id=principal.user_id,
        vendor_id=vendor.id,
        title=(data.title or f"Chat with {vendor.name}").strip(),
    )
    db.add(chat)
    await db.flush()
    return await participant_chat(db, principal, chat.id, refresh=True)


async def rename_chat(db: AsyncSession, principal: Principal, chat_id: uuid.UUID, title: str) -> Chat:
    chat = await participant_chat(db, principal, chat_id)
    chat.title = title.strip() or title
    await db.flush()
    return chat


async def set_status(db: AsyncSession, principal: Principal, chat_id: uuid.UUID, status: str) -> Chat:
    chat = await participant_chat(db, principal, chat_id)
    if chat.status == status:
        raise Conflict(f"The chat is already {status}")
    chat.status = status
    chat.closed_at = now() if status == CLOSED else None
    await db.flush()
    return chat


async def upsert_member(
    db: AsyncSession,
    chat_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    read_up_to: uuid.UUID | None = None,
    archived_at: Any = _KEEP,
) -> bool:
    """Create or change a participant's row in one statement (INSERT … ON CONFLICT), so concurrent
    requests of the same person (two devices, quick sends) neither collide on the unique (chat, user)
    nor move the read marker backwards: it only ever moves to a greater message id. True when the row
    was written (for a marker: it moved)."""
    from advanced_alchemy.mixins.uuid import uuid7

    dialect = db.get_bind().dialect.name
    reading, archiving = read_up_to is not None, archived_at is not _KEEP
    statement = _member_statement(dialect, reading, archiving)
    stamp = now()
    params: dict[str, Any] = {
        "id": uuid.UUID(str(uuid7())),
        "chat_id": chat_id,
        "user_id": user_id,
        "stamp": stamp,
        "read_up_to": read_up_to,
        "archived_at": archived_at if archiving else None,
    }
    written = (await db.execute(statement, params)).first() is not None
    return written


_MEMBER_STATEMENTS: dict[tuple[str, bool, bool], Any] = {}


def _member_statement(dialect: str, reading: bool, archiving: bool) -> Any:
    """upsert_member's INSERT … ON CONFLICT with bound parameters (id, chat_id, user_id, stamp,
    read_up_to, archived_at), built once per process for each dialect and kind of change."""
    key = (dialect, reading, archiving)
    if key in _MEMBER_STATEMENTS:
        return _MEMBER_STATEMENTS[key]
    from sqlalchemy.dialects import postgresql, sqlite

    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = ChatMember.__table__
    stamp = bindparam("stamp", type_=table.c.updated_at.type)
    values: dict[str, Any] = {
        "id": bindparam("id", type_=table.c.id.type),
        "created_at": stamp,
        "chat_id": bindparam("chat_id", type_=table.c.chat_id.type),
        "user_id": bindparam("user_id", type_=table.c.user_id.type),
        "updated_at": stamp,
    }
    changes: dict[str, Any] = {"updated_at": stamp}
    condition = None
    if reading:
        marker = table.c.last_read_message_id
        read_up_to = bindparam("read_up_to", type_=marker.type)
        values |= {"last_read_message_id": read_up_to, "last_read_at": stamp}
        changes |= {"last_read_message_id": read_up_to, "last_read_at": stamp}
        condition = or_(marker.is_(None), marker < read_up_to)
    if archiving:
        archived = bindparam("archived_at", type_=table.c.archived_at.type)
        values["archived_at"] = archived
        changes["archived_at"] = archived
    statement = (
        insert(table)
        .values(**values)
        .on_conflict_do_update(index_elements=["chat_id", "user_id"], set_=changes, where=condition)
        .returning(table.c.id)
    )
    _MEMBER_STATEMENTS[key] = statement
    return statement


async def set_archived(db: AsyncSession, principal: Principal, chat_id: uuid.UUID, archived: bool) -> Chat:
    chat = await participant_chat(db, principal, chat_id)
    await upsert_member(db, chat.id, principal.user_id, archived_at=now() if archived else None)
    return chat


def _require_owner(principal: Principal, chat: Chat) -> None:
    if chat.vendor.owner_id != principal.user_id:
        raise Forbidden("Only the shop's owner assigns sellers to a chat")


async def assign_seller(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, seller_id: uuid.UUID
) -> Chat:
    chat = await participant_chat(db, principal, chat_id)
    _require_owner(principal, chat)
    seller = await db.scalar(select(Seller).where(Seller.id == seller_id, Seller.vendor_id == chat.vendor_id))
    if seller is None:
        raise ValidationFailed(details={"seller_id": "not a seller of this chat's shop"})
    if seller.user_id == chat.customer_id:
        raise ValidationFailed(details={"seller_id": "the customer cannot serve their own chat"})
    if any(a.seller_id == seller_id for a in chat.assignments):
        raise Conflict(
            "The seller is already assigned to this chat", details={"seller_id": "already assigned"}
        )
    db.add(ChatSeller(chat_id=chat.id, seller_id=seller.id))
    await db.flush()
    return await participant_chat(db, principal, chat.id, refresh=True)


async def unassign_seller(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, seller_id: uuid.UUID
) -> tuple[Chat, uuid.UUID]:
    """The chat without the seller, and the seller's user id (they hear of it one last time)."""
    chat = await participant_chat(db, principal, chat_id)
    _require_owner(principal, chat)
    assignment = next((a for a in chat.assignments if a.seller_id == seller_id), None)
    if assignment is None:
        raise NotFound("The seller is not assigned to this chat")
    removed_user = assignment.seller.user_id
    chat.assignments.remove(assignment)
    await db.flush()
    return chat, removed_user
