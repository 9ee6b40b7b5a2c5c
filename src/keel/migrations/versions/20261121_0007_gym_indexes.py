"""gym: an index on (owner, exercise, session) for an exercise's history and per-session record volumes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
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
