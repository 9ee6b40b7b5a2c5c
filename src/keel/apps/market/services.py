"""market services: shops and their sellers and products, chats between a customer and a shop, messages.

Who may do what:
- a vendor is visible to everyone while active, always to its owner and to holders of MANAGE_VENDORS;
  its owner (or such an admin) edits it and adds or removes its sellers;
- a product is visible while it and its vendor are active, always to the vendor's people; its seller, the
  vendor owner (or an admin) change it;
- a chat's participants are its customer, the vendor's owner and the sellers assigned to it; to anyone
  else the chat and everything under it does not exist (404).

Everything here works on the request's session and never commits. Functions that change a chat return
the realtime events to publish once the transaction is committed (see routes.py).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from keel.apps.market import media
from keel.apps.market.models import (
    CLOSED,
    MEDIA,
    OPEN,
    TEXT,
    Chat,
    ChatMember,
    ChatSeller,
    Message,
    Product,
    Seller,
    Vendor,
)
from keel.apps.market.schemas import (
    MAX_MESSAGE_LENGTH,
    ChatCreate,
    ChatRead,
    ChatSellerRead,
    MemberRead,
    MessageRead,
    MessageSend,
    MessageWindow,
    ProductCard,
    ProductCreate,
    ProductRead,
    ProductUpdate,
    SellerRead,
    VendorRead,
)
from keel.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from keel.identity.models import User

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.core.storage import Storage
    from keel.identity.guards import Principal

log = structlog.get_logger("keel.market")

MANAGE_VENDORS = "market.vendors.manage"
API = "/api/v1/market"
CUSTOMER, OWNER, SELLER = "customer", "owner", "seller"


def now() -> datetime:
    return datetime.now(UTC)


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80].strip("-")


# --------------------------------------------------------------------------- vendors


def vendor_read(row: Vendor) -> VendorRead:
    return VendorRead(
        id=row.id,
        name=row.name,
        slug=row.slug,
        description=row.description,
        contact_email=row.contact_email,
        owner_id=row.owner_id,
        is_active=row.is_active,
        created_at=row.created_at,
    )


async def check_vendor_unique(
    db: AsyncSession, values: dict[str, Any], exclude: uuid.UUID | None = None
) -> dict[str, Any]:
    """Normalise name and slug and answer 409 naming the field when another shop has either (the unique
    constraints still decide a race)."""
    if "name" in values:
        values["name"] = values["name"].strip()
        if not values["name"]:
            raise ValidationFailed(details={"name": "must not be blank"})
        values["name_key"] = values["name"].lower()
        if not values.get("slug") and exclude is None:
            values["slug"] = slugify(values["name"]) or f"shop-{uuid.uuid4().hex[:8]}"
    taken: dict[str, str] = {}
    for column, key in (("name_key", "name"), ("slug", "slug")):
        if column not in values:
            continue
        statement = select(Vendor.id).where(getattr(Vendor, column) == values[column])
        if exclude is not None:
            statement = statement.where(Vendor.id != exclude)
        if await db.scalar(statement.limit(1)) is not None:
            taken[key] = "another shop already uses this " + key
    if taken:
        raise Conflict("A shop with this name or slug already exists", details=taken)
    return values


def can_manage_vendor(principal: Principal, vendor: Vendor) -> bool:
    return vendor.owner_id == principal.user_id or MANAGE_VENDORS in principal.permissions


async def visible_vendor(db: AsyncSession, principal: Principal, vendor_id: uuid.UUID) -> Vendor:
    vendor = await db.get(Vendor, vendor_id)
    if vendor is None or not (vendor.is_active or can_manage_vendor(principal, vendor)):
        raise NotFound("No such shop")
    return vendor


async def managed_vendor(db: AsyncSession, principal: Principal, vendor_id: uuid.UUID) -> Vendor:
    vendor = await visible_vendor(db, principal, vendor_id)
    if not can_manage_vendor(principal, vendor):
        raise Forbidden("Only the shop's owner can do this")
    return vendor


# --------------------------------------------------------------------------- sellers


async def list_sellers(
    db: AsyncSession, principal: Principal, vendor_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[SellerRead], int]:
    vendor = await visible_vendor(db, principal, vendor_id)
    show_email = can_manage_vendor(principal, vendor)
    total = (
        await db.scalar(select(func.count()).select_from(Seller).where(Seller.vendor_id == vendor_id)) or 0
    )
    rows = (
        await db.execute(
            select(Seller, User.name, User.email)
            .join(User, User.id == Seller.user_id)
            .where(Seller.vendor_id == vendor_id)
            .order_by(Seller.created_at, Seller.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return [_seller_read(seller, name, email if show_email else None) for seller, name, email in rows], total


def _seller_read(seller: Seller, name: str, email: str | None) -> SellerRead:
    return SellerRead(
        id=seller.id,
        vendor_id=seller.vendor_id,
        user_id=seller.user_id,
        name=name,
        email=email,
        created_at=seller.created_at,
    )


async def add_seller(db: AsyncSession, principal: Principal, vendor_id: uuid.UUID, email: str) -> SellerRead:
    await managed_vendor(db, principal, vendor_id)
    user = await db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.is_active:
        raise ValidationFailed(details={"email": "no active account has this email"})
    exists = await db.scalar(
        select(Seller.id).where(Seller.vendor_id == vendor_id, Seller.user_id == user.id)
    )
    if exists is not None:
        raise Conflict("This account already sells for the shop", details={"email": "already a seller"})
    seller = Seller(vendor_id=vendor_id, user_id=user.id)
    db.add(seller)
    await db.flush()
    return _seller_read(seller, user.name, user.email)


async def remove_seller(
    db: AsyncSession, principal: Principal, vendor_id: uuid.UUID, seller_id: uuid.UUID
) -> None:
    await managed_vendor(db, principal, vendor_id)
    seller = await db.scalar(select(Seller).where(Seller.id == seller_id, Seller.vendor_id == vendor_id))
    if seller is None:
        raise NotFound("No such seller")
    # the database drops the seller's chat assignments and hands their products to the shop
    await db.delete(seller)
    await db.flush()


async def seller_of(db: AsyncSession, vendor_id: uuid.UUID, user_id: uuid.UUID) -> Seller | None:
    return await db.scalar(select(Seller).where(Seller.vendor_id == vendor_id, Seller.user_id == user_id))


# --------------------------------------------------------------------------- products

PRODUCT_SORTS = {"name", "price_minor", "created_at", "stock"}


def product_read(row: Product) -> ProductRead:
    return ProductRead(
        id=row.id,
        vendor_id=row.vendor_id,
        seller_id=row.seller_id,
        name=row.name,
        sku=row.sku,
        description=row.description,
        price_minor=row.price_minor,
        currency=row.currency,
        stock=row.stock,
        is_active=row.is_active,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _is_vendor_staff(db: AsyncSession, principal: Principal, vendor: Vendor) -> bool:
    return (
        can_manage_vendor(principal, vendor) or await seller_of(db, vendor.id, principal.user_id) is not None
    )


@dataclass
class ProductQuery:
    q: str | None = None
    seller_id: uuid.UUID | None = None
    currency: str | None = None
    active: bool | None = None
    in_stock: bool | None = None
    min_price: int | None = None
    max_price: int | None = None
    sort: str = "name"


def _product_order(sort: str) -> list[Any]:
    orders: list[Any] = []
    for raw in sort.split(","):
        key = raw.strip()
        name = key.lstrip("-")
        if name not in PRODUCT_SORTS:
            allowed = ", ".join(sorted(PRODUCT_SORTS))
            raise ValidationFailed(details={"sort": f"unknown sort field {name!r}; sortable: {allowed}"})
        column = getattr(Product, name)
        orders.append(column.desc() if key.startswith("-") else column.asc())
    return [*orders, Product.id.asc()]


async def list_products(
    db: AsyncSession, principal: Principal, vendor_id: uuid.UUID, query: ProductQuery, limit: int, offset: int
) -> tuple[list[ProductRead], int]:
    vendor = await visible_vendor(db, principal, vendor_id)
    if query.min_price is not None and query.max_price is not None and query.min_price > query.max_price:
        raise ValidationFailed(details={"min_price": "must not be above max_price"})
    conditions: list[Any] = [Product.vendor_id == vendor_id]
    if not await _is_vendor_staff(db, principal, vendor):
        conditions.append(Product.is_active.is_(True))  # customers never see withdrawn products
    if query.active is not None:
        conditions.append(Product.is_active.is_(query.active))
    if query.q:
        pattern = "%" + query.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            or_(
                func.lower(Product.name).like(pattern, escape="\\"),
                func.lower(Product.sku).like(pattern, escape="\\"),
                func.lower(Product.description).like(pattern, escape="\\"),
            )
        )
    if query.seller_id is not None:
        conditions.append(Product.seller_id == query.seller_id)
    if query.currency is not None:
        conditions.append(Product.currency == query.currency)
    if query.in_stock is not None:
        conditions.append(Product.stock > 0 if query.in_stock else Product.stock == 0)
    if query.min_price is not None:
        conditions.append(Product.price_minor >= query.min_price)
    if query.max_price is not None:
        conditions.append(Product.price_minor <= query.max_price)
    order = _product_order(query.sort)
    total = await db.scalar(select(func.count()).select_from(Product).where(*conditions)) or 0
    rows = await db.scalars(select(Product).where(*conditions).order_by(*order).limit(limit).offset(offset))
    return [product_read(r) for r in rows], total


async def _check_sku(
    db: AsyncSession, vendor_id: uuid.UUID, sku: str, exclude: uuid.UUID | None = None
) -> None:
    statement = select(Product.id).where(Product.vendor_id == vendor_id, Product.sku == sku)
    if exclude is not None:
        statement = statement.where(Product.id != exclude)
    if await db.scalar(statement.limit(1)) is not None:
        raise Conflict(
            "The shop already has a product with this SKU", details={"sku": "already used in this shop"}
        )


async def create_product(
    db: AsyncSession, principal: Principal, vendor_id: uuid.UUID, data: ProductCreate
) -> ProductRead:
    vendor = await visible_vendor(db, principal, vendor_id)
    own_seller = await seller_of(db, vendor_id, principal.user_id)
    manager = can_manage_vendor(principal, vendor)
    if own_seller is None and not manager:
        raise Forbidden("Only the shop's sellers and owner add products")
    seller_id = own_seller.id if own_seller is not None else None
    if data.seller_id is not None and data.seller_id != seller_id:
        if not manager:
            raise Forbidden("Sellers add products under their own name")
        target = await db.scalar(
            select(Seller.id).where(Seller.id == data.seller_id, Seller.vendor_id == vendor_id)
        )
        if target is None:
            raise ValidationFailed(details={"seller_id": "not a seller of this shop"})
        seller_id = target
    await _check_sku(db, vendor_id, data.sku)
    row = Product(
        vendor_id=vendor_id,
        seller_id=seller_id,
        name=data.name.strip() or data.name,
        sku=data.sku,
        description=data.description,
        price_minor=data.price_minor,
        currency=data.currency,
        stock=data.stock,
        is_active=data.is_active,
    )
    db.add(row)
    await db.flush()
    return product_read(row)


async def _product_with_vendor(db: AsyncSession, product_id: uuid.UUID) -> tuple[Product, Vendor] | None:
    found = (
        await db.execute(
            select(Product, Vendor)
            .join(Vendor, Vendor.id == Product.vendor_id)
            .where(Product.id == product_id)
        )
    ).first()
    return (found[0], found[1]) if found else None


async def get_product(db: AsyncSession, principal: Principal, product_id: uuid.UUID) -> ProductRead:
    found = await _product_with_vendor(db, product_id)
    if found is None:
        raise NotFound("No such product")
    product, vendor = found
    if not (product.is_active and vendor.is_active) and not await _is_vendor_staff(db, principal, vendor):
        raise NotFound("No such product")
    return product_read(product)


async def _managed_product(db: AsyncSession, principal: Principal, product_id: uuid.UUID) -> Product:
    found = await _product_with_vendor(db, product_id)
    if found is None:
        raise NotFound("No such product")
    product, vendor = found
    if can_manage_vendor(principal, vendor):
        return product
    own = await seller_of(db, vendor.id, principal.user_id)
    if own is not None and product.seller_id == own.id:
        return product
    if own is not None or (product.is_active and vendor.is_active):
        raise Forbidden("Only the product's seller or the shop's owner can change it")
    raise NotFound("No such product")


async def update_product(
    db: AsyncSession, principal: Principal, product_id: uuid.UUID, data: ProductUpdate
) -> ProductRead:
    product = await _managed_product(db, principal, product_id)
    values = {f: v for f in data.__struct_fields__ if (v := getattr(data, f)) is not msgspec.UNSET}
    if "sku" in values and values["sku"] != product.sku:
        await _check_sku(db, product.vendor_id, values["sku"], exclude=product.id)
    for key, value in values.items():
        setattr(product, key, value)
    await db.flush()
    await db.refresh(product)
    return product_read(product)


async def delete_product(db: AsyncSession, principal: Principal, product_id: uuid.UUID) -> None:
    product = await _managed_product(db, principal, product_id)
    await db.delete(product)  # messages that shared it keep their text; the card goes (SET NULL)
    await db.flush()


# --------------------------------------------------------------------------- chats


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
    return [selectinload(Chat.vendor), selectinload(Chat.assignments).selectinload(ChatSeller.seller)]


async def participant_chat(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, *, refresh: bool = False
) -> Chat:
    statement = (
        select(Chat).where(Chat.id == chat_id, participant_filter(principal.user_id)).options(*_chat_load())
    )
    if refresh:  # reload relations changed earlier in this transaction
        statement = statement.execution_options(populate_existing=True)
    chat = await db.scalar(statement)
    if chat is None:
        raise NotFound("No such chat")
    return chat


def role_in(chat: Chat, user_id: uuid.UUID) -> str:
    if chat.customer_id == user_id:
        return CUSTOMER
    if chat.vendor.owner_id == user_id:
        return OWNER
    return SELLER


def participant_ids(chat: Chat) -> list[uuid.UUID]:
    ids = [chat.customer_id, chat.vendor.owner_id, *(a.seller.user_id for a in chat.assignments)]
    return list(dict.fromkeys(ids))


@dataclass
class Events:
    """Realtime events to publish after commit: (recipients, event)."""

    items: list[tuple[list[uuid.UUID], dict[str, Any]]] = field(default_factory=list)

    def add(self, chat: Chat, event: dict[str, Any]) -> None:
        self.items.append((participant_ids(chat), event))


def message_read(row: Message) -> MessageRead:
    deleted = row.deleted_at is not None
    product = row.product if not deleted else None
    has_media = row.kind == MEDIA and not deleted
    return MessageRead(
        id=row.id,
        chat_id=row.chat_id,
        sender_id=row.sender_id,
        client_id=row.client_id,
        kind=row.kind,  # type: ignore[arg-type]
        body=None if deleted else row.body,
        product=ProductCard(
            id=product.id,
            name=product.name,
            sku=product.sku,
            price_minor=product.price_minor,
            currency=product.currency,
            is_active=product.is_active,
        )
        if product is not None
        else None,
        media_type=row.media_type if has_media else None,
        media_size=row.media_size if has_media else None,
        media_name=row.media_name if has_media else None,
        media_url=f"{API}/chats/{row.chat_id}/messages/{row.id}/media" if has_media else None,
        created_at=row.created_at,
        edited_at=row.edited_at,
        deleted=deleted,
    )


def message_event(kind: str, message: MessageRead) -> dict[str, Any]:
    return {"type": kind, "chat_id": str(message.chat_id), "message": msgspec.to_builtins(message)}


async def _user_names(db: AsyncSession, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not user_ids:
        return {}
    rows = await db.execute(select(User.id, User.name).where(User.id.in_(set(user_ids))))
    return dict(rows.all())  # type: ignore[arg-type]


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
            select(ChatMember).where(ChatMember.chat_id.in_(ids), ChatMember.user_id == user_id)
        )
    }
    unread = await _unread_counts(db, user_id, ids)
    names = await _user_names(db, [a.seller.user_id for c in chats for a in c.assignments])
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


async def chat_detail(db: AsyncSession, principal: Principal, chat: Chat) -> ChatRead:
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
        MemberRead(user_id=uid, role=role_in(chat, uid), last_read_message_id=markers.get(uid))  # type: ignore[arg-type]
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


async def open_chat(db: AsyncSession, principal: Principal, data: ChatCreate, events: Events) -> Chat:
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
    chat = await participant_chat(db, principal, chat.id, refresh=True)
    if data.first_message:
        await send_text(
            db,
            principal,
            chat.id,
            MessageSend(client_id=uuid.uuid4(), body=data.first_message),
            events,
            chat=chat,
        )
    return chat


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


async def _member(db: AsyncSession, chat_id: uuid.UUID, user_id: uuid.UUID) -> ChatMember:
    row = await db.scalar(
        select(ChatMember).where(ChatMember.chat_id == chat_id, ChatMember.user_id == user_id)
    )
    if row is None:
        row = ChatMember(chat_id=chat_id, user_id=user_id)
        db.add(row)
    return row


async def set_archived(db: AsyncSession, principal: Principal, chat_id: uuid.UUID, archived: bool) -> Chat:
    chat = await participant_chat(db, principal, chat_id)
    member = await _member(db, chat.id, principal.user_id)
    member.archived_at = now() if archived else None
    await db.flush()
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
) -> None:
    chat = await participant_chat(db, principal, chat_id)
    _require_owner(principal, chat)
    assignment = next((a for a in chat.assignments if a.seller_id == seller_id), None)
    if assignment is None:
        raise NotFound("The seller is not assigned to this chat")
    chat.assignments.remove(assignment)
    await db.flush()


# --------------------------------------------------------------------------- messages


async def _message(db: AsyncSession, chat: Chat, message_id: uuid.UUID) -> Message:
    row = await db.scalar(
        select(Message)
        .where(Message.id == message_id, Message.chat_id == chat.id)
        .options(selectinload(Message.product))
    )
    if row is None:
        raise NotFound("No such message")
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


async def _check_product(db: AsyncSession, chat: Chat, product_id: uuid.UUID | None) -> Product | None:
    if product_id is None:
        return None
    product = await db.get(Product, product_id)
    if product is None or product.vendor_id != chat.vendor_id:
        raise ValidationFailed(details={"product_id": "not a product of this chat's shop"})
    return product


def _require_open(chat: Chat) -> None:
    if chat.status != OPEN:
        raise Conflict("The chat is closed; reopen it to send messages")


async def _existing(
    db: AsyncSession, chat_id: uuid.UUID, sender_id: uuid.UUID, client_id: uuid.UUID
) -> Message | None:
    return await db.scalar(
        select(Message)
        .where(Message.chat_id == chat_id, Message.sender_id == sender_id, Message.client_id == client_id)
        .options(selectinload(Message.product))
    )


def _same_send(row: Message, kind: str, body: str | None, product_id: uuid.UUID | None) -> bool:
    return row.kind == kind and row.body == body and row.product_id == product_id


async def _insert_message(db: AsyncSession, chat: Chat, row: Message) -> Message:
    """Add the message, move the chat's activity time and the sender's read marker. A concurrent retry
    with the same client id that slipped past the replay check fails the unique constraint: 409, and the
    client's next retry gets the stored message."""
    db.add(row)
    await db.flush()
    sent = row.created_at
    chat.last_message_at = sent
    member = await _member(db, chat.id, row.sender_id)  # type: ignore[arg-type]
    member.last_read_message_id = row.id  # your own messages are read
    member.last_read_at = sent
    await db.flush()
    return row


