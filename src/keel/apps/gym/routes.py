"""gym routes under /api/v1/gym: exercise library, workout plans, sessions and sets, records, import/export.

Envelope: every JSON answer is `{"status": "success", "data": <object>}` (lists: `data` is the list plus
`meta`); a workout plan answers `data` = the plan itself (not `data.workoutPlan`). Everything owned is
owner-scoped: another user's plan, session, set or custom exercise answers 404.
"""

from __future__ import annotations

import email.parser
import email.policy
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Request, Response, delete, get, patch, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.gym import charts, services
from keel.apps.gym.models import Exercise
from keel.apps.gym.schemas import (
    ExerciseCreate,
    ExerciseRead,
    ExerciseRecordsRead,
    HistoryEntry,
    ImportPreview,
    LoggedSet,
    MuscleWeekRead,
    PlanCopy,
    PlanRead,
    PlanWrite,
    ProgressPoint,
    SessionDetail,
    SessionFinish,
    SessionRead,
    SessionStart,
    SetIn,
    SetRead,
)
from keel.core.cache import Cache
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
    ValidationFailed,
    error_responses,
)
from keel.core.resources import Resource, ResourceContext, ResourceHooks, partial_struct, struct_values
from keel.core.storage import binary_operation
from keel.identity.guards import Principal

SECURITY = [{"BearerToken": []}]
TAG = ["gym"]
Formula = Literal["epley", "brzycki"]
TimeZone = Annotated[
    str,
    Parameter(max_length=64, description="IANA time zone of the CSV's wall-clock times, e.g. Europe/Berlin"),
]
RepCap = Annotated[
    int, Parameter(ge=1, le=30, description="Sets above this many reps give no e1RM")
]
READ_ERRORS = error_responses(Unauthorized, NotFound)
WRITE_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, ValidationFailed, Conflict)
SetPatch = partial_struct(SetIn)


