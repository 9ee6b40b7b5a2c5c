"""The `scribe:transcribe` job: waits for a free slot of its owner, runs the engine in a worker process
(`worker.py`), mirrors progress and cancellation between the row and the child, and stores the result."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import and_, delete, func, or_, select

from keel.apps.scribe.models import (
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
from keel.apps.scribe.tasks.runtime import Runtime, _event, blueprint, log, publish, runtime
from keel.apps.scribe.tasks.worker import _child_transcribe, _pool, _reset_pool

POLL_SECONDS = 0.5  # how often the runner reads the child's progress and the row's cancel flag
GENERIC_FAILURE = "Transcription failed unexpectedly. Try again; if it keeps failing, try another engine."
WAITING = "waiting"  # what a job returns that left its row queued for a free slot


@blueprint.task(name="transcribe", queue="scribe")
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


async def run_transcription(tid: uuid.UUID, *, wait_for_slot: bool = True) -> str:
    """Transcribe one row (idempotent, see the package docstring). With `wait_for_slot` (queued jobs) a
    row whose owner already runs `SCRIBE_MAX_CONCURRENT_JOBS` transcriptions, or has older ones waiting
    for the free slots, stays queued and this job ends ("waiting"): the owner's next finishing job starts
    it (`start_waiting`), and the periodic sweep would too."""
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
        if wait_for_slot and not await _slot_free(db, rt, row):
            row.job_id = None  # no job of its own now: start_waiting (or the sweep) gives it one
            return WAITING
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
    try:
        return await _transcribe(
            rt, tid, owner, key, event, engine_name, language, words, diarize, prompt, temperature
        )
    finally:
        await start_waiting(rt, owner)  # this slot is free now: the owner's oldest waiting job may start


async def _slot_free(db: Any, rt: Runtime, row: Transcription) -> bool:
    """Whether the owner has a free slot for this row: fewer running than the limit, counting the rows
    that have waited longer first (first come, first served). Serialised per user by `lock_user`."""
    from keel.identity import lock_user

    await lock_user(db, row.owner_id)
    running = await db.scalar(
        select(func.count())
        .select_from(Transcription)
        .where(Transcription.owner_id == row.owner_id, Transcription.status == PROCESSING)
    )
    older = await db.scalar(
        select(func.count())
        .select_from(Transcription)
        .where(
            Transcription.owner_id == row.owner_id,
            Transcription.status == QUEUED,
            Transcription.id != row.id,
            or_(
                Transcription.created_at < row.created_at,
                and_(Transcription.created_at == row.created_at, Transcription.id < row.id),
            ),
        )
    )
    return (running or 0) + (older or 0) < rt.settings.scribe_max_concurrent_jobs


async def start_waiting(rt: Runtime, owner: uuid.UUID) -> int:
    """Give the owner's oldest waiting transcriptions a job, as many as there are free slots. A row whose
    job is still queued is refused by procrastinate's queueing lock and keeps that job."""
    from keel.apps.scribe.tasks.queueing import defer_and_record

    try:
        async with rt.sessions() as db:
            running = await db.scalar(
                select(func.count())
                .select_from(Transcription)
                .where(Transcription.owner_id == owner, Transcription.status == PROCESSING)
            )
            free = rt.settings.scribe_max_concurrent_jobs - (running or 0)
            if free <= 0:
                return 0
            waiting = (
                await db.scalars(
                    select(Transcription.id)
                    .where(Transcription.owner_id == owner, Transcription.status == QUEUED)
                    .order_by(Transcription.created_at, Transcription.id)
                    .limit(free)
                )
            ).all()
        started = 0
        for tid in waiting:
            started += await defer_and_record(rt, tid)
        return started
    except Exception:  # never fail the finished job for it: the periodic sweep catches up
        log.warning("scribe_start_waiting_failed", owner=str(owner), exc_info=True)
        return 0


async def _transcribe(
    rt: Runtime,
    tid: uuid.UUID,
    owner: uuid.UUID,
    key: str,
    event: dict[str, Any],
    engine_name: str,
    language: str,
    words: bool,
    diarize: bool,
    prompt: str | None,
    temperature: float | None,
) -> str:
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
