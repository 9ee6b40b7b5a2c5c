"""Which engines a server has: built from plain configuration (the settings), never from the environment."""

from __future__ import annotations

import msgspec

from keel.apps.scribe.engines.base import TranscriptionEngine
from keel.apps.scribe.engines.faster_whisper import FasterWhisperEngine
from keel.apps.scribe.engines.remote import RemoteWhisperEngine


class EngineConfig(msgspec.Struct, frozen=True):
    whisper_model_dir: str | None = None  # None: the bundled tiny.en
    whisper_device: str = "auto"
    whisper_compute_type: str = "int8"
    whisper_threads: int = 0
    whisper_beam_size: int = 5
    remote_url: str | None = None
    remote_key: str | None = None
    remote_model: str = "whisper-1"
    remote_max_bytes: int = 24 * 1024 * 1024
    remote_chunk_format: str = "flac"
    remote_timeout: float = 300.0


def build_engines(config: EngineConfig) -> dict[str, TranscriptionEngine]:
    """Instantiate every engine the configuration mentions, keyed by ``engine.name``: local Whisper always
    (the bundled model or WHISPER_MODEL_DIR), remote when a URL is set. Engines are returned even when not
    ready so the API can show ``is_ready()`` reasons; callers pick only ready ones."""
    engines: dict[str, TranscriptionEngine] = {
        FasterWhisperEngine.name: FasterWhisperEngine(
            config.whisper_model_dir,
            device=config.whisper_device,
            compute_type=config.whisper_compute_type,
            beam_size=config.whisper_beam_size,
            threads=config.whisper_threads,
        )
    }
    if config.remote_url:
        engines[RemoteWhisperEngine.name] = RemoteWhisperEngine(
            config.remote_url,
            api_key=config.remote_key,
            model=config.remote_model,
            max_bytes=config.remote_max_bytes,
            chunk_format=config.remote_chunk_format,
            timeout=config.remote_timeout,
        )
    return engines
