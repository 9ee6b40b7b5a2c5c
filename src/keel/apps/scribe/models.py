"""scribe tables: uploaded media files, transcription jobs, their transcript segments, and the summary
and translations stored beside a transcript.

Full-text search over segment texts is made by migration 0018 without a model: an FTS5 table kept in
step by triggers on SQLite (`scribe_segment_fts`), a GIN index on `to_tsvector('simple', text)` on
PostgreSQL (`ix_scribe_segment_fts`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from keel.core.db import Base

# transcription states: queued -> processing -> completed | failed | cancelled
QUEUED, PROCESSING, COMPLETED, FAILED, CANCELLED = "queued", "processing", "completed", "failed", "cancelled"
ACTIVE_STATES = (QUEUED, PROCESSING)
FINAL_STATES = (COMPLETED, FAILED, CANCELLED)


class MediaFile(Base):
    __tablename__ = "scribe_file"
    __table_args__ = (Index("ix_scribe_file_owner_created", "owner_id", "created_at"),)

    owner_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(500), unique=True)
    duration: Mapped[float] = mapped_column(Float)
    container: Mapped[str] = mapped_column(String(100))
    audio_codec: Mapped[str] = mapped_column(String(50))
    sample_rate: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(Integer)
    has_video: Mapped[bool] = mapped_column(Boolean, default=False)
    video_codec: Mapped[str | None] = mapped_column(String(50), nullable=True)


class Transcription(Base):
    __tablename__ = "scribe_transcription"
    __table_args__ = (
        Index("ix_scribe_transcription_owner_created", "owner_id", "created_at"),
        Index("ix_scribe_transcription_status", "status"),
    )

    owner_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    file_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("scribe_file.id", ondelete="SET NULL"), nullable=True, index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(10), default="auto")  # as requested
    detected_language: Mapped[str | None] = mapped_column(String(10), nullable=True)
    # why detected_language is empty although "auto" was asked (an English-only model does not detect)
    language_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    prompt: Mapped[str | None] = mapped_column(Text, nullable=True)  # Whisper's initial prompt (vocabulary)
    temperature: Mapped[float | None] = mapped_column(Float, nullable=True)  # None: Whisper's fallback ladder
    engine: Mapped[str] = mapped_column(String(30))
    word_timestamps: Mapped[bool] = mapped_column(Boolean, default=True)
    diarize: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # speaker turns
    status: Mapped[str] = mapped_column(String(20), default=QUEUED)
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # percent
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    job_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # procrastinate job id
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    duration: Mapped[float] = mapped_column(Float, default=0.0)  # seconds of audio (quota)
    text: Mapped[str] = mapped_column(Text, default="")
    speakers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    # +1 on every change to the transcript (text, timings, split, merge): edits may name the revision
    # they were made on, and a stale one is a 409 instead of overwriting someone else's change
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    segments: Mapped[list[Segment]] = relationship(
        back_populates="transcription",
        order_by="Segment.index",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise",
    )


class Segment(Base):
    __tablename__ = "scribe_segment"
    __table_args__ = (UniqueConstraint("transcription_id", "index"),)

    transcription_id: Mapped[UUID] = mapped_column(
        GUID, ForeignKey("scribe_transcription.id", ondelete="CASCADE")
    )
    index: Mapped[int] = mapped_column(Integer)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    speaker: Mapped[str | None] = mapped_column(String(100), nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    words: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[start, end, word, probability], ...]

    transcription: Mapped[Transcription] = relationship(back_populates="segments", lazy="raise")


class Summary(Base):
    """One per transcription: what the transcript says, from the language model or extracted from it."""

    __tablename__ = "scribe_summary"

    transcription_id: Mapped[UUID] = mapped_column(
        GUID, ForeignKey("scribe_transcription.id", ondelete="CASCADE"), unique=True
    )
    text: Mapped[str] = mapped_column(Text)
    engine: Mapped[str] = mapped_column(String(100))  # "extractive" or the model's name
    revision: Mapped[int] = mapped_column(Integer)  # the transcript revision it summarises


class Translation(Base):
    """A transcript in another language, segment by segment (so timings and exports carry over)."""

    __tablename__ = "scribe_translation"
    __table_args__ = (UniqueConstraint("transcription_id", "language"),)

    transcription_id: Mapped[UUID] = mapped_column(
        GUID, ForeignKey("scribe_transcription.id", ondelete="CASCADE"), index=True
    )
    language: Mapped[str] = mapped_column(String(10))
    segments: Mapped[list[Any]] = mapped_column(JSON, default=list)  # one text per transcript segment
    engine: Mapped[str] = mapped_column(String(100))
    revision: Mapped[int] = mapped_column(Integer)  # the transcript revision it translates
