"""A 60-minute file through the queued API, for `make bench`: the server's memory stays flat.

The audio is generated at bench time (a minute of espeak-ng speech looped by ffmpeg to 60 minutes, MP3 at
64 kbit/s); a server of its own (`keel serve`, one worker, jobs in the server, so the transcription pool
is inside its process tree) transcribes it with word timestamps and speaker turns. The RSS of the whole
process tree is sampled every 0.5 s. A 1-minute file goes first: the pool process starting and loading
the model is a fixed cost (reported as warm over idle); growth is the long file's peak over that (goal
< 300 MB). The transcript is checked as a user would read it: segments in order inside the audio, word
times monotonic and inside their segment.

Run alone: `.venv/bin/python -m benchmarks.scribe_long` (writes var/bench/scribe-long.json).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

MINUTES = int(os.environ.get("BENCH_SCRIBE_MINUTES", "60"))  # a shorter run while trying things
GOAL_MB = 300


def make_long_file(directory: Path, minutes: int = MINUTES) -> Path:
    from benchmarks.scribe import make_clip

    clip, why = make_clip(directory)
    if clip is None:
        raise RuntimeError(why)
    out = directory / f"speech-{minutes}min.mp3"
    subprocess.run(  # noqa: S603
        [  # noqa: S607
            "ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(clip), "-t", str(minutes * 60),
            "-ac", "1", "-ar", "16000", "-c:a", "libmp3lame", "-b:a", "64k", str(out),
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )  # fmt: skip
    return out


def timing_problems(segments: list[dict[str, Any]], duration: float) -> list[str]:
    """What a reader would notice: segments out of order or outside the audio, words outside their
    segment or going back in time."""
    problems: list[str] = []
    last_start, last_word = -1.0, -1.0
    for s in segments:
        if s["start"] < last_start or s["end"] < s["start"] or s["end"] > duration + 0.5:
            problems.append(f"segment {s['index']} at {s['start']}-{s['end']}")
        last_start = s["start"]
        for word in s.get("words") or []:
            start, end = word[0], word[1]
            if start < last_word or not (s["start"] - 0.01 <= start <= end <= s["end"] + 0.01):
                problems.append(f"word {word[2]!r} at {start}-{end} in segment {s['index']}")
            last_word = start
    return problems


def transcribe(base: str, headers: dict[str, str], path: Path, timeout: float) -> dict[str, Any]:
    """Upload and transcribe `path` through the queued API; the finished transcription (with segments)."""
    with path.open("rb") as fh:
        response = httpx.post(
            f"{base}/api/v1/scribe/transcriptions/upload",
            headers=headers,
            files={"file": (path.name, fh, "audio/mpeg")},
            data={"language": "en", "word_timestamps": "true", "diarize": "true"},
            timeout=600,
        )
    if response.status_code != 202:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
    tid = response.json()["data"]["id"]
    deadline = time.monotonic() + timeout
    while True:
        time.sleep(2)
        data = httpx.get(f"{base}/api/v1/scribe/transcriptions/{tid}", headers=headers, timeout=60).json()
        if data["data"]["status"] in ("completed", "failed", "cancelled") or time.monotonic() > deadline:
            return dict(data["data"])


def measure(
    base: str, token: str, server_pid: int, path: Path, warm_up: Path, timeout: float = 5400
) -> dict[str, Any]:
    """Idle, then a 1-minute file (the pool process starts and loads the model: a fixed cost), then the
    long file: its growth over the warm server is what the file's length costs."""
    from benchmarks.scribe import RssSampler

    headers = {"Authorization": f"Bearer {token}"}
    sampler = RssSampler(server_pid, every=0.5)
    sampler.start()
    time.sleep(3.0)
    idle = sum(sampler.samples) / max(1, len(sampler.samples))
    transcribe(base, headers, warm_up, 600)
    warm = max(sampler.samples)
    started = time.perf_counter()
    try:
        data = transcribe(base, headers, path, timeout)
    finally:
        elapsed = time.perf_counter() - started
        samples = sampler.stop()
    peak = max(samples)
    segments = data.get("segments") or []
    problems = timing_problems(segments, data["duration"])
    growth = (peak - warm) / 1024**2
    return {
        "audio_min": round(data["duration"] / 60, 1),
        "status": data["status"],
        "error": data.get("error"),
        "took_s": round(elapsed, 1),
        "realtime_factor": round(elapsed / max(data["duration"], 1), 3),
        "segments": len(segments),
        "words": sum(len(s.get("words") or []) for s in segments),
        "speakers": len({s.get("speaker") for s in segments if s.get("speaker")}),
        "idle_rss_mb": round(idle / 1024**2, 1),
        "warm_rss_mb": round(warm / 1024**2, 1),
        "peak_rss_mb": round(peak / 1024**2, 1),
        "growth_mb": round(growth, 1),
        "goal_mb": GOAL_MB,
        "goal_met": data["status"] == "completed" and growth < GOAL_MB,
        "timing_problems": problems[:10],
        "timing_problem_count": len(problems),
    }


