"""A transcript as the exports see it: the (edited) segments, speaker names, the stored summary, and
optionally a stored translation in place of the segment texts (timings kept, so subtitles work)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlalchemy import select

from keel.apps.scribe import engines as eng
from keel.apps.scribe import exports
from keel.apps.scribe.models import COMPLETED, Summary, Transcription, Translation
from keel.core.errors import Conflict, NotFound

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


def to_export(
    row: Transcription, summary: Summary | None = None, translation: Translation | None = None
) -> exports.Transcript:
    ordered = sorted(row.segments, key=lambda s: s.index)
    texts = [s.text for s in ordered]
    if translation is not None:
        texts = [str(t) for t in translation.segments or []]
    segments = [
        eng.Segment(
            start=s.start,
            end=s.end,
            text=text,
            speaker=s.speaker,
            confidence=s.confidence,
            # word timings belong to the original words: a translation has none
            words=[]
            if translation is not None
            else [eng.Word(*w[:4]) for w in (s.words or []) if isinstance(w, list) and len(w) >= 3],
        )
        for s, text in zip(ordered, texts, strict=True)
    ]
    original = row.detected_language or row.language
    return exports.Transcript(
        title=row.title,
        segments=segments,
        language=translation.language if translation is not None else original,
        duration=row.duration,
        speakers={str(k): str(v) for k, v in (row.speakers or {}).items()},
        summary=summary.text if summary is not None else None,
        summary_engine=summary.engine if summary is not None else None,
        translated_from=original if translation is not None else None,
    )


async def render_export(
    db: AsyncSession,
    row: Transcription,
    fmt: str,
    *,
    timestamps: bool,
    speakers: bool,
    summary: bool = True,
    translation: str | None = None,
) -> exports.RenderedExport:
    """`row` with its segments loaded. `summary`: put the stored one (if any) first; `translation`: the
    stored translation in that language instead of the original texts (404 when there is none)."""
    if row.status != COMPLETED:
        raise Conflict(f"Only a completed transcription can be exported (this one is {row.status})")
    stored_summary = (
        await db.scalar(select(Summary).where(Summary.transcription_id == row.id)) if summary else None
    )
    stored_translation = None
    if translation:
        stored_translation = await db.scalar(
            select(Translation).where(
                Translation.transcription_id == row.id, Translation.language == translation
            )
        )
        if stored_translation is None:
            raise NotFound(f"This transcription has no {translation} translation: POST …/translations first")
        if len(stored_translation.segments or []) != len(row.segments):
            raise Conflict(
                "Segments were split or merged since this translation was made; translate it again",
                details={"translation": "outdated"},
            )
    transcript = to_export(row, stored_summary, stored_translation)
    options = exports.ExportOptions(include_timestamps=timestamps, include_speakers=speakers)
    return await asyncio.to_thread(exports.render, transcript, fmt, options)
