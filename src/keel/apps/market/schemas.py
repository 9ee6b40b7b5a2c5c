"""market request and response shapes (msgspec). Input structs refuse unknown fields.

Prices are integers in the currency's minor unit (`price_minor: 1999` with `currency: "EUR"` is 19.99 €).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from keel.core.examples import example

MAX_MESSAGE_LENGTH = 4000

VendorName = Annotated[str, Meta(min_length=1, max_length=120)]
Slug = Annotated[str, Meta(min_length=2, max_length=80, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]
Email = Annotated[str, Meta(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Description = Annotated[str, Meta(max_length=5000)]
Currency = Annotated[str, Meta(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR")]
Sku = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
PriceMinor = Annotated[int, Meta(ge=0, le=10**12, description="price in minor units (cents)")]
Stock = Annotated[int, Meta(ge=0, le=10**9)]
Title = Annotated[str, Meta(min_length=1, max_length=200)]
MessageText = Annotated[str, Meta(min_length=1, max_length=MAX_MESSAGE_LENGTH)]


# --------------------------------------------------------------------------- vendors


class VendorRead(msgspec.Struct, kw_only=True):
    id: UUID
    name: str
    slug: str
    description: str | None
    contact_email: str | None
    owner_id: UUID
    is_active: bool
    created_at: datetime


@example(
    {
        "name": "Corner Shoes",
        "description": "Running and trail shoes",
        "contact_email": "hello@corner-shoes.example",
    }
)
class VendorCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: VendorName
    slug: Slug | None = None  # default: made from the name
    description: Description | None = None
    contact_email: Email | None = None


class VendorUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: VendorName
    slug: Slug
    description: Description | None = None
    contact_email: Email | None = None
    is_active: bool = True


# --------------------------------------------------------------------------- sellers


class SellerRead(msgspec.Struct, kw_only=True):
    id: UUID
    vendor_id: UUID
    user_id: UUID
    name: str
    email: str | None  # shown to the vendor's owner (and admins) only
    created_at: datetime


class SellerAdd(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Email


# --------------------------------------------------------------------------- products


class ProductRead(msgspec.Struct, kw_only=True):
    id: UUID
    vendor_id: UUID
    seller_id: UUID | None
    name: str
    sku: str
    description: str | None
    price_minor: int
    currency: str
    stock: int
    is_active: bool
    created_at: datetime
    updated_at: datetime


@example(
    {
        "name": "Trail runner, blue",
        "sku": "TR-BLUE-42",
        "price_minor": 8999,
        "currency": "EUR",
        "stock": 12,
        "description": "Waterproof trail shoe, sizes 38-46",
    }
)
class ProductCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    sku: Sku
    price_minor: PriceMinor
    currency: Currency
    stock: Stock = 0
    description: Description | None = None
    is_active: bool = True
    # the vendor owner may file it under one of the shop's sellers; a seller's own products are theirs
    seller_id: UUID | None = None


class ProductUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)] | msgspec.UnsetType = msgspec.UNSET
    sku: Sku | msgspec.UnsetType = msgspec.UNSET
    price_minor: PriceMinor | msgspec.UnsetType = msgspec.UNSET
    currency: Currency | msgspec.UnsetType = msgspec.UNSET
    stock: Stock | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType | None = msgspec.UNSET
    is_active: bool | msgspec.UnsetType = msgspec.UNSET


class ProductCard(msgspec.Struct, kw_only=True):
    """A product shared in a message."""

    id: UUID
    name: str
    sku: str
    price_minor: int
    currency: str
    is_active: bool


# --------------------------------------------------------------------------- chats and messages


class MessageRead(msgspec.Struct, kw_only=True):
    id: UUID
    chat_id: UUID
    sender_id: UUID | None  # None for the shop's assistant
    author: Literal["user", "assistant"]
    engine: str | None  # which engine wrote an assistant message: "retrieval" or "llm:<model>"
    client_id: UUID
    kind: Literal["text", "media"]
    body: str | None  # None once deleted
    product: ProductCard | None
    media_type: str | None
    media_size: int | None
    media_name: str | None
    media_url: str | None
    created_at: datetime
    edited_at: datetime | None
    deleted: bool


class ChatSellerRead(msgspec.Struct, kw_only=True):
    seller_id: UUID
    user_id: UUID
    name: str


class MemberRead(msgspec.Struct, kw_only=True):
    user_id: UUID
    role: Literal["customer", "owner", "seller"]
    last_read_message_id: UUID | None
    # online: a stream of theirs is open on some instance (in the chat's detail view)
    presence: Literal["online", "away"] | None = None


class ChatRead(msgspec.Struct, kw_only=True):
    id: UUID
    title: str
    status: Literal["open", "closed"]
    customer_id: UUID
    vendor_id: UUID
    vendor_name: str
    my_role: Literal["customer", "owner", "seller"]
    archived: bool
    unread_count: int
    last_message: MessageRead | None
    last_message_at: datetime | None
    created_at: datetime
    closed_at: datetime | None
    handoff_at: datetime | None = None  # the assistant asked for a person
    handoff_reason: str | None = None
    human_since: datetime | None = None  # a person of the shop answers; the assistant is quiet
    sellers: list[ChatSellerRead] = []
    members: list[MemberRead] | None = None  # in the detail view


@example(
    {
        "vendor_id": "01938f6e-8a2b-7c3d-9e4f-5a6b7c8d9e0f",
        "title": "Sizes",
        "first_message": "Do you have the blue one in size 42?",
    }
)
class ChatCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    vendor_id: UUID
    title: Title | None = None
    first_message: MessageText | None = None


class ChatUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: Title


class ChatAssign(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    seller_id: UUID


@example(
    {"client_id": "5f0c8a2e-3b1d-4c6e-9a7f-2d4b6c8e0a1b", "body": "Do you have the blue one in size 42?"}
)
class MessageSend(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    client_id: Annotated[UUID, Meta(description="generated by the client; a retry with it is not duplicated")]
    body: MessageText
    product_id: UUID | None = None


class MessageEdit(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    body: MessageText


class ReadMark(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    message_id: UUID


class MessageWindow(msgspec.Struct, kw_only=True):
    """A chronological slice of a chat; follow `before`/`after` with the first/last id for more."""

    messages: list[MessageRead]
    has_more_before: bool
    has_more_after: bool
    limit: int


# --------------------------------------------------------------------------- the shop's assistant

TimeOfDay = Annotated[str, Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, 24 h")]


class HumanHours(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    days: Annotated[list[Annotated[int, Meta(ge=0, le=6)]], Meta(min_length=1, max_length=7)] = msgspec.field(
        default_factory=lambda: [0, 1, 2, 3, 4]
    )  # Monday is 0
    start: TimeOfDay = "09:00"
    end: TimeOfDay = "17:00"


class AssistantUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    enabled: bool
    name: Annotated[str, Meta(min_length=1, max_length=80)] = "Shop assistant"
    persona: Annotated[str, Meta(max_length=2000)] | None = None
    greeting: Annotated[str, Meta(max_length=1000)] | None = None
    timezone: Annotated[
        str, Meta(min_length=1, max_length=64, description="IANA zone, e.g. Europe/Berlin")
    ] = "UTC"
    human_hours: Annotated[list[HumanHours], Meta(max_length=14)] = msgspec.field(default_factory=list)
    handoff_topics: Annotated[
        list[Annotated[str, Meta(min_length=2, max_length=60)]], Meta(max_length=20)
    ] = msgspec.field(default_factory=lambda: ["refunds", "complaints"])
    notify_email: bool = False


class AssistantRead(msgspec.Struct, kw_only=True):
    vendor_id: UUID
    enabled: bool
    name: str
    persona: str | None
    greeting: str | None
    timezone: str
    human_hours: list[HumanHours]
    handoff_topics: list[str]
    notify_email: bool
    engine: str  # what answers now: "retrieval" (offline) or "llm" (a model server is configured)
    updated_at: datetime | None