@dataclass
class Sent:
    message: MessageRead
    created: bool
    storage_key: str | None = None


async def send_text(
    db: AsyncSession,
    principal: Principal,
    chat_id: uuid.UUID,
    data: MessageSend,
    events: Events,
    *,
    chat: Chat | None = None,
) -> Sent:
    chat = chat or await participant_chat(db, principal, chat_id)
    body = data.body.strip()
    if not body:
        raise ValidationFailed(details={"body": "must not be blank"})
    existing = await _existing(db, chat.id, principal.user_id, data.client_id)
    if existing is not None:
        return _replay(existing, TEXT, body, data.product_id)
    _require_open(chat)
    await _check_product(db, chat, data.product_id)
    row = Message(
        chat_id=chat.id,
        sender_id=principal.user_id,
        client_id=data.client_id,
        kind=TEXT,
        body=body,
        product_id=data.product_id,
    )
    inserted = await _insert_message(db, chat, row)
    fresh = await _message(db, chat, inserted.id)
    read = message_read(fresh)
    events.add(chat, message_event("message.created", read))
    return Sent(read, True)


def _replay(existing: Message, kind: str, body: str | None, product_id: uuid.UUID | None) -> Sent:
    if not _same_send(existing, kind, body, product_id):
        raise Conflict(
            "This client_id was already used for a different message",
            details={"client_id": "already used for a different message"},
        )
    return Sent(message_read(existing), False)


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


