"""segmint tables: workspaces (members, roles, invitations), content and its versions/tags/events,
approval workflows, integrations, schedules and their per-integration deliveries, idea suggestions, and
notifications.

Everything a team shares carries `workspace_id`; `owner_id` stays the person who made it (the author).
A user's personal workspace has the user's own id, so rows from before workspaces needed no rewriting."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

from keel.core.db import Base

# content states; the allowed moves between them live in services.TRANSITIONS
DRAFT, IN_REVIEW, APPROVED, SCHEDULED, PUBLISHED, REJECTED = (
    "draft",
    "in_review",
    "approved",
    "scheduled",
    "published",
    "rejected",
)
CONTENT_STATES = (DRAFT, IN_REVIEW, APPROVED, SCHEDULED, PUBLISHED, REJECTED)
TONES = ("friendly", "professional", "witty", "casual", "formal", "inspirational", "informative", "playful")
PLATFORMS = ("twitter", "linkedin", "instagram", "facebook", "mastodon", "blog", "newsletter", "tiktok")
PROVIDERS = ("webhook", "mastodon", "x", "linkedin", "bluesky")

# schedule states: scheduled -> publishing -> published | partial | failed; scheduled -> cancelled
SCHEDULE_ACTIVE = ("scheduled", "publishing")
# delivery states: pending -> delivered | failed
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


def _personal_workspace(context: Any) -> Any:
    """Rows created without a workspace (older code paths) land in their owner's personal workspace."""
    return context.get_current_parameters()["owner_id"]


def workspace_column(*, default_to_owner: bool = False) -> Any:
    return mapped_column(
        GUID,
        ForeignKey("segmint_workspace.id", ondelete="CASCADE"),
        index=True,
        default=_personal_workspace if default_to_owner else None,
    )


class Workspace(Base):
    """A team's shared space; `personal` ones (id = the user's id) hold what a user makes alone."""

    __tablename__ = "segmint_workspace"

    name: Mapped[str] = mapped_column(String(100))
    personal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )


class WorkspaceRole(Base):
    """A role and the permissions it grants (see `teams.DEFAULT_ROLES`); `rank` orders them (owner 0)."""

    __tablename__ = "segmint_workspace_role"

    name: Mapped[str] = mapped_column(String(30), unique=True)
    rank: Mapped[int] = mapped_column(Integer)
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)


class WorkspaceMember(Base):
    __tablename__ = "segmint_workspace_member"
    __table_args__ = (
        UniqueConstraint("workspace_id", "user_id"),
        Index("ix_segmint_workspace_member_user", "user_id"),
    )

    workspace_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("segmint_workspace.id", ondelete="CASCADE"))
    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(30), ForeignKey("segmint_workspace_role.name"))


class Invitation(Base):
    """An invitation by email: the mail carries a token (only its hash is stored); the invitee accepts
    while logged in as that address, before `expires_at`, unless it was revoked."""

    __tablename__ = "segmint_invitation"
    __table_args__ = (Index("ix_segmint_invitation_workspace_email", "workspace_id", "email"),)

    workspace_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("segmint_workspace.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(30), ForeignKey("segmint_workspace_role.name"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, accepted, revoked
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    accepted_by: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )


class Notification(Base):
    """Something that happened to content a user cares about: submitted, approved, rejected, published,
    failed. `read_at` is None until the user reads it."""

    __tablename__ = "segmint_notification"
    __table_args__ = (Index("ix_segmint_notification_user_created", "user_id", "created_at"),)

    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    workspace_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("segmint_workspace.id", ondelete="CASCADE"), nullable=True
    )
    content_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("segmint_content.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    read_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class NotificationPreference(Base):
    """Which notification kinds a user also wants by email (none until they opt in)."""

    __tablename__ = "segmint_notification_preference"

    user_id: Mapped[UUID] = mapped_column(
        GUID, ForeignKey("user_account.id", ondelete="CASCADE"), unique=True
    )
    email_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)


class Content(Base):
    __tablename__ = "segmint_content"
    __table_args__ = (
        Index("ix_segmint_content_owner_created", "owner_id", "created_at"),
        Index("ix_segmint_content_owner_status", "owner_id", "status"),
    )

    owner_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    workspace_id: Mapped[UUID] = workspace_column()
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    tone: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=DRAFT)
    platforms: Mapped[list[str]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # the workflow it was last submitted to, and which submission is current (decisions count per round)
    workflow_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("segmint_workflow.id", ondelete="SET NULL"), nullable=True, index=True
    )
    review_round: Mapped[int] = mapped_column(Integer, default=0)
    published_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)

    tags: Mapped[list[ContentTag]] = relationship(
        order_by="ContentTag.tag", cascade="all, delete-orphan", passive_deletes=True, lazy="raise"
    )
    workflow: Mapped[Workflow | None] = relationship(lazy="raise")


