"""Transcription engines: embedded PocketSphinx on real speech, faster-whisper readiness and result
mapping (with a stub module), and the remote OpenAI-compatible engine against a local HTTP server."""

from __future__ import annotations

import importlib.machinery
import json
import sys
import threading
import types
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
    PocketSphinxEngine,
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

# --------------------------------------------------------------------------- pocketsphinx


@pytest.fixture(scope="module")
def sphinx() -> PocketSphinxEngine:
    engine = PocketSphinxEngine()
    ok, reason = engine.is_ready()
    assert ok, reason
    return engine


@pytest.mark.slow
@pytest.mark.parametrize("ext", ["wav", "mp3"])
def test_pocketsphinx_transcribes_speech(sphinx: PocketSphinxEngine, speech_dir: Path, ext: str) -> None:
    path = speech_dir / f"speech.{ext}"
    duration = media.probe(path).duration
    progress: list[float] = []
    result = sphinx.transcribe(path, "en", word_timestamps=True, on_progress=progress.append)

    assert result.language == "en" and result.engine == "pocketsphinx"
    words = [w for s in result.segments for w in s.words]
    recognised = {w.word.lower() for w in words}
    assert len(recognised & EXPECTED_WORDS) >= 2, result.text
    assert result.text == " ".join(s.text for s in result.segments)
    starts = [w.start for w in words]
    assert starts == sorted(starts)
    for w in words:
        assert 0 <= w.start < w.end <= duration + 0.05
        assert w.probability is None or 0 <= w.probability <= 1
    for s in result.segments:
        assert s.start < s.end and s.text
    assert progress and progress[-1] == 1.0 and progress == sorted(progress)


@pytest.mark.slow
def test_pocketsphinx_cancellation_and_reuse(sphinx: PocketSphinxEngine, speech_dir: Path) -> None:
    calls = {"n": 0}

    def cancel_after_first_chunk() -> bool:
        calls["n"] += 1
        return calls["n"] > 1

    with pytest.raises(TranscriptionCancelled):
        sphinx.transcribe(speech_dir / "speech.flac", should_cancel=cancel_after_first_chunk)
    assert calls["n"] == 2
    # The shared decoder is left in a usable state.
    again = sphinx.transcribe(speech_dir / "speech.flac", word_timestamps=False)
    assert again.segments and all(not s.words for s in again.segments)


def test_pocketsphinx_audio_cut_off_mid_speech_on_a_frame_boundary(
    sphinx: PocketSphinxEngine, speech_dir: Path, tmp_path: Path
) -> None:
    """A recording that stops mid-word, exactly on a VAD frame (30 ms), still gives its last segment."""
    import shutil
    import subprocess

    cut = tmp_path / "cut.wav"
    seconds = 60 * 0.03  # 1.8 s: mid-sentence (speech starts at 0.5 s), a whole number of frames
    ffmpeg = shutil.which("ffmpeg") or "ffmpeg"
    subprocess.run(  # noqa: S603 - fixed arguments
        [ffmpeg, "-v", "error", "-y", "-i", str(speech_dir / "speech.wav"), "-t", f"{seconds}",
         "-ar", "16000", "-ac", "1", str(cut)],
        check=True, timeout=60,
    )  # fmt: skip
    result = sphinx.transcribe(cut, language="en")
    assert result.segments and result.segments[-1].end <= seconds + 0.05


def test_pocketsphinx_refuses_other_languages(sphinx: PocketSphinxEngine, speech_dir: Path) -> None:
    with pytest.raises(engines.EngineError):
        sphinx.transcribe(speech_dir / "speech.wav", "de")


def test_pocketsphinx_propagates_media_errors(sphinx: PocketSphinxEngine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"nope" * 50)
    with pytest.raises(media.MediaError):
        sphinx.transcribe(bad)


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
    assert set(build_engines(EngineConfig())) == {"pocketsphinx"}
    built = build_engines(
        EngineConfig(
            whisper_model_dir=str(tmp_path), remote_url="http://127.0.0.1:9", remote_max_bytes=123_456
        )
    )
    assert set(built) == {"pocketsphinx", "whisper", "remote"}
    remote = built["remote"]
    assert isinstance(remote, RemoteWhisperEngine) and remote.max_bytes == 123_456
    assert remote.is_ready() == (True, "")
    assert not built["whisper"].is_ready()[0]