def clean_filename(name: str | None, extension: str) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()[:200]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return f"{stem or 'attachment'}.{extension}"


async def prepare_media(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, form: MediaForm
) -> tuple[Chat, Sent | None]:
    """Checks before any byte is stored: the chat (404), a replayed client id, an open chat, the product."""
    chat = await participant_chat(db, principal, chat_id)
    existing = await _existing(db, chat.id, principal.user_id, form.client_id)
    if existing is not None:
        if existing.kind != MEDIA or existing.body != form.body or existing.product_id != form.product_id:
            raise Conflict(
                "This client_id was already used for a different message",
                details={"client_id": "already used for a different message"},
            )
        return chat, Sent(message_read(existing), False)
    _require_open(chat)
    await _check_product(db, chat, form.product_id)
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
    events: Events,
) -> Sent:
    """Stream the upload to storage (sniffed, size-limited) and add the message. A refused upload leaves no
    object; a failure after storing removes it (the row rolls back with the request)."""
    message_id = uuid.uuid4()
    key = f"market/{chat.id}/{message_id}"
    sniffer = media.Sniffer(chunks)
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
            media_name=clean_filename(filename, kind.extension),
        )
        inserted = await _insert_message(db, chat, row)
        fresh = await _message(db, chat, inserted.id)
    except BaseException:
        await storage.delete(key)
        raise
    read = message_read(fresh)
    events.add(chat, message_event("message.created", read))
    return Sent(read, True, key)


