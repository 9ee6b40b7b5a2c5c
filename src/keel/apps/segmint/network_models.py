"""segmint tables for the networks: an integration's connected account (OAuth or AT Protocol session,
tokens encrypted), the pending OAuth authorizations (`state`), Mastodon apps registered per instance,
and the images attached to a content (uploaded to each network when it is published)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keel.core.db import Base


class Connection(Base):
    """The account behind an OAuth/app-password integration: the token set (Fernet-encrypted JSON), when
    the access token expires (refreshed before), and who it is on the network."""

    __tablename__ = "segmint_connection"

    integration_id: Mapped[UUID] = mapped_column(
        GUID, ForeignKey("segmint_integration.id", ondelete="CASCADE"), unique=True
    )
    network: Mapped[str] = mapped_column(String(20))
    auth: Mapped[str] = mapped_column(String(20))  # "oauth" or "app_password"
    tokens_encrypted: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    scope: Mapped[str | None] = mapped_column(String(500), nullable=True)
    account_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    account_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    app_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("segmint_oauth_app.id", ondelete="SET NULL"), nullable=True
    )


class OAuthState(Base):
    """One authorization in progress: single use (`used_at`), bound to the user, expiring; only the state's
    SHA-256 is stored, and the PKCE verifier is encrypted."""

    __tablename__ = "segmint_oauth_state"

    owner_id: Mapped[UUID] = mapped_column(
        GUID, ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    # the workspace the connection was started in: the callback creates the integration there
    workspace_id: Mapped[UUID] = mapped_column(
        GUID, ForeignKey("segmint_workspace.id", ondelete="CASCADE"), index=True
    )
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    network: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))  # the integration to create
    base_url: Mapped[str] = mapped_column(String(500))  # the Mastodon instance, or the network's API
    redirect_uri: Mapped[str] = mapped_column(String(500))
    verifier_encrypted: Mapped[str] = mapped_column(Text)
    app_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("segmint_oauth_app.id", ondelete="CASCADE"), nullable=True
    )
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class OAuthApp(Base):
    """A Mastodon instance's registration of segmint (`POST /api/v1/apps`), reused for every user there."""

    __tablename__ = "segmint_oauth_app"
    __table_args__ = (UniqueConstraint("instance", "redirect_uri"),)

    instance: Mapped[str] = mapped_column(String(500))
    redirect_uri: Mapped[str] = mapped_column(String(500))
    scopes: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[str] = mapped_column(String(200))
    client_secret_encrypted: Mapped[str] = mapped_column(Text)


class Media(Base):
    """An image or a video attached to a content, in the order it is shown (`position`); the bytes are in
    storage. `duration` (seconds) is a video's, read from the file when attached."""

    __tablename__ = "segmint_media"

    workspace_id: Mapped[UUID] = mapped_column(
        GUID, ForeignKey("segmint_workspace.id", ondelete="CASCADE"), index=True
    )
    content_id: Mapped[UUID] = mapped_column(
        GUID, ForeignKey("segmint_content.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    storage_key: Mapped[str] = mapped_column(String(300))
    mime_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    alt_text: Mapped[str] = mapped_column(String(1000), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
