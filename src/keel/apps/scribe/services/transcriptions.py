"""Transcription jobs: created within the user's quota (beyond the concurrency limit they wait in the
queue), read, listed, cancelled, deleted and rendered for export. Works on one session and never commits
(the request transaction does); the job runner lives in `keel.apps.scribe.tasks`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import selectinload

from keel.apps.scribe.models import ACTIVE_STATES, CANCELLED, QUEUED, MediaFile, Segment, Transcription
from keel.apps.scribe.schemas import SegmentRead, TranscriptionCreate, TranscriptionRead, WordRead
from keel.apps.scribe.services.engine_choice import choose_engine, language_note
from keel.apps.scribe.services.files import get_file
from keel.apps.scribe.services.usage import check_limits
from keel.core.errors import Conflict, NotFound
from keel.core.query import contains
from keel.identity import lock_user

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.apps.scribe.engines import TranscriptionEngine
    from keel.settings import Settings


def transcription_read(row: Transcription, *, detail: bool = False) -> TranscriptionRead:
    speakers = {str(k): str(v) for k, v in (row.speakers or {}).items()}
    out = TranscriptionRead(
        id=row.id,
        file_id=row.file_id,
        title=row.title,
        language=row.language,
        detected_language=row.detected_language,
        language_note=row.language_note,
        engine=row.engine,
        word_timestamps=row.word_timestamps,
        diarize=row.diarize,
        status=row.status,  # type: ignore[arg-type]
        progress=round(row.progress, 1),
        error=row.error,
        duration=row.duration,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        speakers=speakers,
        revision=row.revision,
    )
    if detail:
        out.text = row.text
        out.segments = [
            SegmentRead(
                index=s.index,
                start=s.start,
                end=s.end,
                text=s.text,
                speaker=s.speaker,
                speaker_name=(speakers.get(s.speaker) or s.speaker) if s.speaker else None,
                confidence=s.confidence,
                words=word_reads(s.words),
            )
            for s in row.segments
        ]
    return out


def word_reads(stored: list[Any] | None) -> list[WordRead]:
    """The stored `[start, end, word, probability]` rows as typed words (a row without its probability, from
    an older engine, has none)."""
    return [
        WordRead(start=w[0], end=w[1], word=w[2], probability=w[3] if len(w) > 3 else None)
        for w in stored or []
        if isinstance(w, list) and len(w) >= 3
    ]


def queued_transcription(
    owner_id: uuid.UUID,
    file: MediaFile,
    data: TranscriptionCreate,
    engine: TranscriptionEngine,
    title: str,
) -> Transcription:
    """A new queued row for `file` with the options of `data` on `engine` (not added to the session)."""
    return Transcription(
        owner_id=owner_id,
        file_id=file.id,
        title=title[:200],
        language=data.language,
        language_note=language_note(engine, data.language),
        prompt=data.prompt,
        temperature=data.temperature,
        engine=engine.name,
        word_timestamps=data.word_timestamps,
        diarize=data.diarize,
        status=QUEUED,
        progress=0.0,
        duration=file.duration,
        text="",
        speakers={},
        cancel_requested=False,
        attempts=0,
    )


async def create_transcription(
    db: AsyncSession,
    settings: Settings,
    owner_id: uuid.UUID,
    data: TranscriptionCreate,
    file: MediaFile | None = None,
    *,
    synchronous: bool = False,
) -> Transcription:
    """A queued transcription of one of the owner's files. `synchronous` (the OpenAI-compatible call, run
    within the request) is refused beyond the concurrency limit instead of waiting for a slot."""
    file = file or await get_file(db, owner_id, data.file_id)
    engine = choose_engine(settings, data.engine, data.language)
    await lock_user(db, owner_id)  # two simultaneous requests must not both pass the quota check
    await check_limits(db, settings, owner_id, file.duration, synchronous=synchronous)
    title = data.title or PurePath(file.filename).stem or file.filename
    row = queued_transcription(owner_id, file, data, engine, title)
    db.add(row)
    await db.flush()
    return row


async def get_transcription(
    db: AsyncSession,
    owner_id: uuid.UUID,
    transcription_id: uuid.UUID,
    *,
    segments: bool = False,
    for_update: bool = False,
) -> Transcription:
    query = select(Transcription).where(
        Transcription.id == transcription_id, Transcription.owner_id == owner_id
    )
    if segments:
        query = query.options(selectinload(Transcription.segments))
    if for_update:  # edits: one writer per transcript until commit (PostgreSQL; SQLite writes serialise)
        query = query.with_for_update(of=Transcription)
    row = await db.scalar(query)
    if row is None:
        raise NotFound("Transcription not found")
    return row


async def list_transcriptions(
    db: AsyncSession,
    owner_id: uuid.UUID,
    limit: int,
    offset: int,
    q: str | None = None,
    status: str | None = None,
) -> tuple[list[Transcription], int]:
    conditions: list[Any] = [Transcription.owner_id == owner_id]
    if q:
        conditions.append(contains([Transcription.text, Transcription.title], q))
    if status:
        conditions.append(Transcription.status == status)
    total = await db.scalar(select(func.count()).select_from(Transcription).where(*conditions)) or 0
    rows = (
        await db.scalars(
            select(Transcription)
            .where(*conditions)
            .order_by(Transcription.created_at.desc(), Transcription.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return list(rows), total


async def request_cancel(db: AsyncSession, owner_id: uuid.UUID, transcription_id: uuid.UUID) -> Transcription:
    """Cancelled at once, queued or running: the row says `cancelled` from this response on. A queued job
    that still starts sees that and does nothing; a running one sees the flag (the runner polls every
    0.5 s) and stops the engine within a decoding step, discarding its result."""
    row = await get_transcription(db, owner_id, transcription_id)
    if row.status not in ACTIVE_STATES:
        raise Conflict(f"The transcription is already {row.status}")
    row.cancel_requested = True
    row.status = CANCELLED
    row.finished_at = datetime.now(UTC)
    row.error = None
    await db.flush()
    return row


async def delete_transcription(db: AsyncSession, owner_id: uuid.UUID, transcription_id: uuid.UUID) -> None:
    row = await get_transcription(db, owner_id, transcription_id)
    if row.status in ACTIVE_STATES:
        # stop the work too: the runner sees the row gone (or the flag) and discards its result
        await db.execute(
            update(Transcription).where(Transcription.id == row.id).values(cancel_requested=True)
        )
    await db.execute(delete(Segment).where(Segment.transcription_id == row.id))
    await db.delete(row)
    await db.flush()
