"""Transcription engines for scribe: local Whisper (faster-whisper) and a remote OpenAI-compatible server.

All engines implement :class:`TranscriptionEngine` and return a :class:`TranscriptResult`; build the
configured ones with :func:`build_engines`. The modules: ``base`` (result types, errors, interface,
window stitching), ``faster_whisper``, ``remote`` and ``config``.
"""

from keel.apps.scribe.engines.base import (
    CancelFn,
    EngineError,
    EngineNotReady,
    ProgressFn,
    RemoteEngineError,
    Segment,
    TranscriptionCancelled,
    TranscriptionEngine,
    TranscriptResult,
    Word,
    stitch,
)
from keel.apps.scribe.engines.config import EngineConfig, build_engines
from keel.apps.scribe.engines.faster_whisper import (
    ENGLISH_ONLY_NOTE,
    WHISPER_LANGUAGES,
    FasterWhisperEngine,
    bundled_model_dir,
    worker_cores,
)
from keel.apps.scribe.engines.remote import LANGUAGE_NAMES, RemoteWhisperEngine

__all__ = [
    "ENGLISH_ONLY_NOTE",
    "LANGUAGE_NAMES",
    "WHISPER_LANGUAGES",
    "CancelFn",
    "EngineConfig",
    "EngineError",
    "EngineNotReady",
    "FasterWhisperEngine",
    "ProgressFn",
    "RemoteEngineError",
    "RemoteWhisperEngine",
    "Segment",
    "TranscriptResult",
    "TranscriptionCancelled",
    "TranscriptionEngine",
    "Word",
    "build_engines",
    "bundled_model_dir",
    "stitch",
    "worker_cores",
]
