"""Per-user limits and what is used of them. Beyond the concurrency limit transcriptions wait in the
queue (the job runner starts them as slots free up, oldest first); the daily minutes and the length of
the queue still refuse with a 429 that says which limit and when to come back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from keel.apps.scribe.models import ACTIVE_STATES, FAILED, PROCESSING, QUEUED, Transcription
from keel.apps.scribe.schemas import UsageRead
from keel.core.errors import TooManyRequests

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.settings import Settings


def _start_of_utc_day(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def jobs_by_state(db: AsyncSession, owner_id: uuid.UUID) -> dict[str, int]:
    """{"queued": n, "processing": m} for the owner's active transcriptions."""
    rows = await db.execute(
        select(Transcription.status, func.count())
        .where(Transcription.owner_id == owner_id, Transcription.status.in_(ACTIVE_STATES))
        .group_by(Transcription.status)
    )
    counts = {QUEUED: 0, PROCESSING: 0}
    counts.update({status: int(n) for status, n in rows.all()})
    return counts


async def minutes_used_today(db: AsyncSession, owner_id: uuid.UUID, now: datetime) -> float:
    """Seconds of audio submitted today (UTC) that did not fail, in minutes."""
    used = await db.scalar(
        select(func.coalesce(func.sum(Transcription.duration), 0.0)).where(
            Transcription.owner_id == owner_id,
            Transcription.created_at >= _start_of_utc_day(now),
            Transcription.status != FAILED,
        )
    )
    return float(used or 0.0) / 60.0


async def check_limits(
    db: AsyncSession,
    settings: Settings,
    owner_id: uuid.UUID,
    duration: float,
    *,
    jobs: int = 1,
    synchronous: bool = False,
) -> None:
    """429 with a message saying which limit and what to do, before anything is queued. `jobs` new
    transcriptions of `duration` seconds in all (a batch counts as a whole). Callers hold `lock_user`."""
    counts = await jobs_by_state(db, owner_id)
    active = counts[QUEUED] + counts[PROCESSING]
    if synchronous and active >= settings.scribe_max_concurrent_jobs:
        # answered within the request, so it cannot wait in the queue
        limit = settings.scribe_max_concurrent_jobs
        raise TooManyRequests(
            f"You already have {active} transcription{'s' if active != 1 else ''} queued or running "
            f"(limit {limit} at once). Wait for one to finish, or use the queued API, which waits for you.",
            retry_after=30,
        )
    queue_limit = settings.scribe_max_queued_jobs
    if active + jobs > queue_limit:
        raise TooManyRequests(
            f"You have {active} transcription{'s' if active != 1 else ''} queued or running; "
            f"{jobs} more would pass your limit of {queue_limit}. Wait for some to finish, then try again.",
            retry_after=30,
        )
    now = datetime.now(UTC)
    used = await minutes_used_today(db, owner_id, now)
    allowed = float(settings.scribe_max_minutes_per_day)
    if used + duration / 60.0 > allowed:
        since = _start_of_utc_day(now)
        retry = int((since + timedelta(days=1) - now).total_seconds())
        what = "This file" if jobs == 1 else f"These {jobs} files"
        raise TooManyRequests(
            f"{what} ({duration / 60:.1f} min) would exceed your daily limit of "
            f"{settings.scribe_max_minutes_per_day} minutes of audio ({used:.1f} min used today). "
            "The limit resets at midnight UTC.",
            retry_after=max(1, retry),
        )


async def usage(db: AsyncSession, settings: Settings, owner_id: uuid.UUID) -> UsageRead:
    now = datetime.now(UTC)
    counts = await jobs_by_state(db, owner_id)
    used = await minutes_used_today(db, owner_id, now)
    return UsageRead(
        minutes_used_today=round(used, 2),
        minutes_per_day=settings.scribe_max_minutes_per_day,
        minutes_left_today=round(max(0.0, settings.scribe_max_minutes_per_day - used), 2),
        jobs_running=counts[PROCESSING],
        jobs_waiting=counts[QUEUED],
        max_running_jobs=settings.scribe_max_concurrent_jobs,
        max_queued_jobs=settings.scribe_max_queued_jobs,
        max_batch_files=settings.scribe_max_batch_files,
        resets_at=_start_of_utc_day(now) + timedelta(days=1),
    )
