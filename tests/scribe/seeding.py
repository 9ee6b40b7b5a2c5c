"""Finished transcripts written straight into the database, for tests of what users do with a transcript
(edit, search, summarise, translate, export) without spending a Whisper run on each."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import create_async_engine


def timed(text: str, start: float, step: float = 0.5) -> list[list[Any]]:
    """Words of `text`, `step` seconds each from `start`, with a model probability of 0.9."""
    return [
        [round(start + i * step, 3), round(start + (i + 1) * step, 3), w, 0.9]
        for i, w in enumerate(text.split())
    ]


async def seed_transcript(
    settings: Any,
    owner_id: str,
    segments: list[tuple[float, float, str]],
    *,
    title: str = "Seeded",
    duration: float | None = None,
    words: bool = True,
    speakers: list[str | None] | None = None,
) -> str:
    """A completed transcription owned by `owner_id` with these (start, end, text) segments; words are
    spread evenly over each segment when `words`. Returns its id."""
    from keel.apps.scribe.models import COMPLETED, Segment, Transcription

    tid = uuid.uuid4()
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            now = datetime.now(UTC)
            await conn.execute(
                Transcription.__table__.insert().values(
                    id=tid,
                    owner_id=uuid.UUID(owner_id),
                    file_id=None,
                    title=title,
                    language="en",
                    detected_language="en",
                    engine="whisper",
                    word_timestamps=words,
                    diarize=False,
                    status=COMPLETED,
                    progress=100.0,
                    cancel_requested=False,
                    attempts=1,
                    duration=duration if duration is not None else max(e for _, e, _ in segments) + 1.0,
                    text=" ".join(t for _, _, t in segments),
                    speakers={},
                    revision=0,
                    created_at=now,
                    updated_at=now,
                    started_at=now,
                    finished_at=now,
                )
            )
            for i, (start, end, text) in enumerate(segments):
                step = (end - start) / max(1, len(text.split()))
                await conn.execute(
                    Segment.__table__.insert().values(
                        id=uuid.uuid4(),
                        transcription_id=tid,
                        index=i,
                        start=start,
                        end=end,
                        text=text,
                        speaker=(speakers or [None] * len(segments))[i],
                        confidence=0.9,
                        words=timed(text, start, step) if words else [],
                        created_at=now,
                        updated_at=now,
                    )
                )
    finally:
        await engine.dispose()
    return str(tid)
