"""The plans list: predefined (cached) and the caller's own, whose page is two statements on the driver
(the plans with their total, then every day and exercise of those plans), built once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, select, type_coerce
from sqlalchemy.sql.sqltypes import NullType

from keel.apps.gym.models import Exercise, Plan, PlanDay, PlanExercise
from keel.apps.gym.schemas import PlanRead
from keel.apps.gym.services.plans import plan_exercise_read, predefined_plans
from keel.core.driver_select import DriverSelect
from keel.core.mapping import to_reads
from keel.core.query import page_with_total, total_column

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.core.cache import Cache
    from keel.identity import Principal

_plan = Plan.__table__
_day = PlanDay.__table__
_entry = PlanExercise.__table__
_exercise = Exercise.__table__
_OWN = _plan.c.owner_id == bindparam("owner_id")
_NEWEST = (_plan.c.created_at.desc(), _plan.c.id)
_PLAN_COLUMNS = (
    "id", "name", "description", "level", "days_per_week", "slug", "owner_id", "source_plan_id", "created_at",
    "updated_at",
)  # fmt: skip
OWN_PLANS_COUNT = select(func.count()).select_from(_plan).where(_OWN)
OWN_PLANS_PAGE = DriverSelect(
    select(*(_plan.c[name] for name in _PLAN_COLUMNS), total_column(OWN_PLANS_COUNT))
    .where(_OWN)
    .order_by(*_NEWEST)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_PAGE_IDS = (
    select(_plan.c.id).where(_OWN).order_by(*_NEWEST).limit(bindparam("limit")).offset(bindparam("offset"))
)
_ENTRY_COLUMNS = (
    "id", "position", "exercise_id", "sets", "reps_min", "reps_max", "amrap", "duration_s", "weight_unit",
    "rest_s", "superset", "notes",
)  # fmt: skip
# the days of the same page's plans (the page's own condition, limit and offset as a subquery: no IN list
# to bind), each with its exercises in order; a day without exercises is a row of NULL entry columns
OWN_PLANS_DAYS = DriverSelect(
    select(
        _day.c.plan_id,
        _day.c.id.label("day_id"),
        _day.c.position.label("day_position"),
        _day.c.name.label("day_name"),
        *(_entry.c[name] for name in _ENTRY_COLUMNS),
        # the driver's numbers, made Decimals by load_fields (SQLAlchemy's numeric result types need the
        # driver's result metadata)
        *(type_coerce(_entry.c[name], NullType()).label(name) for name in ("weight_kg", "rpe", "rir")),
        _exercise.c.name.label("exercise_name"),
        _exercise.c.slug.label("exercise_slug"),
    )
    .select_from(
        _day.outerjoin(_entry, _entry.c.day_id == _day.c.id).outerjoin(
            _exercise, _exercise.c.id == _entry.c.exercise_id
        )
    )
    .where(_day.c.plan_id.in_(_PAGE_IDS))
    .order_by(_day.c.plan_id, _day.c.position, _day.c.id, _entry.c.position, _entry.c.id)
)


async def own_plans(
    db: AsyncSession, principal: Principal, *, limit: int, offset: int
) -> tuple[list[PlanRead], int]:
    """A page of the caller's plans, newest first, with their days and exercises, and their total."""
    params = {"owner_id": principal.user_id, "limit": limit, "offset": offset}
    plans, total = await page_with_total(db, OWN_PLANS_PAGE, OWN_PLANS_COUNT, params, offset=offset)
    if not plans:
        return [], total
    days: dict[Any, list[dict[str, Any]]] = {plan["id"]: [] for plan in plans}
    day: dict[str, Any] = {}
    for row in await OWN_PLANS_DAYS.rows(db, params):
        if day.get("id") != row["day_id"]:
            day = {
                "id": row["day_id"],
                "position": row["day_position"],
                "name": row["day_name"],
                "exercises": [],
            }
            days[row["plan_id"]].append(day)
        if row["id"] is not None:
            day["exercises"].append(plan_exercise_read(_Row(row), row["exercise_name"], row["exercise_slug"]))
    for plan in plans:
        plan["days"] = days[plan["id"]]
        plan["exercises"] = [entry for d in plan["days"] for entry in d["exercises"]]
        plan["predefined"] = False
    return to_reads(plans, PlanRead), total


class _Row:
    """A row's dict read as attributes (what `plan_exercise_read` takes)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__ = values


async def list_plans(
    db: AsyncSession, cache: Cache, principal: Principal, *, scope: str, limit: int, offset: int
) -> tuple[list[PlanRead], int]:
    """`mine`: own plans, newest first; `predefined`: the catalogue (cached); `all`: predefined, then own."""
    predefined = await predefined_plans(db, cache) if scope in ("all", "predefined") else []
    if scope == "predefined":
        return predefined[offset : offset + limit], len(predefined)
    items = predefined[offset : offset + limit]
    own_offset = max(0, offset - len(predefined))
    own_limit = limit - len(items)
    if own_limit > 0:
        own, own_total = await own_plans(db, principal, limit=own_limit, offset=own_offset)
        items.extend(own)
    else:  # the page is all predefined: only the count of the caller's own
        own_total = await db.scalar(OWN_PLANS_COUNT, {"owner_id": principal.user_id}) or 0
    return items, len(predefined) + own_total
