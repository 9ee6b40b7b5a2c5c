"""What every scribe engine shares: the result types, the errors, the interface and window stitching.

Engines are synchronous and run inside worker processes. Progress is reported as a fraction in
``[0, 1]`` via ``on_progress``; ``should_cancel`` is polled between units of work and, when it returns
True, :class:`TranscriptionCancelled` is raised. Engines never read environment variables; build them
with :func:`keel.apps.scribe.engines.build_engines`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import msgspec

ProgressFn = Callable[[float], None]
CancelFn = Callable[[], bool]


# --------------------------------------------------------------------------- data


class Word(msgspec.Struct, array_like=True, frozen=True):
    """A timed word. Encodes as ``[start, end, word, probability]``."""

    start: float
    end: float
    word: str
    probability: float | None = None


class Segment(msgspec.Struct):
    start: float
    end: float
    text: str
    speaker: str | None = None
    confidence: float | None = None
    words: list[Word] = msgspec.field(default_factory=list)


class TranscriptResult(msgspec.Struct):
    language: str | None
    duration: float
    segments: list[Segment]
    text: str
    engine: str = ""
    language_note: str | None = None  # why `language` is None (e.g. an English-only model did not detect)


# --------------------------------------------------------------------------- errors


class EngineError(Exception):
    """Transcription failed. ``str(exc)`` is safe to show to the end user."""


class EngineNotReady(EngineError):
    """The engine is not configured / its model is missing."""


class TranscriptionCancelled(EngineError):
    """``should_cancel`` returned True."""

    def __init__(self, message: str = "Transcription was cancelled.") -> None:
        super().__init__(message)


class RemoteEngineError(EngineError):
    """The remote server failed; `retryable` ones (timeouts, 429, 5xx) are tried again after
    `retry_after` seconds when the server said so (Retry-After), else after an exponential backoff."""

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retryable = retryable
        self.retry_after = retry_after


# --------------------------------------------------------------------------- interface


def noop_progress(_: float) -> None:
    return None


def never_cancel() -> bool:
    return False


@dataclass(frozen=True, slots=True)
class TranscribeJob:
    """One `transcribe` call's options, as the engines receive them (`language` None: detect it)."""

    language: str | None
    word_timestamps: bool
    on_progress: ProgressFn
    should_cancel: CancelFn
    prompt: str | None
    temperature: float | None


class TranscriptionEngine(ABC):
    name: str = ""
    label: str = ""
    #: ISO 639-1 codes; "auto" means the engine can detect the language itself.
    languages: tuple[str, ...] = ()
    #: True when "auto" really detects the language (not "assume the only one it knows").
    detects_language: bool = True

    @abstractmethod
    def is_ready(self) -> tuple[bool, str]:
        """Return ``(True, "")`` or ``(False, reason)``. Cheap: no network, no model load."""

    def transcribe(
        self,
        path: str | Path,
        language: str | None = None,
        word_timestamps: bool = True,
        on_progress: ProgressFn | None = None,
        should_cancel: CancelFn | None = None,
        prompt: str | None = None,
        temperature: float | None = None,
    ) -> TranscriptResult:
        """Transcribe the first audio track of ``path``.

        Raises ``media.MediaError`` (bad file), ``EngineNotReady``, ``TranscriptionCancelled``
        or another ``EngineError``.
        """
        self._require_ready()
        lang = None if not language or language == "auto" else language
        progress, cancel = on_progress or noop_progress, should_cancel or never_cancel
        return self._transcribe(
            path, TranscribeJob(lang, word_timestamps, progress, cancel, prompt, temperature)
        )

    @abstractmethod
    def _transcribe(self, path: str | Path, job: TranscribeJob) -> TranscriptResult:
        """`transcribe` once the engine is ready, with the call's options in `job`."""

    def supports(self, language: str | None) -> bool:
        if not language or language == "auto":
            return "auto" in self.languages or len(self.languages) == 1
        return language in self.languages

    def refusal(self, language: str) -> str | None:
        """A user-facing reason this engine cannot take `language`, or None."""
        return None if self.supports(language) else f"This engine does not support {language!r}."

    def _require_ready(self) -> None:
        ok, reason = self.is_ready()
        if not ok:
            raise EngineNotReady(reason)


# --------------------------------------------------------------------------- helpers


def stitch(
    parts: Iterable[tuple[float, TranscriptResult]],
    duration: float | None = None,
    engine: str = "",
) -> TranscriptResult:
    """Merge results of consecutive audio windows into one transcript.

    ``parts`` are ``(offset_seconds, result)`` with result timings relative to the window.
    Timings are shifted by the offset. With overlapping windows, segments that start
    before the end of the already-kept transcript (minus 0.2 s) are dropped to avoid
    duplicated speech. The language is the most frequent non-empty one.
    """
    segments: list[Segment] = []
    languages: dict[str, int] = {}
    last_end = 0.0
    total = 0.0
    for offset, result in parts:
        if result.language:
            languages[result.language] = languages.get(result.language, 0) + 1
        total = max(total, offset + result.duration)
        for seg in result.segments:
            start, end = seg.start + offset, seg.end + offset
            if segments and start < last_end - 0.2:
                continue
            words = [Word(w.start + offset, w.end + offset, w.word, w.probability) for w in seg.words]
            segments.append(
                Segment(
                    start=round(start, 3),
                    end=round(max(end, start), 3),
                    text=seg.text,
                    speaker=seg.speaker,
                    confidence=seg.confidence,
                    words=[Word(round(w.start, 3), round(w.end, 3), w.word, w.probability) for w in words],
                )
            )
            last_end = max(last_end, end)
    language = max(languages, key=languages.__getitem__) if languages else None
    return TranscriptResult(
        language=language,
        duration=round(duration if duration is not None else total, 3),
        segments=segments,
        text=" ".join(s.text.strip() for s in segments if s.text.strip()),
        engine=engine,
    )
