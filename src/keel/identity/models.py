"""Identity tables: accounts, roles and permissions, login sessions, refresh tokens, email tokens, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from keel.core.db import Base, metadata

user_role = Table(
    "identity_user_role",
    metadata,
    Column("user_id", GUID, ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", GUID, ForeignKey("identity_role.id", ondelete="CASCADE"), primary_key=True),
)

role_permission = Table(
    "identity_role_permission",
    metadata,
    Column("role_id", GUID, ForeignKey("identity_role.id", ondelete="CASCADE"), primary_key=True),
    Column("permission_id", GUID, ForeignKey("identity_permission.id", ondelete="CASCADE"), primary_key=True),
)


class Permission(Base):
    __tablename__ = "identity_permission"
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")


class Role(Base):
    __tablename__ = "identity_role"
    name: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    permissions: Mapped[list[Permission]] = relationship(secondary=role_permission, lazy="raise")


class User(Base):
    __tablename__ = "user_account"
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored normalized, lower case
    name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    roles: Mapped[list[Role]] = relationship(secondary=user_role, lazy="raise")


class LoginSession(Base):
    """One login: the refresh-token family and the `sid` claim of its access tokens."""

    __tablename__ = "identity_session"
    __table_args__ = (Index("ix_identity_session_user_id", "user_id"),)
    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    user_agent: Mapped[str] = mapped_column(String(512), default="")
    browser: Mapped[str] = mapped_column(String(100), default="")
    os: Mapped[str] = mapped_column(String(100), default="")
    device_type: Mapped[str] = mapped_column(String(20), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    last_seen_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))  # absolute lifetime
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(50), nullable=True)


class RefreshToken(Base):
    __tablename__ = "identity_refresh_token"
    __table_args__ = (Index("ix_identity_refresh_token_session_id", "session_id"),)
    session_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("identity_session.id", ondelete="CASCADE"))
    parent_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("identity_refresh_token.id", ondelete="SET NULL"), nullable=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))  # idle lifetime
    used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class EmailToken(Base):
    """Password-reset and email-verification links: only the hash is stored; single use."""

    __tablename__ = "identity_email_token"
    __table_args__ = (Index("ix_identity_email_token_user_id", "user_id"),)
    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class AuditEvent(Base):
    """Security events; user ids are kept without foreign keys so the trail outlives deleted accounts."""

    __tablename__ = "identity_audit_event"
    __table_args__ = (
        Index("ix_identity_audit_event_event", "event"),
        Index("ix_identity_audit_event_user_id", "user_id"),
        Index("ix_identity_audit_event_created_at", "created_at"),
    )
    event: Mapped[str] = mapped_column(String(50))
    user_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)  # whom it concerns
    actor_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)  # who did it
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(Text, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ApiKey(Base):
    """A personal API key: a long-lived bearer secret for scripts and SDKs, limited to its scopes.

    Only the sha256 of the secret is stored (the secret is random, 256 bits: a slow hash adds nothing);
    `prefix` is its first characters, shown in lists so the owner can tell keys apart."""

    __tablename__ = "identity_api_key"
    __table_args__ = (Index("ix_identity_api_key_user_id", "user_id"),)
    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)  # permission names, or ["*"]
    expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
