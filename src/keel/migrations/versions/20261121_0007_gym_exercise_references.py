"""gym: deleting an account with custom exercises works on PostgreSQL

RESTRICT is checked row by row, so deleting an account failed (409) when the cascade reached the user's
custom exercise before the sets and plan entries using it. Logged sets now use NO ACTION (still refuses
deleting a logged exercise, checked after the cascade); a plan entry goes with its exercise (CASCADE).

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


def _recreate(table: str, ondelete: str | None) -> None:
    name = f"fk_{table}_exercise_id_gym_exercise"
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(name, type_="foreignkey")
        batch.create_foreign_key(name, "gym_exercise", ["exercise_id"], ["id"], ondelete=ondelete)


def upgrade() -> None:
    _recreate("gym_set", None)
    _recreate("gym_plan_exercise", "CASCADE")


def downgrade() -> None:
    _recreate("gym_set", "RESTRICT")
    _recreate("gym_plan_exercise", "RESTRICT")