class ContentTag(Base):
    __tablename__ = "segmint_content_tag"
    __table_args__ = (
        UniqueConstraint("content_id", "tag"),
        Index("ix_segmint_content_tag_tag", "tag"),
    )

    content_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("segmint_content.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(50))


class ContentVersion(Base):
    """A snapshot of title/text/tone each time they change (version 1 is the text as created)."""

    __tablename__ = "segmint_content_version"
    __table_args__ = (UniqueConstraint("content_id", "number"),)

    content_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("segmint_content.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    tone: Mapped[str] = mapped_column(String(20))
    author_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )


class ContentEvent(Base):
    """The audit trail: every status change and review decision, who made it and why."""

    __tablename__ = "segmint_content_event"
    __table_args__ = (Index("ix_segmint_content_event_content_created", "content_id", "created_at"),)

    content_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("segmint_content.id", ondelete="CASCADE"))
    actor_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    actor_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    action: Mapped[str] = mapped_column(String(30))  # submitted, approved, rejected, ... (see services)
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    review_round: Mapped[int] = mapped_column(Integer, default=0)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)


class Workflow(Base):
    __tablename__ = "segmint_workflow"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    owner_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    workspace_id: Mapped[UUID] = workspace_column()
    name: Mapped[str] = mapped_column(String(100))
    required_approvals: Mapped[int] = mapped_column(Integer, default=1)

    approvers: Mapped[list[WorkflowApprover]] = relationship(
        order_by="WorkflowApprover.email", cascade="all, delete-orphan", passive_deletes=True, lazy="raise"
    )


class WorkflowApprover(Base):
    __tablename__ = "segmint_workflow_approver"
    __table_args__ = (
        UniqueConstraint("workflow_id", "user_id"),
        Index("ix_segmint_workflow_approver_user", "user_id"),
    )

    workflow_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("segmint_workflow.id", ondelete="CASCADE"))
    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))  # as resolved when added, for display


class Integration(Base):
    __tablename__ = "segmint_integration"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)  # names are unique per workspace

    owner_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    workspace_id: Mapped[UUID] = workspace_column(default_to_owner=True)
    name: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(String(500))  # webhook URL, or the Mastodon instance's base URL
    secret_encrypted: Mapped[str] = mapped_column(Text)  # Fernet token of the signing secret / access token
    secret_hint: Mapped[str] = mapped_column(String(20))  # e.g. "••••abcd"


class Schedule(Base):
    """One planned publication of a content to some of the owner's integrations."""

    __tablename__ = "segmint_schedule"
    __table_args__ = (
        Index("ix_segmint_schedule_content", "content_id"),
        Index("ix_segmint_schedule_status", "status"),
    )

    owner_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    workspace_id: Mapped[UUID] = workspace_column(default_to_owner=True)
    content_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("segmint_content.id", ondelete="CASCADE"))
    publish_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    job_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # procrastinate job id
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    # the lease of the run delivering it: a second run (two processes re-queued it) stands aside
    claimed_until: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    thread: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # split long text

    deliveries: Mapped[list[Delivery]] = relationship(
        order_by="Delivery.created_at", cascade="all, delete-orphan", passive_deletes=True, lazy="raise"
    )


class Delivery(Base):
    """The outcome of a schedule on one integration: what the target answered, or why it failed."""

    __tablename__ = "segmint_delivery"
    __table_args__ = (UniqueConstraint("schedule_id", "integration_id"),)

    schedule_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("segmint_schedule.id", ondelete="CASCADE"))
    integration_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("segmint_integration.id", ondelete="SET NULL"), nullable=True, index=True
    )
    integration_name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    external_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    # exactly what the network answered: HTTP status, its error code, every post of a thread (id/url)
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    parts: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    retry_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)  # 429


class Idea(Base):
    __tablename__ = "segmint_idea"
    __table_args__ = (Index("ix_segmint_idea_owner_status", "owner_id", "status", "created_at"),)

    owner_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    workspace_id: Mapped[UUID] = workspace_column()
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    tone: Mapped[str] = mapped_column(String(20))
    topics: Mapped[list[Any]] = mapped_column(JSON, default=list)
    engine: Mapped[str] = mapped_column(String(100))  # "local" or the model's name
    status: Mapped[str] = mapped_column(String(20), default="new")  # new, accepted, dismissed
    content_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("segmint_content.id", ondelete="SET NULL"), nullable=True
    )


from keel.apps.segmint.network_models import Connection, OAuthApp, OAuthState  # noqa: E402,F401 - same metadata
