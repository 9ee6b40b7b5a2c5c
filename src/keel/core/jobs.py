"""Durable background jobs: procrastinate everywhere (a serving process imports this module on first use:
`keel.core.jobs_server`).

On PostgreSQL the queue is procrastinate's tables (applied by `keel migrate`) reached through a
`PsycopgConnector`; `keel worker` runs workers, and JOBS_IN_SERVER=true runs one inside the server too.
On the embedded default (SQLite) the same task code runs on procrastinate's in-process connector with a
worker inside the server process (jobs do not survive a restart there: apps re-queue lost work from
their own tables in `AppSpec.startup`).

Apps define tasks on a `keel.core.jobs_spec.TaskBlueprint` (procrastinate's decorators, recorded until
the tasks are bound; a `procrastinate.Blueprint` works too) and name it in `AppSpec.tasks`; every
process (server or worker) binds those blueprints to one process-wide procrastinate `App`, so
`await (await open_queue()).configure_task("app:task").defer_async(**kwargs)` works anywhere. Use
`DEFAULT_RETRY` (or a `RetrySpec` / `procrastinate.RetryStrategy`) for exponential backoff with an
attempt cap.

Workers heartbeat; a periodic sweep (`keel:recover_stalled_jobs`, every JOBS_RECOVER_INTERVAL seconds)
re-queues jobs whose worker has been silent for JOBS_STALLED_TIMEOUT seconds (killed, lost its host).
Tasks must therefore be idempotent: a job can run again after its worker died half-way.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import time
from typing import TYPE_CHECKING, Any

import procrastinate
from procrastinate import Blueprint, RetryStrategy
from procrastinate.testing import InMemoryConnector

from keel.core import metrics, tracing
from keel.core.jobs_spec import TaskBlueprint, procrastinate_blueprint

if TYPE_CHECKING:
    from collections.abc import Iterable

    from procrastinate.connector import BaseAsyncConnector
    from procrastinate.job_context import JobContext

    from keel.core.components import AppSpec
    from keel.settings import Settings

log = logging.getLogger("keel.jobs")

# 5 attempts, waiting 2, 4, 8, 16 s between them (procrastinate: wait = exponential_wait ** (attempts + 1))
DEFAULT_RETRY = RetryStrategy(max_attempts=5, exponential_wait=2)
RECOVERY_QUEUE = "keel"

# One procrastinate app per process; its connector is chosen by `configure(settings)`.
queue = procrastinate.App(connector=InMemoryConnector())
core_tasks = Blueprint()
_registered: set[int] = set()  # ids of blueprints already bound to `queue`


@core_tasks.task(name="recover_stalled_jobs", queue=RECOVERY_QUEUE, pass_context=True)
async def recover_stalled_jobs(context: JobContext, timestamp: int, stalled_after: float = 60.0) -> int:
    """Re-queue jobs left in `doing` by workers whose heartbeat stopped (periodic, see `configure`)."""
    manager = context.app.job_manager
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after))
    for job in stalled:
        log.warning("re-queueing job %s (%s) of a dead worker", job.id, job.task_name)
        await manager.retry_job(job)
        metrics.JOBS.labels(job.task_name, "recovered").inc()
    return len(stalled)


def register_tasks(blueprint: Blueprint | TaskBlueprint, namespace: str) -> None:
    """Bind a blueprint's tasks to the process-wide queue (task names become `<namespace>:<name>`)."""
    built: Blueprint = procrastinate_blueprint(blueprint)
    if id(built) in _registered:
        return
    queue.add_tasks_from(built, namespace=namespace)
    _registered.add(id(built))


def conninfo(database_url: str) -> str:
    """`postgresql+asyncpg://u:p@h:5432/db?ssl=require` → a libpq conninfo string for psycopg."""
    from psycopg.conninfo import make_conninfo
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    params: dict[str, Any] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
    }
    for key, value in url.query.items():
        value = value if isinstance(value, str) else value[-1]
        if key in ("ssl", "sslmode"):
            params["sslmode"] = {"true": "require", "false": "disable"}.get(value, value)
        elif key in ("application_name", "connect_timeout", "sslrootcert", "sslcert", "sslkey", "options"):
            params[key] = value
    return make_conninfo(**{k: v for k, v in params.items() if v not in (None, "")})


def make_connector(settings: Settings, *, max_size: int = 10) -> BaseAsyncConnector:
    if settings.is_postgres:
        from procrastinate import PsycopgConnector

        return PsycopgConnector(conninfo=conninfo(settings.database_url), min_size=1, max_size=max_size)
    return InMemoryConnector()


def _largest_divisor(value: int, of: int) -> int:
    """The largest divisor of `of` not above `value` (cron steps restart at each minute/hour/day)."""
    return max(d for d in range(1, min(value, of) + 1) if of % d == 0)