def _settings(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.settings


# =========================================================================== exercises


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


@get(
    "/exercises",
    tags=TAG,
    security=SECURITY,
    responses=error_responses(Unauthorized),
    summary="Search the exercise library (catalogue + your custom exercises)",
)
async def list_exercises(
    db_session: AsyncSession,
    cache: Cache,
    principal: Principal,
    limit: Limit = 20,
    offset: Offset = 0,
    q: Annotated[str | None, Parameter(max_length=100, description="Name or alias")] = None,
    muscle: Annotated[str | None, Parameter(max_length=30, description="Primary or secondary muscle")] = None,
    equipment: Annotated[str | None, Parameter(max_length=30)] = None,
    category: Annotated[str | None, Parameter(max_length=30)] = None,
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
    "/exercises/{item_id:uuid}/history",
    tags=TAG,
    security=SECURITY,
    responses=READ_ERRORS,
    summary="Your sessions with this exercise, newest first",
)
async def exercise_history(
    db_session: AsyncSession, principal: Principal, item_id: UUID, limit: Limit = 20, offset: Offset = 0
) -> Page[HistoryEntry]:
    items, total = await services.exercise_history(db_session, principal, item_id, limit=limit, offset=offset)
    return page(items, total=total, limit=limit, offset=offset)


@get(
    "/exercises/{item_id:uuid}/records",
    tags=TAG,
    security=SECURITY,
    responses=READ_ERRORS,
    summary="Personal records: e1RM, heaviest, most reps per weight, best set and session volume",
)
async def exercise_records(
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
    "/exercises/{item_id:uuid}/progress",
    tags=TAG,
    security=SECURITY,
    responses=READ_ERRORS,
    summary="Per session: best e1RM, top weight, volume",
)
async def exercise_progress(
    db_session: AsyncSession,
    principal: Principal,
    item_id: UUID,
    formula: Formula = "epley",
    rep_cap: RepCap = 12,
) -> Envelope[list[ProgressPoint]]:
    return ok(
        await services.exercise_progress(db_session, principal, item_id, formula=formula, rep_cap=rep_cap)
    )


async def _chart(
    db: AsyncSession, principal: Principal, item_id: UUID, fmt: str, metric: str
) -> Response[bytes]:
    exercise = await services.visible_exercise(db, principal.user_id, item_id)
    points = await services.exercise_progress(db, principal, item_id)
    data = await charts.render_async(points, title=exercise.name, metric=metric, fmt=fmt)
    return Response(content=data, media_type=charts.CONTENT_TYPES[fmt], headers={"Cache-Control": "no-store"})


Metric = Literal["e1rm", "top_weight", "volume"]


@get(
    "/exercises/{item_id:uuid}/chart",
    tags=TAG,
    operation_class=binary_operation(*charts.CONTENT_TYPES.values()),
    security=SECURITY,
    responses=READ_ERRORS,
    summary="Progress chart (matplotlib), PNG or SVG",
)
async def exercise_chart(
    db_session: AsyncSession,
    principal: Principal,
    item_id: UUID,
    format: Literal["png", "svg"] = "png",
    metric: Metric = "e1rm",
) -> Response[bytes]:
    return await _chart(db_session, principal, item_id, format, metric)


@get(
    "/exercises/{item_id:uuid}/chart.png",
    tags=TAG,
    operation_class=binary_operation(charts.CONTENT_TYPES["png"]),
    security=SECURITY,
    responses=READ_ERRORS,
    summary="Progress chart as PNG",
)
async def exercise_chart_png(
    db_session: AsyncSession, principal: Principal, item_id: UUID, metric: Metric = "e1rm"
) -> Response[bytes]:
    return await _chart(db_session, principal, item_id, "png", metric)


@get(
    "/exercises/{item_id:uuid}/chart.svg",
    tags=TAG,
    operation_class=binary_operation(charts.CONTENT_TYPES["svg"]),
    security=SECURITY,
    responses=READ_ERRORS,
    summary="Progress chart as SVG",
)
async def exercise_chart_svg(
    db_session: AsyncSession, principal: Principal, item_id: UUID, metric: Metric = "e1rm"
) -> Response[bytes]:
    return await _chart(db_session, principal, item_id, "svg", metric)


# =========================================================================== plans


@get(
    "/workout-plans",
    tags=TAG,
    security=SECURITY,
    responses=error_responses(Unauthorized),
    summary="Workout plans with days and exercises: predefined then yours (scope=all), or one kind",
)
async def list_plans(
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
    "/workout-plans",
    tags=TAG,
    security=SECURITY,
    status_code=201,
    responses=WRITE_ERRORS,
    summary="Create a plan: days of ordered exercises, or a flat exercises list (one day)",
)
async def create_plan(
    db_session: AsyncSession, cache: Cache, principal: Principal, data: PlanWrite
) -> Envelope[PlanRead]:
    return ok(await services.create_plan(db_session, cache, principal, data))


@get("/workout-plans/{plan_id:uuid}", tags=TAG, security=SECURITY, responses=READ_ERRORS, summary="One plan")
async def get_plan(
    db_session: AsyncSession, cache: Cache, principal: Principal, plan_id: UUID
) -> Envelope[PlanRead]:
    return ok(await services.get_plan(db_session, cache, principal, plan_id))


@put(
    "/workout-plans/{plan_id:uuid}",
    tags=TAG,
    security=SECURITY,
    responses=WRITE_ERRORS,
    summary="Replace a plan (predefined plans: gym.plans.manage)",
)
async def replace_plan(
    db_session: AsyncSession, cache: Cache, principal: Principal, plan_id: UUID, data: PlanWrite
) -> Envelope[PlanRead]:
    return ok(await services.replace_plan(db_session, cache, principal, plan_id, data))


@delete(
    "/workout-plans/{plan_id:uuid}",
    tags=TAG,
    security=SECURITY,
    status_code=204,
    responses=WRITE_ERRORS,
    summary="Delete a plan (predefined plans: gym.plans.manage)",
)
async def delete_plan(db_session: AsyncSession, cache: Cache, principal: Principal, plan_id: UUID) -> None:
    await services.delete_plan(db_session, cache, principal, plan_id)


@post(
    "/workout-plans/{plan_id:uuid}/copy",
    tags=TAG,
    security=SECURITY,
    status_code=201,
    responses=WRITE_ERRORS,
    summary="Copy a predefined (or your own) plan into your plans",
)
async def copy_plan(
    db_session: AsyncSession, principal: Principal, plan_id: UUID, data: PlanCopy | None = None
) -> Envelope[PlanRead]:
    return ok(await services.copy_plan(db_session, principal, plan_id, data.name if data else None))


# =========================================================================== sessions and sets


@get(
    "/sessions",
    tags=TAG,
    security=SECURITY,
    responses=error_responses(Unauthorized),
    summary="Your sessions, newest first; filter by date range, plan, exercise",
)
async def list_sessions(
    db_session: AsyncSession,
    principal: Principal,
    limit: Limit = 20,
    offset: Offset = 0,
    date_from: Annotated[datetime | None, QueryParameter(name="from", description="started at or after")] = (
        None
    ),
    date_to: Annotated[datetime | None, QueryParameter(name="to", description="started before")] = None,
    plan_id: UUID | None = None,
    exercise_id: UUID | None = None,
) -> Page[SessionRead]:
    items, total = await services.list_sessions(
        db_session,
        principal,
        date_from=date_from,
        date_to=date_to,
        plan_id=plan_id,
        exercise_id=exercise_id,
        limit=limit,
        offset=offset,
    )
    return page(items, total=total, limit=limit, offset=offset)


@post(
    "/sessions",
    tags=TAG,
    security=SECURITY,
    status_code=201,
    responses=WRITE_ERRORS,
    summary="Start a session, empty or from a plan day",
)
async def start_session(
    db_session: AsyncSession, principal: Principal, data: SessionStart
) -> Envelope[SessionDetail]:
    return ok(await services.start_session(db_session, principal, data))


@get(
    "/sessions/{session_id:uuid}",
    tags=TAG,
    security=SECURITY,
    responses=READ_ERRORS,
    summary="A session with its sets and the planned exercises",
)
async def get_session(
    db_session: AsyncSession, principal: Principal, session_id: UUID
) -> Envelope[SessionDetail]:
    return ok(await services.session_detail(db_session, principal, session_id))


@delete(
    "/sessions/{session_id:uuid}",
    tags=TAG,
    security=SECURITY,
    status_code=204,
    responses=WRITE_ERRORS,
    summary="Delete a session and its sets",
)
async def delete_session(db_session: AsyncSession, principal: Principal, session_id: UUID) -> None:
    await services.delete_session(db_session, principal, session_id)


@post(
    "/sessions/{session_id:uuid}/finish",
    tags=TAG,
    security=SECURITY,
    status_code=200,
    responses=WRITE_ERRORS,
    summary="Finish a session (duration in seconds, or computed from the start)",
)
async def finish_session(
    db_session: AsyncSession, principal: Principal, session_id: UUID, data: SessionFinish | None = None
) -> Envelope[SessionDetail]:
    return ok(await services.finish_session(db_session, principal, session_id, data or SessionFinish()))


@post(
    "/sessions/{session_id:uuid}/sets",
    tags=TAG,
    security=SECURITY,
    status_code=201,
    responses={
        **WRITE_ERRORS,
        200: ResponseSpec(data_container=Envelope[LoggedSet], description="A retry: the set logged before"),
    },
    summary="Log a set (idempotent on client_id or Idempotency-Key: a retry answers 200 with the same set)",
)
async def log_set(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    principal: Principal,
    session_id: UUID,
    data: SetIn,
) -> Response[Envelope[LoggedSet]]:
    key = request.headers.get("idempotency-key")
    if key is not None and not (1 <= len(key) <= 100):
        raise ValidationFailed(details={"Idempotency-Key": "must be 1-100 characters"})
    logged, created = await services.log_set(
        db_session,
        principal,
        session_id,
        data,
        idempotency_key=key,
        window_hours=_settings(request).gym_edit_window_hours,
    )
    return Response(content=ok(logged), status_code=201 if created else 200)


async def _update_set(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    principal: Principal,
    session_id: UUID,
    set_id: UUID,
    values: dict[str, Any],
) -> Envelope[SetRead]:
    window = _settings(request).gym_edit_window_hours
    return ok(await services.update_set(db, principal, session_id, set_id, values, window_hours=window))


@patch(
    "/sessions/{session_id:uuid}/sets/{set_id:uuid}",
    tags=TAG,
    security=SECURITY,
    responses=WRITE_ERRORS,
    summary="Change some fields of a set",
)
async def patch_set(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    principal: Principal,
    session_id: UUID,
    set_id: UUID,
    data: SetPatch,  # type: ignore[valid-type]
) -> Envelope[SetRead]:
    return await _update_set(request, db_session, principal, session_id, set_id, struct_values(data))


@put(
    "/sessions/{session_id:uuid}/sets/{set_id:uuid}",
    tags=TAG,
    security=SECURITY,
    responses=WRITE_ERRORS,
    summary="Replace a set",
)
async def put_set(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    principal: Principal,
    session_id: UUID,
    set_id: UUID,
    data: SetIn,
) -> Envelope[SetRead]:
    values = {f: getattr(data, f) for f in data.__struct_fields__}
    return await _update_set(request, db_session, principal, session_id, set_id, values)


@delete(
    "/sessions/{session_id:uuid}/sets/{set_id:uuid}",
    tags=TAG,
    security=SECURITY,
    status_code=204,
    responses=WRITE_ERRORS,
    summary="Delete a set",
)
async def delete_set(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    principal: Principal,
    session_id: UUID,
    set_id: UUID,
) -> None:
    window = _settings(request).gym_edit_window_hours
    await services.delete_set(db_session, principal, session_id, set_id, window_hours=window)


# =========================================================================== stats


@get(
    "/stats/muscles",
    tags=TAG,
    security=SECURITY,
    responses=error_responses(Unauthorized),
    summary="Sets and volume per muscle per ISO week (secondary muscles count half)",
)
async def muscle_stats(
    db_session: AsyncSession,
    principal: Principal,
    weeks: Annotated[
        int, Parameter(ge=1, le=104, description="This week and the ones before")
    ] = 4,
) -> Envelope[list[MuscleWeekRead]]:
    return ok(await services.muscle_stats(db_session, principal, weeks=weeks))


# =========================================================================== import / export


async def _read_csv(request: Request[Any, Any, Any], limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The CSV is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge(f"The CSV is larger than {limit} bytes")
    content_type = request.headers.get("content-type", "")
    base = content_type.split(";", 1)[0].strip().lower()
    if base == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + bytes(body))
        for part in message.iter_parts():
            if part.get_filename() or part.get_param("name", header="content-disposition") == "file":
                payload = part.get_payload(decode=True)
                return payload if isinstance(payload, bytes) else b""
        raise ValidationFailed(details={"file": "a CSV file part is required"})
    if base in ("text/csv", "text/plain", "application/csv", "application/octet-stream", ""):
        return bytes(body)
    raise UnsupportedMediaType("Send the CSV as text/csv or as a multipart/form-data file")


@post(
    "/import",
    tags=TAG,
    security=SECURITY,
    status_code=200,
    request_max_body_size=None,
    responses=error_responses(Unauthorized, Unprocessable, PayloadTooLarge, UnsupportedMediaType),
    summary="Import a Strong or Hevy CSV: preview (dry_run=true) or commit all-or-nothing",
)
async def import_csv(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    cache: Cache,
    principal: Principal,
    format: Literal["auto", "strong", "hevy"] = "auto",
    unit: Literal["kg", "lb"] = "kg",
    dry_run: bool = True,
    timezone: TimeZone = "UTC",
) -> Response[Envelope[ImportPreview]]:
    settings = _settings(request)
    tz = services.time_zone(timezone)
    body = await _read_csv(request, settings.gym_import_max_size)
    preview = await services.import_csv(
        db_session,
        cache,
        principal,
        body,
        fmt=format,
        unit=unit,
        dry_run=dry_run,
        max_rows=settings.gym_import_max_rows,
        tz=tz,
    )
    return Response(content=ok(preview), status_code=200 if dry_run else 201)


@get(
    "/export",
    tags=TAG,
    security=SECURITY,
    responses=error_responses(Unauthorized, ValidationFailed),
    summary="Download your sessions as a Strong or Hevy CSV",
    media_type="text/csv",
    opt={"skip_compression": True},
)
async def export_csv(
    db_session: AsyncSession,
    principal: Principal,
    format: Literal["strong", "hevy"] = "strong",
    unit: Literal["kg", "lb"] | None = None,
    timezone: TimeZone = "UTC",
) -> Response[str]:
    tz = services.time_zone(timezone)
    text = await services.export_csv(db_session, principal, fmt=format, unit=unit, tz=tz)
    return Response(
        content=text,
        media_type="text/csv",  # Litestar adds the charset of text types itself
        headers={"Content-Disposition": f'attachment; filename="keel-gym-{format}.csv"'},
    )


@get(
    "/export/json",
    tags=TAG,
    security=SECURITY,
    responses=error_responses(Unauthorized),
    summary="Everything of yours: custom exercises, plans, sessions and sets",
)
async def export_json(db_session: AsyncSession, principal: Principal) -> Envelope[dict[str, Any]]:
    return ok(await services.export_json(db_session, principal))


route_handlers: list[Any] = [
    list_exercises,
    *exercises.handlers(),
    exercise_history,
    exercise_records,
    exercise_progress,
    exercise_chart,
    exercise_chart_png,
    exercise_chart_svg,
    list_plans,
    create_plan,
    get_plan,
    replace_plan,
    delete_plan,
    copy_plan,
    list_sessions,
    start_session,
    get_session,
    delete_session,
    finish_session,
    log_set,
    patch_set,
    put_set,
    delete_set,
    muscle_stats,
    import_csv,
    export_csv,
    export_json,
]
