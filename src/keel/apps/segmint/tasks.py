"""segmint jobs: `segmint:publish` delivers a schedule when it is due.

The schedule and its per-integration deliveries live in segmint's tables, so the job only carries the
schedule id: a run after a crash, a retry, or a duplicate delivery of the job picks up where the last one
stopped and never posts twice to a target that already succeeded (see `publishing`). Transient failures
(timeouts, 429, 5xx) are retried with exponential backoff; on the last attempt they become final.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import update

from keel.apps.segmint import publishing
from keel.apps.segmint.models import Schedule
from keel.core.jobs_context import TaskContextSlot
from keel.core.jobs_context import requeue_lost as requeue_lost_jobs
from keel.core.jobs_server import open_queue
from keel.core.jobs_spec import RetrySpec, TaskBlueprint

if TYPE_CHECKING:
    from litestar import Litestar
    from procrastinate.job_context import JobContext
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from keel.settings import Settings

log = structlog.get_logger("keel.segmint.tasks")

tasks = TaskBlueprint()  # procrastinate loads when the tasks are bound (the first job deferred)
TASK = "segmint:publish"
QUEUE = "segmint"
# 5 runs: the first, then retries 2, 4, 8 and 16 s apart
PUBLISH_RETRY = RetrySpec(max_attempts=4, exponential_wait=2, retry_exceptions={publishing.StillPending})

_context = TaskContextSlot()


def bind(app: Litestar) -> None:
    """Jobs run by this process use this app's settings and database engine."""
    _context.bind(app)


def _runtime() -> tuple[Settings, async_sessionmaker[Any]]:
    context = _context.get()  # `keel worker` (no Litestar app in this process) builds its own
    return context.settings, context.sessions


@tasks.task(name="publish", queue=QUEUE, retry=PUBLISH_RETRY, pass_context=True)
async def publish(context: JobContext, schedule_id: str) -> str:
    settings, sessions = _runtime()
    job = context.job
    final = job.attempts >= (PUBLISH_RETRY.max_attempts or 0)
    status = await publishing.run_publish(sessions, settings, uuid.UUID(schedule_id), final_attempt=final)
    log.info("segmint_published", schedule_id=schedule_id, status=status, attempt=job.attempts + 1)
    return status


@tasks.periodic(cron="23 * * * *", periodic_id="media_sweep")
@tasks.task(name="sweep_media", queue=QUEUE)
async def sweep_media(timestamp: int) -> int:
    """Hourly: delete the media objects in storage that no row points to any more (a process that died
    between a commit and its storage deletes); see `media_store`."""
    from keel.apps.segmint import media_store

    context = _context.get()
    swept = await media_store.sweep(context.sessions, context.storage)
    if swept:
        log.info("segmint_media_swept", count=len(swept))
    return len(swept)


async def enqueue(schedule_id: uuid.UUID, publish_at: datetime) -> int:
    """Defer the publication for its time (one run at a time per schedule); the procrastinate job id."""
    at = max(publish_at, datetime.now(UTC))
    queue = await open_queue()
    job_id = await queue.configure_task(
        TASK, lock=f"segmint:{schedule_id}", queue=QUEUE, schedule_at=at
    ).defer_async(schedule_id=str(schedule_id))
    _, sessions = _runtime()
    async with sessions() as db, db.begin():
        await db.execute(update(Schedule).where(Schedule.id == schedule_id).values(job_id=job_id))
    return job_id


async def cancel_job(job_id: int | None) -> None:
    """Best effort: the job also checks the schedule's status, so a job that escapes this does nothing."""
    if job_id is None:
        return
    with contextlib.suppress(Exception):
        await (await open_queue()).job_manager.cancel_job_by_id_async(job_id)


async def requeue_lost(app: Litestar) -> int:
    """Start-up: schedules still waiting or publishing whose job is gone (the in-process queue died with
    the old process, or the job was deleted) are deferred again."""
    bind(app)
    _, sessions = _runtime()

    async def requeue(item: tuple[uuid.UUID, datetime]) -> bool:
        try:
            await enqueue(*item)
        except Exception:
            log.warning("segmint_requeue_failed", schedule_id=str(item[0]), exc_info=True)
            return False
        return True

    count = await requeue_lost_jobs(
        app, TASK, lambda live: publishing.lost_schedules(sessions, live), requeue
    )
    if count:
        log.info("segmint_requeued", count=count)
    return count
