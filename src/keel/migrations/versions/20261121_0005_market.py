"""market: vendors, sellers, products, chat sessions, assigned sellers, messages, member state

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

sa.GUID = GUID
sa.DateTimeUTC = DateTimeUTC


def upgrade() -> None:
    op.create_table(
        "market_vendor",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("owner_id", sa.GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("name_key", sa.String(length=120), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("contact_email", sa.String(length=320), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_market_vendor_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_vendor")),
        sa.UniqueConstraint("name_key", name=op.f("uq_market_vendor_name_key")),
        sa.UniqueConstraint("slug", name=op.f("uq_market_vendor_slug")),
    )
    op.create_index("ix_market_vendor_owner", "market_vendor", ["owner_id"], unique=False)

    op.create_table(
        "market_chat",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("customer_id", sa.GUID(length=16), nullable=False),
        sa.Column("vendor_id", sa.GUID(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("closed_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("last_message_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["user_account.id"],
            name=op.f("fk_market_chat_customer_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"],
            ["market_vendor.id"],
            name=op.f("fk_market_chat_vendor_id_market_vendor"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_chat")),
    )
    op.create_index(
        "ix_market_chat_customer_activity", "market_chat", ["customer_id", "last_message_at"], unique=False
    )
    op.create_index(
        "ix_market_chat_vendor_activity", "market_chat", ["vendor_id", "last_message_at"], unique=False
    )

    op.create_table(
        "market_seller",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("vendor_id", sa.GUID(length=16), nullable=False),
        sa.Column("user_id", sa.GUID(length=16), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_market_seller_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"],
            ["market_vendor.id"],
            name=op.f("fk_market_seller_vendor_id_market_vendor"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_seller")),
        sa.UniqueConstraint("vendor_id", "user_id", name=op.f("uq_market_seller_vendor_id")),
    )
    op.create_index("ix_market_seller_user", "market_seller", ["user_id"], unique=False)

    op.create_table(
        "market_chat_member",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("chat_id", sa.GUID(length=16), nullable=False),
        sa.Column("user_id", sa.GUID(length=16), nullable=False),
        sa.Column("last_read_message_id", sa.GUID(length=16), nullable=True),
        sa.Column("last_read_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("archived_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["market_chat.id"],
            name=op.f("fk_market_chat_member_chat_id_market_chat"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_market_chat_member_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_chat_member")),
        sa.UniqueConstraint("chat_id", "user_id", name=op.f("uq_market_chat_member_chat_id")),
    )
    op.create_index("ix_market_chat_member_user", "market_chat_member", ["user_id"], unique=False)

    op.create_table(
        "market_chat_seller",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("chat_id", sa.GUID(length=16), nullable=False),
        sa.Column("seller_id", sa.GUID(length=16), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["market_chat.id"],
            name=op.f("fk_market_chat_seller_chat_id_market_chat"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"],
            ["market_seller.id"],
            name=op.f("fk_market_chat_seller_seller_id_market_seller"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_chat_seller")),
        sa.UniqueConstraint("chat_id", "seller_id", name=op.f("uq_market_chat_seller_chat_id")),
    )
    op.create_index("ix_market_chat_seller_seller", "market_chat_seller", ["seller_id"], unique=False)

    op.create_table(
        "market_product",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("vendor_id", sa.GUID(length=16), nullable=False),
        sa.Column("seller_id", sa.GUID(length=16), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint("price_minor >= 0", name=op.f("ck_market_product_price_not_negative")),
        sa.CheckConstraint("stock >= 0", name=op.f("ck_market_product_stock_not_negative")),
        sa.ForeignKeyConstraint(
            ["seller_id"],
            ["market_seller.id"],
            name=op.f("fk_market_product_seller_id_market_seller"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"],
            ["market_vendor.id"],
            name=op.f("fk_market_product_vendor_id_market_vendor"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_product")),
        sa.UniqueConstraint("vendor_id", "sku", name=op.f("uq_market_product_vendor_id")),
    )
    op.create_index(op.f("ix_market_product_seller_id"), "market_product", ["seller_id"], unique=False)
    op.create_index("ix_market_product_vendor_name", "market_product", ["vendor_id", "name"], unique=False)

    op.create_table(
        "market_message",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("chat_id", sa.GUID(length=16), nullable=False),
        sa.Column("sender_id", sa.GUID(length=16), nullable=True),
        sa.Column("client_id", sa.GUID(length=16), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("product_id", sa.GUID(length=16), nullable=True),
        sa.Column("media_key", sa.String(length=500), nullable=True),
        sa.Column("media_type", sa.String(length=100), nullable=True),
        sa.Column("media_size", sa.BigInteger(), nullable=True),
        sa.Column("media_name", sa.String(length=255), nullable=True),
        sa.Column("edited_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["market_chat.id"],
            name=op.f("fk_market_message_chat_id_market_chat"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["market_product.id"],
            name=op.f("fk_market_message_product_id_market_product"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"],
            ["user_account.id"],
            name=op.f("fk_market_message_sender_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_message")),
        sa.UniqueConstraint("chat_id", "sender_id", "client_id", name=op.f("uq_market_message_chat_id")),
    )
    op.create_index("ix_market_message_chat_id", "market_message", ["chat_id", "id"], unique=False)


def downgrade() -> None:
    for table in (
        "market_message",
        "market_product",
        "market_chat_seller",
        "market_chat_member",
        "market_seller",
        "market_chat",
        "market_vendor",
    ):
        op.drop_table(table)  # their indexes go with them
