"""/metrics carries the process and Python runtime series, the database pool gauges, a query duration
histogram, cache hits and misses per namespace, job duration per task and queue depth per queue, in the
single process registry and in the multi-process one `keel serve` uses; each moves with real traffic."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import pytest
from litestar import get, post
from litestar.testing import AsyncTestClient
from procrastinate import Blueprint
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from keel.app import create_app
from keel.core import jobs
from keel.core.cache import Cache
from keel.core.metrics import render_metrics

RUNTIME = ("process_resident_memory_bytes", "process_open_fds", "python_gc_collections_total", "python_info")
QUEUE = "metrics_test"

bp = Blueprint()
ran: list[str] = []


@bp.task(name="measured", queue=QUEUE)
async def measured(key: str) -> None:
    await asyncio.sleep(0.02)
    ran.append(key)


jobs.register_tasks(bp, "test_core_metrics")


def value(text: str, name: str, **labels: str) -> float:
    """The sample `name{labels…}` (the labels given must all match; others may be there too), else 0."""
    total = 0.0
    for match in re.finditer(rf"^{name}(?:{{([^}}]*)}})? (\S+)$", text, re.M):
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
    return total


@get("/t/metrics/cached", opt={"rate_limit": None})
async def cached_route(cache: Cache) -> dict[str, int]:
    async def load() -> dict[str, int]:
        return {"answer": 42}

    return await cache.get_or_set("metrics-test", "answer", load)  # type: ignore[no-any-return]


@get("/t/metrics/while-connected", opt={"rate_limit": None})
async def while_connected(db_session: AsyncSession) -> dict[str, str]:
    before = render_metrics()[0].decode()
    await db_session.execute(text("SELECT 1"))  # the session holds a pooled connection now
    return {"before": before, "during": render_metrics()[0].decode()}


@post("/t/metrics/jobs", status_code=200, opt={"rate_limit": None})
async def defer_jobs(data: dict[str, Any]) -> dict[str, int]:
    if data.get("later"):
        return {"id": await measured.configure(schedule_in={"hours": 1}).defer_async(key="later")}
    return {"id": await measured.defer_async(key=str(data["key"]))}


@get("/t/metrics/jobs/{job_id:int}", opt={"rate_limit": None})
async def job_status(job_id: int) -> dict[str, str]:
    return {"status": (await jobs.queue.job_manager.get_job_status_async(job_id)).value}


def _app(make_settings):  # type: ignore[no-untyped-def]
    return create_app(
        make_settings(jobs_poll_interval=0.1, jobs_in_server=True),
        extra_route_handlers=[cached_route, while_connected, defer_jobs, job_status],
    )


async def test_metrics_has_runtime_and_pool_series(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert (await client.get("/health")).status_code == 200
    text_ = (await client.get("/metrics")).text
    for name in RUNTIME:
        assert name in text_
    assert value(text_, "process_resident_memory_bytes") > 1_000_000
    for name in ("keel_db_pool_size", "keel_db_pool_checked_out", "keel_db_pool_overflow"):
        assert re.search(rf"^{name}{{pid=", text_, re.M), name


def test_multiprocess_registry_keeps_runtime_series(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text_ = render_metrics()[0].decode()
    for name in (*RUNTIME, "keel_db_pool_size", "keel_jobs_queue_depth"):
        assert name in text_


async def test_pool_gauge_counts_the_connection_a_request_holds(make_settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    app = create_app(
        make_settings(keel_apps=""), extra_route_handlers=[while_connected]
    )  # no background work
    in_use = "keel_db_pool_connections_in_use"
    readings = []
    async with AsyncTestClient(app=app) as client:
        # the in-use gauge is process-wide: a live server another test module keeps running in this worker
        # process (its job poller) can hold a connection at the moment of a scrape, so a reading counts
        # only when before/during/after agree on this request's own connection; five tries
        for _ in range(5):
            seen = (await client.get("/t/metrics/while-connected")).json()
            after = (await client.get("/metrics")).text
            name = "keel_db_pool_checked_out"
            assert value(seen["during"], name) == value(seen["before"], name) + 1
            assert value(after, name) == value(seen["before"], name)
            readings.append(
                (value(seen["before"], in_use), value(seen["during"], in_use), value(after, in_use))
            )
            before, during, settled = readings[-1]
            if during == before + 1 and settled == before >= 0:
                break
    assert any(during == before + 1 and settled == before >= 0 for before, during, settled in readings), (
        readings
    )


async def test_query_histogram_counts_statements_by_kind(client, user_factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    name = "keel_db_query_duration_seconds"
    before = (await client.get("/metrics")).text
    user = await user_factory()  # registration: INSERTs
    for _ in range(3):
        assert (await client.get("/api/v1/users/me", headers=user.headers)).status_code == 200
    after = (await client.get("/metrics")).text
    assert (
        value(after, f"{name}_count", operation="select")
        >= value(before, f"{name}_count", operation="select") + 3
    )
    assert value(after, f"{name}_count", operation="insert") > value(
        before, f"{name}_count", operation="insert"
    )
    assert value(after, f"{name}_sum", operation="select") > value(before, f"{name}_sum", operation="select")
    assert value(after, f"{name}_bucket", operation="select", le="+Inf") == value(
        after, f"{name}_count", operation="select"
    )
    assert "SELECT" not in "".join(line for line in after.splitlines() if line.startswith(name))


async def test_cache_hits_and_misses_per_namespace(make_settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    series = "keel_cache_requests_total"
    async with AsyncTestClient(app=_app(make_settings)) as client:
        before = (await client.get("/metrics")).text
        for _ in range(3):
            assert (await client.get("/t/metrics/cached")).json() == {"answer": 42}
        after = (await client.get("/metrics")).text
    ns = {"namespace": "metrics-test"}
    assert value(after, series, **ns, result="miss") == value(before, series, **ns, result="miss") + 1
    assert value(after, series, **ns, result="hit") == value(before, series, **ns, result="hit") + 2


async def test_job_duration_per_task_and_queue_depth_per_queue(make_settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Both lanes: the in-process runner (SQLite, in-memory queue) and procrastinate on PostgreSQL."""
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    task = measured.name
    async with AsyncTestClient(app=_app(make_settings)) as client:
        before = (await client.get("/metrics")).text
        assert value(before, "keel_jobs_queue_depth", queue=QUEUE, status="todo") == 0
        assert re.search(rf'^keel_jobs_queue_depth{{queue="{QUEUE}",status="doing"}} 0', before, re.M)
        job_id = (await client.post("/t/metrics/jobs", json={"key": "now"})).json()["id"]
        deadline = time.monotonic() + 20
        while (await client.get(f"/t/metrics/jobs/{job_id}")).json()["status"] != "succeeded":
            assert time.monotonic() < deadline, "the job did not run"
            await asyncio.sleep(0.05)
        assert (await client.post("/t/metrics/jobs", json={"later": True})).status_code == 200
        after = (await client.get("/metrics")).text
    assert "now" in ran
    count = "keel_job_duration_seconds_count"
    assert value(after, count, task=task) == value(before, count, task=task) + 1
    assert (
        value(after, "keel_job_duration_seconds_sum", task=task)
        >= value(before, "keel_job_duration_seconds_sum", task=task) + 0.02
    )
    assert value(after, "keel_jobs_queue_depth", queue=QUEUE, status="todo") == 1  # the one scheduled later
    assert value(after, "keel_jobs_total", task=task, outcome="succeeded") >= 1
