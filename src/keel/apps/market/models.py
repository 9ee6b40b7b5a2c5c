"""market tables: vendors (shops) with their sellers and products, and chat sessions between a customer
and one vendor, with assigned sellers, messages (text or media) and per-participant read state.

Ids are UUIDv7, so ordering messages by id is ordering them by time; the message cursor relies on it.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from keel.core.db import Base

# chat states: open -> closed (no more messages; the vendor or the customer may reopen)
OPEN, CLOSED = "open", "closed"
TEXT, MEDIA = "text", "media"
# who wrote a message: a person (sender_id) or the shop's assistant (sender_id NULL, engine named)
USER, ASSISTANT = "user", "assistant"


class Vendor(Base):
    __tablename__ = "market_vendor"
    __table_args__ = (Index("ix_market_vendor_owner", "owner_id"),)

    owner_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    # lower-cased name: case-insensitive uniqueness that works the same on SQLite and PostgreSQL
    name_key: Mapped[str] = mapped_column(String(120), unique=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    contact_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Seller(Base):
    __tablename__ = "market_seller"
    __table_args__ = (UniqueConstraint("vendor_id", "user_id"), Index("ix_market_seller_user", "user_id"))

    vendor_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("market_vendor.id", ondelete="CASCADE"))
    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))


class Product(Base):
    __tablename__ = "market_product"
    __table_args__ = (
        UniqueConstraint("vendor_id", "sku"),
        CheckConstraint("price_minor >= 0", name="price_not_negative"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        Index("ix_market_product_vendor_name", "vendor_id", "name"),
    )

    vendor_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("market_vendor.id", ondelete="CASCADE"))
    # a removed seller's products stay with the shop (managed by the owner)
    seller_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("market_seller.id", ondelete="SET NULL"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    price_minor: Mapped[int] = mapped_column(BigInteger)  # price in the currency's minor unit (cents)
    currency: Mapped[str] = mapped_column(String(3))  # ISO 4217
    stock: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Chat(Base):
    """A chat session: one customer, one vendor (its owner takes part), and the sellers assigned to it."""

    __tablename__ = "market_chat"
    __table_args__ = (
        Index("ix_market_chat_customer_activity", "customer_id", "last_message_at"),
        Index("ix_market_chat_vendor_activity", "vendor_id", "last_message_at"),
    )

    customer_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    vendor_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("market_vendor.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default=OPEN)
    closed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    last_message_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    # the assistant handed the chat to the shop's people (why: "human", "topic:<name>", "not_found", ...)
    handoff_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    handoff_reason: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # a seller (or the owner) wrote: the assistant stays quiet until they hand the chat back
    human_since: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)

    vendor: Mapped[Vendor] = relationship(lazy="raise")
    assignments: Mapped[list[ChatSeller]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="raise", order_by="ChatSeller.created_at"
    )


class ChatSeller(Base):
    __tablename__ = "market_chat_seller"
    __table_args__ = (
        UniqueConstraint("chat_id", "seller_id"),
        Index("ix_market_chat_seller_seller", "seller_id"),
    )

    chat_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("market_chat.id", ondelete="CASCADE"))
    seller_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("market_seller.id", ondelete="CASCADE"))

    seller: Mapped[Seller] = relationship(lazy="raise")


class Message(Base):
    __tablename__ = "market_message"
    __table_args__ = (
        # idempotent send: a retried client id finds the first message instead of adding a second
        UniqueConstraint("chat_id", "sender_id", "client_id"),
        Index("ix_market_message_chat_id", "chat_id", "id"),
    )

    chat_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("market_chat.id", ondelete="CASCADE"))
    sender_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    client_id: Mapped[UUID] = mapped_column(GUID)
    kind: Mapped[str] = mapped_column(String(10))
    body: Mapped[str | None] = mapped_column(Text, nullable=True)  # the text, or a media caption
    product_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("market_product.id", ondelete="SET NULL"), nullable=True
    )
    media_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    media_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    media_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    media_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    edited_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    author: Mapped[str] = mapped_column(String(10), default=USER, server_default=USER)
    engine: Mapped[str | None] = mapped_column(String(80), nullable=True)  # the assistant's, e.g. "retrieval"

    product: Mapped[Product | None] = relationship(lazy="raise")


class ChatMember(Base):
    """Per-participant state of a chat: the read marker and whether they archived it for themselves."""

    __tablename__ = "market_chat_member"
    __table_args__ = (UniqueConstraint("chat_id", "user_id"), Index("ix_market_chat_member_user", "user_id"))

    chat_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("market_chat.id", ondelete="CASCADE"))
    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    last_read_message_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    last_read_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    archived_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class Assistant(Base):
    """A shop's chat assistant, set up by its owner. Without a row (or switched off) humans answer alone."""

    __tablename__ = "market_assistant"

    vendor_id: Mapped[UUID] = mapped_column(
        GUID, ForeignKey("market_vendor.id", ondelete="CASCADE"), unique=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(80))
    persona: Mapped[str | None] = mapped_column(Text, nullable=True)
    greeting: Mapped[str | None] = mapped_column(Text, nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # when people answer: [{"days": [0..6] (Monday 0), "start": "09:00", "end": "17:00"}, ...]
    human_hours: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    handoff_topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    notify_email: Mapped[bool] = mapped_column(Boolean, default=False)  # mail the shop's people on hand-off
