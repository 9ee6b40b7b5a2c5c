"""The job queue in a server process (`app.state.jobs`), with procrastinate loaded on first use.

A server that runs jobs itself (SQLite, or JOBS_IN_SERVER=true) starts its worker at start-up, as
before. A PostgreSQL server that only defers jobs (the default: `keel worker` runs them) does not import
procrastinate, psycopg and their pool until it needs the queue (issue 12: start-up CPU and RSS): the
first job deferred (`await open_queue()`), the first `/metrics` scrape (queue depths), or a start-up
re-queue that finds lost work. Until then readiness and the start-up re-queue's "which jobs are still
live" read procrastinate's table through the app's own database engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

if TYPE_CHECKING:
    from litestar import Litestar

    from keel.core.components import AppBuilder, AppSpec
    from keel.settings import Settings

_current: ServerJobs | None = None  # the jobs of the app running in this process (its lifespan)

_LIVE_JOBS = text("SELECT id FROM procrastinate_jobs WHERE task_name = :task AND status IN ('todo', 'doing')")
_SCHEMA = text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")


class ServerJobs:
    """The app's queue: `keel.core.jobs.Jobs` (connector, in-process worker) made on first use."""

    def __init__(self, settings: Settings, apps: list[AppSpec]) -> None:
        self.settings = settings
        self.apps = apps
        self.run_in_process = settings.jobs_in_server or not settings.is_postgres
        self._jobs: Any = None  # keel.core.jobs.Jobs
        self._opened = False
        self._lock: asyncio.Lock | None = None

    @property
    def loaded(self) -> bool:
        return self._jobs is not None

    def load(self) -> Any:
        """procrastinate imported, the tasks bound and the connector made (no I/O yet)."""
        if self._jobs is None:
            from keel.core import jobs

            connector = jobs.configure(self.settings, self.apps, jobs.make_connector(self.settings))
            self._jobs = jobs.Jobs(self.settings, connector)
        return self._jobs

    @property
    def connector(self) -> Any:
        return self.load().connector

    @property
    def worker(self) -> Any:
        return self._jobs.worker if self._jobs is not None else None

    async def open(self) -> Any:
        """The process-wide procrastinate App on this app's connector, opened (once)."""
        jobs = self.load()
        from keel.core.jobs import queue, use_connector

        if queue.connector is not jobs.connector:  # another app built in this process swapped it
            use_connector(jobs.connector)
        if not self._opened:
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                if not self._opened:
                    await jobs.connector.open_async()
                    self._opened = True
        return queue

    async def start(self) -> None:
        if self.run_in_process:  # the worker in this process: procrastinate is needed now
            await self.open()
            await self.load().start()

    async def stop(self) -> None:
        if self._jobs is not None and (self._opened or self._jobs.worker is not None):
            await self._jobs.stop()
        self._opened = False

    async def read_queue_depths(self) -> None:
        await self.open()
        await self._jobs.read_queue_depths()

    async def live_job_ids(self, app: Litestar, task: str) -> set[int]:
        """Ids of the task's jobs still waiting or running."""
        if not self.loaded and not self.run_in_process:  # PostgreSQL: the app's own connection
            async with app.state.sa_config.get_engine().connect() as conn:
                return set((await conn.scalars(_LIVE_JOBS, {"task": task})).all())
        queue = await self.open()
        live: set[int] = set()
        for status in ("todo", "doing"):
            found = await queue.job_manager.list_jobs_async(task=task, status=status)
            live.update(job.id for job in found if job.id is not None)
        return live

    async def check(self, app: Litestar) -> None:
        if self.loaded and self._opened:
            await self._jobs.check()
            return
        if self.run_in_process:
            raise RuntimeError("the in-process worker has not started")
        async with app.state.sa_config.get_engine().connect() as conn:
            if not await conn.scalar(_SCHEMA):
                raise RuntimeError("procrastinate schema missing (run `keel migrate`)")


async def open_queue() -> Any:
    """The procrastinate App, opened: of the app running in this process, else (`keel worker`, a test
    that configured it) `keel.core.jobs.queue` as it is."""
    if _current is not None:
        return await _current.open()
    from keel.core.jobs import queue

    return queue


async def check_jobs(app: Litestar) -> None:
    await app.state.jobs.check(app)


def install(builder: AppBuilder) -> None:
    jobs = ServerJobs(builder.settings, builder.apps)
    builder.state["jobs"] = jobs

    @asynccontextmanager
    async def current(_: Litestar) -> AsyncIterator[None]:
        # entered before the apps' start-up (their re-queue defers through `open_queue`)
        global _current
        _current = jobs
        try:
            yield
        finally:
            if _current is jobs:
                _current = None

    async def start(_: Litestar) -> None:
        await jobs.start()

    async def stop(_: Litestar) -> None:
        await jobs.stop()

    builder.lifespan.append(current)
    builder.on_startup.append(start)
    builder.on_shutdown.append(stop)
    builder.readiness_checks["jobs"] = check_jobs


__all__ = ["ServerJobs", "check_jobs", "install", "open_queue"]
