"""gym: exercises, plans (days, prescribed exercises), sessions, sets

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

sa.GUID = GUID
sa.DateTimeUTC = DateTimeUTC


def upgrade() -> None:
    op.create_table(
        "gym_exercise",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("owner_id", sa.GUID(length=16), nullable=True),
        sa.Column("slug", sa.String(length=100), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("primary_muscles", sa.JSON(), nullable=False),
        sa.Column("secondary_muscles", sa.JSON(), nullable=False),
        sa.Column("equipment", sa.String(length=30), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("measurement", sa.String(length=20), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_gym_exercise_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gym_exercise")),
        sa.UniqueConstraint("slug", name=op.f("uq_gym_exercise_slug")),
    )
    op.create_index("ix_gym_exercise_owner_name", "gym_exercise", ["owner_id", "name"], unique=False)
    op.create_table(
        "gym_plan",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("owner_id", sa.GUID(length=16), nullable=True),
        sa.Column("slug", sa.String(length=100), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("level", sa.String(length=20), nullable=True),
        sa.Column("days_per_week", sa.Integer(), nullable=True),
        sa.Column("source_plan_id", sa.GUID(length=16), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_gym_plan_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_plan_id"],
            ["gym_plan.id"],
            name=op.f("fk_gym_plan_source_plan_id_gym_plan"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gym_plan")),
        sa.UniqueConstraint("slug", name=op.f("uq_gym_plan_slug")),
    )
    op.create_index("ix_gym_plan_owner_created", "gym_plan", ["owner_id", "created_at"], unique=False)
    op.create_table(
        "gym_plan_day",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("plan_id", sa.GUID(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["gym_plan.id"], name=op.f("fk_gym_plan_day_plan_id_gym_plan"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gym_plan_day")),
    )
    op.create_index(op.f("ix_gym_plan_day_plan_id"), "gym_plan_day", ["plan_id"], unique=False)
    op.create_table(
        "gym_plan_exercise",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("day_id", sa.GUID(length=16), nullable=False),
        sa.Column("exercise_id", sa.GUID(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sets", sa.Integer(), nullable=False),
        sa.Column("reps_min", sa.Integer(), nullable=True),
        sa.Column("reps_max", sa.Integer(), nullable=True),
        sa.Column("amrap", sa.Boolean(), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("weight_kg", sa.Numeric(precision=10, scale=3), nullable=True),
        sa.Column("weight_unit", sa.String(length=2), nullable=False),
        sa.Column("rpe", sa.Numeric(precision=4, scale=1), nullable=True),
        sa.Column("rir", sa.Numeric(precision=4, scale=1), nullable=True),
        sa.Column("rest_s", sa.Integer(), nullable=True),
        sa.Column("superset", sa.String(length=20), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["day_id"],
            ["gym_plan_day.id"],
            name=op.f("fk_gym_plan_exercise_day_id_gym_plan_day"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["exercise_id"],
            ["gym_exercise.id"],
            name=op.f("fk_gym_plan_exercise_exercise_id_gym_exercise"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gym_plan_exercise")),
    )
    op.create_index(op.f("ix_gym_plan_exercise_day_id"), "gym_plan_exercise", ["day_id"], unique=False)
    op.create_index(
        op.f("ix_gym_plan_exercise_exercise_id"), "gym_plan_exercise", ["exercise_id"], unique=False
    )
    op.create_table(
        "gym_session",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("owner_id", sa.GUID(length=16), nullable=False),
        sa.Column("plan_id", sa.GUID(length=16), nullable=True),
        sa.Column("plan_day_id", sa.GUID(length=16), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("imported_from", sa.String(length=20), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_gym_session_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_day_id"],
            ["gym_plan_day.id"],
            name=op.f("fk_gym_session_plan_day_id_gym_plan_day"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["gym_plan.id"], name=op.f("fk_gym_session_plan_id_gym_plan"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gym_session")),
    )
    op.create_index("ix_gym_session_owner_started", "gym_session", ["owner_id", "started_at"], unique=False)
    op.create_index(op.f("ix_gym_session_plan_id"), "gym_session", ["plan_id"], unique=False)
    op.create_table(
        "gym_set",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("owner_id", sa.GUID(length=16), nullable=False),
        sa.Column("session_id", sa.GUID(length=16), nullable=False),
        sa.Column("exercise_id", sa.GUID(length=16), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("set_type", sa.String(length=10), nullable=False),
        sa.Column("reps", sa.Integer(), nullable=True),
        sa.Column("weight_kg", sa.Numeric(precision=10, scale=3), nullable=True),
        sa.Column("weight_unit", sa.String(length=2), nullable=False),
        sa.Column("rpe", sa.Numeric(precision=4, scale=1), nullable=True),
        sa.Column("rir", sa.Numeric(precision=4, scale=1), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("distance_m", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.Column("distance_unit", sa.String(length=2), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("performed_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["exercise_id"],
            ["gym_exercise.id"],
            name=op.f("fk_gym_set_exercise_id_gym_exercise"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_gym_set_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["gym_session.id"],
            name=op.f("fk_gym_set_session_id_gym_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gym_set")),
        sa.UniqueConstraint("owner_id", "client_id", name="uq_gym_set_owner_client"),
    )
    op.create_index(op.f("ix_gym_set_exercise_id"), "gym_set", ["exercise_id"], unique=False)
    op.create_index(
        "ix_gym_set_owner_exercise_performed",
        "gym_set",
        ["owner_id", "exercise_id", "performed_at"],
        unique=False,
    )
    op.create_index("ix_gym_set_owner_performed", "gym_set", ["owner_id", "performed_at"], unique=False)
    op.create_index(op.f("ix_gym_set_session_id"), "gym_set", ["session_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_gym_set_session_id"), table_name="gym_set")
    op.drop_index("ix_gym_set_owner_performed", table_name="gym_set")
    op.drop_index("ix_gym_set_owner_exercise_performed", table_name="gym_set")
    op.drop_index(op.f("ix_gym_set_exercise_id"), table_name="gym_set")
    op.drop_table("gym_set")
    op.drop_index(op.f("ix_gym_session_plan_id"), table_name="gym_session")
    op.drop_index("ix_gym_session_owner_started", table_name="gym_session")
    op.drop_table("gym_session")
    op.drop_index(op.f("ix_gym_plan_exercise_exercise_id"), table_name="gym_plan_exercise")
    op.drop_index(op.f("ix_gym_plan_exercise_day_id"), table_name="gym_plan_exercise")
    op.drop_table("gym_plan_exercise")
    op.drop_index(op.f("ix_gym_plan_day_plan_id"), table_name="gym_plan_day")
    op.drop_table("gym_plan_day")
    op.drop_index("ix_gym_plan_owner_created", table_name="gym_plan")
    op.drop_table("gym_plan")
    op.drop_index("ix_gym_exercise_owner_name", table_name="gym_exercise")
    op.drop_table("gym_exercise")
