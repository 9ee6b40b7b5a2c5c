"""Jobs: tasks run in process with backoff retries and an attempt cap; on PostgreSQL a job whose
`keel worker` is killed mid-run is recovered by another worker and completes exactly once in effect."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from litestar import Request, get, post
from litestar.testing import AsyncTestClient
from procrastinate import Blueprint, RetryStrategy
from procrastinate.jobs import Status

from keel.app import create_app
from keel.core import jobs, metrics
from keel.core.jobs_context import live_job_ids
from keel.core.jobs_server import open_queue

ROOT = Path(__file__).resolve().parents[2]
bp = Blueprint()
runs: dict[str, list[float]] = {}


@bp.task(name="flaky", retry=RetryStrategy(max_attempts=5, exponential_wait=1.5))  # type: ignore[arg-type]
async def flaky(key: str, fail_times: int) -> None:
    runs.setdefault(key, []).append(time.monotonic())
    if len(runs[key]) <= fail_times:
        raise RuntimeError(f"failure {len(runs[key])}")


@bp.task(name="always_fails", retry=RetryStrategy(max_attempts=2))
async def always_fails(key: str) -> None:
    runs.setdefault(key, []).append(time.monotonic())
    raise RuntimeError("nope")


jobs.register_tasks(bp, "test_core_jobs")


# the app's own event loop owns the queue's connection pool, so deferring and reading job status go
# through routes, as application code does
@post("/test/jobs/{task_name:str}", status_code=200, opt={"rate_limit": None})
async def defer_route(task_name: str, data: dict[str, object]) -> dict[str, int]:
    task = {"flaky": flaky, "always_fails": always_fails}[task_name]
    return {"id": await task.defer_async(**data)}


@get("/test/jobs/{job_id:int}", opt={"rate_limit": None})
async def status_route(job_id: int) -> dict[str, str]:
    return {"status": (await jobs.queue.job_manager.get_job_status_async(job_id)).value}


def _app(make_settings):  # type: ignore[no-untyped-def]
    app = create_app(make_settings(jobs_poll_interval=0.1, jobs_in_server=True))
    app.register(defer_route)
    app.register(status_route)
    return app


async def _wait_for(client, job_id: int, wanted: set[str], within: float) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while True:
        status = (await client.get(f"/test/jobs/{job_id}")).json()["status"]
        if status in wanted or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.05)


async def _wait_status(job_id: int, wanted: set[Status], within: float) -> Status:
    deadline = time.monotonic() + within
    while True:
        status = await jobs.queue.job_manager.get_job_status_async(job_id)
        if status in wanted or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.05)


def _sample(task: str, outcome: str) -> float:
    return metrics.JOBS.labels(task, outcome)._value.get()


async def test_task_runs_in_process_and_retries_with_backoff(make_settings) -> None:
    app = _app(make_settings)
    before = _sample(flaky.name, "succeeded"), _sample(flaky.name, "retry")
    async with AsyncTestClient(app=app) as client:
        assert app.state.jobs.worker is not None
        deferred = await client.post("/test/jobs/flaky", json={"key": "backoff", "fail_times": 2})
        job_id = deferred.json()["id"]
        assert await _wait_for(client, job_id, {"succeeded", "failed"}, 20) == "succeeded"
    times = runs["backoff"]
    assert len(times) == 3
    first_wait, second_wait = times[1] - times[0], times[2] - times[1]
    assert first_wait >= 1.5 - 0.05  # 1.5 ** 1
    assert second_wait >= 2.25 - 0.05  # 1.5 ** 2: the wait grows
    assert second_wait > first_wait + 0.4
    assert _sample(flaky.name, "succeeded") == before[0] + 1
    assert _sample(flaky.name, "retry") == before[1] + 2


async def test_attempt_cap_is_respected(make_settings) -> None:
    async with AsyncTestClient(app=_app(make_settings)) as client:
        job_id = (await client.post("/test/jobs/always_fails", json={"key": "cap"})).json()["id"]
        assert await _wait_for(client, job_id, {"failed"}, 15) == "failed"
        await asyncio.sleep(0.5)  # nothing more runs after the final failure
    assert len(runs["cap"]) == 3  # the first run plus max_attempts=2 retries


async def test_readiness_reports_jobs(client) -> None:
    response = await client.get("/ready")
    assert response.json()["data"]["checks"]["jobs"] == "ok"


@post("/test/jobs/deferred", status_code=200, opt={"rate_limit": None})
async def defer_by_name(data: dict[str, object]) -> dict[str, int]:
    """How app code defers: by task name, through the queue of the app running in this process."""
    queue = await open_queue()
    return {"id": await queue.configure_task("test_core_jobs:flaky").defer_async(**data)}


async def test_a_server_that_does_not_run_jobs_is_ready_and_defers(make_settings) -> None:
    """JOBS_IN_SERVER=false: on PostgreSQL the server loads its queue on first use (readiness reads
    procrastinate's table through the app's own connection until then); with SQLite the server still runs
    the jobs itself. Either way it is ready and a deferred job gets an id whose status can be read."""
    app = create_app(make_settings(jobs_poll_interval=0.1, jobs_in_server=False))
    app.register(defer_by_name)
    app.register(status_route)
    async with AsyncTestClient(app=app) as client:
        ready = await client.get("/ready")
        assert ready.json()["data"]["checks"]["jobs"] == "ok"
        postgres = app.state.settings.is_postgres
        assert app.state.jobs.loaded is not postgres  # PostgreSQL: no queue (procrastinate) made yet
        deferred = await client.post("/test/jobs/deferred", json={"key": "by-name", "fail_times": 0})
        assert app.state.jobs.loaded
        job_id = deferred.json()["id"]
        assert isinstance(job_id, int)
        wanted = {"todo"} if postgres else {"succeeded"}
        assert await _wait_for(client, job_id, wanted, 10) in wanted
        assert (await client.get("/ready")).json()["data"]["checks"]["jobs"] == "ok"


@get("/test/jobs/live/{task_name:str}", opt={"rate_limit": None})
async def live_route(request: Request[Any, Any, Any], task_name: str) -> dict[str, list[int]]:
    return {"ids": sorted(await live_job_ids(request.app, task_name))}


async def test_a_restarted_server_sees_the_jobs_still_waiting(make_settings) -> None:
    """What the start-up re-queue asks first: which jobs of a task are still waiting or running. On
    PostgreSQL a job deferred by the previous process is still there (read through the app's own
    connection: the new server's queue is not loaded for it); on SQLite jobs died with the process."""
    settings = make_settings(jobs_poll_interval=0.1, jobs_in_server=False)
    first = create_app(settings)
    first.register(defer_by_name)
    async with AsyncTestClient(app=first) as client:
        deferred = await client.post("/test/jobs/deferred", json={"key": "still-waiting", "fail_times": 0})
        job_id = deferred.json()["id"]
    second = create_app(settings)
    second.register(live_route)
    async with AsyncTestClient(app=second) as client:
        ids = (await client.get("/test/jobs/live/test_core_jobs:flaky")).json()["ids"]
        if settings.is_postgres:
            assert job_id in ids
            assert not second.state.jobs.loaded
        else:
            assert ids == []


@pytest.mark.parametrize(
    ("interval", "gap"),
    [(1, 1), (10, 10), (30, 30), (45, 30), (7, 6), (60, 60), (90, 60), (600, 600), (7200, 7200)],
)
def test_sweep_schedule_fires_at_its_interval(interval: int, gap: int) -> None:
    """The sweep's cron fires every `interval` seconds (rounded down to a step cron keeps evenly), at
    every part of the hour: not a burst of seconds at minutes :00 and :30."""
    import croniter

    line = jobs._cron_every(interval)
    for start in (1_700_000_000.0, 1_700_000_000.0 + 17 * 60 + 13):  # on and off the hour
        ticks = croniter.croniter(line, start)
        times = [ticks.get_next(float) for _ in range(6)]
        assert {round(b - a) for a, b in itertools.pairwise(times)} == {gap}, line
        assert times[0] - start <= gap


def test_conninfo_from_sqlalchemy_url() -> None:
    info = jobs.conninfo("postgresql+asyncpg://u:p%40ss@db.example:5433/keel?ssl=require")
    assert "host=db.example" in info and "port=5433" in info and "dbname=keel" in info
    assert "user=u" in info and "sslmode=require" in info and "p@ss" in info


def _worker_env(settings, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
        "DATABASE_URL": settings.database_url,
        "KEEL_ENV": "test",
        "KEEL_APPS": settings.keel_apps,
        "JWT_SECRET": settings.jwt_secret,
        "LOG_LEVEL": "WARNING",
        "JOBS_TASK_MODULES": "core_platform_helpers",
        "JOBS_POLL_INTERVAL": "0.2",
        "JOBS_HEARTBEAT_INTERVAL": "0.5",
        "JOBS_STALLED_TIMEOUT": "2",
        "JOBS_RECOVER_INTERVAL": "1",
        **extra,
    }


@pytest.mark.services
async def test_killed_worker_job_is_recovered_and_completes_once(settings, tmp_path: Path) -> None:
    assert settings.is_postgres
    (tmp_path / "hold").touch()
    env = _worker_env(settings)
    keel = [str(Path(sys.executable).parent / "keel"), "worker", "--concurrency", "1"]

    connector = jobs.configure(settings, connector=jobs.make_connector(settings, max_size=2))
    import core_platform_helpers as helpers

    jobs.register_tasks(helpers.tasks, "core_platform_helpers")
    await connector.open_async()
    first = second = None
    try:
        job_id = await helpers.slow_marker_job.defer_async(workdir=str(tmp_path), key="k1")
        first = subprocess.Popen(keel, env=env, cwd=tmp_path)  # noqa: ASYNC220, S603
        executions = tmp_path / "executions.log"
        deadline = time.monotonic() + 90  # a worker process starts slowly on a loaded 2-core machine
        while not (executions.exists() and executions.read_text().strip()):
            assert time.monotonic() < deadline, "the first worker never started the job"
            await asyncio.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        (tmp_path / "hold").unlink()
        started = time.monotonic()
        second = subprocess.Popen(keel, env=env, cwd=tmp_path)  # noqa: ASYNC220, S603
        status = await _wait_status(job_id, {Status.SUCCEEDED, Status.FAILED}, 30)
        assert status == Status.SUCCEEDED
        assert time.monotonic() - started < 30
        assert len(executions.read_text().split()) == 2  # the killed run and the recovered one
        assert (tmp_path / "completions.log").read_text().split() == ["k1"]  # one completion
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        await connector.close_async()


def _stop(*procs: subprocess.Popen[bytes] | None) -> None:
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.services
async def test_recovery_happens_within_stall_timeout_plus_sweep_interval(settings, tmp_path: Path) -> None:
    """Two workers run; the one running a job is killed with SIGKILL; the survivor's periodic sweep
    re-queues the job within JOBS_STALLED_TIMEOUT + JOBS_RECOVER_INTERVAL (plus a heartbeat and a poll),
    at any time of the hour (a 10 s sweep used to run only during minutes :00, :10, ...)."""
    stalled, sweep = 2.0, 10
    (tmp_path / "hold").touch()
    env = _worker_env(settings, JOBS_STALLED_TIMEOUT=str(stalled), JOBS_RECOVER_INTERVAL=str(sweep))
    keel = [str(Path(sys.executable).parent / "keel"), "worker", "--concurrency", "1"]
    connector = jobs.configure(settings, connector=jobs.make_connector(settings, max_size=2))
    import core_platform_helpers as helpers

    jobs.register_tasks(helpers.tasks, "core_platform_helpers")
    await connector.open_async()
    workers = [subprocess.Popen(keel, env=env, cwd=tmp_path) for _ in range(2)]  # noqa: ASYNC220, S603
    try:
        deadline = time.monotonic() + 120
        query = "SELECT count(*) AS n FROM procrastinate_workers WHERE last_heartbeat > now() - interval '2s'"
        while (await connector.execute_query_one_async(query))["n"] < 2:
            assert time.monotonic() < deadline, "the workers never started"
            await asyncio.sleep(0.2)
        job_id = await helpers.slow_marker_job.defer_async(workdir=str(tmp_path), key="k2")
        executions = tmp_path / "executions.log"
        while not (executions.exists() and executions.read_text().strip()):
            assert time.monotonic() < deadline, "no worker started the job"
            await asyncio.sleep(0.05)
        victim_pid = int(executions.read_text().split()[0])
        victim = next(p for p in workers if p.pid == victim_pid)
        victim.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        victim.wait(10)
        (tmp_path / "hold").unlink()
        while len(executions.read_text().split()) < 2:
            assert time.monotonic() - killed_at < stalled + sweep + 15, "the job was not recovered"
            await asyncio.sleep(0.05)
        recovered_after = time.monotonic() - killed_at
        print(f"recovered {recovered_after:.1f} s after SIGKILL (stall {stalled} s + sweep {sweep} s)")
        assert recovered_after <= stalled + sweep + 0.5 + 1.5  # + a heartbeat and a poll of slack
        assert int(executions.read_text().split()[1]) != victim_pid
        assert await _wait_status(job_id, {Status.SUCCEEDED, Status.FAILED}, 30) == Status.SUCCEEDED
        assert (tmp_path / "completions.log").read_text().split() == ["k2"]
    finally:
        _stop(*workers)
        await connector.close_async()
