"""scribe request and response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

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


class TranscriptionCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    file_id: UUID
    language: Language = "auto"
    engine: EngineName | None = None  # None: the best ready engine
    word_timestamps: bool = True
    diarize: bool = False  # label segments "Speaker 1", "Speaker 2", ... (heuristic, see scribe.diarize)
    title: Title | None = None  # None: the file name
    prompt: Annotated[str, Meta(max_length=2000)] | None = None  # words/spellings to expect (Whisper)
    temperature: Annotated[float, Meta(ge=0, le=1)] | None = None  # None: Whisper's fallback ladder


class SegmentRead(msgspec.Struct, kw_only=True):
    index: int
    start: float
    end: float
    text: str
    speaker: str | None
    speaker_name: str | None
    confidence: float | None
    words: list[Any]  # [start, end, word, probability]


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
    text: str | None = None  # full text, on the detail view
    segments: list[SegmentRead] | None = None  # on the detail view


class SegmentEdit(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    index: Annotated[int, Meta(ge=0)]
    text: Annotated[str, Meta(max_length=20_000)] | msgspec.UnsetType = msgspec.UNSET
    speaker: SpeakerId | msgspec.UnsetType | None = msgspec.UNSET


class TranscriptionEdit(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Every field optional: title, segment texts/speakers by index (timings never change), speaker names."""

    title: Title | msgspec.UnsetType = msgspec.UNSET
    segments: Annotated[list[SegmentEdit], Meta(max_length=100_000)] | msgspec.UnsetType = msgspec.UNSET
    speakers: dict[SpeakerId, SpeakerName] | msgspec.UnsetType = msgspec.UNSET


class EngineRead(msgspec.Struct, kw_only=True):
    name: str
    label: str
    languages: list[str]
    detects_language: bool  # False: "auto" means the engine's only language, not detection
    model: str | None
    ready: bool
    reason: str | None
    default: bool
