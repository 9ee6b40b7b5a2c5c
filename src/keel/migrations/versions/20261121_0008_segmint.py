"""segmint: content (versions, tags, audit events), approval workflows, integrations, schedules and
deliveries, ideas

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

sa.GUID = GUID
sa.DateTimeUTC = DateTimeUTC


def upgrade() -> None:
    op.create_table(
        "segmint_integration",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("owner_id", sa.GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("secret_hint", sa.String(length=20), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_segmint_integration_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_integration")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_segmint_integration_owner_id")),
    )
    op.create_table(
        "segmint_workflow",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("owner_id", sa.GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("required_approvals", sa.Integer(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_segmint_workflow_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_workflow")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_segmint_workflow_owner_id")),
    )
    op.create_table(
        "segmint_content",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("owner_id", sa.GUID(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tone", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("platforms", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.GUID(length=16), nullable=True),
        sa.Column("review_round", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_segmint_content_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["segmint_workflow.id"],
            name=op.f("fk_segmint_content_workflow_id_segmint_workflow"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_content")),
    )
    with op.batch_alter_table("segmint_content", schema=None) as batch_op:
        batch_op.create_index("ix_segmint_content_owner_created", ["owner_id", "created_at"], unique=False)
        batch_op.create_index("ix_segmint_content_owner_status", ["owner_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_segmint_content_workflow_id"), ["workflow_id"], unique=False)

    op.create_table(
        "segmint_workflow_approver",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("workflow_id", sa.GUID(length=16), nullable=False),
        sa.Column("user_id", sa.GUID(length=16), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_segmint_workflow_approver_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["segmint_workflow.id"],
            name=op.f("fk_segmint_workflow_approver_workflow_id_segmint_workflow"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_workflow_approver")),
        sa.UniqueConstraint("workflow_id", "user_id", name=op.f("uq_segmint_workflow_approver_workflow_id")),
    )
    with op.batch_alter_table("segmint_workflow_approver", schema=None) as batch_op:
        batch_op.create_index("ix_segmint_workflow_approver_user", ["user_id"], unique=False)

    op.create_table(
        "segmint_content_event",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("content_id", sa.GUID(length=16), nullable=False),
        sa.Column("actor_id", sa.GUID(length=16), nullable=True),
        sa.Column("actor_email", sa.String(length=320), nullable=True),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=True),
        sa.Column("review_round", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user_account.id"],
            name=op.f("fk_segmint_content_event_actor_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["segmint_content.id"],
            name=op.f("fk_segmint_content_event_content_id_segmint_content"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_content_event")),
    )
    with op.batch_alter_table("segmint_content_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_segmint_content_event_content_created", ["content_id", "created_at"], unique=False
        )

    op.create_table(
        "segmint_content_tag",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("content_id", sa.GUID(length=16), nullable=False),
        sa.Column("tag", sa.String(length=50), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["segmint_content.id"],
            name=op.f("fk_segmint_content_tag_content_id_segmint_content"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_content_tag")),
        sa.UniqueConstraint("content_id", "tag", name=op.f("uq_segmint_content_tag_content_id")),
    )
    with op.batch_alter_table("segmint_content_tag", schema=None) as batch_op:
        batch_op.create_index("ix_segmint_content_tag_tag", ["tag"], unique=False)

    op.create_table(
        "segmint_content_version",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("content_id", sa.GUID(length=16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tone", sa.String(length=20), nullable=False),
        sa.Column("author_id", sa.GUID(length=16), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user_account.id"],
            name=op.f("fk_segmint_content_version_author_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["segmint_content.id"],
            name=op.f("fk_segmint_content_version_content_id_segmint_content"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_content_version")),
        sa.UniqueConstraint("content_id", "number", name=op.f("uq_segmint_content_version_content_id")),
    )
    op.create_table(
        "segmint_idea",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("owner_id", sa.GUID(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tone", sa.String(length=20), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("engine", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("content_id", sa.GUID(length=16), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["segmint_content.id"],
            name=op.f("fk_segmint_idea_content_id_segmint_content"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_segmint_idea_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_idea")),
    )
    with op.batch_alter_table("segmint_idea", schema=None) as batch_op:
        batch_op.create_index(
            "ix_segmint_idea_owner_status", ["owner_id", "status", "created_at"], unique=False
        )

    op.create_table(
        "segmint_schedule",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("owner_id", sa.GUID(length=16), nullable=False),
        sa.Column("content_id", sa.GUID(length=16), nullable=False),
        sa.Column("publish_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("finished_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["segmint_content.id"],
            name=op.f("fk_segmint_schedule_content_id_segmint_content"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_segmint_schedule_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_schedule")),
    )
    with op.batch_alter_table("segmint_schedule", schema=None) as batch_op:
        batch_op.create_index("ix_segmint_schedule_content", ["content_id"], unique=False)
        batch_op.create_index("ix_segmint_schedule_status", ["status"], unique=False)

    op.create_table(
        "segmint_delivery",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("schedule_id", sa.GUID(length=16), nullable=False),
        sa.Column("integration_id", sa.GUID(length=16), nullable=True),
        sa.Column("integration_name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("external_url", sa.String(length=500), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["segmint_integration.id"],
            name=op.f("fk_segmint_delivery_integration_id_segmint_integration"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["segmint_schedule.id"],
            name=op.f("fk_segmint_delivery_schedule_id_segmint_schedule"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_delivery")),
        sa.UniqueConstraint("schedule_id", "integration_id", name=op.f("uq_segmint_delivery_schedule_id")),
    )
    with op.batch_alter_table("segmint_delivery", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_segmint_delivery_integration_id"), ["integration_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("segmint_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_segmint_delivery_integration_id"))

    op.drop_table("segmint_delivery")
    with op.batch_alter_table("segmint_schedule", schema=None) as batch_op:
        batch_op.drop_index("ix_segmint_schedule_status")
        batch_op.drop_index("ix_segmint_schedule_content")

    op.drop_table("segmint_schedule")
    with op.batch_alter_table("segmint_idea", schema=None) as batch_op:
        batch_op.drop_index("ix_segmint_idea_owner_status")

    op.drop_table("segmint_idea")
    op.drop_table("segmint_content_version")
    with op.batch_alter_table("segmint_content_tag", schema=None) as batch_op:
        batch_op.drop_index("ix_segmint_content_tag_tag")

    op.drop_table("segmint_content_tag")
    with op.batch_alter_table("segmint_content_event", schema=None) as batch_op:
        batch_op.drop_index("ix_segmint_content_event_content_created")

    op.drop_table("segmint_content_event")
    with op.batch_alter_table("segmint_workflow_approver", schema=None) as batch_op:
        batch_op.drop_index("ix_segmint_workflow_approver_user")

    op.drop_table("segmint_workflow_approver")
    with op.batch_alter_table("segmint_content", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_segmint_content_workflow_id"))
        batch_op.drop_index("ix_segmint_content_owner_status")
        batch_op.drop_index("ix_segmint_content_owner_created")

    op.drop_table("segmint_content")
    op.drop_table("segmint_workflow")
    op.drop_table("segmint_integration")
    # ### end Alembic commands ###