# --------------------------------------------------------------------------- faster-whisper


def _model_dir(tmp_path: Path, files: tuple[str, ...]) -> Path:
    d = tmp_path / "model"
    d.mkdir()
    for f in files:
        (d / f).write_text("{}")
    return d


class _StubWhisperModel:
    instances: list[_StubWhisperModel] = []

    def __init__(self, path: str, **kwargs: Any) -> None:
        self.path, self.kwargs = path, kwargs
        self.calls: list[dict[str, Any]] = []
        _StubWhisperModel.instances.append(self)

    def transcribe(self, audio: Any, **kwargs: Any) -> tuple[Iterator[Any], Any]:
        self.calls.append(kwargs)
        ns = types.SimpleNamespace
        segs = [
            ns(start=0.2, end=1.0, text=" Hello world.", avg_logprob=-0.1,
               words=[ns(start=0.2, end=0.5, word=" Hello", probability=0.9),
                      ns(start=0.5, end=1.0, word=" world.", probability=0.8)]),
            ns(start=1.5, end=2.5, text=" Second.", avg_logprob=-0.5, words=[]),
        ]  # fmt: skip
        return iter(segs), ns(language="en", duration=len(audio) / 16000)


@pytest.fixture
def stub_faster_whisper(monkeypatch: pytest.MonkeyPatch) -> type[_StubWhisperModel]:
    module = types.ModuleType("faster_whisper")
    module.__spec__ = importlib.machinery.ModuleSpec("faster_whisper", None)
    module.WhisperModel = _StubWhisperModel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "faster_whisper", module)
    monkeypatch.setattr(engines, "_WHISPER_MODELS", {})
    _StubWhisperModel.instances.clear()
    return _StubWhisperModel


def test_whisper_not_ready_without_dir() -> None:
    ok, reason = FasterWhisperEngine(None).is_ready()
    assert not ok and "WHISPER_MODEL_DIR" in reason
    with pytest.raises(EngineNotReady):
        FasterWhisperEngine(None).transcribe("x.wav")


def test_whisper_requires_tokenizer(tmp_path: Path, stub_faster_whisper: Any) -> None:
    d = _model_dir(tmp_path, ("config.json", "model.bin", "vocabulary.json"))
    ok, reason = FasterWhisperEngine(d).is_ready()
    assert not ok
    assert "tokenizer.json" in reason and "config.json" in reason and "vocabulary" in reason


def test_whisper_not_installed_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # makes find_spec/import fail
    d = _model_dir(tmp_path, ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt"))
    try:
        ok, reason = FasterWhisperEngine(d).is_ready()
    except ValueError:  # pragma: no cover - find_spec on a None module entry
        pytest.skip("find_spec cannot be simulated here")
    assert not ok and "faster-whisper" in reason


def test_whisper_maps_segments_offline(tmp_path: Path, speech_dir: Path, stub_faster_whisper: Any) -> None:
    d = _model_dir(tmp_path, ("config.json", "model.bin", "tokenizer.json", "vocabulary.json"))
    engine = FasterWhisperEngine(d, window_seconds=3.0)
    assert engine.is_ready() == (True, "")
    progress: list[float] = []
    result = engine.transcribe(speech_dir / "speech.wav", "auto", on_progress=progress.append)
    (model,) = stub_faster_whisper.instances
    assert model.kwargs["local_files_only"] is True
    assert all(c["vad_filter"] is True and c["language"] is None for c in model.calls)
    assert len(model.calls) == 2  # 3 s windows over ~4.6 s of audio
    assert result.language == "en" and result.engine == "whisper"
    assert [s.start for s in result.segments] == [0.2, 1.5, 3.2, 4.5]
    assert result.segments[0].words[0] == Word(0.2, 0.5, "Hello", 0.9)
    assert result.segments[2].words[1].start == 3.5
    assert result.text.startswith("Hello world. Second.")
    assert 0 < result.segments[0].confidence <= 1
    assert progress[-1] == 1.0
    with pytest.raises(TranscriptionCancelled):
        engine.transcribe(speech_dir / "speech.wav", should_cancel=lambda: True)


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
