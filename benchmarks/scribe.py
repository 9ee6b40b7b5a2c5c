"""scribe measurements for `make bench`.

- Realtime factor (processing time / audio duration) of every configured engine on a 60 s speech clip
  made with espeak-ng + ffmpeg: whisper always (the bundled tiny.en, or WHISPER_MODEL_DIR), remote when
  SCRIBE_REMOTE_URL is set. Engines run in this process, as a job worker would run them.
- Word error rate per voice, speed and noise condition, and the realtime factor on one core
  (`benchmarks/scribe_wer.py`).
- A 60-minute file through the queued API: the server tree's RSS growth, transcript timings
  (`benchmarks/scribe_long.py`).
- Speaker turns on six-turn dialogs of two espeak-ng voices (`benchmarks/scribe_diarize.py`).
- Upload throughput and the server's peak memory while a 1 GB file is streamed to
  `POST /api/v1/scribe/files/upload` (multipart): a valid WAV header announcing 1 GB of PCM, then data
  generated on the fly (the client never holds the file). The RSS of the whole server process tree
  (`keel serve` and its workers, from /proc) is sampled every 50 ms; idle is the average before upload.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

CLIP_SECONDS = 60
UPLOAD_BYTES = 1024**3
CHUNK = 1024 * 1024
_TEXT = (
    "The quick brown fox jumps over the lazy dog. A lifter logs five sets of squats and rests two "
    "minutes between them. Speech recognition turns this recording into text with timestamps for every "
    "word. The weather today is cloudy with a chance of rain in the afternoon. Please remember to save "
    "your work before you close the application. Numbers like one hundred and twenty five are spoken "
    "out loud. "
)


def make_clip(directory: Path) -> tuple[Path | None, str]:
    """(60 s 16 kHz mono WAV of synthetic speech, "") or (None, why it could not be made)."""
    missing = [tool for tool in ("espeak-ng", "ffmpeg") if shutil.which(tool) is None]
    if missing:
        return None, f"{' and '.join(missing)} not installed"
    speech = directory / "speech.wav"
    clip = directory / "clip-60s.wav"
    subprocess.run(["espeak-ng", "-w", str(speech), _TEXT * 3], check=True, capture_output=True)  # noqa: S603, S607
    subprocess.run(  # noqa: S603
        [  # noqa: S607
            "ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(speech),
            # the last half second is silence, as recordings end
            "-af", f"atrim=0:{CLIP_SECONDS - 0.5},apad=whole_dur={CLIP_SECONDS}",
            "-t", str(CLIP_SECONDS), "-ar", "16000", "-ac", "1", str(clip),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return clip, ""


def realtime_factors(directory: Path) -> list[dict[str, Any]]:
    """One row per configured engine: realtime factor, or why it was not measured."""
    from keel.apps.scribe.engines import build_engines
    from keel.apps.scribe.services import engine_config
    from keel.settings import Settings

    engines = build_engines(engine_config(Settings()))
    clip, why = make_clip(directory)
    rows: list[dict[str, Any]] = []
    for name, engine in engines.items():
        ready, reason = engine.is_ready()
        if clip is None or not ready:
            rows.append({"engine": name, "skipped": why or reason})
            continue
        started = time.perf_counter()
        try:
            result = engine.transcribe(clip, language="en", word_timestamps=True)
        except Exception as exc:  # an engine failure is a finding, not a crash of the whole bench
            rows.append({"engine": name, "skipped": f"failed: {type(exc).__name__}: {exc}"[:300]})
            continue
        elapsed = time.perf_counter() - started
        words = sum(len(segment.words or ()) for segment in result.segments)
        rows.append(
            {
                "engine": name,
                "audio_s": CLIP_SECONDS,
                "processing_s": round(elapsed, 2),
                "realtime_factor": round(elapsed / CLIP_SECONDS, 3),
                "segments": len(result.segments),
                "words": words,
            }
        )
    return rows


def _tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and all its descendants (children found through /proc/<pid>/stat)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            parents[int(entry)] = int(fields[1])
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    total = 0
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


class RssSampler(threading.Thread):
    def __init__(self, root: int, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.root, self.every = root, every
        self.samples: list[int] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append(_tree_rss_bytes(self.root))
            self._halt.wait(self.every)

    def stop(self) -> list[int]:
        self._halt.set()
        self.join()
        return self.samples


def _wav_header(data_bytes: int, rate: int = 48000, channels: int = 2) -> bytes:
    block = channels * 2
    return (
        b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block, block, 16)
        + b"data" + struct.pack("<I", data_bytes)
    )  # fmt: skip


def _multipart(total: int, boundary: str) -> tuple[int, Iterator[bytes]]:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench-1gb.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    header = _wav_header(total - 44)
    noise = os.urandom(CHUNK)  # low-cost stand-in for PCM: the server streams bytes, it does not decode

    def body() -> Iterator[bytes]:
        yield head + header
        left = total - len(header)
        while left > 0:
            piece = noise if left >= CHUNK else noise[:left]
            left -= len(piece)
            yield piece
        yield tail

    return len(head) + total + len(tail), body()


def upload(base: str, token: str, server_pid: int, size: int = UPLOAD_BYTES) -> dict[str, Any]:
    """Stream `size` bytes as one multipart upload; MB/s and peak server RSS over idle."""
    sampler = RssSampler(server_pid)
    sampler.start()
    time.sleep(1.0)
    idle_samples = list(sampler.samples)
    idle = sum(idle_samples) / max(1, len(idle_samples))
    boundary = f"keelbench{os.getpid()}"
    length, body = _multipart(size, boundary)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(length),
    }
    started = time.perf_counter()
    try:
        response = httpx.post(
            f"{base}/api/v1/scribe/files/upload", content=body, headers=headers, timeout=600
        )
    finally:
        elapsed = time.perf_counter() - started
        samples = sampler.stop()
    peak = max(samples) if samples else 0
    row: dict[str, Any] = {
        "bytes": size,
        "status": response.status_code,
        "seconds": round(elapsed, 2),
        "mb_per_s": round(size / 1024**2 / elapsed, 1),
        "idle_rss_mb": round(idle / 1024**2, 1),
        "peak_rss_mb": round(peak / 1024**2, 1),
        "peak_over_idle_mb": round((peak - idle) / 1024**2, 1),
        "samples": len(samples),
    }
    if response.status_code == 201:
        file_id = response.json()["data"]["id"]
        httpx.delete(
            f"{base}/api/v1/scribe/files/{file_id}", headers=headers | {"Content-Length": "0"}, timeout=60
        )
    else:
        row["error"] = response.text[:300]
    return row


def run(base: str, token: str, server_pid: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="keel-bench-") as tmp:
        engines = realtime_factors(Path(tmp))
    from benchmarks import scribe_wer

    try:
        wer = scribe_wer.run()
    except Exception as exc:  # a failed suite is reported, the rest of the bench goes on
        wer = {"skipped": f"{type(exc).__name__}: {exc}"[:300]}
    from benchmarks import scribe_diarize, scribe_long

    try:
        turns = scribe_diarize.run()
    except Exception as exc:  # a failed suite is reported, the rest of the bench goes on
        turns = {"skipped": f"{type(exc).__name__}: {exc}"[:300]}
    try:
        long_file = scribe_long.run()
    except Exception as exc:
        long_file = {"skipped": f"{type(exc).__name__}: {exc}"[:300]}
    try:
        uploaded = upload(base, token, server_pid)
    except Exception as exc:  # e.g. scribe not in KEEL_APPS, or the server died: report, keep the RTF rows
        uploaded = {"skipped": f"{type(exc).__name__}: {exc}"[:300]}
    if uploaded.get("status") not in (None, 201):
        uploaded = {"skipped": f"HTTP {uploaded['status']}: {uploaded.get('error', '')}"[:300]}
    return {"engines": engines, "wer": wer, "diarize": turns, "long_file": long_file, "upload": uploaded}


def print_media_tables(result: dict[str, Any]) -> None:
    """The speaker-turn table and the 60-minute file's row, when they were measured."""
    from benchmarks import scribe_diarize, scribe_long

    if "diarize" in result:
        scribe_diarize.print_table(result["diarize"])
    if "long_file" in result:
        scribe_long.print_row(result["long_file"])
