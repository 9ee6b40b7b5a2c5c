"""scribe jobs: `scribe:transcribe` runs an engine in a worker PROCESS and keeps the row up to date.
One module per part (`worker`: the pool process side; `runtime`; `runner`: the job; `queueing`); this
package re-exports what the app, routes and tests use.

The event loop only waits: decoding and recognition happen in a `ProcessPoolExecutor` (spawned, shared by
every job of this process). The child reports progress and learns about cancellation through a small
control directory (a `progress` file it writes, a `cancel` file the parent creates when the row's
`cancel_requested` flag is set), so nothing but a path crosses the process boundary.

Idempotent: a job for a row already completed/failed/cancelled does nothing; a job re-run after its
worker died (procrastinate's stalled-job sweep, or the start-up re-queue below) transcribes again and
replaces the segments in one transaction, so a transcription always ends with exactly one transcript.
Beyond the owner's concurrency limit a job leaves its row queued and ends; the owner's next finishing job
(or the periodic sweep) starts the oldest waiting one, so transcriptions wait instead of being refused.
"""

from __future__ import annotations

from keel.apps.scribe.tasks.queueing import (
    UNQUEUED_GRACE_SECONDS,
    defer_and_record,
    enqueue,
    requeue_lost,
    requeue_stale_rows,
    requeue_unqueued,
)
from keel.apps.scribe.tasks.runner import (
    GENERIC_FAILURE,
    POLL_SECONDS,
    WAITING,
    run_transcription,
    start_waiting,
    transcribe,
)
from keel.apps.scribe.tasks.runtime import Runtime, bind, blueprint, publish, runtime
from keel.apps.scribe.tasks.worker import _child_transcribe, _pool, _reset_pool

tasks = blueprint  # AppSpec.tasks: the blueprint every scribe task is on

__all__ = [
    "GENERIC_FAILURE",
    "POLL_SECONDS",
    "UNQUEUED_GRACE_SECONDS",
    "WAITING",
    "Runtime",
    "_child_transcribe",
    "_pool",
    "_reset_pool",
    "bind",
    "blueprint",
    "defer_and_record",
    "enqueue",
    "publish",
    "requeue_lost",
    "requeue_stale_rows",
    "requeue_unqueued",
    "run_transcription",
    "runtime",
    "start_waiting",
    "tasks",
    "transcribe",
]