def run() -> dict[str, Any]:
    """Its own server (jobs in the server: the pool is in the measured tree), its own SQLite database."""
    from benchmarks import run as bench

    missing = [tool for tool in ("espeak-ng", "ffmpeg") if shutil.which(tool) is None]
    if missing:
        return {"skipped": f"{' and '.join(missing)} not installed"}
    bench.OUT.mkdir(parents=True, exist_ok=True)
    env = bench.server_env()
    if env["DATABASE_URL"].startswith("sqlite"):
        for leftover in bench.OUT.glob("bench-long.db*"):
            leftover.unlink()
        env["DATABASE_URL"] = f"sqlite+aiosqlite:///{bench.OUT / 'bench-long.db'}"
    env.update(
        JOBS_IN_SERVER="true", JOBS_CONCURRENCY="1", STORAGE_URL=f"file://{bench.OUT / 'storage-long'}"
    )
    subprocess.run(  # noqa: S603
        [str(bench.BIN / "keel"), "migrate"], env=env, cwd=bench.ROOT, check=True, stdout=subprocess.DEVNULL
    )
    port = bench.free_port()
    serve = [str(bench.BIN / "keel"), "serve", "--workers", "1", "--port", str(port)]
    with tempfile.TemporaryDirectory(prefix="keel-long-") as tmp:
        path = make_long_file(Path(tmp))
        warm_up = make_long_file(Path(tmp), minutes=1)
        server = bench.start(serve, env, port, bench.OUT / "server-long.log")
        try:
            base = f"http://127.0.0.1:{port}"
            return measure(base, bench.make_user(base), server.pid, path, warm_up)
        finally:
            bench.stop(server)
            shutil.rmtree(bench.OUT / "storage-long", ignore_errors=True)


def print_row(result: dict[str, Any]) -> None:
    if "skipped" in result:
        print(f"\nscribe {MINUTES}-minute file: not measured: {result['skipped']}")
        return
    print(
        f"\nscribe {result['audio_min']}-minute file ({result['status']}): {result['took_s']} s "
        f"(RTF {result['realtime_factor']}), {result['segments']} segments, {result['words']} words, "
        f"{result['speakers']} speaker(s); server RSS idle {result['idle_rss_mb']} MB, after a 1-minute "
        f"file {result['warm_rss_mb']} MB (pool process, model), peak {result['peak_rss_mb']} MB: "
        f"growth {result['growth_mb']} MB (goal < {GOAL_MB} MB); "
        f"timing problems: {result['timing_problem_count']}"
    )


if __name__ == "__main__":
    outcome = run()
    print_row(outcome)
    out = Path("var/bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / "scribe-long.json").write_text(json.dumps(outcome, indent=2))
