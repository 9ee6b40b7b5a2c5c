"""A transcription worker killed with SIGKILL leaves no process behind: its pool of transcription
processes (spawned, each with PR_SET_PDEATHSIG) and whatever they started die with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# A job worker as `keel worker` runs it: scribe's process pool transcribing a file (the real child code)
WORKER = """
import sys, tempfile
import msgspec
from keel.apps.scribe import tasks
from keel.apps.scribe.engines import EngineConfig

control = tempfile.mkdtemp(prefix="keel-test-")
print(control, flush=True)
config = msgspec.msgpack.encode(EngineConfig())
future = tasks._pool(1).submit(tasks._child_transcribe, config, "whisper", sys.argv[1], "en", True, control)
future.result()
"""


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(
                    Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, IndexError):
                continue
    found, frontier = set(), [root]
    while frontier:
        pid = frontier.pop()
        children = {child for child, parent in parents.items() if parent == pid} - found
        found |= children
        frontier += children
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has died; only its exit status waits for a reaper


def test_killing_the_worker_mid_transcription_leaves_no_child(long_speech: Path) -> None:
    worker = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", WORKER, str(long_speech)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout is not None
        progress = Path(worker.stdout.readline().strip()) / "progress"
        deadline = time.monotonic() + 120
        while not progress.exists():  # the pool process has loaded the model and is transcribing
            assert worker.poll() is None, "the worker ended before transcribing"
            assert time.monotonic() < deadline, "no progress within 120 s"
            time.sleep(0.1)
        children = _descendants(worker.pid)
        assert children, "the transcription runs in a child process"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in children if _alive(pid)]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
