"""Jobs the fault suite's `keel worker`s run (JOBS_TASK_MODULES=faults.fault_tasks): each records its
executions and completes idempotently, so "finished exactly once" is a line count."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from procrastinate import Blueprint

tasks = Blueprint()


def child_sleep(pid_file: str) -> None:
    """Runs in the transcription pool's child process (as a transcription does) and outlives the job."""
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(120)


def _complete_once(root: Path, key: str) -> None:
    try:
        fd = os.open(root / f"done-{key}", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return  # an earlier run completed it: the effect happens once
    os.close(fd)
    with (root / "completions.log").open("a") as fh:
        fh.write(f"{key}\n")


@tasks.task(name="marker")
async def marker(workdir: str, key: str, with_child: bool = False) -> None:
    """Logs `<pid> <key>` per execution; with `with_child` it starts a child in scribe's transcription
    pool first; it waits while `<workdir>/hold-<key>` exists, then completes once."""
    root = Path(workdir)
    with (root / "executions.log").open("a") as fh:
        fh.write(f"{os.getpid()} {key}\n")
    if with_child:
        from keel.apps.scribe.tasks import _pool

        _pool(1).submit(child_sleep, str(root / f"child-{key}.pid"))
    while (root / f"hold-{key}").exists():  # noqa: ASYNC110 - the test removes the file
        await asyncio.sleep(0.1)
    _complete_once(root, key)
