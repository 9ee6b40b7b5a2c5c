"""An OpenAI-compatible transcription server as an engine (OpenAI, Groq, a local Whisper server, ...)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.apps.scribe import media
from keel.apps.scribe.engines.base import (
    CancelFn,
    EngineError,
    RemoteEngineError,
    Segment,
    TranscribeJob,
    TranscriptionCancelled,
    TranscriptionEngine,
    TranscriptResult,
    Word,
    stitch,
)
from keel.apps.scribe.engines.faster_whisper import WHISPER_LANGUAGES

if TYPE_CHECKING:
    import tenacity

MAX_RETRY_AFTER = 120.0  # a server asking for longer is waited for this long, then tried again


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (the delta-seconds form; an HTTP date counts as unknown)."""
    if not value:
        return None
    try:
        return max(0.0, min(float(value), MAX_RETRY_AFTER))
    except ValueError:
        return None


LANGUAGE_NAMES = {
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
    return LANGUAGE_NAMES.get(v, v)


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
        import tenacity  # only a configured remote engine retries (issue 12: not at start-up)

        self._backoff = tenacity.wait_exponential_jitter(
            multiplier=backoff_base, max=60.0, jitter=backoff_base
        )

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
        import tenacity

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            retry=tenacity.retry_if_exception(lambda e: isinstance(e, RemoteEngineError) and e.retryable),
            sleep=self._sleep,
            reraise=True,  # the last RemoteEngineError, not tenacity's RetryError
        )
        return retrying(self._post_once, client, data, files, should_cancel)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """The server's Retry-After when it gave one, else exponential backoff with jitter."""
        error = state.outcome.exception() if state.outcome is not None else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)
        return float(self._backoff(state))

    def _post_once(
        self, client: Any, data: dict[str, Any], files: dict[str, Any], should_cancel: CancelFn
    ) -> dict[str, Any]:
        import httpx

        if should_cancel():
            raise TranscriptionCancelled()
        try:
            response = client.post(self.endpoint, data=data, files=files)
        except httpx.TimeoutException as exc:
            raise RemoteEngineError("The remote transcription service timed out.", retryable=True) from exc
        except httpx.TransportError as exc:
            raise RemoteEngineError(
                f"Could not reach the remote transcription service ({type(exc).__name__}).", retryable=True
            ) from exc
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
            raise RemoteEngineError(
                f"The remote transcription service is unavailable (HTTP {status}){suffix}",
                status,
                retryable=True,
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        raise RemoteEngineError(
            f"The remote transcription service rejected the request (HTTP {status}){suffix}", status
        )

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

    def _transcribe(self, path: str | Path, job: TranscribeJob) -> TranscriptResult:
        lang, word_timestamps, on_progress, should_cancel = (
            job.language,
            job.word_timestamps,
            job.on_progress,
            job.should_cancel,
        )
        prompt, temperature = job.prompt, job.temperature
        extra = {"prompt": prompt, "temperature": None if temperature is None else str(temperature)}
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
