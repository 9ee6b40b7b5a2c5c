"""What an app's tasks run with, and the start-up re-queue of jobs a previous process lost.

    context = TaskContextSlot()                       # in the app's tasks module
    context.bind(app)                                 # AppSpec.startup: this app's settings, engine, storage
    ctx = context.get()                               # in a task; `keel worker` builds its own on first use
    async with ctx.sessions() as db, db.begin(): ...
    await ctx.storage.put_stream(...)                 # app.state.storage, or one from STORAGE_URL

    count = await requeue_lost(app, "scribe:transcribe", find_lost, requeue)

A job's state lives in the app's own tables; `requeue_lost` asks the queue which jobs of the task are
still waiting or running, hands their ids to `find_lost` (which answers the rows whose job is gone, and
may reset them) and calls `requeue` for each (True when it deferred a job).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from keel.core import tracing

if TYPE_CHECKING:
    from litestar import Litestar

    from keel.core.storage import Storage
    from keel.settings import Settings

T = TypeVar("T")
StorageFactory = Callable[["Settings", "Litestar | None"], "Storage"]


def default_storage(settings: Settings, app: Litestar | None) -> Storage:
    """The app's storage when it has one, else one from STORAGE_URL with MAX_UPLOAD_SIZE."""
    storage = getattr(app.state, "storage", None) if app is not None else None
    if storage is None:
        from keel.core.storage import Storage

        storage = Storage(settings.storage_url, max_size=settings.max_upload_size)
    return storage


@dataclass
class TaskContext:
    """Settings, the database engine and its session maker, storage (made on first use) and, in the
    server, the Litestar app (None in `keel worker`)."""

    settings: Settings
    engine: AsyncEngine
    app: Litestar | None = None
    make_storage: StorageFactory = default_storage
    _sessions: async_sessionmaker[Any] | None = field(default=None, init=False, repr=False)
    _storage: Storage | None = field(default=None, init=False, repr=False)

    @property
    def sessions(self) -> async_sessionmaker[Any]:
        if self._sessions is None:
            self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        return self._sessions

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            self._storage = self.make_storage(self.settings, self.app)
        return self._storage


class TaskContextSlot:
    """One per app: `bind(app)` at start-up, `get()` anywhere."""

    def __init__(self, storage: StorageFactory = default_storage) -> None:
        self._storage = storage
        self._context: TaskContext | None = None

    def bind(self, app: Litestar) -> TaskContext:
        """Jobs run by this process use this app's settings, database and storage."""
        settings = app.state.settings
        self._context = TaskContext(settings, app.state.sa_config.get_engine(), app, self._storage)
        return self._context

    def get(self) -> TaskContext:
        if self._context is None:  # `keel worker`: no Litestar app in this process
            from keel.settings import get_settings

            settings = get_settings()
            engine = create_async_engine(settings.database_url, pool_pre_ping=True)
            tracing.trace_engine(settings, engine.sync_engine)  # the tasks' SQL joins their job's trace
            self._context = TaskContext(settings, engine, None, self._storage)
        return self._context


async def live_job_ids(app: Litestar, task: str) -> set[int]:
    """Ids of the task's jobs still waiting or running (none when the queue cannot be read: then every
    active row counts as lost, and its re-queue is refused by the job's queueing lock if it was not)."""
    jobs = getattr(app.state, "jobs", None)
    with contextlib.suppress(Exception):
        if jobs is not None:
            return set(await jobs.live_job_ids(app, task))
        from keel.core.jobs_server import open_queue

        queue = await open_queue()
        live: set[int] = set()
        for status in ("todo", "doing"):
            found = await queue.job_manager.list_jobs_async(task=task, status=status)
            live.update(job.id for job in found if job.id is not None)
        return live
    return set()


async def requeue_lost(
    app: Litestar,
    task: str,
    find_lost: Callable[[set[int]], Awaitable[Iterable[T]]],
    requeue: Callable[[T], Awaitable[bool]],
) -> int:
    """Start-up: defer again what lost its job (the in-process queue died with the old process, or the
    job was deleted); jobs still in the queue are left to it. How many were deferred."""
    count = 0
    for item in await find_lost(await live_job_ids(app, task)):
        count += bool(await requeue(item))
    return count


__all__ = ["TaskContext", "TaskContextSlot", "default_storage", "live_job_ids", "requeue_lost"]
