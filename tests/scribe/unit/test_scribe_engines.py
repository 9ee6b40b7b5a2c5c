"""Transcription engines: the bundled Whisper tiny.en on real espeak-ng speech (words, timings, languages,
long files, cancellation, no network), and the remote OpenAI-compatible engine against a local HTTP server."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from keel.apps.scribe import engines, media
from keel.apps.scribe.engines import (
    EngineConfig,
    EngineNotReady,
    FasterWhisperEngine,
    RemoteEngineError,
    RemoteWhisperEngine,
    Segment,
    TranscriptionCancelled,
    TranscriptResult,
    Word,
    build_engines,
    stitch,
)

# Words of the espeak-ng sentence in conftest.SENTENCE.
EXPECTED_WORDS = {"hello", "world", "this", "is", "a", "test", "transcription", "service"}

# --------------------------------------------------------------------------- whisper (bundled tiny.en)


@pytest.fixture(scope="module")
def whisper() -> FasterWhisperEngine:
    engine = FasterWhisperEngine()  # the bundled model, as on a fresh machine
    ok, reason = engine.is_ready()
    assert ok, reason
    return engine


def check_timings(result: TranscriptResult, duration: float) -> None:
    """Segments in order inside the audio; every word inside its segment; word starts never go back."""
    previous = 0.0
    for seg in result.segments:
        assert previous - 0.01 <= seg.start < seg.end <= duration + 0.05, seg
        previous = seg.start
        starts = [w.start for w in seg.words]
        assert starts == sorted(starts), seg.words
        for w in seg.words:
            assert seg.start - 0.01 <= w.start <= w.end <= seg.end + 0.01, (seg, w)
            assert w.probability is None or 0 <= w.probability <= 1
    all_starts = [w.start for s in result.segments for w in s.words]
    assert all_starts == sorted(all_starts)


def recognised(result: TranscriptResult) -> set[str]:
    return {"".join(c for c in w.lower() if c.isalnum()) for w in result.text.split()}


@pytest.mark.slow
@pytest.mark.parametrize("ext", ["wav", "mp3"])
def test_whisper_transcribes_speech_with_ordered_word_timings(
    whisper: FasterWhisperEngine, speech_dir: Path, ext: str
) -> None:
    path = speech_dir / f"speech.{ext}"
    duration = media.probe(path).duration
    progress: list[float] = []
    result = whisper.transcribe(path, "en", word_timestamps=True, on_progress=progress.append)

    assert result.engine == "whisper" and result.language == "en" and result.language_note is None
    # most content words of "hello world this is a test of the transcription service" come back
    assert len(recognised(result) & {"world", "this", "test", "transcription", "service"}) >= 4, result.text
    assert result.segments and all(s.words for s in result.segments)
    check_timings(result, duration)
    assert result.segments[0].start >= 0.1  # 0.5 s of silence first: VAD skips most of it (pads 0.4 s)
    assert progress and progress[-1] == 1.0 and progress == sorted(progress)


@pytest.mark.slow
def test_auto_on_the_english_only_model_says_it_did_not_detect(
    whisper: FasterWhisperEngine, speech_dir: Path
) -> None:
    assert whisper.languages == ("en",) and whisper.detects_language is False
    assert whisper.model_name == "tiny.en"
    result = whisper.transcribe(speech_dir / "speech.flac", "auto", word_timestamps=False)
    assert result.language is None
    assert result.language_note and "English only" in result.language_note
    assert "WHISPER_MODEL_DIR" in result.language_note
    assert all(not s.words for s in result.segments) and "transcription" in recognised(result)


def test_another_language_is_refused_naming_the_setting(
    whisper: FasterWhisperEngine, speech_dir: Path
) -> None:
    reason = whisper.refusal("de")
    assert reason and "'de'" in reason and "WHISPER_MODEL_DIR" in reason
    assert whisper.refusal("en") is None and whisper.refusal("auto") is None
    with pytest.raises(engines.EngineError, match="WHISPER_MODEL_DIR"):
        whisper.transcribe(speech_dir / "speech.wav", "de")


def _linked_model(tmp_path: Path, skip: str = "", vocabulary_lines: int | None = None) -> Path:
    """A model folder of links to the bundled files (nothing copied), minus `skip`."""
    source = engines.bundled_model_dir()
    assert source is not None
    d = tmp_path / "model-copy"
    d.mkdir()
    for f in source.iterdir():
        if f.name != skip and not (vocabulary_lines and f.name.startswith("vocabulary")):
            (d / f.name).symlink_to(f)
    if vocabulary_lines:
        (d / "vocabulary.txt").write_text("".join(f"t{i}\n" for i in range(vocabulary_lines)))
    return d


def test_a_model_folder_without_tokenizer_is_not_ready(tmp_path: Path) -> None:
    """faster-whisper would silently fetch a tokenizer from the hub: the folder is refused instead."""
    engine = FasterWhisperEngine(_linked_model(tmp_path, skip="tokenizer.json"))
    ok, reason = engine.is_ready()
    assert not ok and "tokenizer.json" in reason
    with pytest.raises(EngineNotReady):
        engine.transcribe("x.wav")


def test_a_multilingual_vocabulary_offers_every_language_and_detection(tmp_path: Path) -> None:
    engine = FasterWhisperEngine(_linked_model(tmp_path, vocabulary_lines=51865))
    assert engine.multilingual and engine.detects_language
    assert "de" in engine.languages and "auto" in engine.languages and engine.refusal("de") is None
    assert engine.model_name == "model-copy" and "multilingual" in engine.label


def test_not_ready_without_any_model(tmp_path: Path) -> None:
    ok, reason = FasterWhisperEngine(tmp_path / "missing").is_ready()
    assert not ok and "WHISPER_MODEL_DIR" in reason


@pytest.mark.slow
def test_long_audio_in_windows_that_meet_in_pauses(whisper: FasterWhisperEngine, long_speech: Path) -> None:
    """~40 s in 15 s windows: each window ends in a pause, so words are neither cut nor repeated; memory is
    one window; progress moves with every window."""
    from scribe.conftest import LONG_SENTENCE

    duration = media.probe(long_speech).duration
    windows = list(media.split_at_pauses(long_speech, 15.0, search_seconds=4.0))
    assert len(windows) >= 3
    position = 0.0
    for offset, pcm in windows:
        assert abs(offset - position) < 1e-6 and len(pcm) <= 15 * media.PCM_BYTES_PER_SECOND
        position += len(pcm) / media.PCM_BYTES_PER_SECOND
    assert abs(position - duration) < 0.05

    engine = FasterWhisperEngine(window_seconds=15.0)
    progress: list[float] = []
    result = engine.transcribe(long_speech, "en", on_progress=progress.append)
    check_timings(result, duration)
    expected = set(LONG_SENTENCE.split()) - {"the", "and", "at", "in", "to", "for", "while"}
    words = recognised(result)
    assert len(words & expected) >= 0.7 * len(expected), result.text
    # four repetitions of the sentence: "station" heard about four times, not cut to three or doubled
    assert 3 <= sum(w.strip(".,").lower() == "station" for w in result.text.split()) <= 5, result.text
    assert len({round(p, 2) for p in progress}) >= 4 and progress == sorted(progress)


@pytest.mark.slow
def test_cancellation_lands_between_segments(whisper: FasterWhisperEngine, long_speech: Path) -> None:
    """Cancel once the first segment is out: the very next check stops the work (nothing more decoded)."""
    import time

    progress: list[float] = []
    asked: list[float] = []

    def should_cancel() -> bool:
        if progress and not asked:
            asked.append(time.monotonic())
        return bool(asked)

    # 15 s windows: a check follows the first segment even when Whisper makes one segment of a window
    windowed = FasterWhisperEngine(window_seconds=15.0)
    with pytest.raises(TranscriptionCancelled):
        windowed.transcribe(long_speech, "en", on_progress=progress.append, should_cancel=should_cancel)
    assert asked and time.monotonic() - asked[0] < 2.0
    # stopped part-way, at the check right after the first segment (or its window's end, when that
    # segment was the window's only one): nothing further decoded
    assert 1 <= len(progress) <= 2 and max(progress) < 0.5, progress
    again = whisper.transcribe(long_speech, "en", word_timestamps=False)  # the shared model still works
    assert again.segments


_NO_NETWORK_SCRIPT = r"""
import json, socket, sys
attempts = []
_connect = socket.socket.connect
def guarded(self, address):
    host = address[0] if isinstance(address, tuple) else str(address)
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
        attempts.append(str(host))
        raise OSError("network refused by the test")
    return _connect(self, address)
