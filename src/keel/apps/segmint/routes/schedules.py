"""Scheduling routes: schedule approved content to integrations, list, read and cancel schedules.

The publishing job is deferred (or cancelled) after the response, once the schedule is committed, so the
worker always finds it."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Request, get, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.segmint import publishing, services, tasks
from keel.apps.segmint.routes.common import READ_ERRORS, WRITE_ERRORS, SegmintController
from keel.apps.segmint.schemas import ScheduleCreate, ScheduleRead
from keel.apps.segmint.teams import Seat
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.errors import NotFound, error_responses


def _after_commit(request: Request[Any, Any, Any], action: str, schedule: Any) -> None:
    request.state.segmint_job = (action, schedule.id, schedule.publish_at, schedule.job_id)


async def _jobs_after_commit(request: Request[Any, Any, Any]) -> None:
    """after_response: defer (or cancel) the job once the schedule is committed. If deferring fails the
    schedule keeps no job id and the start-up re-queue picks it up."""
    pending = getattr(request.state, "segmint_job", None)
    if pending is None:
        return
    action, schedule_id, publish_at, job_id = pending
    try:
        if action == "defer":
            await tasks.enqueue(schedule_id, publish_at)
        else:
            await tasks.cancel_job(job_id)
    except Exception:
        services.log.warning(
            "segmint_job_after_commit_failed", action=action, schedule_id=str(schedule_id), exc_info=True
        )


class ScheduleController(SegmintController):
    # integrations and schedules stay in the caller's personal workspace for now (see docs/segmint.md)
    path = "/"

    @post(
        "/content/{content_id:uuid}/schedules",
        status_code=201,
        summary="Schedule approved content to some of your integrations (approved → scheduled)",
        responses=WRITE_ERRORS,
        after_response=_jobs_after_commit,
    )
    async def create_schedule(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        seat: Seat,
        content_id: UUID,
        data: ScheduleCreate,
    ) -> Envelope[ScheduleRead]:
        row = await publishing.create_schedule(db_session, seat, content_id, data)
        _after_commit(request, "defer", row)
        return ok(publishing.schedule_read(row))

    @get(
        "/schedules",
        summary="Your schedules with their delivery results, latest first",
        responses=error_responses(NotFound),
    )
    async def list_schedules(
        self,
        db_session: AsyncSession,
        seat: Seat,
        limit: Limit = 20,
        offset: Offset = 0,
        content_id: UUID | None = None,
        status: Annotated[
            str | None, Parameter(pattern="^(scheduled|publishing|published|partial|failed|cancelled)$")
        ] = None,
    ) -> Page[ScheduleRead]:
        rows, total = await publishing.list_schedules(
            db_session, seat, content_id=content_id, status=status, limit=limit, offset=offset
        )
        return page([publishing.schedule_read(r) for r in rows], total=total, limit=limit, offset=offset)

    @get("/schedules/{schedule_id:uuid}", summary="One schedule and its deliveries", responses=READ_ERRORS)
    async def get_schedule(
        self, db_session: AsyncSession, seat: Seat, schedule_id: UUID
    ) -> Envelope[ScheduleRead]:
        row = await publishing.get_schedule(db_session, seat, schedule_id)
        return ok(publishing.schedule_read(row))

    @post(
        "/schedules/{schedule_id:uuid}/cancel",
        status_code=200,
        summary="Cancel a schedule that has not started (scheduled → approved)",
        responses=WRITE_ERRORS,
        after_response=_jobs_after_commit,
    )
    async def cancel_schedule(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        seat: Seat,
        schedule_id: UUID,
    ) -> Envelope[ScheduleRead]:
        row = await publishing.cancel_schedule(db_session, seat, schedule_id)
        _after_commit(request, "cancel", row)
        return ok(publishing.schedule_read(row))
