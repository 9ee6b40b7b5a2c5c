"""scribe jobs: `scribe:transcribe` runs an engine in a worker PROCESS and keeps the row up to date.

The event loop only waits: decoding and recognition happen in a `ProcessPoolExecutor` (spawned, shared by
every job of this process). The child reports progress and learns about cancellation through a small
control directory (a `progress` file it writes, a `cancel` file the parent creates when the row's
`cancel_requested` flag is set), so nothing but a path crosses the process boundary.

Idempotent: a job for a row already completed/failed/cancelled does nothing; a job re-run after its
worker died (procrastinate's stalled-job sweep, or the start-up re-queue below) transcribes again and
replaces the segments in one transaction, so a transcription always ends with exactly one transcript.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import multiprocessing
import os
import shutil
import tempfile
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
from procrastinate import Blueprint
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from keel.apps.scribe.engines.child import arm_pool_process, transcribe_in_child
from keel.apps.scribe.models import (
    ACTIVE_STATES,
    CANCELLED,
    COMPLETED,
    FAILED,
    FINAL_STATES,
    PROCESSING,
    QUEUED,
    MediaFile,
    Segment,
    Transcription,
)

if TYPE_CHECKING:
    from litestar import Litestar

    from keel.core.storage import Storage
    from keel.settings import Settings

log = structlog.get_logger("keel.scribe.tasks")

tasks = Blueprint()
POLL_SECONDS = 0.5  # how often the runner reads the child's progress and the row's cancel flag
GENERIC_FAILURE = "Transcription failed unexpectedly. Try again; if it keeps failing, try another engine."


# --------------------------------------------------------------------------- the worker process side

# the pool process imports only engines.child (not this module and its database/queue imports)
_child_transcribe = transcribe_in_child


_POOL: ProcessPoolExecutor | None = None
_POOL_SIZE = 0


def _pool(size: int) -> ProcessPoolExecutor:
    global _POOL, _POOL_SIZE
    # a pool whose children died (their starting thread ended: PDEATHSIG follows it) is broken: renew it
    if _POOL is None or _POOL_SIZE != size or getattr(_POOL, "_broken", False):
        if _POOL is not None:
            _POOL.shutdown(wait=False, cancel_futures=False)
        _POOL = ProcessPoolExecutor(
            max_workers=max(1, size),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=arm_pool_process,  # children die with this process, even on kill -9
            initargs=(os.getpid(),),
        )
        _POOL_SIZE = size
    return _POOL


def _reset_pool() -> None:
    global _POOL
    if _POOL is not None:
        _POOL.shutdown(wait=False, cancel_futures=True)
    _POOL = None


@atexit.register
def _shutdown_pool() -> None:
    if _POOL is not None:
        _POOL.shutdown(wait=False, cancel_futures=True)


# ----------------------------------------------------------------- runtime (server or `keel worker`)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    storage: Storage
    app: Litestar | None = None

    @property
    def sessions(self) -> async_sessionmaker[Any]:
        return async_sessionmaker(self.engine, expire_on_commit=False)


_runtime: Runtime | None = None


def bind(app: Litestar) -> Runtime:
    """Called at app start-up: jobs run by this process use this app's database, storage and channels."""
    global _runtime
    from keel.apps.scribe.services import get_storage

    settings = app.state.settings
    _runtime = Runtime(settings, app.state.sa_config.get_engine(), get_storage(app, settings), app)
    return _runtime


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:  # `keel worker`: no Litestar app in this process
        from keel.core.storage import Storage
        from keel.settings import get_settings

        settings = get_settings()
        _runtime = Runtime(
            settings,
            create_async_engine(settings.database_url, pool_pre_ping=True),
            Storage(settings.storage_url, max_size=settings.scribe_max_upload_size),
        )
    return _runtime


