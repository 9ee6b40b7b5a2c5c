"""Identity: users, roles, permissions, login sessions, refresh tokens, audit

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

sa.GUID = GUID
sa.DateTimeUTC = DateTimeUTC


def upgrade() -> None:
    op.create_table(
        "identity_audit_event",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("event", sa.String(length=50), nullable=False),
        sa.Column("user_id", sa.GUID(length=16), nullable=True),
        sa.Column("actor_id", sa.GUID(length=16), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_audit_event")),
    )
    op.create_index(
        "ix_identity_audit_event_created_at", "identity_audit_event", ["created_at"], unique=False
    )
    op.create_index("ix_identity_audit_event_event", "identity_audit_event", ["event"], unique=False)
    op.create_index("ix_identity_audit_event_user_id", "identity_audit_event", ["user_id"], unique=False)
    op.create_table(
        "identity_permission",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_permission")),
        sa.UniqueConstraint("name", name=op.f("uq_identity_permission_name")),
    )
    op.create_table(
        "identity_role",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_role")),
        sa.UniqueConstraint("name", name=op.f("uq_identity_role_name")),
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_verified", sa.Boolean(), nullable=False),
        sa.Column("password_changed_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("email", name=op.f("uq_user_account_email")),
    )
    op.create_table(
        "identity_email_token",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("user_id", sa.GUID(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_identity_email_token_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_email_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_identity_email_token_token_hash")),
    )
    op.create_index("ix_identity_email_token_user_id", "identity_email_token", ["user_id"], unique=False)
    op.create_table(
        "identity_role_permission",
        sa.Column("role_id", sa.GUID(length=16), nullable=False),
        sa.Column("permission_id", sa.GUID(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["permission_id"],
            ["identity_permission.id"],
            name=op.f("fk_identity_role_permission_permission_id_identity_permission"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["identity_role.id"],
            name=op.f("fk_identity_role_permission_role_id_identity_role"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("role_id", "permission_id", name=op.f("pk_identity_role_permission")),
    )
    op.create_table(
        "identity_session",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("user_id", sa.GUID(length=16), nullable=False),
        sa.Column("user_agent", sa.String(length=512), nullable=False),
        sa.Column("browser", sa.String(length=100), nullable=False),
        sa.Column("os", sa.String(length=100), nullable=False),
        sa.Column("device_type", sa.String(length=20), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("last_seen_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=50), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_identity_session_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_session")),
    )
    op.create_index("ix_identity_session_user_id", "identity_session", ["user_id"], unique=False)
    op.create_table(
        "identity_user_role",
        sa.Column("user_id", sa.GUID(length=16), nullable=False),
        sa.Column("role_id", sa.GUID(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["identity_role.id"],
            name=op.f("fk_identity_user_role_role_id_identity_role"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_identity_user_role_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "role_id", name=op.f("pk_identity_user_role")),
    )
    op.create_table(
        "identity_refresh_token",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("session_id", sa.GUID(length=16), nullable=False),
        sa.Column("parent_id", sa.GUID(length=16), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["identity_refresh_token.id"],
            name=op.f("fk_identity_refresh_token_parent_id_identity_refresh_token"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["identity_session.id"],
            name=op.f("fk_identity_refresh_token_session_id_identity_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_refresh_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_identity_refresh_token_token_hash")),
    )
    op.create_index(
        "ix_identity_refresh_token_session_id", "identity_refresh_token", ["session_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_identity_refresh_token_session_id", table_name="identity_refresh_token")
    op.drop_table("identity_refresh_token")
    op.drop_table("identity_user_role")
    op.drop_index("ix_identity_session_user_id", table_name="identity_session")
    op.drop_table("identity_session")
    op.drop_table("identity_role_permission")
    op.drop_index("ix_identity_email_token_user_id", table_name="identity_email_token")
    op.drop_table("identity_email_token")
    op.drop_table("user_account")
    op.drop_table("identity_role")
    op.drop_table("identity_permission")
    op.drop_index("ix_identity_audit_event_user_id", table_name="identity_audit_event")
    op.drop_index("ix_identity_audit_event_event", table_name="identity_audit_event")
    op.drop_index("ix_identity_audit_event_created_at", table_name="identity_audit_event")
    op.drop_table("identity_audit_event")
