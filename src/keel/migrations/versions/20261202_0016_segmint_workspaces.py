"""segmint: workspaces (members, roles with their permissions, invitations) and notifications; content,
workflows, integrations, schedules and ideas belong to a workspace. Every user gets a personal workspace
whose id is their user id, so existing rows move into their owner's personal workspace by copying
`owner_id` into `workspace_id`.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# the defaults as of this migration (the app adds missing ones at start-up; it never overwrites)
_ALL = (
    "workspace.manage",
    "members.manage",
    "content.read",
    "content.write",
    "content.approve",
    "content.schedule",
    "workflows.manage",
    "integrations.manage",
    "ideas.write",
)
ROLES = {
    "owner": (0, list(_ALL)),
    "admin": (1, [p for p in _ALL if p != "workspace.manage"]),
    "editor": (2, ["content.read", "content.write", "content.schedule", "ideas.write"]),
    "approver": (3, ["content.read", "content.approve"]),
    "viewer": (4, ["content.read"]),
}
SCOPED = ("segmint_content", "segmint_workflow", "segmint_integration", "segmint_schedule", "segmint_idea")


def _base() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    role_table = op.create_table(
        "segmint_workspace_role",
        *_base(),
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_workspace_role")),
        sa.UniqueConstraint("name", name=op.f("uq_segmint_workspace_role_name")),
    )
    workspace_table = op.create_table(
        "segmint_workspace",
        *_base(),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("personal", sa.Boolean(), nullable=False),
        sa.Column("created_by", GUID(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_segmint_workspace_created_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_workspace")),
    )
    member_table = op.create_table(
        "segmint_workspace_member",
        *_base(),
        sa.Column("workspace_id", GUID(length=16), nullable=False),
        sa.Column("user_id", GUID(length=16), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.ForeignKeyConstraint(
            ["role"],
            ["segmint_workspace_role.name"],
            name=op.f("fk_segmint_workspace_member_role_segmint_workspace_role"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_segmint_workspace_member_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["segmint_workspace.id"],
            name=op.f("fk_segmint_workspace_member_workspace_id_segmint_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_workspace_member")),
        sa.UniqueConstraint("workspace_id", "user_id", name=op.f("uq_segmint_workspace_member_workspace_id")),
    )
    with op.batch_alter_table("segmint_workspace_member", schema=None) as batch_op:
        batch_op.create_index("ix_segmint_workspace_member_user", ["user_id"], unique=False)
    op.create_table(
        "segmint_invitation",
        *_base(),
        sa.Column("workspace_id", GUID(length=16), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by", GUID(length=16), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("expires_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("accepted_by", GUID(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["accepted_by"],
            ["user_account.id"],
            name=op.f("fk_segmint_invitation_accepted_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"],
            ["user_account.id"],
            name=op.f("fk_segmint_invitation_invited_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["role"],
            ["segmint_workspace_role.name"],
            name=op.f("fk_segmint_invitation_role_segmint_workspace_role"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["segmint_workspace.id"],
            name=op.f("fk_segmint_invitation_workspace_id_segmint_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_invitation")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_segmint_invitation_token_hash")),
    )
    with op.batch_alter_table("segmint_invitation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_segmint_invitation_workspace_email", ["workspace_id", "email"], unique=False
        )
    op.create_table(
        "segmint_notification",
        *_base(),
        sa.Column("user_id", GUID(length=16), nullable=False),
        sa.Column("workspace_id", GUID(length=16), nullable=True),
        sa.Column("content_id", GUID(length=16), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("read_at", DateTimeUTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["segmint_content.id"],
            name=op.f("fk_segmint_notification_content_id_segmint_content"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_segmint_notification_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["segmint_workspace.id"],
            name=op.f("fk_segmint_notification_workspace_id_segmint_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_notification")),
    )
    with op.batch_alter_table("segmint_notification", schema=None) as batch_op:
        batch_op.create_index("ix_segmint_notification_user_created", ["user_id", "created_at"], unique=False)
    op.create_table(
        "segmint_notification_preference",
        *_base(),
        sa.Column("user_id", GUID(length=16), nullable=False),
        sa.Column("email_kinds", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_segmint_notification_preference_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_notification_preference")),
        sa.UniqueConstraint("user_id", name=op.f("uq_segmint_notification_preference_user_id")),
    )

    # data: the roles, then a personal workspace (id = user id) with its owner for every account
    now = datetime.now(UTC)
    stamps = {"created_at": now, "updated_at": now}
    op.bulk_insert(
        role_table,
        [
            {"id": uuid.uuid4(), "name": name, "rank": rank, "permissions": permissions, **stamps}
            for name, (rank, permissions) in ROLES.items()
        ],
    )
    users = sa.table("user_account", sa.column("id", GUID(length=16)))
    user_ids = list(op.get_bind().execute(sa.select(users.c.id)).scalars())
    if user_ids:
        op.bulk_insert(
            workspace_table,
            [{"id": u, "name": "Personal", "personal": True, "created_by": u, **stamps} for u in user_ids],
        )
        op.bulk_insert(
            member_table,
            [
                {"id": uuid.uuid4(), "workspace_id": u, "user_id": u, "role": "owner", **stamps}
                for u in user_ids
            ],
        )

    for table in SCOPED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("workspace_id", GUID(length=16), nullable=True))
        op.execute(sa.text(f"UPDATE {table} SET workspace_id = owner_id"))  # noqa: S608 - our own names
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("workspace_id", existing_type=GUID(length=16), nullable=False)
            batch_op.create_index(batch_op.f(f"ix_{table}_workspace_id"), ["workspace_id"], unique=False)
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_workspace_id_segmint_workspace"),
                "segmint_workspace",
                ["workspace_id"],
                ["id"],
                ondelete="CASCADE",
            )
    with op.batch_alter_table("segmint_workflow", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_segmint_workflow_owner_id"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_segmint_workflow_workspace_id"), ["workspace_id", "name"]
        )


def downgrade() -> None:
    """Back to owner-scoped rows: rows of shared workspaces stay with the person who made them."""
    with op.batch_alter_table("segmint_workflow", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_segmint_workflow_workspace_id"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_segmint_workflow_owner_id"), ["owner_id", "name"])
    for table in reversed(SCOPED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_workspace_id_segmint_workspace"), type_="foreignkey"
            )
            batch_op.drop_index(batch_op.f(f"ix_{table}_workspace_id"))
            batch_op.drop_column("workspace_id")
    op.drop_table("segmint_notification_preference")
    with op.batch_alter_table("segmint_notification", schema=None) as batch_op:
        batch_op.drop_index("ix_segmint_notification_user_created")
    op.drop_table("segmint_notification")
    with op.batch_alter_table("segmint_invitation", schema=None) as batch_op:
        batch_op.drop_index("ix_segmint_invitation_workspace_email")
    op.drop_table("segmint_invitation")
    with op.batch_alter_table("segmint_workspace_member", schema=None) as batch_op:
        batch_op.drop_index("ix_segmint_workspace_member_user")
    op.drop_table("segmint_workspace_member")
    op.drop_table("segmint_workspace")
    op.drop_table("segmint_workspace_role")
