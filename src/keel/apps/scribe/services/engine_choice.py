"""Which transcription engines this server has, which one a request gets, and what it says about
languages (an English-only model refuses other languages and says that `auto` does not detect)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel.apps.scribe import engines as eng
from keel.core.errors import Unprocessable, ValidationFailed

if TYPE_CHECKING:
    from keel.apps.scribe.schemas import EngineRead
    from keel.settings import Settings

ENGINE_PREFERENCE = ("whisper", "remote")


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
    from keel.apps.scribe.schemas import EngineRead

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
