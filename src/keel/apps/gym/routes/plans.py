"""Workout plan routes: predefined and your own, create, replace, delete, copy."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from litestar import delete, get, post, put
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.gym import services
from keel.apps.gym.routes.common import READ_ERRORS, WRITE_ERRORS, GymController, list_route
from keel.apps.gym.schemas import PlanCopy, PlanCreate, PlanRead
from keel.core.cache import Cache
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.identity import Principal


class PlanController(GymController):
    path = "/workout-plans"

    @list_route(
        "Workout plans with days and exercises: predefined then yours (scope=all), or one kind",
    )
    async def list_plans(
        self,
        db_session: AsyncSession,
        cache: Cache,
        principal: Principal,
        limit: Limit = 20,
        offset: Offset = 0,
        plan_scope: Annotated[
            Literal["all", "mine", "predefined"],
            QueryParameter(name="scope", description="all (predefined, then yours), mine, predefined"),
        ] = "all",
    ) -> Page[PlanRead]:
        items, total = await services.list_plans(
            db_session, cache, principal, scope=plan_scope, limit=limit, offset=offset
        )
        return page(items, total=total, limit=limit, offset=offset)

    @post(
        status_code=201,
        responses=WRITE_ERRORS,
        summary="Create a plan: days of ordered exercises, or a flat exercises list (one day)",
    )
    async def create_plan(
        self, db_session: AsyncSession, cache: Cache, principal: Principal, data: PlanCreate
    ) -> Envelope[PlanRead]:
        return ok(await services.create_plan(db_session, cache, principal, data))

    @get("/{plan_id:uuid}", responses=READ_ERRORS, summary="One plan")
    async def get_plan(
        self, db_session: AsyncSession, cache: Cache, principal: Principal, plan_id: UUID
    ) -> Envelope[PlanRead]:
        return ok(await services.get_plan(db_session, cache, principal, plan_id))

    @put(
        "/{plan_id:uuid}",
        responses=WRITE_ERRORS,
        summary="Replace a plan (predefined plans: gym.plans.manage)",
    )
    async def replace_plan(
        self, db_session: AsyncSession, cache: Cache, principal: Principal, plan_id: UUID, data: PlanCreate
    ) -> Envelope[PlanRead]:
        return ok(await services.replace_plan(db_session, cache, principal, plan_id, data))

    @delete(
        "/{plan_id:uuid}",
        status_code=204,
        responses=WRITE_ERRORS,
        summary="Delete a plan (predefined plans: gym.plans.manage)",
    )
    async def delete_plan(
        self, db_session: AsyncSession, cache: Cache, principal: Principal, plan_id: UUID
    ) -> None:
        await services.delete_plan(db_session, cache, principal, plan_id)

    @post(
        "/{plan_id:uuid}/copy",
        status_code=201,
        responses=WRITE_ERRORS,
        summary="Copy a predefined (or your own) plan into your plans",
    )
    async def copy_plan(
        self, db_session: AsyncSession, principal: Principal, plan_id: UUID, data: PlanCopy | None = None
    ) -> Envelope[PlanRead]:
        return ok(await services.copy_plan(db_session, principal, plan_id, data.name if data else None))