async def publish(rt: Runtime, owner_id: uuid.UUID, event: dict[str, Any]) -> None:
    """Progress to the owner's `user:<id>:scribe` channel when realtime is installed; never fails a job."""
    if rt.app is None:
        return
    try:
        from keel.core import realtime  # type: ignore[attr-defined]

        await realtime.publish(rt.app, f"user:{owner_id}:scribe", event)
    except Exception:
        log.debug("scribe_publish_skipped", exc_info=True)


def _event(row: Transcription) -> dict[str, Any]:
    return {
        "type": "scribe.transcription",
        "id": str(row.id),
        "status": row.status,
        "progress": round(row.progress, 1),
        "error": row.error,
    }


# --------------------------------------------------------------------------- the job


@tasks.task(name="transcribe", queue="scribe")
async def transcribe(transcription_id: str) -> str:
    return await run_transcription(uuid.UUID(transcription_id))


async def _finish(rt: Runtime, tid: uuid.UUID, status: str, error: str | None) -> None:
    async with rt.sessions() as db, db.begin():
        row = await db.get(Transcription, tid)
        if row is None or row.status in FINAL_STATES:
            return
        row.status, row.error, row.finished_at = status, error, datetime.now(UTC)
        event = _event(row)
        owner = row.owner_id
    await publish(rt, owner, event)


async def run_transcription(tid: uuid.UUID) -> str:
    rt = runtime()
    async with rt.sessions() as db, db.begin():
        row = await db.get(Transcription, tid)
        if row is None:
            return "missing"
        if row.status in FINAL_STATES:
            return row.status
        if row.cancel_requested:
            row.status, row.finished_at = CANCELLED, datetime.now(UTC)
            return CANCELLED
        file = await db.get(MediaFile, row.file_id) if row.file_id else None
        if file is None:
            row.status, row.finished_at = FAILED, datetime.now(UTC)
            row.error = "The media file of this transcription was deleted. Upload it again."
            return FAILED
        row.status, row.progress, row.error = PROCESSING, 0.0, None
        row.attempts += 1
        row.started_at, row.finished_at = datetime.now(UTC), None
        owner, key, event = row.owner_id, file.storage_key, _event(row)
        engine_name, language, words, diarize = row.engine, row.language, row.word_timestamps, row.diarize
        prompt, temperature = row.prompt, row.temperature
    await publish(rt, owner, event)

    from keel.apps.scribe.services import engine_config

    config = msgspec.msgpack.encode(engine_config(rt.settings))
    control = Path(tempfile.mkdtemp(prefix="keel-scribe-"))
    try:
        async with rt.storage.local_copy(key) as path:
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(
                _pool(rt.settings.jobs_concurrency),
                _child_transcribe,
                config,
                engine_name,
                str(path),
                language,
                words,
                str(control),
                diarize,
                prompt,
                temperature,
            )
            outcome = await _watch(rt, tid, owner, future, control)
    except BrokenProcessPool:
        _reset_pool()
        await _finish(rt, tid, FAILED, "The transcription worker stopped unexpectedly. Try again.")
        return FAILED
    except Exception as exc:
        from keel.core.errors import NotFound

        if isinstance(exc, NotFound):
            await _finish(rt, tid, FAILED, "The media file is missing from storage. Upload it again.")
            return FAILED
        log.exception("scribe_job_crashed", transcription_id=str(tid))
        await _finish(rt, tid, FAILED, GENERIC_FAILURE)
        return FAILED
    finally:
        shutil.rmtree(control, ignore_errors=True)

    if outcome[0] == "error":
        kind, message = outcome[1], outcome[2]
        if kind == "cancelled":
            await _finish(rt, tid, CANCELLED, None)
            return CANCELLED
        if kind == "crash":
            log.error("scribe_engine_crashed", transcription_id=str(tid), error=message)
            message = GENERIC_FAILURE
        await _finish(rt, tid, FAILED, message)
        return FAILED
    return await _store_result(rt, tid, outcome[1])


