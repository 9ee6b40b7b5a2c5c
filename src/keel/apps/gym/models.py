"""gym tables: the exercise library, workout plans (days, prescribed exercises), sessions and logged sets.

Rows with `owner_id IS NULL` are the seeded catalogue (exercises, predefined plans): everyone reads them,
only admins change them. Everything else belongs to one user. Weights and distances are stored in
canonical units (kg, metres, `Numeric` with three decimals) next to the unit the lifter typed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from keel.core.db import Base

WEIGHT = Numeric(10, 3)
SMALL = Numeric(4, 1)  # RPE / RIR


class Exercise(Base):
    __tablename__ = "gym_exercise"
    __table_args__ = (Index("ix_gym_exercise_owner_name", "owner_id", "name"),)

    owner_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=True
    )
    slug: Mapped[str | None] = mapped_column(String(100), unique=True, nullable=True)
    name: Mapped[str] = mapped_column(String(120))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    primary_muscles: Mapped[list[str]] = mapped_column(JSON, default=list)
    secondary_muscles: Mapped[list[str]] = mapped_column(JSON, default=list)
    equipment: Mapped[str] = mapped_column(String(30))
    category: Mapped[str] = mapped_column(String(20))
    measurement: Mapped[str] = mapped_column(String(20))
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)


class Plan(Base):
    __tablename__ = "gym_plan"
    __table_args__ = (Index("ix_gym_plan_owner_created", "owner_id", "created_at"),)

    owner_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("user_account.id", ondelete="CASCADE"), nullable=True
    )
    slug: Mapped[str | None] = mapped_column(String(100), unique=True, nullable=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    level: Mapped[str | None] = mapped_column(String(20), nullable=True)
    days_per_week: Mapped[int | None] = mapped_column(Integer, nullable=True)
    source_plan_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("gym_plan.id", ondelete="SET NULL"), nullable=True
    )
    days: Mapped[list[PlanDay]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", lazy="raise", order_by="PlanDay.position"
    )


class PlanDay(Base):
    __tablename__ = "gym_plan_day"

    plan_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("gym_plan.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    plan: Mapped[Plan] = relationship(back_populates="days", lazy="raise")
    exercises: Mapped[list[PlanExercise]] = relationship(
        back_populates="day", cascade="all, delete-orphan", lazy="raise", order_by="PlanExercise.position"
    )


class PlanExercise(Base):
    __tablename__ = "gym_plan_exercise"

    day_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("gym_plan_day.id", ondelete="CASCADE"), index=True)
    exercise_id: Mapped[UUID] = mapped_column(
        # a plan entry goes with its exercise; RESTRICT broke deleting an account with custom exercises
        GUID,
        ForeignKey("gym_exercise.id", ondelete="CASCADE"),
        index=True,
    )
    position: Mapped[int] = mapped_column(Integer)
    sets: Mapped[int] = mapped_column(Integer)
    reps_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reps_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    amrap: Mapped[bool] = mapped_column(Boolean, default=False)
    duration_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    weight_kg: Mapped[Decimal | None] = mapped_column(WEIGHT, nullable=True)
    weight_unit: Mapped[str] = mapped_column(String(2), default="kg")
    rpe: Mapped[Decimal | None] = mapped_column(SMALL, nullable=True)
    rir: Mapped[Decimal | None] = mapped_column(SMALL, nullable=True)
    rest_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    superset: Mapped[str | None] = mapped_column(String(20), nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    day: Mapped[PlanDay] = relationship(back_populates="exercises", lazy="raise")
    exercise: Mapped[Exercise] = relationship(lazy="raise")


class WorkoutSession(Base):
    __tablename__ = "gym_session"
    __table_args__ = (Index("ix_gym_session_owner_started", "owner_id", "started_at"),)

    owner_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    plan_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("gym_plan.id", ondelete="SET NULL"), nullable=True, index=True
    )
    plan_day_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("gym_plan_day.id", ondelete="SET NULL"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    duration_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    imported_from: Mapped[str | None] = mapped_column(String(20), nullable=True)
    sets: Mapped[list[WorkoutSet]] = relationship(
        back_populates="session",
        cascade="all, delete-orphan",
        lazy="raise",
        order_by="WorkoutSet.position",
    )


class WorkoutSet(Base):
    __tablename__ = "gym_set"
    __table_args__ = (
        Index("ix_gym_set_owner_exercise_performed", "owner_id", "exercise_id", "performed_at"),
        Index("ix_gym_set_owner_performed", "owner_id", "performed_at"),
        # an exercise's sessions (history page, its count) and per-session volume for records, from the index
        Index("ix_gym_set_owner_exercise_session", "owner_id", "exercise_id", "session_id"),
        UniqueConstraint("owner_id", "client_id", name="uq_gym_set_owner_client"),
    )

    owner_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    session_id: Mapped[UUID] = mapped_column(
        GUID, ForeignKey("gym_session.id", ondelete="CASCADE"), index=True
    )
    exercise_id: Mapped[UUID] = mapped_column(
        # NO ACTION (the default), not RESTRICT: still refuses deleting a logged exercise, but is checked
        # after the cascade, so deleting an account removes its sets and custom exercises together
        GUID,
        ForeignKey("gym_exercise.id"),
        index=True,
    )
    client_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    position: Mapped[int] = mapped_column(Integer)
    set_type: Mapped[str] = mapped_column(String(10), default="normal")
    reps: Mapped[int | None] = mapped_column(Integer, nullable=True)
    weight_kg: Mapped[Decimal | None] = mapped_column(WEIGHT, nullable=True)
    weight_unit: Mapped[str] = mapped_column(String(2), default="kg")
    rpe: Mapped[Decimal | None] = mapped_column(SMALL, nullable=True)
    rir: Mapped[Decimal | None] = mapped_column(SMALL, nullable=True)
    duration_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    distance_m: Mapped[Decimal | None] = mapped_column(Numeric(12, 3), nullable=True)
    distance_unit: Mapped[str] = mapped_column(String(2), default="km")
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    performed_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    session: Mapped[WorkoutSession] = relationship(back_populates="sets", lazy="raise")


__all__: list[Any] = ["Exercise", "Plan", "PlanDay", "PlanExercise", "WorkoutSession", "WorkoutSet"]
