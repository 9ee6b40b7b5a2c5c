"""scribe request and response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from keel.core.examples import example

Title = Annotated[str, Meta(min_length=1, max_length=200)]
Language = Annotated[str, Meta(pattern=r"^(auto|[a-z]{2,3})$", max_length=10)]
EngineName = Annotated[str, Meta(pattern=r"^[a-z0-9_-]{1,30}$")]
SpeakerId = Annotated[str, Meta(min_length=1, max_length=100)]
SpeakerName = Annotated[str, Meta(min_length=1, max_length=100)]

Status = Literal["queued", "processing", "completed", "failed", "cancelled"]


class FileRead(msgspec.Struct, kw_only=True):
    id: UUID
    filename: str
    content_type: str
    size: int
    duration: float
    container: str
    audio_codec: str
    sample_rate: int
    channels: int
    has_video: bool
    video_codec: str | None
    created_at: datetime


@example(
    {
        "file_id": "01938f6e-8a2b-7c3d-9e4f-5a6b7c8d9e0f",
        "language": "en",
        "word_timestamps": True,
        "diarize": True,
        "title": "Team meeting",
        "prompt": "Keel, Litestar, PostgreSQL",
    }
)
class TranscriptionCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    file_id: UUID
    language: Language = "auto"
    engine: EngineName | None = None  # None: the best ready engine
    word_timestamps: bool = True
    diarize: bool = False  # label segments "Speaker 1", "Speaker 2", ... (heuristic, see scribe.diarize)
    title: Title | None = None  # None: the file name
    prompt: Annotated[str, Meta(max_length=2000)] | None = None  # words/spellings to expect (Whisper)
    temperature: Annotated[float, Meta(ge=0, le=1)] | None = None  # None: Whisper's fallback ladder


class WordRead(msgspec.Struct, kw_only=True):
    """One word's timing in seconds from the start of the audio, and the engine's confidence (0-1, None
    when the engine gives none or the word was edited in)."""

    start: float
    end: float
    word: str
    probability: float | None


class SegmentRead(msgspec.Struct, kw_only=True):
    index: int
    start: float
    end: float
    text: str
    speaker: str | None
    speaker_name: str | None
    confidence: float | None
    words: list[WordRead]


class TranscriptionRead(msgspec.Struct, kw_only=True):
    id: UUID
    file_id: UUID | None
    title: str
    language: str
    detected_language: str | None
    language_note: str | None  # set when "auto" could not detect (English-only model): says why
    engine: str
    word_timestamps: bool
    diarize: bool
    status: Status
    progress: float
    error: str | None
    duration: float
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    speakers: dict[str, str]
    revision: int = 0  # +1 on every transcript change; send it back with an edit to refuse a stale one
    text: str | None = None  # full text, on the detail view
    segments: list[SegmentRead] | None = None  # on the detail view


Seconds = Annotated[float, Meta(ge=0, le=1_000_000)]
Revision = Annotated[int, Meta(ge=0)]


class TranscriptionSegmentUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    index: Annotated[int, Meta(ge=0)]
    text: Annotated[str, Meta(max_length=20_000)] | msgspec.UnsetType = msgspec.UNSET
    speaker: SpeakerId | msgspec.UnsetType | None = msgspec.UNSET
    start: Seconds | msgspec.UnsetType = msgspec.UNSET
    end: Seconds | msgspec.UnsetType = msgspec.UNSET


class TranscriptionUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Every field optional: title, segments by index (text, speaker, start/end), speaker names. A text
    edit keeps the timings of the words that did not change and re-times the changed ones."""

    title: Title | msgspec.UnsetType = msgspec.UNSET
    segments: Annotated[list[TranscriptionSegmentUpdate], Meta(max_length=100_000)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    speakers: dict[SpeakerId, SpeakerName] | msgspec.UnsetType = msgspec.UNSET
    revision: Revision | None = None  # the revision this edit was made on; another one is a 409


class SegmentUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One segment: any of text, speaker, start, end (seconds; ordered, inside the audio, not
    overlapping the neighbours)."""

    text: Annotated[str, Meta(max_length=20_000)] | msgspec.UnsetType = msgspec.UNSET
    speaker: SpeakerId | msgspec.UnsetType | None = msgspec.UNSET
    start: Seconds | msgspec.UnsetType = msgspec.UNSET
    end: Seconds | msgspec.UnsetType = msgspec.UNSET
    revision: Revision | None = None


class SegmentSplit(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Split before word `word_index` (0-based; the second part starts with it) or at `time` seconds."""

    word_index: Annotated[int, Meta(ge=1)] | None = None
    time: Seconds | None = None
    revision: Revision | None = None


class SegmentMerge(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Merge the segment with the one after it."""

    revision: Revision | None = None


class SearchHitRead(msgspec.Struct, kw_only=True):
    transcription_id: UUID
    title: str
    created_at: datetime
    segment_index: int
    start: float
    end: float
    text: str
    speaker: str | None


class UsageRead(msgspec.Struct, kw_only=True):
    minutes_used_today: float
    minutes_per_day: int
    minutes_left_today: float
    jobs_running: int
    jobs_waiting: int  # queued: they start as running ones finish, oldest first
    max_running_jobs: int
    max_queued_jobs: int
    max_batch_files: int
    resets_at: datetime  # next midnight UTC


class SummaryRead(msgspec.Struct, kw_only=True):
    transcription_id: UUID
    text: str
    engine: str  # "extractive" (sentences taken from the transcript, no model) or the model's name
    revision: int  # the transcript revision summarised
    outdated: bool  # the transcript changed since
    created_at: datetime
    updated_at: datetime


class TranslationCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    language: Annotated[str, Meta(pattern=r"^[a-z]{2,3}$")]


class TranslationRead(msgspec.Struct, kw_only=True):
    transcription_id: UUID
    language: str
    engine: str
    revision: int
    outdated: bool
    text: str
    segments: list[str]  # one per transcript segment, same order and timings
    created_at: datetime
    updated_at: datetime


class EngineRead(msgspec.Struct, kw_only=True):
    name: str
    label: str
    languages: list[str]
    detects_language: bool  # False: "auto" means the engine's only language, not detection
    model: str | None
    ready: bool
    reason: str | None
    default: bool
