"""Transcript edits the way TurboScribe users make them: texts, speakers, segment start/end, split a
segment at a word or a time, merge it with the next one.

Each edit is one transaction on the locked transcription: everything it asks is validated before
anything is kept (a refused edit changes nothing), the revision goes up by one, and an edit that names
an older revision than the stored one is a 409. Word timings are never dropped silently: a text edit
re-times through `words.retime`, moved bounds through `words.refit`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import msgspec

from keel.apps.scribe.models import PROCESSING, QUEUED, Segment, Transcription
from keel.apps.scribe.schemas import (
    SegmentMerge,
    SegmentSplit,
    SegmentUpdate,
    TranscriptionSegmentUpdate,
    TranscriptionUpdate,
)
from keel.apps.scribe.services import words as timing
from keel.apps.scribe.services.transcriptions import get_transcription
from keel.core.errors import Conflict, NotFound, Unprocessable, ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

TOLERANCE = 0.05  # seconds a segment may end past the probed duration (decoders differ by a frame)


async def _editable(
    db: AsyncSession, owner_id: uuid.UUID, transcription_id: uuid.UUID, revision: int | None
) -> Transcription:
    row = await get_transcription(db, owner_id, transcription_id, segments=True, for_update=True)
    if row.status in (QUEUED, PROCESSING):
        raise Conflict("The transcript can be edited once the transcription has finished")
    if revision is not None and revision != row.revision:
        raise Conflict(
            f"The transcript changed since revision {revision} (it is at revision {row.revision}); "
            "reload it and edit again.",
            details={"revision": row.revision},
        )
    return row


def _segment(row: Transcription, index: int) -> Segment:
    for seg in row.segments:
        if seg.index == index:
            return seg
    raise NotFound(f"No segment with index {index}")


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _set_text(seg: Segment, text: str) -> None:
    text = _normalise(text)
    if text != seg.text:
        seg.words = timing.retime(seg.words, text, seg.start, seg.end)
        seg.text = text


def _check_bounds(row: Transcription, changed: dict[int, tuple[float, float]]) -> None:
    """422 naming the field unless every moved segment is ordered, inside the audio and clear of its
    neighbours (as they will be after this edit)."""
    bounds = {s.index: (s.start, s.end) for s in row.segments}
    bounds.update(changed)
    order = sorted(bounds)
    problems: dict[str, str] = {}
    for position, index in enumerate(order):
        if index not in changed:
            continue
        start, end = bounds[index]
        where = f"segments[{index}]"
        if start >= end:
            problems[f"{where}.end"] = f"must be after start ({start:g} s)"
        if row.duration and end > row.duration + TOLERANCE:
            problems[f"{where}.end"] = f"must be within the audio ({row.duration:g} s long)"
        if position > 0 and start < bounds[order[position - 1]][1] - 1e-6:
            previous = bounds[order[position - 1]][1]
            problems[f"{where}.start"] = f"overlaps the previous segment, which ends at {previous:g} s"
        if position + 1 < len(order) and end > bounds[order[position + 1]][0] + 1e-6:
            following = bounds[order[position + 1]][0]
            problems[f"{where}.end"] = f"overlaps the next segment, which starts at {following:g} s"
    if problems:
        raise Unprocessable("These segment times are not possible", details=problems)


def _move(seg: Segment, start: float, end: float) -> None:
    if (start, end) != (seg.start, seg.end):
        seg.words = timing.refit(seg.words, (seg.start, seg.end), (start, end))
        seg.start, seg.end = start, end


def _changed_bounds(edits: list[Any], by_index: dict[int, Segment]) -> dict[int, tuple[float, float]]:
    changed: dict[int, tuple[float, float]] = {}
    for edit in edits:
        seg = by_index[edit.index]
        start = seg.start if edit.start is msgspec.UNSET else edit.start
        end = seg.end if edit.end is msgspec.UNSET else edit.end
        if (start, end) != (seg.start, seg.end):
            changed[edit.index] = (start, end)
    return changed


def _apply(row: Transcription, edits: list[TranscriptionSegmentUpdate]) -> None:
    by_index = {s.index: s for s in row.segments}
    missing = sorted({e.index for e in edits} - by_index.keys())
    if missing:
        raise ValidationFailed(
            details={"segments": f"no segment with index {', '.join(map(str, missing[:10]))}"}
        )
    changed = _changed_bounds(edits, by_index)
    _check_bounds(row, changed)  # before anything changes: a refused edit leaves the transcript alone
    for edit in edits:
        seg = by_index[edit.index]
        if edit.index in changed:
            _move(seg, *changed[edit.index])
        if edit.text is not msgspec.UNSET:
            _set_text(seg, edit.text)
        if edit.speaker is not msgspec.UNSET:
            seg.speaker = edit.speaker


def _touch(row: Transcription) -> None:
    row.text = " ".join(s.text for s in sorted(row.segments, key=lambda s: s.index) if s.text)
    row.revision = (row.revision or 0) + 1


async def edit_transcription(
    db: AsyncSession, owner_id: uuid.UUID, transcription_id: uuid.UUID, data: TranscriptionUpdate
) -> Transcription:
    if data.segments is not msgspec.UNSET:
        row = await _editable(db, owner_id, transcription_id, data.revision)
    else:  # title and speaker names only: allowed while the job runs
        row = await get_transcription(db, owner_id, transcription_id, segments=True, for_update=True)
        if data.revision is not None and data.revision != row.revision:
            raise Conflict(
                f"The transcript is at revision {row.revision}", details={"revision": row.revision}
            )
    if data.title is not msgspec.UNSET:
        row.title = data.title
    if data.segments is not msgspec.UNSET:
        _apply(row, data.segments)
        _touch(row)
    if data.speakers is not msgspec.UNSET:
        speakers = dict(row.speakers or {})
        speakers.update(data.speakers)
        row.speakers = speakers
    await db.flush()
    return row


async def patch_segment(
    db: AsyncSession, owner_id: uuid.UUID, transcription_id: uuid.UUID, index: int, data: SegmentUpdate
) -> Transcription:
    row = await _editable(db, owner_id, transcription_id, data.revision)
    _segment(row, index)
    edit = TranscriptionSegmentUpdate(
        index=index, text=data.text, speaker=data.speaker, start=data.start, end=data.end
    )
    _apply(row, [edit])
    _touch(row)
    await db.flush()
    return row


async def _renumber(db: AsyncSession, row: Transcription, segments: list[Segment]) -> None:
    """Give `segments` the indexes 0..n-1 in their order. Through negative values first: the unique
    (transcription, index) constraint is checked row by row."""
    moved = [s for position, s in enumerate(segments) if s.index != position]
    for seg in moved:
        seg.index = -1 - seg.index - len(segments)
    await db.flush()
    for position, seg in enumerate(segments):
        seg.index = position
    await db.flush()


async def split_segment(
    db: AsyncSession, owner_id: uuid.UUID, transcription_id: uuid.UUID, index: int, data: SegmentSplit
) -> Transcription:
    if (data.word_index is None) == (data.time is None):
        raise ValidationFailed(details={"word_index": "give either word_index or time", "time": "or time"})
    row = await _editable(db, owner_id, transcription_id, data.revision)
    seg = _segment(row, index)
    tokens, words = timing.split_words(seg.words, seg.text, seg.start, seg.end)
    if data.word_index is not None:
        at_word = data.word_index
        if at_word >= len(tokens):
            raise Unprocessable(
                f"The segment has {len(tokens)} words; split before word 1 to {len(tokens) - 1}",
                details={"word_index": f"between 1 and {max(0, len(tokens) - 1)}"},
            )
        boundary = words[at_word][0] if words else seg.start + (seg.end - seg.start) * at_word / len(tokens)
    else:
        boundary = float(data.time)  # type: ignore[arg-type]
        if not seg.start < boundary < seg.end:
            raise Unprocessable(
                f"The time must be inside the segment ({seg.start:g}-{seg.end:g} s)",
                details={"time": f"between {seg.start:g} and {seg.end:g}"},
            )
        if words:  # the words whose middle is before the time stay in the first part
            at_word = sum(1 for w in words if (w[0] + w[1]) / 2 < boundary)
        else:
            at_word = round(len(tokens) * (boundary - seg.start) / (seg.end - seg.start))
        if not 0 < at_word < len(tokens):
            raise Unprocessable(
                "No words on one side of that time: the segment would have an empty part",
                details={"time": "must fall between two words"},
            )
    if not seg.start < boundary < seg.end:
        boundary = (words[at_word - 1][1] + words[at_word][0]) / 2 if words else (seg.start + seg.end) / 2
    first_words = timing.clamp(words[:at_word], seg.start, boundary)
    second = Segment(
        transcription_id=row.id,
        index=-1,  # renumbered below
        start=boundary,
        end=seg.end,
        text=" ".join(tokens[at_word:]),
        speaker=seg.speaker,
        confidence=seg.confidence,
        words=timing.clamp(words[at_word:], boundary, seg.end),
    )
    seg.text, seg.end, seg.words = " ".join(tokens[:at_word]), boundary, first_words
    ordered = sorted(row.segments, key=lambda s: s.index)
    ordered.insert(ordered.index(seg) + 1, second)
    db.add(second)
    row.segments.append(second)
    await _renumber(db, row, ordered)
    row.segments.sort(key=lambda s: s.index)
    _touch(row)
    await db.flush()
    return row


async def merge_segments(
    db: AsyncSession, owner_id: uuid.UUID, transcription_id: uuid.UUID, index: int, data: SegmentMerge
) -> Transcription:
    row = await _editable(db, owner_id, transcription_id, data.revision)
    seg = _segment(row, index)
    ordered = sorted(row.segments, key=lambda s: s.index)
    position = ordered.index(seg)
    if position + 1 >= len(ordered):
        raise Unprocessable("This is the last segment: there is no next one to merge with")
    nxt = ordered[position + 1]
    first_tokens, first_words = timing.split_words(seg.words, seg.text, seg.start, seg.end)
    second_tokens, second_words = timing.split_words(nxt.words, nxt.text, nxt.start, nxt.end)
    lengths = (seg.end - seg.start, nxt.end - nxt.start)
    if seg.confidence is not None and nxt.confidence is not None and sum(lengths) > 0:
        seg.confidence = (seg.confidence * lengths[0] + nxt.confidence * lengths[1]) / sum(lengths)
    seg.text = " ".join(first_tokens + second_tokens)
    seg.end = max(seg.end, nxt.end)
    seg.words = (
        timing.clamp(first_words + second_words, seg.start, seg.end) if first_words and second_words else []
    )
    if not first_words or not second_words:  # one side had no timings: time the other side's words over both
        seg.words = timing.retime(first_words or second_words, seg.text, seg.start, seg.end)
    ordered.remove(nxt)
    row.segments.remove(nxt)
    await db.delete(nxt)
    await db.flush()
    await _renumber(db, row, ordered)
    _touch(row)
    await db.flush()
    return row