async def _watch(rt: Runtime, tid: uuid.UUID, owner: uuid.UUID, future: Any, control: Path) -> Any:
    """Wait for the child, mirroring its progress into the row and the row's cancel flag into the child."""
    progress_file, cancel_file = control / "progress", control / "cancel"
    shown = 0.0
    while True:
        done, _ = await asyncio.wait({future}, timeout=POLL_SECONDS)
        if done:
            return future.result()
        with contextlib.suppress(OSError, ValueError):
            shown_now = round(float(progress_file.read_text()) * 100, 1)
            if shown_now > shown:
                shown = shown_now
        event = None
        async with rt.sessions() as db, db.begin():
            row = await db.get(Transcription, tid)
            if row is None or row.cancel_requested or row.status != PROCESSING:
                cancel_file.touch()
            elif shown > row.progress:
                row.progress = min(shown, 99.0)
                event = _event(row)
        if event is not None:
            await publish(rt, owner, event)


async def _store_result(rt: Runtime, tid: uuid.UUID, payload: bytes) -> str:
    from keel.apps.scribe.engines import TranscriptResult

    result = msgspec.msgpack.decode(payload, type=TranscriptResult)
    async with rt.sessions() as db, db.begin():
        row = await db.get(Transcription, tid, with_for_update=True)
        if row is None:
            return "missing"
        if row.status != PROCESSING or row.cancel_requested:
            if row.status not in FINAL_STATES:
                row.status, row.finished_at = CANCELLED, datetime.now(UTC)
            return row.status
        # replace, never append: a re-run after a crash ends with one transcript
        await db.execute(delete(Segment).where(Segment.transcription_id == tid))
        db.add_all(
            Segment(
                transcription_id=tid,
                index=i,
                start=s.start,
                end=s.end,
                text=s.text.strip(),
                speaker=s.speaker,
                confidence=s.confidence,
                words=msgspec.to_builtins(s.words),
            )
            for i, s in enumerate(result.segments)
        )
        row.text = " ".join(s.text.strip() for s in result.segments if s.text.strip())
        row.detected_language = (result.language or "")[:10] or None
        row.language_note = result.language_note
        if result.duration:
            row.duration = result.duration
        row.status, row.progress, row.error, row.finished_at = COMPLETED, 100.0, None, datetime.now(UTC)
        owner, event = row.owner_id, _event(row)
    await publish(rt, owner, event)
    return COMPLETED


# --------------------------------------------------------------------------- queueing


async def enqueue(transcription_id: uuid.UUID) -> int:
    """Defer the job and return its procrastinate id. `lock` runs one job per transcription at a time;
    `queueing_lock` refuses a second waiting job for it (AlreadyEnqueued) when a sweep races the route."""
    from keel.core.jobs import queue

    return await queue.configure_task(
        "scribe:transcribe",
        lock=f"scribe:{transcription_id}",
        queueing_lock=f"scribe:{transcription_id}",
        queue="scribe",
    ).defer_async(transcription_id=str(transcription_id))


# A row still queued without a job id this long after its last change lost its job at creation (the
# queue was unreachable when the route deferred it); the route sets job_id within milliseconds otherwise.
UNQUEUED_GRACE_SECONDS = 120


@tasks.periodic(cron="*/2 * * * *", periodic_id="sweep")
@tasks.task(name="requeue_unqueued", queue="scribe")
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
    from keel.core.jobs import queue

    rt = bind(app)
    jobs = getattr(app.state, "jobs", None)
    if jobs is not None:
        await jobs.connector.open_async()
    live: set[int] = set()
    for status in ("todo", "doing"):
        with contextlib.suppress(Exception):
            live.update(
                j.id
                for j in await queue.job_manager.list_jobs_async(task="scribe:transcribe", status=status)
                if j.id is not None
            )
    async with rt.sessions() as db, db.begin():
        rows = (await db.scalars(select(Transcription).where(Transcription.status.in_(ACTIVE_STATES)))).all()
        lost = [r for r in rows if r.job_id is None or r.job_id not in live]
        for row in lost:
            row.status, row.progress = QUEUED, 0.0
    count = 0
    for row in lost:
        count += await defer_and_record(rt, row.id)
    if count:
        log.info("scribe_requeued", count=count)
    return count
