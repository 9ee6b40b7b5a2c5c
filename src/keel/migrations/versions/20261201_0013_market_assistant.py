"""market: the shop assistant (settings, hand-off state, authored messages) and full-text search over products

SQLite gets an external-content FTS5 table kept in step by triggers; PostgreSQL a GIN index on the
products' tsvector. Both are named `*_fts*`, which autogenerate leaves alone (keel.core.migrate).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# the PostgreSQL search document; keel.apps.market.assistant.search uses the same expression
PG_DOCUMENT = (
    "to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, '') || ' ' || "
    "coalesce(sku, ''))"
)


def upgrade() -> None:
    op.create_table(
        "market_assistant",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("vendor_id", GUID(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("persona", sa.Text(), nullable=True),
        sa.Column("greeting", sa.Text(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("human_hours", sa.JSON(), nullable=False),
        sa.Column("handoff_topics", sa.JSON(), nullable=False),
        sa.Column("notify_email", sa.Boolean(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["vendor_id"],
            ["market_vendor.id"],
            name=op.f("fk_market_assistant_vendor_id_market_vendor"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_assistant")),
        sa.UniqueConstraint("vendor_id", name=op.f("uq_market_assistant_vendor_id")),
    )
    with op.batch_alter_table("market_chat") as batch:
        batch.add_column(sa.Column("handoff_at", DateTimeUTC(timezone=True), nullable=True))
        batch.add_column(sa.Column("handoff_reason", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("human_since", DateTimeUTC(timezone=True), nullable=True))
    with op.batch_alter_table("market_message") as batch:
        batch.add_column(sa.Column("author", sa.String(length=10), server_default="user", nullable=False))
        batch.add_column(sa.Column("engine", sa.String(length=80), nullable=True))

    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_market_product_fts ON market_product USING gin ({PG_DOCUMENT})")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE market_product_fts USING fts5(name, description, sku, "
            "content='market_product', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER market_product_fts_insert AFTER INSERT ON market_product BEGIN "
            "INSERT INTO market_product_fts(rowid, name, description, sku) "
            "VALUES (new.rowid, new.name, new.description, new.sku); END"
        )
        op.execute(
            "CREATE TRIGGER market_product_fts_delete AFTER DELETE ON market_product BEGIN "
            "INSERT INTO market_product_fts(market_product_fts, rowid, name, description, sku) "
            "VALUES ('delete', old.rowid, old.name, old.description, old.sku); END"
        )
        op.execute(
            "CREATE TRIGGER market_product_fts_update AFTER UPDATE ON market_product BEGIN "
            "INSERT INTO market_product_fts(market_product_fts, rowid, name, description, sku) "
            "VALUES ('delete', old.rowid, old.name, old.description, old.sku); "
            "INSERT INTO market_product_fts(rowid, name, description, sku) "
            "VALUES (new.rowid, new.name, new.description, new.sku); END"
        )
        op.execute("INSERT INTO market_product_fts(market_product_fts) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_market_product_fts")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS market_product_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS market_product_fts")
    with op.batch_alter_table("market_message") as batch:
        batch.drop_column("engine")
        batch.drop_column("author")
    with op.batch_alter_table("market_chat") as batch:
        batch.drop_column("human_since")
        batch.drop_column("handoff_reason")
        batch.drop_column("handoff_at")
    op.drop_table("market_assistant")
