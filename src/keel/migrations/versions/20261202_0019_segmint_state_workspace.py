"""segmint: an OAuth authorization in progress records the workspace it was started in (the callback
creates the integration there); integration names are unique per workspace instead of per person;
images attached to content (`segmint_media`)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def _rename_duplicates(key: str) -> None:
    """Names that would collide under the new constraint get " (2)", " (3)"... (oldest keeps its name)."""
    bind = op.get_bind()
    table = sa.table(
        "segmint_integration",
        sa.column("id", GUID(length=16)),
        sa.column(key, GUID(length=16)),
        sa.column("name", sa.String(100)),
        sa.column("created_at"),
    )
    rows = bind.execute(
        sa.select(table.c.id, table.c[key], table.c.name).order_by(table.c.created_at, table.c.id)
    ).all()
    taken: set[tuple[object, str]] = {(r[1], r[2]) for r in rows}
    seen: set[tuple[object, str]] = set()
    for row_id, scope, name in rows:
        if (scope, name) not in seen:
            seen.add((scope, name))
            continue
        n = 2
        while (scope, f"{name[:90]} ({n})") in taken:
            n += 1
        new = f"{name[:90]} ({n})"
        taken.add((scope, new))
        seen.add((scope, new))
        bind.execute(sa.update(table).where(table.c.id == row_id).values(name=new))


def upgrade() -> None:
    op.create_table(
        "segmint_media",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("workspace_id", GUID(length=16), nullable=False),
        sa.Column("content_id", GUID(length=16), nullable=False),
        sa.Column("owner_id", GUID(length=16), nullable=False),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("mime_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("alt_text", sa.String(length=1000), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["segmint_content.id"],
            name=op.f("fk_segmint_media_content_id_segmint_content"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_segmint_media_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["segmint_workspace.id"],
            name=op.f("fk_segmint_media_workspace_id_segmint_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmint_media")),
    )
    with op.batch_alter_table("segmint_media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_segmint_media_content_id"), ["content_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_segmint_media_workspace_id"), ["workspace_id"], unique=False)
    with op.batch_alter_table("segmint_oauth_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("workspace_id", GUID(length=16), nullable=True))
    # authorizations in progress (ten minutes at most) were started in the personal workspace
    op.execute(sa.text("UPDATE segmint_oauth_state SET workspace_id = owner_id"))
    op.execute(
        sa.text(
            "DELETE FROM segmint_oauth_state WHERE workspace_id NOT IN (SELECT id FROM segmint_workspace)"
        )
    )
    with op.batch_alter_table("segmint_oauth_state", schema=None) as batch_op:
        batch_op.alter_column("workspace_id", existing_type=GUID(length=16), nullable=False)
        batch_op.create_index(
            batch_op.f("ix_segmint_oauth_state_workspace_id"), ["workspace_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_segmint_oauth_state_workspace_id_segmint_workspace"),
            "segmint_workspace",
            ["workspace_id"],
            ["id"],
            ondelete="CASCADE",
        )
    _rename_duplicates("workspace_id")
    with op.batch_alter_table("segmint_integration", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_segmint_integration_owner_id"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_segmint_integration_workspace_id"), ["workspace_id", "name"]
        )


def downgrade() -> None:
    with op.batch_alter_table("segmint_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_segmint_media_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_segmint_media_content_id"))
    op.drop_table("segmint_media")
    _rename_duplicates("owner_id")
    with op.batch_alter_table("segmint_integration", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_segmint_integration_workspace_id"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_segmint_integration_owner_id"), ["owner_id", "name"])
    with op.batch_alter_table("segmint_oauth_state", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_segmint_oauth_state_workspace_id_segmint_workspace"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_segmint_oauth_state_workspace_id"))
        batch_op.drop_column("workspace_id")
