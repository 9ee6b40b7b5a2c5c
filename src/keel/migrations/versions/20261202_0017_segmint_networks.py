"""segmint networks: connected accounts (`segmint_connection`, tokens encrypted), OAuth authorizations in
progress (`segmint_oauth_state`), Mastodon apps per instance (`segmint_oauth_app`); a schedule may ask for
a thread; a delivery records the network's answer (status, error code, every part, when to retry)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

sa.GUID = GUID  # the create_table calls below name advanced-alchemy types with the "sa." prefix
sa.DateTimeUTC = DateTimeUTC


def upgrade() -> None:
    op.create_table(
        "segmint_oauth_app",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("instance", sa.String(length=500), nullable=False),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("client_secret_encrypted", sa.Text(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_oauth_app")),
        sa.UniqueConstraint("instance", "redirect_uri", name=op.f("uq_segmint_oauth_app_instance")),
    )
    op.create_table(
        "segmint_oauth_state",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("owner_id", sa.GUID(length=16), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("network", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("verifier_encrypted", sa.Text(), nullable=False),
        sa.Column("app_id", sa.GUID(length=16), nullable=True),
        sa.Column("expires_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["segmint_oauth_app.id"],
            name=op.f("fk_segmint_oauth_state_app_id_segmint_oauth_app"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_segmint_oauth_state_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_oauth_state")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_segmint_oauth_state_state_hash")),
    )
    with op.batch_alter_table("segmint_oauth_state", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_segmint_oauth_state_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "segmint_connection",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("integration_id", sa.GUID(length=16), nullable=False),
        sa.Column("network", sa.String(length=20), nullable=False),
        sa.Column("auth", sa.String(length=20), nullable=False),
        sa.Column("tokens_encrypted", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("scope", sa.String(length=500), nullable=True),
        sa.Column("account_id", sa.String(length=200), nullable=True),
        sa.Column("account_name", sa.String(length=200), nullable=True),
        sa.Column("app_id", sa.GUID(length=16), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["segmint_oauth_app.id"],
            name=op.f("fk_segmint_connection_app_id_segmint_oauth_app"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["segmint_integration.id"],
            name=op.f("fk_segmint_connection_integration_id_segmint_integration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_connection")),
        sa.UniqueConstraint("integration_id", name=op.f("uq_segmint_connection_integration_id")),
    )
    with op.batch_alter_table("segmint_schedule") as batch:
        batch.add_column(sa.Column("thread", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("segmint_delivery") as batch:
        batch.add_column(sa.Column("response_status", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("error_code", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("parts", sa.JSON(), server_default="[]", nullable=False))
        batch.add_column(sa.Column("retry_at", sa.DateTimeUTC(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("segmint_delivery") as batch:
        for column in ("retry_at", "parts", "error_code", "response_status"):
            batch.drop_column(column)
    with op.batch_alter_table("segmint_schedule") as batch:
        batch.drop_column("thread")
    op.drop_table("segmint_connection")
    with op.batch_alter_table("segmint_oauth_state") as batch:
        batch.drop_index(batch.f("ix_segmint_oauth_state_owner_id"))
    op.drop_table("segmint_oauth_state")
    op.drop_table("segmint_oauth_app")