socket.socket.connect = guarded
_getaddrinfo = socket.getaddrinfo
def lookup(host, *args, **kwargs):
    if host not in ("127.0.0.1", "::1", "localhost", None):
        attempts.append("dns:" + str(host))
        raise socket.gaierror("DNS refused by the test")
    return _getaddrinfo(host, *args, **kwargs)
socket.getaddrinfo = lookup

from keel.apps.scribe.engines import build_engines, EngineConfig
engine = build_engines(EngineConfig(whisper_threads=1))["whisper"]
result = engine.transcribe(sys.argv[1], "en")
during = list(attempts)
try:  # the guard itself works: a real fetch is refused and recorded
    import urllib.request
    urllib.request.urlopen("http://huggingface.co/", timeout=5)
except OSError:
    pass
print(json.dumps({"text": result.text, "during": during, "after": attempts[len(during):]}))
"""


@pytest.mark.slow
def test_whisper_never_touches_the_network(speech_dir: Path, tmp_path: Path) -> None:
    """A transcription in a fresh process whose sockets refuse anything but loopback, with no hub cache and
    no HF_HUB_OFFLINE in its environment: it succeeds and attempted no connection or DNS lookup."""
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
    env.update(HF_HOME=str(tmp_path / "hf-home"), HF_ENDPOINT="http://hub.invalid")
    out = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "-c", _NO_NETWORK_SCRIPT, str(speech_dir / "speech.wav")],
        env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["during"] == [], report
    assert report["after"], "the socket guard did not see the control request"
    assert "transcription" in report["text"].lower()


# --------------------------------------------------------------------------- stitch / registry


def test_stitch_offsets_and_overlap_dedupe() -> None:
    a = TranscriptResult("en", 10.0, [Segment(1.0, 4.0, "one", words=[Word(1.0, 1.5, "one", 0.9)])], "one")
    b = TranscriptResult(
        "en",
        10.0,
        [Segment(0.5, 1.5, "dup"), Segment(2.0, 3.0, "two", words=[Word(2.0, 2.5, "two", 0.8)])],
        "dup two",
    )
    out = stitch([(0.0, a), (3.0, b)], engine="x")
    assert [s.text for s in out.segments] == ["one", "two"]
    assert out.segments[1].start == 5.0 and out.segments[1].words[0] == Word(5.0, 5.5, "two", 0.8)
    assert out.duration == 13.0 and out.language == "en" and out.text == "one two"


def test_build_engines_from_plain_config(tmp_path: Path) -> None:
    default = build_engines(EngineConfig())
    assert set(default) == {"whisper"} and default["whisper"].is_ready() == (True, "")
    built = build_engines(
        EngineConfig(
            whisper_model_dir=str(tmp_path), remote_url="http://127.0.0.1:9", remote_max_bytes=123_456
        )
    )
    assert set(built) == {"whisper", "remote"}
    remote = built["remote"]
    assert isinstance(remote, RemoteWhisperEngine) and remote.max_bytes == 123_456
    assert remote.is_ready() == (True, "")
    assert not built["whisper"].is_ready()[0]


# --------------------------------------------------------------------------- remote engine


class _FakeOpenAI:
    """Minimal OpenAI-compatible /v1/audio/transcriptions server on 127.0.0.1."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []  # forced statuses for upcoming requests
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = self.rfile.read(length)
                msg = BytesParser(policy=HTTP).parsebytes(
                    f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body
                )
                fields: dict[str, list[str]] = {}
                audio = b""
                for part in msg.iter_parts():
                    name = part.get_param("name", header="content-disposition")
                    if name == "file":
                        audio = part.get_payload(decode=True)
                    else:
                        fields.setdefault(name, []).append(part.get_content().strip())
                with outer.lock:
                    status = outer.statuses.pop(0) if outer.statuses else 200
                    outer.requests.append(
                        {"path": self.path, "auth": self.headers.get("Authorization"), "fields": fields,
                         "size": len(audio), "audio": audio, "status": status}
                    )  # fmt: skip
                    n = sum(1 for r in outer.requests if r["status"] == 200)
                if status == 200:
                    payload = {
                        "task": "transcribe",
                        "language": "english",
                        "duration": 2.0,
                        "text": f"chunk {n}",
                        "segments": [
                            {"id": 0, "start": 0.1, "end": 0.9, "text": f" chunk {n}", "avg_logprob": -0.2}
                        ],
                        "words": [
                            {"word": "chunk", "start": 0.1, "end": 0.4},
                            {"word": str(n), "start": 0.5, "end": 0.9},
                        ],
                    }  # fmt: skip
                else:
                    payload = {"error": {"message": f"forced {status}", "type": "test"}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_openai() -> Iterator[_FakeOpenAI]:
    srv = _FakeOpenAI()
    yield srv
    srv.close()


def _remote(url: str, **kw: Any) -> tuple[RemoteWhisperEngine, list[float]]:
    sleeps: list[float] = []
    kw.setdefault("max_bytes", 70_000)
    return RemoteWhisperEngine(url, api_key="sk-test", sleep=sleeps.append, **kw), sleeps


@pytest.mark.parametrize("chunk_format", ["flac", "wav"])
def test_remote_splits_under_limit_and_stitches(
    fake_openai: _FakeOpenAI, speech_dir: Path, chunk_format: str
) -> None:
    engine, _ = _remote(fake_openai.url, chunk_format=chunk_format)
    assert engine.chunk_seconds() == 2.0
    progress: list[float] = []
    result = engine.transcribe(speech_dir / "speech.mp3", "auto", on_progress=progress.append)

    reqs = fake_openai.requests
    assert len(reqs) == 3  # ~4.6 s in 2 s windows
    assert all(r["size"] <= 70_000 for r in reqs) and all(r["size"] > 0 for r in reqs)
    first = reqs[0]
    assert first["path"] == "/v1/audio/transcriptions" and first["auth"] == "Bearer sk-test"
    assert first["fields"]["response_format"] == ["verbose_json"]
    assert sorted(first["fields"]["timestamp_granularities[]"]) == ["segment", "word"]
    assert first["fields"]["model"] == ["whisper-1"] and "language" not in first["fields"]
    magic = b"fLaC" if chunk_format == "flac" else b"RIFF"
    assert all(r["audio"].startswith(magic) for r in reqs)

    assert [s.start for s in result.segments] == [0.1, 2.1, 4.1]
    assert [s.text for s in result.segments] == ["chunk 1", "chunk 2", "chunk 3"]
    assert result.segments[2].words[1] == Word(4.5, 4.9, "3", None)
    assert result.language == "en" and result.engine == "remote"
    assert result.duration == media.probe(speech_dir / "speech.mp3").duration
    assert progress[-1] == 1.0


def test_remote_sends_language_and_retries(fake_openai: _FakeOpenAI, speech_dir: Path) -> None:
    engine, sleeps = _remote(fake_openai.url, max_bytes=24 * 1024 * 1024, backoff_base=0.5)
    fake_openai.statuses = [503, 429]
    result = engine.transcribe(speech_dir / "speech.wav", "en", word_timestamps=False)
    assert [r["status"] for r in fake_openai.requests] == [503, 429, 200]
    assert fake_openai.requests[-1]["fields"]["language"] == ["en"]
    assert fake_openai.requests[-1]["fields"]["timestamp_granularities[]"] == ["segment"]
    assert len(sleeps) == 2 and sleeps[1] == 0.0  # Retry-After: 0 honoured
    assert result.text == "chunk 1"


def test_remote_gives_up_after_retries(fake_openai: _FakeOpenAI, speech_dir: Path) -> None:
    engine, sleeps = _remote(fake_openai.url, max_bytes=24 * 1024 * 1024, max_retries=2)
    fake_openai.statuses = [500, 502, 503]
    with pytest.raises(RemoteEngineError) as exc:
        engine.transcribe(speech_dir / "speech.wav")
    assert exc.value.status_code == 503 and exc.value.retryable
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("status", "needle"), [(401, "API key"), (403, "API key"), (400, "forced 400"), (413, "upload size")]
)
def test_remote_client_errors_are_clear(
    fake_openai: _FakeOpenAI, speech_dir: Path, status: int, needle: str
) -> None:
    engine, sleeps = _remote(fake_openai.url, max_bytes=24 * 1024 * 1024)
    fake_openai.statuses = [status]
    with pytest.raises(RemoteEngineError) as exc:
        engine.transcribe(speech_dir / "speech.wav")
    assert exc.value.status_code == status and needle in str(exc.value)
    assert not sleeps and len(fake_openai.requests) == 1


def test_remote_unreachable_and_not_ready(speech_dir: Path) -> None:
    engine, sleeps = _remote("http://127.0.0.1:9", max_bytes=24 * 1024 * 1024, max_retries=1)
    with pytest.raises(RemoteEngineError) as exc:
        engine.transcribe(speech_dir / "speech.wav")
    assert exc.value.retryable and "reach" in str(exc.value)
    assert len(sleeps) == 1
    assert not RemoteWhisperEngine(None).is_ready()[0]
    assert not RemoteWhisperEngine("ftp://x").is_ready()[0]


def test_remote_cancellation(fake_openai: _FakeOpenAI, speech_dir: Path) -> None:
    engine, _ = _remote(fake_openai.url)
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return len(fake_openai.requests) >= 1

    with pytest.raises(TranscriptionCancelled):
        engine.transcribe(speech_dir / "speech.wav", should_cancel=cancel)
    assert len(fake_openai.requests) == 1
