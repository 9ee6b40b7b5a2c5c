"""Shared scribe fixtures (unit and API tests): real speech from espeak-ng, converted with ffmpeg."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SENTENCE = "hello world this is a test of the transcription service"

# name -> ffmpeg output arguments (input 0 is the speech wav; lavfi video is input 1 when used)
_AUDIO_TARGETS = {
    "mp3": ["-c:a", "libmp3lame"],
    "ogg": ["-c:a", "libopus"],
    "flac": ["-c:a", "flac"],
    "m4a": ["-c:a", "aac"],
    "webm": ["-c:a", "libopus"],
    "aac": ["-c:a", "aac", "-f", "adts"],
}
_VIDEO_TARGETS = {
    "mp4": ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"],
    "mkv": ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"],
    "mov": ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"],
}


def _require_tools() -> None:
    missing = [t for t in ("espeak-ng", "ffmpeg") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"needs {', '.join(missing)} (apt-get install -y espeak-ng ffmpeg)")


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=60)  # noqa: S603


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """speech.wav (espeak-ng, ~3.5 s, with 0.5 s silence around it) plus conversions."""
    _require_tools()
    d = tmp_path_factory.mktemp("scribe-media")
    raw = d / "raw.wav"
    _run("espeak-ng", "-v", "en-us", "-s", "130", "-w", str(raw), SENTENCE)
    # Pad with silence so VAD sees a clean start/end; keep the original 22.05 kHz rate.
    _run(
        "ffmpeg",
        "-v",
        "error",
        "-y",
        "-i",
        str(raw),
        "-af",
        "adelay=500,apad=pad_dur=0.5",
        str(d / "speech.wav"),
    )
    src = str(d / "speech.wav")
    for ext, args in _AUDIO_TARGETS.items():
        _run("ffmpeg", "-v", "error", "-y", "-i", src, *args, str(d / f"speech.{ext}"))
    # Video exactly as long as the audio (-shortest alone overshoots with encoder buffering).
    from keel.apps.scribe.media import probe

    dur = probe(d / "speech.wav").duration
    for ext, args in _VIDEO_TARGETS.items():
        _run(
            "ffmpeg", "-v", "error", "-y", "-i", src,
            "-f", "lavfi", "-i", f"color=c=black:s=160x120:r=10:d={dur:.3f}",
            "-map", "0:a", "-map", "1:v", "-shortest", *args, str(d / f"speech.{ext}"),
        )  # fmt: skip
    return d


@pytest.fixture(scope="session")
def speech_wav(speech_dir: Path) -> Path:
    return speech_dir / "speech.wav"


LONG_SENTENCE = (
    "the quick brown fox jumps over the lazy dog while the weather stays calm and quiet "
    "and everybody waits for the next train to arrive at the station in the morning"
)


@pytest.fixture(scope="session")
def long_speech(speech_dir: Path) -> Path:
    """About 40 s of speech (the long sentence four times): long enough to cancel part-way."""
    raw = speech_dir / "long-raw.wav"
    _run("espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw), " . ".join([LONG_SENTENCE] * 4))
    out = speech_dir / "long.wav"
    _run("ffmpeg", "-v", "error", "-y", "-i", str(raw), "-af", "adelay=300", str(out))
    return out


# (espeak-ng voice, pitch, words per minute, line): two clearly different voices taking turns
CONVERSATION = [
    ("en-us+m3", "25", "140", "good morning everyone and welcome to the weekly planning meeting"),
    ("en-us+f4", "80", "150", "thank you it is great to be here and I have three topics today"),
    ("en-us+m3", "25", "140", "please go ahead with the first topic when you are ready"),
    ("en-us+f4", "80", "150", "the first topic is the budget for the next quarter"),
]
CONVERSATION_PAUSE = 1.2  # seconds of silence between turns


@pytest.fixture(scope="session")
def conversation(speech_dir: Path) -> tuple[Path, list[tuple[float, float]]]:
    """A two-voice conversation (A, B, A, B, 1.2 s apart) and each turn's (start, end) in seconds."""
    from keel.apps.scribe.media import probe

    inputs: list[str] = []
    turns: list[tuple[float, float]] = []
    at = 0.0
    silence = speech_dir / "pause.wav"
    _run("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-t", str(CONVERSATION_PAUSE),
         "-i", "anullsrc=r=22050:cl=mono", str(silence))  # fmt: skip
    for i, (voice, pitch, speed, line) in enumerate(CONVERSATION):
        part = speech_dir / f"turn{i}.wav"
        _run("espeak-ng", "-v", voice, "-p", pitch, "-s", speed, "-w", str(part), line)
        length = probe(part).duration
        turns.append((at, at + length))
        at += length + CONVERSATION_PAUSE
        inputs += ["-i", str(part)] + (["-i", str(silence)] if i < len(CONVERSATION) - 1 else [])
    count = len(inputs) // 2
    out = speech_dir / "conversation.wav"
    graph = "".join(f"[{i}]" for i in range(count)) + f"concat=n={count}:v=0:a=1"
    _run("ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", graph, str(out))
    return out, turns


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scribe_settings(**overrides): settings of the scribe API test app")
