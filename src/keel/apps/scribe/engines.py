"""Transcription engines for scribe.

All engines implement :class:`TranscriptionEngine` and return a :class:`TranscriptResult`.
They are synchronous and intended to run inside worker processes. Progress is reported
as a fraction in ``[0, 1]`` via ``on_progress``; ``should_cancel`` is polled between units
of work and, when it returns True, :class:`TranscriptionCancelled` is raised.

Engines never read environment variables; build them with :func:`build_engines`.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
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
    "PocketSphinxEngine",
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
    ) -> TranscriptResult:
        """Transcribe the first audio track of ``path``.

        Raises ``media.MediaError`` (bad file), ``EngineNotReady``, ``TranscriptionCancelled``
        or another ``EngineError``.
        """

    def supports(self, language: str | None) -> bool:
        if not language or language == "auto":
            return "auto" in self.languages or len(self.languages) == 1
        return language in self.languages

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


# --------------------------------------------------------------------------- pocketsphinx


class PocketSphinxEngine(TranscriptionEngine):
    """Embedded, offline English recogniser (CMU PocketSphinx 5 with its bundled en-us model).

    Audio is streamed through a voice-activity endpointer; each speech region becomes one
    decoder utterance (and one segment). Regions longer than ``max_segment_seconds`` are
    force-split so segments stay readable and decoding stays fast.
    """

    name = "pocketsphinx"
    label = "Built-in (English, fast, lower accuracy)"
    languages = ("en",)

    FRAMES_PER_SECOND = 100
    _FILLERS = frozenset({"<s>", "</s>", "<sil>", "[NOISE]", "[BREATH]", "[COUGH]", "[UH]", "[UM]"})

    def __init__(self, max_segment_seconds: float = 20.0, vad_mode: int = 2) -> None:
        self.max_segment_seconds = max_segment_seconds
        self.vad_mode = vad_mode
        self._decoder: Any = None
        self._lock = threading.Lock()

    def is_ready(self) -> tuple[bool, str]:
        try:
            ps = importlib.import_module("pocketsphinx")
        except ImportError:
            return False, "The pocketsphinx package is not installed."
        model = Path(ps.get_model_path()) / "en-us"
        if not model.is_dir():
            return False, f"The bundled PocketSphinx English model is missing ({model})."
        return True, ""

    def _get_decoder(self) -> Any:
        if self._decoder is None:
            from pocketsphinx import Decoder

            self._decoder = Decoder(loglevel="FATAL")
        return self._decoder

    def _collect(self, decoder: Any, offset: float, word_timestamps: bool) -> Segment | None:
        words: list[Word] = []
        fps = self.FRAMES_PER_SECOND
        for s in decoder.seg():
            token = s.word
            if token in self._FILLERS or (token.startswith("[") and token.endswith("]")):
                continue
            if "(" in token and token.endswith(")"):  # alternate pronunciation, e.g. "the(2)"
                token = token[: token.index("(")]
            prob = getattr(s, "prob", None)
            words.append(
                Word(
                    start=round(offset + s.start_frame / fps, 3),
                    end=round(offset + (s.end_frame + 1) / fps, 3),
                    word=token,
                    probability=round(float(prob), 4) if prob is not None else None,
                )
            )
        if not words:
            return None
        probs = [w.probability for w in words if w.probability is not None]
        confidence = round(sum(probs) / len(probs), 4) if probs else None
        return Segment(
            start=words[0].start,
            end=words[-1].end,
            text=_join_words(w.word for w in words),
            confidence=confidence,
            words=words if word_timestamps else [],
        )

    def transcribe(
        self,
        path: str | Path,
        language: str | None = None,
        word_timestamps: bool = True,
        on_progress: ProgressFn | None = None,
        should_cancel: CancelFn | None = None,
    ) -> TranscriptResult:
        self._require_ready()
        if language not in (None, "", "auto", "en"):
            raise EngineError("The built-in engine only understands English. Choose another engine.")
        on_progress = on_progress or _noop_progress
        should_cancel = should_cancel or _never_cancel
        info = media.probe(path)
        duration = max(info.duration, 0.001)

        from pocketsphinx import Endpointer

        with self._lock:
            decoder = self._get_decoder()
            endpointer = Endpointer(vad_mode=self.vad_mode)
            frame_bytes = endpointer.frame_bytes
            segments: list[Segment] = []
            in_utt = False
            utt_start = 0.0
            utt_bytes = 0
            position = 0  # bytes of PCM consumed
            pending = b""
            max_utt_bytes = int(self.max_segment_seconds * media.PCM_BYTES_PER_SECOND)

            def finish() -> None:
                nonlocal in_utt
                decoder.end_utt()
                in_utt = False
                seg = self._collect(decoder, utt_start, word_timestamps)
                if seg is not None:
                    segments.append(seg)

            try:
                for chunk in media.decode_to_pcm16k(path, chunk_bytes=media.PCM_BYTES_PER_SECOND * 2):
                    if should_cancel():
                        raise TranscriptionCancelled()
                    data = pending + chunk
                    usable = len(data) - len(data) % frame_bytes
                    pending = data[usable:]
                    for i in range(0, usable, frame_bytes):
                        speech = endpointer.process(data[i : i + frame_bytes])
                        position += frame_bytes
                        if speech is None:
                            continue
                        if not in_utt:
                            decoder.start_utt()
                            in_utt = True
                            utt_start = float(endpointer.speech_start)
                            utt_bytes = 0
                        decoder.process_raw(speech, False, False)
                        utt_bytes += len(speech)
                        if not endpointer.in_speech:
                            finish()
                        elif utt_bytes >= max_utt_bytes:
                            # Force a segment boundary inside very long speech regions.
                            finish()
                            decoder.start_utt()
                            in_utt = True
                            utt_start = position / media.PCM_BYTES_PER_SECOND
                            utt_bytes = 0
                    on_progress(min(0.99, position / media.PCM_BYTES_PER_SECOND / duration))
                # end_stream refuses an empty buffer (audio ending mid-speech on a frame boundary): one
                # silent sample stands in for "nothing left"
                tail = endpointer.end_stream(pending or b"\x00\x00") if endpointer.in_speech else None
                if tail:
                    if not in_utt:
                        decoder.start_utt()
                        in_utt = True
                        utt_start = float(endpointer.speech_start)
                    decoder.process_raw(tail, False, False)
                if in_utt:
                    finish()
            except BaseException:
                if in_utt:
                    try:
                        decoder.end_utt()
                    except Exception:  # noqa: S110 - best-effort reset of the native decoder
                        pass
                raise

        on_progress(1.0)
        return TranscriptResult(
            language="en",
            duration=info.duration,
            segments=segments,
            text=" ".join(s.text for s in segments),
            engine=self.name,
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

_WHISPER_MODELS: dict[tuple[str, str, str], Any] = {}
_WHISPER_LOCK = threading.Lock()


class FasterWhisperEngine(TranscriptionEngine):
    """Local Whisper (CTranslate2) model loaded from a directory; never downloads anything.

    The directory must be a converted CTranslate2 Whisper model containing ``config.json``,
    ``model.bin``, ``tokenizer.json`` and ``vocabulary.json`` (or ``vocabulary.txt``),
    e.g. a copy of ``Systran/faster-whisper-small``.

    Long files are processed in windows of ``window_seconds`` so memory stays bounded.
    """

    name = "whisper"
    label = "Whisper (local, accurate, multilingual)"
    languages = WHISPER_LANGUAGES
    REQUIRED_FILES = ("config.json", "model.bin", "tokenizer.json")

    def __init__(
        self,
        model_dir: str | Path | None,
        device: str = "auto",
        compute_type: str = "default",
        beam_size: int = 5,
        window_seconds: float = 1200.0,
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir else None
        self.device = device
        self.compute_type = compute_type
        self.beam_size = beam_size
        self.window_seconds = window_seconds

    def is_ready(self) -> tuple[bool, str]:
        if self.model_dir is None:
            return False, "No Whisper model folder is configured (WHISPER_MODEL_DIR)."
        if importlib.util.find_spec("faster_whisper") is None:
            return False, "The faster-whisper package is not installed (install the 'whisper' extra)."
        if not self.model_dir.is_dir():
            return False, f"The Whisper model folder {self.model_dir} does not exist."
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
        key = (str(self.model_dir.resolve()), self.device, self.compute_type)
        with _WHISPER_LOCK:
            model = _WHISPER_MODELS.get(key)
            if model is None:
                fw = importlib.import_module("faster_whisper")
                model = fw.WhisperModel(
                    key[0], device=self.device, compute_type=self.compute_type, local_files_only=True
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
    ) -> TranscriptResult:
        import numpy as np

        self._require_ready()
        on_progress = on_progress or _noop_progress
        should_cancel = should_cancel or _never_cancel
        lang = None if not language or language == "auto" else language
        info = media.probe(path)
        duration = max(info.duration, 0.001)
        model = self._model()
        parts: list[tuple[float, TranscriptResult]] = []
        for offset, pcm in media.split_chunks(path, self.window_seconds):
            if should_cancel():
                raise TranscriptionCancelled()
            audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
            seg_iter, tinfo = model.transcribe(
                audio,
                language=lang,
                word_timestamps=word_timestamps,
                vad_filter=True,
                beam_size=self.beam_size,
            )
            segs: list[Segment] = []
            for s in seg_iter:  # lazy: decoding happens while iterating
                if should_cancel():
                    raise TranscriptionCancelled()
                words = [
                    Word(float(w.start), float(w.end), w.word.strip(), float(w.probability))
                    for w in (getattr(s, "words", None) or [])
                ]
                avg_logprob = getattr(s, "avg_logprob", None)
                segs.append(
                    Segment(
                        start=float(s.start),
                        end=float(s.end),
                        text=s.text.strip(),
                        confidence=round(math.exp(avg_logprob), 4) if avg_logprob is not None else None,
                        words=words,
                    )
                )
                on_progress(min(0.99, (offset + float(s.end)) / duration))
            if lang is None and getattr(tinfo, "language", None):
                lang_detected = tinfo.language
            else:
                lang_detected = lang
            parts.append(
                (offset, TranscriptResult(lang_detected, len(pcm) / media.PCM_BYTES_PER_SECOND, segs, ""))
            )
        on_progress(1.0)
        return stitch(parts, duration=info.duration, engine=self.name)


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
        self, client: Any, audio: bytes, language: str | None, word_timestamps: bool, should_cancel: CancelFn
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
    ) -> TranscriptResult:
        self._require_ready()
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
                payload = self._post_chunk(client, audio, lang, word_timestamps, should_cancel)
                parts.append((offset, self._parse(payload, chunk_duration)))
                on_progress(min(0.99, (offset + chunk_duration) / duration))
        on_progress(1.0)
        result = stitch(parts, duration=info.duration, engine=self.name)
        if result.language is None:
            result.language = lang
        return result


# --------------------------------------------------------------------------- registry


class EngineConfig(msgspec.Struct, frozen=True):
    whisper_model_dir: str | None = None
    whisper_device: str = "auto"
    whisper_compute_type: str = "default"
    remote_url: str | None = None
    remote_key: str | None = None
    remote_model: str = "whisper-1"
    remote_max_bytes: int = 24 * 1024 * 1024
    remote_chunk_format: str = "flac"
    remote_timeout: float = 300.0
    pocketsphinx_enabled: bool = True


def build_engines(config: EngineConfig) -> dict[str, TranscriptionEngine]:
    """Instantiate every engine the configuration mentions, keyed by ``engine.name``.

    Engines are returned even when not ready so the UI can show ``is_ready()`` reasons;
    callers should pick only ready ones.
    """
    engines: dict[str, TranscriptionEngine] = {}
    if config.pocketsphinx_enabled:
        engines[PocketSphinxEngine.name] = PocketSphinxEngine()
    if config.whisper_model_dir:
        engines[FasterWhisperEngine.name] = FasterWhisperEngine(
            config.whisper_model_dir, device=config.whisper_device, compute_type=config.whisper_compute_type
        )
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