def _cron_every(seconds: int) -> str:
    """A cron line firing every `seconds` (rounded DOWN to a step cron can keep evenly: sweeping a little
    more often is harmless, less often delays recovery). procrastinate's cron takes seconds as a 6th
    field at the END: `* * * * * */30` is every 30 s (`*/30 * * * * *` would be minutes :00 and :30)."""
    seconds = max(1, int(seconds))
    if seconds < 60:
        return f"* * * * * */{_largest_divisor(seconds, 60)}"
    minutes = seconds // 60
    if minutes < 60:
        return f"*/{_largest_divisor(minutes, 60)} * * * *"
    hours = min(24, minutes // 60)
    return f"0 */{_largest_divisor(hours, 24)} * * *" if hours < 24 else "0 0 * * *"


def _schedule_recovery(settings: Settings) -> None:
    registry = queue.periodic_registry.periodic_tasks
    for key in [k for k in registry if k[0] == recover_stalled_jobs.name]:
        del registry[key]
    queue.periodic_registry.register_task(
        task=recover_stalled_jobs,
        cron=_cron_every(settings.jobs_recover_interval),
        periodic_id="sweep",
        configure_kwargs={"task_kwargs": {"stalled_after": float(settings.jobs_stalled_timeout)}},
    )


def _task_blueprints(
    settings: Settings, apps: Iterable[AppSpec]
) -> list[tuple[str, Blueprint | TaskBlueprint]]:
    found: list[tuple[str, Blueprint | TaskBlueprint]] = []
    for spec in apps:
        if spec.tasks is not None:
            found.append((spec.name, spec.tasks))
    for name in (m.strip() for m in settings.jobs_task_modules.split(",")):
        if name:
            module = importlib.import_module(name)
            found.append((name, module.tasks))
    return found


def configure(
    settings: Settings, apps: Iterable[AppSpec] = (), connector: BaseAsyncConnector | None = None
) -> Any:
    """Bind every task blueprint, schedule the stalled-job sweep and install the connector."""
    register_tasks(core_tasks, "keel")
    for namespace, blueprint in _task_blueprints(settings, apps):
        register_tasks(blueprint, namespace)
    _schedule_recovery(settings)
    connector = connector or make_connector(settings)
    use_connector(connector)
    return connector


def use_connector(connector: BaseAsyncConnector) -> None:
    queue.connector = connector
    queue.job_manager.connector = connector


async def _count_outcome(call_next: Any, context: JobContext, worker: Any) -> Any:
    """Worker middleware: `keel_jobs_total{task, outcome}` with succeeded / retry / failed and
    `keel_job_duration_seconds{task}`."""
    name = context.job.task_name
    started = time.perf_counter()
    try:
        result = await call_next()
    except BaseException as exc:
        task = context.app.tasks.get(name) if context.app else None
        retrying = bool(task and task.get_retry_exception(exception=exc, job=context.job))
        metrics.JOBS.labels(name, "retry" if retrying else "failed").inc()
        raise
    finally:
        metrics.JOB_DURATION.labels(name).observe(time.perf_counter() - started)
    metrics.JOBS.labels(name, "succeeded").inc()
    return result


def make_worker(
    settings: Settings, concurrency: int | None = None, *, in_server: bool, own_signals: bool | None = None
) -> Any:
    from procrastinate.worker import Worker

    return Worker(
        app=queue,
        name="server" if in_server else "worker",
        concurrency=concurrency or settings.jobs_concurrency,
        fetch_job_polling_interval=settings.jobs_poll_interval,
        abort_job_polling_interval=max(settings.jobs_poll_interval, 1.0),
        shutdown_graceful_timeout=settings.shutdown_timeout,
        # in the server uvicorn owns the signals; `run_worker` handles them itself across reconnections
        install_signal_handlers=(not in_server) if own_signals is None else own_signals,
        update_heartbeat_interval=settings.jobs_heartbeat_interval,
        stalled_worker_timeout=settings.jobs_stalled_timeout,
        worker_middleware=[_count_outcome, *tracing.job_middleware()],
    )


RECONNECT_MIN, RECONNECT_MAX = 0.5, 10.0  # seconds between reconnection attempts of `keel worker`


def _is_connection_loss(exc: BaseException) -> bool:
    """A lost or refused database connection (PostgreSQL restarting), as opposed to a bug."""
    import psycopg
    import psycopg_pool
    from procrastinate import exceptions

    return isinstance(
        exc, (exceptions.ConnectorException, psycopg.OperationalError, psycopg_pool.PoolTimeout, OSError)
    )


async def run_worker(settings: Settings, apps: Iterable[AppSpec], concurrency: int | None = None) -> None:
    """`keel worker`: run the tasks of `apps` (the enabled ones) until SIGTERM/SIGINT (running jobs get
    SHUTDOWN_TIMEOUT to finish).

    When PostgreSQL goes away (a restart, a failover) the worker does not exit: it closes its pool and
    reconnects with backoff (0.5 s doubling to 10 s), then runs again; jobs it had in flight are re-queued
    by the stalled-job sweep. SIGTERM/SIGINT during the wait end it at once."""
    from keel.core.logging import configure_logging

    configure_logging(settings.log_level, settings.log_json)
    tracing.configure_worker(settings)
    if not settings.is_postgres:
        raise RuntimeError(
            "`keel worker` needs PostgreSQL (DATABASE_URL=postgresql+asyncpg://...); with SQLite the server "
            "runs jobs in its own process"
        )
    concurrency = concurrency or settings.jobs_concurrency
    pool_size = concurrency + 4  # jobs, LISTEN, heartbeat, periodic deferrer, abort polling
    apps = list(apps)
    queue.perform_import_paths()
    stopping = asyncio.Event()
    current: list[Any] = []  # the worker running now, if any

    def stop() -> None:  # SIGTERM/SIGINT, whether a worker runs or we wait to reconnect
        stopping.set()
        for running in current:
            running.stop()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    delay = RECONNECT_MIN
    try:
        while not stopping.is_set():
            connector = configure(settings, apps, make_connector(settings, max_size=pool_size))
            started = time.monotonic()
            try:
                await connector.open_async()
                worker = make_worker(settings, concurrency, in_server=False, own_signals=False)
                current[:] = [worker]
                await worker.run()
                if stopping.is_set():
                    return
            except Exception as exc:
                if not _is_connection_loss(exc):
                    raise
                if time.monotonic() - started > 30:  # it ran for a while: start the backoff over
                    delay = RECONNECT_MIN
                log.warning(
                    "database connection lost (%s: %s); reconnecting in %.1f s",
                    type(exc).__name__,
                    str(exc).strip()[:160],
                    delay,
                )
            finally:
                current.clear()
                with contextlib.suppress(Exception):
                    await connector.close_async()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
            delay = min(RECONNECT_MAX, delay * 2)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def die_with_parent(parent_pid: int | None = None) -> None:
    """Make this process die (SIGKILL) when the process that started it dies, even by `kill -9`.

    For helper processes of a job (a `ProcessPoolExecutor`'s `initializer=die_with_parent,
    initargs=(os.getpid(),)`): without it a killed worker leaves its transcription child running for
    good. Linux `prctl(PR_SET_PDEATHSIG)`; elsewhere a no-op. The signal follows the parent THREAD that
    started the child: start pool processes from a long-lived thread (the event loop's)."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %s", ctypes.get_errno())
        return
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)  # the parent died before the signal was armed


def ensure_jobs_schema(settings: Settings) -> bool:
    """Apply procrastinate's schema on PostgreSQL when its tables are missing; True when applied."""
    if not settings.is_postgres:
        return False
    import psycopg
    from procrastinate.schema import SchemaManager

    with psycopg.connect(conninfo(settings.database_url), autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
        if exists and exists[0]:
            return False
        with conn.transaction():
            conn.execute(SchemaManager.get_schema())  # type: ignore[arg-type]
    return True


class Jobs:
    """`app.state.jobs`: the connector of this app and, when configured, the in-process worker."""

    def __init__(self, settings: Settings, connector: BaseAsyncConnector) -> None:
        self.settings = settings
        self.connector = connector
        self.queue = queue
        self.run_in_process = settings.jobs_in_server or not settings.is_postgres
        self.worker: Any = None
        self._task: asyncio.Task[Any] | None = None

    async def start(self) -> None:
        use_connector(self.connector)  # another app built in this process may have swapped it
        await self.connector.open_async()
        if self.run_in_process:
            self.worker = make_worker(self.settings, in_server=True)
            self._task = asyncio.create_task(self.worker.run(), name="keel-jobs-worker")

    async def stop(self) -> None:
        if self.worker is not None and self._task is not None:
            self.worker.stop()
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._task), self.settings.shutdown_timeout + 5)
            if not self._task.done():
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    await self._task
            self.worker = self._task = None
        await self.connector.close_async()

    async def read_queue_depths(self) -> None:
        """Refresh `keel_jobs_queue_depth` (every known queue, 0 when empty) before a scrape."""
        depths = {(t.queue, s): 0 for t in self.queue.tasks.values() for s in ("todo", "doing")}
        for status in ("todo", "doing"):  # both on procrastinate's partial indexes
            for row in await self.queue.job_manager.list_queues_async(status=status):
                depths[(row["name"], status)] = row[status]
        metrics.QUEUE_DEPTH.depths = depths

    async def check(self) -> None:
        if not await queue.job_manager.check_connection_async():
            raise RuntimeError("procrastinate schema missing (run `keel migrate`)")
        if self._task is not None and self._task.done():
            raise RuntimeError("the in-process worker stopped")
