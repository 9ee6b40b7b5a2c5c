"""Exercise library routes: search, custom exercises (CRUD), history, records, progress and charts."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.gym import charts, services
from keel.apps.gym.models import Exercise
from keel.apps.gym.routes.common import READ_ERRORS, Formula, GymController, RepCap, list_route
from keel.apps.gym.schemas import (
    NO_NUL,
    ExerciseCreate,
    ExerciseRead,
    ExerciseRecordsRead,
    HistoryEntryRead,
    ProgressPointRead,
)
from keel.core.cache import Cache
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.resources import Resource, ResourceContext, ResourceHooks
from keel.core.storage import binary_operation
from keel.identity import Principal


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    for key in ("primary_muscles", "secondary_muscles", "aliases"):
        if key in values and values[key] is not None:
            values[key] = [str(v) for v in values[key]]
    for key in ("equipment", "category", "measurement"):
        if key in values and values[key] is not None:
            values[key] = str(values[key])
    return values


async def _invalidate_if_catalogue(ctx: ResourceContext, row: Exercise, *_: Any) -> None:
    if row.owner_id is None:  # an admin changed the shared library
        await ctx.request.app.state.cache.invalidate_on_commit(ctx.db_session, services.LIBRARY_NS)


exercises = Resource(
    model=Exercise,
    path="/exercises",
    tag="gym",
    name="Exercise",
    read=ExerciseRead,
    create=ExerciseCreate,
    update=ExerciseCreate,
    owner_field="owner_id",
    public_filter=Exercise.owner_id.is_(None),
    permissions={"update": services.MANAGE_LIBRARY, "delete": services.MANAGE_LIBRARY},
    actions=("get", "create", "update", "delete"),
    hooks=ResourceHooks(
        before_create=lambda ctx, values: _plain(values),
        before_update=lambda ctx, row, values: _plain(values),
        after_update=_invalidate_if_catalogue,
        before_delete=_invalidate_if_catalogue,
        to_read=lambda ctx, row: services.exercise_read(row),
    ),
)


async def _chart(
    db: AsyncSession, principal: Principal, item_id: UUID, fmt: str, metric: str
) -> Response[bytes]:
    exercise = await services.visible_exercise(db, principal.user_id, item_id)
    points = await services.exercise_progress(db, principal, item_id)
    data = await charts.render_async(points, title=exercise.name, metric=metric, fmt=fmt)
    return Response(content=data, media_type=charts.CONTENT_TYPES[fmt], headers={"Cache-Control": "no-store"})


Metric = Literal["e1rm", "top_weight", "volume"]


def _chart_route(fmt: Literal["png", "svg"]) -> HTTPRouteHandler:
    """`GET /exercises/{id}/chart.<fmt>`: the progress chart in one format, documented as binary."""
    return get(
        f"/{{item_id:uuid}}/chart.{fmt}",
        operation_class=binary_operation(charts.CONTENT_TYPES[fmt]),
        responses=READ_ERRORS,
        summary=f"Progress chart as {fmt.upper()}",
    )


class ExerciseController(GymController):
    path = "/exercises"

    @list_route(
        "Search the exercise library (catalogue + your custom exercises)",
    )
    async def list_exercises(
        self,
        db_session: AsyncSession,
        cache: Cache,
        principal: Principal,
        limit: Limit = 20,
        offset: Offset = 0,
        q: Annotated[
            str | None, Parameter(max_length=100, pattern=NO_NUL, description="Name or alias")
        ] = None,
        muscle: Annotated[
            str | None, Parameter(max_length=30, pattern=NO_NUL, description="Primary or secondary muscle")
        ] = None,
        equipment: Annotated[str | None, Parameter(max_length=30, pattern=NO_NUL)] = None,
        category: Annotated[str | None, Parameter(max_length=30, pattern=NO_NUL)] = None,
        custom: Annotated[
            bool | None, Parameter(description="true: only yours; false: only the catalogue")
        ] = None,
    ) -> Page[ExerciseRead]:
        items, total = await services.list_exercises(
            db_session,
            cache,
            principal,
            q=q,
            muscle=muscle,
            equipment=equipment,
            category=category,
            custom=custom,
            limit=limit,
            offset=offset,
        )
        return page(items, total=total, limit=limit, offset=offset)

    @get(
        "/{item_id:uuid}/history",
        responses=READ_ERRORS,
        summary="Your sessions with this exercise, newest first",
    )
    async def exercise_history(
        self,
        db_session: AsyncSession,
        principal: Principal,
        item_id: UUID,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[HistoryEntryRead]:
        items, total = await services.exercise_history(
            db_session, principal, item_id, limit=limit, offset=offset
        )
        return page(items, total=total, limit=limit, offset=offset)

    @get(
        "/{item_id:uuid}/records",
        responses=READ_ERRORS,
        summary="Personal records: e1RM, heaviest, most reps per weight, best set and session volume",
    )
    async def exercise_records(
        self,
        db_session: AsyncSession,
        principal: Principal,
        item_id: UUID,
        formula: Formula = "epley",
        rep_cap: RepCap = 12,
    ) -> Envelope[ExerciseRecordsRead]:
        return ok(
            await services.exercise_records(db_session, principal, item_id, formula=formula, rep_cap=rep_cap)
        )

    @get(
        "/{item_id:uuid}/progress",
        responses=READ_ERRORS,
        summary="Per session: best e1RM, top weight, volume",
    )
    async def exercise_progress(
        self,
        db_session: AsyncSession,
        principal: Principal,
        item_id: UUID,
        formula: Formula = "epley",
        rep_cap: RepCap = 12,
    ) -> Envelope[list[ProgressPointRead]]:
        return ok(
            await services.exercise_progress(db_session, principal, item_id, formula=formula, rep_cap=rep_cap)
        )

    @get(
        "/{item_id:uuid}/chart",
        operation_class=binary_operation(*charts.CONTENT_TYPES.values()),
        responses=READ_ERRORS,
        summary="Progress chart (matplotlib), PNG or SVG",
    )
    async def exercise_chart(
        self,
        db_session: AsyncSession,
        principal: Principal,
        item_id: UUID,
        format: Literal["png", "svg"] = "png",
        metric: Metric = "e1rm",
    ) -> Response[bytes]:
        return await _chart(db_session, principal, item_id, format, metric)

    @_chart_route("png")
    async def exercise_chart_png(
        self, db_session: AsyncSession, principal: Principal, item_id: UUID, metric: Metric = "e1rm"
    ) -> Response[bytes]:
        return await _chart(db_session, principal, item_id, "png", metric)

    @_chart_route("svg")
    async def exercise_chart_svg(
        self, db_session: AsyncSession, principal: Principal, item_id: UUID, metric: Metric = "e1rm"
    ) -> Response[bytes]:
        return await _chart(db_session, principal, item_id, "svg", metric)
