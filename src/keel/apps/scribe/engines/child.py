"""What runs inside a transcription pool process (spawned by `keel.apps.scribe.tasks`).

Kept apart from tasks.py so that a pool process imports only the engines, PyAV and the model, not the
database, the job queue and the web stack that the parent has loaded: measured 20 MB of imports here
against 113 MB for tasks.py, in every pool process.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import msgspec


def arm_pool_process(parent_pid: int | None = None) -> None:
    """Pool initializer: this process gets SIGKILL when the worker that started it dies, even by
    `kill -9` (Linux `prctl(PR_SET_PDEATHSIG)`, as `keel.core.jobs.die_with_parent` does, without
    importing the job queue into the pool process). The signal follows the parent THREAD that started
    the process: start pool processes from a long-lived thread."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) != 0:
        return
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)  # the parent died before the signal was armed


_CHILD_ENGINES: dict[bytes, Any] = {}


def transcribe_in_child(
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
