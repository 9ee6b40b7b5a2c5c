"""scribe services: uploads (sniffed, size-limited, probed, streamed to storage), transcription jobs with
per-user limits, transcript edits and exports. Routes stay thin; everything here works on one session
and never commits (the request transaction does), except the job runner in `tasks.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import selectinload

from keel.apps.scribe import engines as eng
from keel.apps.scribe import exports, media
from keel.apps.scribe.models import (
    ACTIVE_STATES,
    CANCELLED,
    FAILED,
    PROCESSING,
    QUEUED,
    MediaFile,
    Segment,
    Transcription,
)
from keel.apps.scribe.schemas import (
    EngineRead,
    FileRead,
    SegmentRead,
    TranscriptionCreate,
    TranscriptionEdit,
    TranscriptionRead,
)
from keel.core.errors import (
    Conflict,
    NotFound,
    TooManyRequests,
    Unprocessable,
    UnsupportedMediaType,
    ValidationFailed,
)
from keel.identity.services import lock_user

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.core.storage import Storage
    from keel.settings import Settings

log = structlog.get_logger("keel.scribe")

ENGINE_PREFERENCE = ("whisper", "remote")
TASK_NAME = "scribe:transcribe"
SUPPORTED_UPLOADS = "mp3, wav, m4a/aac, ogg/opus, flac, webm, mp4, mov, mkv"


# --------------------------------------------------------------------------- engines


def engine_config(settings: Settings) -> eng.EngineConfig:
    return eng.EngineConfig(
        whisper_model_dir=settings.whisper_model_dir or None,
        whisper_device=settings.whisper_device,
        whisper_compute_type=settings.whisper_compute_type,
        whisper_threads=settings.whisper_threads,
        whisper_beam_size=settings.whisper_beam_size,
        remote_url=settings.scribe_remote_url or None,
        remote_key=settings.scribe_remote_key or None,
        remote_model=settings.scribe_remote_model,
    )


def available_engines(settings: Settings) -> dict[str, eng.TranscriptionEngine]:
    return eng.build_engines(engine_config(settings))


def default_engine(engines: dict[str, eng.TranscriptionEngine]) -> str | None:
    for name in ENGINE_PREFERENCE:
        if name in engines and engines[name].is_ready()[0]:
            return name
    return None


def list_engines(settings: Settings) -> list[EngineRead]:
    engines = available_engines(settings)
    chosen = default_engine(engines)
    out = []
    for name, engine in engines.items():
        ready, reason = engine.is_ready()
        out.append(
            EngineRead(
                name=name,
                label=engine.label,
                languages=list(engine.languages),
                detects_language=engine.detects_language,
                model=getattr(engine, "model_name", None) or getattr(engine, "model", None),
                ready=ready,
                reason=reason or None,
                default=name == chosen,
            )
        )
    return out


def choose_engine(settings: Settings, name: str | None, language: str) -> eng.TranscriptionEngine:
    engines = available_engines(settings)
    if name is None:
        name = default_engine(engines)
        if name is None:
            raise Unprocessable("No transcription engine is ready on this server; ask an administrator.")
    engine = engines.get(name)
    if engine is None:
        raise ValidationFailed(
            details={"engine": f"unknown engine; available: {', '.join(engines) or 'none'}"}
        )
    ready, reason = engine.is_ready()
    if not ready:
        raise Unprocessable(f"The {name} engine is not available: {reason}")
    if language not in eng.WHISPER_LANGUAGES:
        raise ValidationFailed(details={"language": f"{language!r} is not a language code Whisper knows"})
    reason = engine.refusal(language)
    if reason:
        # a real language this server's model cannot do: say which setting would allow it
        raise Unprocessable(reason, details={"language": reason})
    return engine


def language_note(engine: eng.TranscriptionEngine, language: str) -> str | None:
    if language == "auto" and not engine.detects_language:
        return eng.ENGLISH_ONLY_NOTE.format(model=getattr(engine, "model_name", engine.name))
    return None


# --------------------------------------------------------------------------- storage


def get_storage(app: Any, settings: Settings) -> Storage:
    storage = getattr(app.state, "storage", None) if app is not None else None
    if storage is None:
        from keel.core.storage import Storage

        storage = Storage(settings.storage_url, max_size=settings.scribe_max_upload_size)
        if app is not None:
            app.state.storage = storage
    return storage


# --------------------------------------------------------------------------- files


def file_read(row: MediaFile) -> FileRead:
    return FileRead(
        id=row.id,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        duration=row.duration,
        container=row.container,
        audio_codec=row.audio_codec,
        sample_rate=row.sample_rate,
        channels=row.channels,
        has_video=row.has_video,
        video_codec=row.video_codec,
        created_at=row.created_at,
    )


def clean_filename(name: str | None, extension: str) -> str:
    base = PurePath((name or "").replace("\\", "/")).name.strip()
    base = "".join(c for c in base if c.isprintable() and c not in '<>:"|?*')[:200]
    return base or f"upload.{extension}"


class _Sniffed:
    """Wraps the incoming chunks: buffers the first bytes, sniffs them (415 unless audio/video), then
    passes everything through. Nothing is held beyond `media.SNIFF_BYTES`."""

    def __init__(self, chunks: AsyncIterable[bytes]) -> None:
        self._chunks = chunks
        self.kind: media.MediaKind | None = None

    async def sniff(self) -> AsyncIterator[bytes]:
        head = bytearray()
        iterator = self._chunks.__aiter__()
        async for chunk in iterator:
            head += chunk
            if len(head) >= media.SNIFF_BYTES:
                break
        self.kind = media.sniff_media_type(bytes(head[: media.SNIFF_BYTES]))
        if self.kind is None:
            raise UnsupportedMediaType(
                f"This file is not a supported audio or video file. Upload one of: {SUPPORTED_UPLOADS}."
            )
        if head:
            yield bytes(head)
        async for chunk in iterator:
            yield chunk


async def store_upload(
    db: AsyncSession,
    storage: Storage,
    settings: Settings,
    owner_id: uuid.UUID,
    chunks: AsyncIterable[bytes],
    filename: str | None,
) -> MediaFile:
    """Stream an upload to storage (sniffed, size-limited), probe it, and add its row. A refused or failed
    upload leaves neither an object nor a row (the request transaction rolls back the row)."""
    file_id = uuid.uuid4()
    key = f"scribe/{owner_id}/{file_id}"
    sniffed = _Sniffed(chunks)
    stored = await storage.put_stream(key, sniffed.sniff(), None, max_size=settings.scribe_max_upload_size)
    try:
        kind = sniffed.kind
        assert kind is not None
        async with storage.local_copy(key) as path:
            try:
                info = await asyncio.to_thread(media.probe, path)
            except media.MediaError as exc:
                raise Unprocessable(str(exc)) from exc
        row = MediaFile(
            id=file_id,
            owner_id=owner_id,
            filename=clean_filename(filename, kind.extension),
            content_type=kind.content_type
            if (kind.is_video and info.has_video) or not kind.is_video
            else _audio_type(kind),
            size=stored.size,
            storage_key=key,
            duration=info.duration,
            container=info.container[:100],
            audio_codec=info.audio_codec[:50],
            sample_rate=info.sample_rate,
            channels=info.channels,
            has_video=info.has_video,
            video_codec=info.video_codec,
        )
        db.add(row)
        await db.flush()
        return row
    except BaseException:
        with contextlib.suppress(Exception):
            await storage.delete(key)
        raise


def _audio_type(kind: media.MediaKind) -> str:
    """A video container without a video track (an .m4a named .mp4, audio-only webm)."""
    return {"video/mp4": "audio/mp4", "video/webm": "audio/webm", "video/ogg": "audio/ogg"}.get(
        kind.content_type, kind.content_type
    )


async def get_file(db: AsyncSession, owner_id: uuid.UUID, file_id: uuid.UUID) -> MediaFile:
    row = await db.scalar(select(MediaFile).where(MediaFile.id == file_id, MediaFile.owner_id == owner_id))
    if row is None:
        raise NotFound("No such file")
    return row


async def list_files(
    db: AsyncSession, owner_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[MediaFile], int]:
    where = MediaFile.owner_id == owner_id
    total = await db.scalar(select(func.count()).select_from(MediaFile).where(where)) or 0
    rows = (
        await db.scalars(
            select(MediaFile)
            .where(where)
            .order_by(MediaFile.created_at.desc(), MediaFile.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return list(rows), total


async def delete_file(db: AsyncSession, storage: Storage, owner_id: uuid.UUID, file_id: uuid.UUID) -> None:
    row = await get_file(db, owner_id, file_id)
    busy = await db.scalar(
        select(func.count())
        .select_from(Transcription)
        .where(Transcription.file_id == file_id, Transcription.status.in_(ACTIVE_STATES))
    )
    if busy:
        raise Conflict("This file is being transcribed; cancel the transcription first")
    key = row.storage_key
    await db.delete(row)
    await db.flush()
    await storage.delete(key)


# --------------------------------------------------------------------------- transcriptions


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
                words=list(s.words or []),
            )
            for s in row.segments
        ]
    return out


def _start_of_utc_day(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def check_limits(db: AsyncSession, settings: Settings, owner_id: uuid.UUID, duration: float) -> None:
    """429 with a message saying which limit and what to do, before anything is queued."""
    active = (
        await db.scalar(
            select(func.count())
            .select_from(Transcription)
            .where(Transcription.owner_id == owner_id, Transcription.status.in_(ACTIVE_STATES))
        )
        or 0
    )
    limit = settings.scribe_max_concurrent_jobs
    if active >= limit:
        raise TooManyRequests(
            f"You already have {active} transcription{'s' if active != 1 else ''} queued or running "
            f"(limit {limit}). Wait for one to finish or cancel one, then try again.",
            retry_after=30,
        )
    now = datetime.now(UTC)
    since = _start_of_utc_day(now)
    used = (
        await db.scalar(
            select(func.coalesce(func.sum(Transcription.duration), 0.0)).where(
                Transcription.owner_id == owner_id,
                Transcription.created_at >= since,
                Transcription.status != FAILED,
            )
        )
        or 0.0
    )
    allowed = settings.scribe_max_minutes_per_day * 60.0
    if used + duration > allowed:
        retry = int((since + timedelta(days=1) - now).total_seconds())
        raise TooManyRequests(
            f"This file ({duration / 60:.1f} min) would exceed your daily limit of "
            f"{settings.scribe_max_minutes_per_day} minutes of audio ({used / 60:.1f} min used today). "
            "The limit resets at midnight UTC.",
            retry_after=retry,
        )


async def create_transcription(
    db: AsyncSession,
    settings: Settings,
    owner_id: uuid.UUID,
    data: TranscriptionCreate,
    file: MediaFile | None = None,
) -> Transcription:
    file = file or await get_file(db, owner_id, data.file_id)
    engine = choose_engine(settings, data.engine, data.language)
    await lock_user(db, owner_id)  # two simultaneous requests must not both pass the quota check
    await check_limits(db, settings, owner_id, file.duration)
    title = data.title or PurePath(file.filename).stem or file.filename
    row = Transcription(
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
    db.add(row)
    await db.flush()
    return row


async def get_transcription(
    db: AsyncSession, owner_id: uuid.UUID, transcription_id: uuid.UUID, *, segments: bool = False
) -> Transcription:
    query = select(Transcription).where(
        Transcription.id == transcription_id, Transcription.owner_id == owner_id
    )
    if segments:
        query = query.options(selectinload(Transcription.segments))
    row = await db.scalar(query)
    if row is None:
        raise NotFound("No such transcription")
    return row


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


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
        pattern = _like(q.lower())
        conditions.append(
            or_(
                func.lower(Transcription.text).like(pattern, escape="\\"),
                func.lower(Transcription.title).like(pattern, escape="\\"),
            )
        )
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
    """Queued: cancelled at once (its job, if it still starts, sees that and does nothing). Processing: the
    flag makes the runner stop the engine within about a second."""
    row = await get_transcription(db, owner_id, transcription_id)
    if row.status not in ACTIVE_STATES:
        raise Conflict(f"The transcription is already {row.status}")
    row.cancel_requested = True
    if row.status == QUEUED:
        row.status = CANCELLED
        row.finished_at = datetime.now(UTC)
        row.error = None
    await db.flush()
    return row


async def edit_transcription(
    db: AsyncSession, owner_id: uuid.UUID, transcription_id: uuid.UUID, data: TranscriptionEdit
) -> Transcription:
    row = await get_transcription(db, owner_id, transcription_id, segments=True)
    if data.title is not msgspec.UNSET:
        row.title = data.title
    if data.segments is not msgspec.UNSET:
        if row.status in (QUEUED, PROCESSING):
            raise Conflict("The transcript can be edited once the transcription has finished")
        by_index = {s.index: s for s in row.segments}
        missing = sorted({e.index for e in data.segments} - by_index.keys())
        if missing:
            raise ValidationFailed(
                details={"segments": f"no segment with index {', '.join(map(str, missing[:10]))}"}
            )
        for edit in data.segments:
            seg = by_index[edit.index]
            if edit.text is not msgspec.UNSET:
                text = " ".join(edit.text.split())
                if text != seg.text:
                    seg.text = text
                    seg.words = []  # the recognised words no longer match; the segment timing stays
            if edit.speaker is not msgspec.UNSET:
                seg.speaker = edit.speaker
        row.text = " ".join(s.text for s in row.segments if s.text)
    if data.speakers is not msgspec.UNSET:
        speakers = dict(row.speakers or {})
        speakers.update(data.speakers)
        row.speakers = speakers
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


def to_export(row: Transcription) -> exports.Transcript:
    segments = [
        eng.Segment(
            start=s.start,
            end=s.end,
            text=s.text,
            speaker=s.speaker,
            confidence=s.confidence,
            words=[eng.Word(*w) for w in (s.words or []) if isinstance(w, list) and len(w) >= 3],
        )
        for s in row.segments
    ]
    return exports.Transcript(
        title=row.title,
        segments=segments,
        language=row.detected_language or row.language,
        duration=row.duration,
        speakers={str(k): str(v) for k, v in (row.speakers or {}).items()},
    )


async def render_export(
    row: Transcription, fmt: str, *, timestamps: bool, speakers: bool
) -> exports.RenderedExport:
    if row.status != "completed":
        raise Conflict(f"Only a completed transcription can be exported (this one is {row.status})")
    transcript = to_export(row)
    options = exports.ExportOptions(include_timestamps=timestamps, include_speakers=speakers)
    return await asyncio.to_thread(exports.render, transcript, fmt, options)
