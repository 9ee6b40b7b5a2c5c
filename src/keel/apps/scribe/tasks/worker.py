"""The worker-process side of a transcription: runs an engine in a spawned pool process and talks to the
job runner through a small control directory (a `progress` file it writes, a `cancel` file the runner
creates), so nothing but a path crosses the process boundary."""

from __future__ import annotations

import atexit
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from keel.apps.scribe.engines.child import arm_pool_process, transcribe_in_child

# the pool process imports only engines.child (not this package and its database/queue imports)
_child_transcribe = transcribe_in_child


_POOL: ProcessPoolExecutor | None = None
_POOL_SIZE = 0


def _pool(size: int) -> ProcessPoolExecutor:
    global _POOL, _POOL_SIZE
    # a pool whose children died (their starting thread ended: PDEATHSIG follows it) is broken: renew it
    if _POOL is None or _POOL_SIZE != size or getattr(_POOL, "_broken", False):
        if _POOL is not None:
            _POOL.shutdown(wait=False, cancel_futures=False)
        _POOL = ProcessPoolExecutor(
            max_workers=max(1, size),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=arm_pool_process,  # children die with this process, even on kill -9
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
