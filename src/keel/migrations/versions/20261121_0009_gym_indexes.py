"""gym: an index on (owner, exercise, session) for an exercise's history and per-session record volumes

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_gym_set_owner_exercise_session",
        "gym_set",
        ["owner_id", "exercise_id", "session_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_gym_set_owner_exercise_session", table_name="gym_set")
