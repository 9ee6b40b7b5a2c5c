"""Queueing transcription jobs: defer with a per-row lock, sweep up rows whose job could not be deferred,
and re-queue at start-up what a previous process lost."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from keel.apps.scribe.models import ACTIVE_STATES, QUEUED, Transcription
from keel.apps.scribe.tasks.runtime import Runtime, bind, blueprint, log, runtime
from keel.core import jobs_context
from keel.core.jobs_server import open_queue

if TYPE_CHECKING:
    from litestar import Litestar


async def enqueue(transcription_id: uuid.UUID) -> int:
    """Defer the job and return its procrastinate id. `lock` runs one job per transcription at a time;
    `queueing_lock` refuses a second waiting job for it (AlreadyEnqueued) when a sweep races the route."""
    queue = await open_queue()
    return await queue.configure_task(
        "scribe:transcribe",
        lock=f"scribe:{transcription_id}",
        queueing_lock=f"scribe:{transcription_id}",
        queue="scribe",
    ).defer_async(transcription_id=str(transcription_id))


# A row still queued without a job id this long after its last change lost its job at creation (the
# queue was unreachable when the route deferred it); the route sets job_id within milliseconds otherwise.
UNQUEUED_GRACE_SECONDS = 120


@blueprint.periodic(cron="*/2 * * * *", periodic_id="sweep")
@blueprint.task(name="requeue_unqueued", queue="scribe")
async def requeue_unqueued(timestamp: int) -> int:
    """Periodic: queue again the transcriptions whose job could not be deferred, without waiting for a
    restart. Rows whose job exists are left to procrastinate (and its stalled-job sweep)."""
    return await requeue_stale_rows(runtime(), older_than=UNQUEUED_GRACE_SECONDS)


async def defer_and_record(rt: Runtime, tid: uuid.UUID, *, only_if_unqueued: bool = False) -> bool:
    """Defer the transcription's job and store its id on the row; False (logged) when the queue refused.
    `only_if_unqueued` leaves a row alone that got a job id meanwhile (the route and a sweep racing)."""
    from procrastinate.exceptions import AlreadyEnqueued

    try:
        job_id = await enqueue(tid)
    except AlreadyEnqueued:
        return False
    except Exception:
        log.warning("scribe_enqueue_failed", transcription_id=str(tid), exc_info=True)
        return False
    query = update(Transcription).where(Transcription.id == tid)
    if only_if_unqueued:
        query = query.where(Transcription.job_id.is_(None))
    async with rt.sessions() as db, db.begin():
        await db.execute(query.values(job_id=job_id))
    return True


async def requeue_stale_rows(rt: Runtime, *, older_than: float) -> int:
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
    async with rt.sessions() as db:
        stale = (
            await db.scalars(
                select(Transcription.id).where(
                    Transcription.status == QUEUED,
                    Transcription.job_id.is_(None),
                    Transcription.updated_at <= cutoff,
                )
            )
        ).all()
    count = 0
    for tid in stale:
        count += await defer_and_record(rt, tid, only_if_unqueued=True)
    if count:
        log.info("scribe_requeued_unqueued", count=count)
    return count


async def requeue_lost(app: Litestar) -> int:
    """Start-up: rows left queued/processing whose job is gone (in-process queue lost with the old
    process, or a deleted job) are queued again. Jobs still in procrastinate (PostgreSQL) are left alone:
    the stalled-job sweep retries those whose worker died."""
    rt = bind(app)

    async def lost(live: set[int]) -> list[uuid.UUID]:
        async with rt.sessions() as db, db.begin():
            query = select(Transcription).where(Transcription.status.in_(ACTIVE_STATES))
            rows = [r for r in (await db.scalars(query)).all() if r.job_id is None or r.job_id not in live]
            for row in rows:
                row.status, row.progress = QUEUED, 0.0
        return [row.id for row in rows]

    count = await jobs_context.requeue_lost(
        app, "scribe:transcribe", lost, lambda tid: defer_and_record(rt, tid)
    )
    if count:
        log.info("scribe_requeued", count=count)
    return count