async def media_of(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, message_id: uuid.UUID
) -> Message:
    chat = await participant_chat(db, principal, chat_id)
    row = await _message(db, chat, message_id)
    if row.kind != MEDIA or row.deleted_at is not None or row.media_key is None:
        raise NotFound("This message has no file")
    return row


async def _own_message(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, message_id: uuid.UUID
) -> tuple[Chat, Message]:
    chat = await participant_chat(db, principal, chat_id)
    row = await _message(db, chat, message_id)
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
    events: Events,
) -> MessageRead:
    chat, row = await _own_message(db, principal, chat_id, message_id)
    text = body.strip()
    if not text:
        raise ValidationFailed(details={"body": "must not be blank"})
    row.body = text
    row.edited_at = now()
    await db.flush()
    read = message_read(row)
    events.add(chat, message_event("message.updated", read))
    return read


async def delete_message(
    db: AsyncSession,
    storage: Storage,
    principal: Principal,
    chat_id: uuid.UUID,
    message_id: uuid.UUID,
    events: Events,
) -> None:
    chat, row = await _own_message(db, principal, chat_id, message_id)
    key = row.media_key
    row.deleted_at = now()
    row.body = None
    row.product_id = None
    row.media_key = None
    await db.flush()
    if key is not None:
        await storage.delete(key)  # the file is gone with the message; the row stays as "deleted"
    read = message_read(row)
    events.add(chat, message_event("message.deleted", read))


async def mark_read(
    db: AsyncSession, principal: Principal, chat_id: uuid.UUID, message_id: uuid.UUID, events: Events
) -> MemberRead:
    chat = await participant_chat(db, principal, chat_id)
    found = await db.scalar(select(Message.id).where(Message.id == message_id, Message.chat_id == chat.id))
    if found is None:
        raise ValidationFailed(details={"message_id": "not a message of this chat"})
    member = await _member(db, chat.id, principal.user_id)
    # markers only move forward: marking an older message read changes nothing
    if member.last_read_message_id is None or message_id > member.last_read_message_id:
        member.last_read_message_id = message_id
        member.last_read_at = now()
        await db.flush()
        events.add(
            chat,
            {
                "type": "read",
                "chat_id": str(chat.id),
                "user_id": str(principal.user_id),
                "last_read_message_id": str(message_id),
            },
        )
    return MemberRead(
        user_id=principal.user_id,
        role=role_in(chat, principal.user_id),
        last_read_message_id=member.last_read_message_id,  # type: ignore[arg-type]
    )
