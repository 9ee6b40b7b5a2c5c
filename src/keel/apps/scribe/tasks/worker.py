"""The worker-process side of a transcription: runs an engine in a spawned pool process and talks to the
job runner through a small control directory (a `progress` file it writes, a `cancel` file the runner
creates), so nothing but a path crosses the process boundary."""

from __future__ import annotations

import atexit
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import msgspec

_CHILD_ENGINES: dict[bytes, Any] = {}


def _child_transcribe(
    config: bytes,
    engine_name: str,
    path: str,
    language: str,
    word_timestamps: bool,
    control: str,
    diarize: bool = False,
    prompt: str | None = None,
    temperature: float | None = None,
) -> tuple[str, Any]:
    """Runs in a pool process: ("ok", msgpack TranscriptResult) or ("error", kind, user message)."""
    from keel.apps.scribe import engines, media

    control_dir = Path(control)
    cancel_file = control_dir / "cancel"
    progress_file = control_dir / "progress"
    last = [0.0]

    def on_progress(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] < 0.2 and fraction < 1.0:
            return
        last[0] = now
        tmp = control_dir / "progress.tmp"
        tmp.write_text(f"{max(0.0, min(1.0, fraction)):.4f}")
        os.replace(tmp, progress_file)

    def should_cancel() -> bool:
        return cancel_file.exists()

    try:
        engine_map = _CHILD_ENGINES.get(config)
        if engine_map is None:
            engine_map = engines.build_engines(msgspec.msgpack.decode(config, type=engines.EngineConfig))
            _CHILD_ENGINES.clear()
            _CHILD_ENGINES[config] = engine_map
        engine = engine_map.get(engine_name)
        if engine is None:
            return ("error", "engine", f"The {engine_name} engine is not configured on this server any more.")
        result = engine.transcribe(
            path,
            language=None if language == "auto" else language,
            word_timestamps=word_timestamps,
            on_progress=on_progress,
            should_cancel=should_cancel,
            prompt=prompt,
            temperature=temperature,
        )
        if diarize and not should_cancel():
            from keel.apps.scribe.diarize import speaker_turns

            for segment, speaker in zip(result.segments, speaker_turns(path, result.segments), strict=True):
                segment.speaker = speaker
        return ("ok", msgspec.msgpack.encode(result))
    except engines.TranscriptionCancelled as exc:
        return ("error", "cancelled", str(exc))
    except (engines.EngineError, media.MediaError) as exc:
        return ("error", "engine", str(exc))
    except Exception as exc:
        return ("error", "crash", f"{type(exc).__name__}: {exc}")


_POOL: ProcessPoolExecutor | None = None
_POOL_SIZE = 0


def _pool(size: int) -> ProcessPoolExecutor:
    global _POOL, _POOL_SIZE
    # a pool whose children died (their starting thread ended: PDEATHSIG follows it) is broken: renew it
    if _POOL is None or _POOL_SIZE != size or getattr(_POOL, "_broken", False):
        if _POOL is not None:
            _POOL.shutdown(wait=False, cancel_futures=False)
        from keel.core.jobs import die_with_parent  # children die with this process, even on kill -9

        _POOL = ProcessPoolExecutor(
            max_workers=max(1, size),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=die_with_parent,
            initargs=(os.getpid(),),
        )
        _POOL_SIZE = size
    return _POOL


def _reset_pool() -> None:
    global _POOL
    if _POOL is not None:
        _POOL.shutdown(wait=False, cancel_futures=True)
    _POOL = None


@atexit.register
def _shutdown_pool() -> None:
    if _POOL is not None:
        _POOL.shutdown(wait=False, cancel_futures=True)
