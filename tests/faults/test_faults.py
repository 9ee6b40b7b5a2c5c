"""The fault suite (issue 13, faults 1-9): its own PostgreSQL cluster and redis-server, two Keel instances
(`keel serve`, uvicorn subprocesses of the real app) and two `keel worker`s under a bounded HTTP load, while
Redis is killed and restarted, PostgreSQL restarts, a worker is killed with SIGKILL mid-job (with a child
in the transcription pool), a large import runs and a table is locked, and finally the instances get
SIGTERM with event streams open, and both start again at once over a scheduled post whose job was lost.

It asserts: no 5xx except documented 503s with Retry-After, every acknowledged write present afterwards,
every job finished exactly once, streams resumed within 5 s, and prints the figures.

One test on purpose: the services cost ~30 CPU seconds to start, so the faults share one set of them (and
one test stays on one pytest-xdist worker); each phase records what broke and all are reported together.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from subprocess import PIPE
from typing import Any

import httpx
import pytest

from core_platform_helpers import OwnRedis
from faults.cluster import (
    KEEL,
    STALLED,
    SWEEP,
    Load,
    Proc,
    Streams,
    alive_pid,
    base_env,
    instance,
    send_sigterm,
    wait_healthy,
    worker,
)
from faults.support import (
    SEGMINT,
    TASK,
    Jobs,
    Phases,
    migrate_and_seed,
    pg_query,
    ready,
    schedule_webhook_post,
    strong_csv,
    wait_until,
)
from segmint.helpers import FakeServer

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(420)]


async def test_faults_under_load(record_property: Any) -> None:
    from core_platform_helpers import OwnPostgres

    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="keel-faults-"))
    pg, redis = OwnPostgres(), OwnRedis()
    procs: list[Proc] = []
    passed = False
    figures: dict[str, Any] = {}
    phases = Phases()
    try:
        pg.init()
        redis.start()
        env = base_env(pg.url, redis.url, workdir)
        # fault 6's refusal starts a process too: meanwhile the schema is applied here (no extra process)
        no_redis = {k: v for k, v in env.items() if k != "REDIS_URL"}
        refusal = subprocess.Popen(  # noqa: ASYNC220, S603
            [KEEL, "serve", "--workers", "2"], env=no_redis, cwd=workdir, stdout=PIPE, stderr=PIPE
        )
        await migrate_and_seed(pg.url)
        a, b = instance("a", env, workdir), instance("b", env, workdir)
        w1, w2 = worker("w1", env, workdir), worker("w2", env, workdir)
        procs += [a, b, w1, w2]
        for p in procs:
            p.start()
        await wait_healthy([a, b])
        figures["start-up s"] = round(time.monotonic() - began, 1)
        jobs = Jobs(pg.url, workdir)
        hooks = FakeServer()  # the webhook a segmint schedule posts to (fault 7)
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{a.port}", timeout=15) as ca,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{b.port}", timeout=15) as cb,
        ):
            load = Load([ca, cb])
            for client in (ca, cb, ca, cb):
                await load.register(client)
            streams = Streams([ca, cb], load.users[:2])
            streams.open()
            await streams.delivered_within(30)  # subscribed on both instances
            for i in range(5):
                await jobs.defer(f"before-{i}")

            async with phases.phase("6 several workers need REDIS_URL; limits shared across instances"):
                _, err = await asyncio.to_thread(refusal.communicate, timeout=60)
                lines = err.decode().strip().splitlines()
                assert refusal.returncode == 1 and len(lines) == 1 and "REDIS_URL" in lines[0], lines
                answers = []
                for n in range(20):
                    body = {"email": f"nobody-{n}@example.com", "password": "wrong password 1"}
                    response = await load.request((ca, cb)[n % 2], "POST", "/api/v1/auth/login", json=body)
                    answers.append(response.status_code if response is not None else 0)
                figures["logins admitted of 20 (limit 10/min, 2 instances)"] = sum(s != 429 for s in answers)
                assert answers.count(429) == 10 and answers.count(401) == 10, answers

            async with phases.phase("1+2 Redis killed under load; streams resume"):
                async with load.running():
                    await asyncio.sleep(2)
                    before = load.sent
                    redis.kill()
                    await asyncio.sleep(1)
                    for client in (ca, cb):
                        state = await ready(client)
                        assert state["status_code"] == 200, state
                        assert state["checks"]["redis"].startswith("degraded"), state
                        assert state["checks"]["realtime"].startswith("degraded"), state
                    await asyncio.sleep(4)
                    figures["requests while Redis was down"] = load.sent - before
                    redis.start()
                    resumed = await streams.delivered_within(5)
                    figures["streams resumed after Redis restart, s"] = round(resumed, 2)

                    async def realtime_ok() -> bool:
                        states = [await ready(c) for c in (ca, cb)]
                        return all(
                            s["checks"]["realtime"] == "ok" and s["checks"]["redis"] == "ok" for s in states
                        )

                    await wait_until(realtime_ok, 10, "/ready ok again on both instances")

            async with phases.phase("3 PostgreSQL restarts under load; workers keep processing"):
                async with load.running():
                    await asyncio.sleep(1.5)
                    for i in range(5):
                        await jobs.defer(f"pg-{i}")
                    restarted = time.monotonic()
                    await asyncio.to_thread(pg.restart, "fast")
                    down_for = time.monotonic() - restarted
                    user = load.users[0]

                    async def writes_again() -> bool:
                        r = await load.request(
                            ca, "POST", "/api/v1/gym/sessions", headers=user.headers, json={}
                        )
                        if r is not None and r.status_code == 201:
                            load.acknowledged.add(r.json()["data"]["id"])
                            return True
                        return False

                    recovered = await wait_until(writes_again, 15, "a write after the restart")
                    figures["PostgreSQL restart: down s / writes back after s"] = (
                        round(down_for, 2),
                        round(recovered, 2),
                    )
                    for i in range(5):
                        await jobs.defer(f"after-pg-{i}")
                assert w1.alive() and w2.alive(), "a keel worker exited when PostgreSQL restarted"
                await jobs.wait_completed(40)

            async with phases.phase("4+5 a worker killed mid-job: its child dies, the job is recovered"):
                (workdir / "hold-killed").touch()
                await jobs.defer("killed", with_child=True)
                child_pid_file = workdir / "child-killed.pid"

                async def started() -> bool:
                    return bool(jobs.executions("killed")) and child_pid_file.exists()

                await wait_until(started, 60, "the job and its pool child starting")
                victim_pid = jobs.executions("killed")[0][0]
                victim = next(p for p in (w1, w2) if p.pid == victim_pid)
                survivor = w2 if victim is w1 else w1
                child = int(child_pid_file.read_text())
                assert alive_pid(child)
                victim.signal(signal.SIGKILL)
                killed_at = time.monotonic()
                assert victim.proc is not None
                await asyncio.to_thread(victim.proc.wait, 10)

                async def child_gone() -> bool:
                    return not alive_pid(child)

                figures["pool child gone after worker SIGKILL, s"] = round(
                    await wait_until(child_gone, 10, "the pool child dying with its worker", 0.05), 2
                )
                (workdir / "hold-killed").unlink()

                async def rerun() -> bool:
                    return len(jobs.executions("killed")) >= 2

                await wait_until(rerun, STALLED + SWEEP + 10, "the killed worker's job re-run", 0.05)
                recovered_after = time.monotonic() - killed_at
                figures[f"job recovered after SIGKILL, s (stall {STALLED} + sweep {SWEEP})"] = round(
                    recovered_after, 2
                )
                # (tests/core/test_core_jobs.py holds the tight bound: stall timeout + sweep interval)
                assert jobs.executions("killed")[1][0] == survivor.pid
                await jobs.wait_completed(20)

            async with phases.phase("8 a large import and a locked table: writes wait, never 5xx"):
                importer = load.users[-1]
                async with load.running():
                    began_import = time.monotonic()
                    response = await load.request(
                        cb,
                        "POST",
                        "/api/v1/gym/import?format=strong&dry_run=false",
                        headers={**importer.headers, "Content-Type": "text/csv"},
                        content=strong_csv(5000).encode(),
                        timeout=120,
                    )
                    figures["import of 5,000 sets under load, s"] = round(time.monotonic() - began_import, 1)
                    assert response is not None and response.status_code == 201, (
                        response and response.text[:500]
                    )
                    assert response.json()["data"]["imported_sets"] == 5000

                    import asyncpg

                    conn = await asyncpg.connect(
                        host="127.0.0.1", port=pg.port, user="postgres", database="keel"
                    )
                    try:
                        async with conn.transaction():
                            await conn.execute("LOCK TABLE gym_session IN ACCESS EXCLUSIVE MODE")
                            await asyncio.sleep(3)  # every session write and list waits on the lock
                    finally:
                        await conn.close()
                    await asyncio.sleep(1)

            sid = None
            async with phases.phase("7 (set-up) a scheduled post whose job is lost"):
                sid = await schedule_webhook_post(load, ca, load.users[0], load.users[1], f"{hooks.url}/hook")
                job_of = (
                    "FROM procrastinate_jobs WHERE task_name = 'segmint:publish' AND args->>'schedule_id'=$1"
                )

                async def queued() -> bool:
                    return bool(await pg_query(pg.url, f"SELECT id {job_of}", sid))

                await wait_until(queued, 15, "the schedule's job")
                await pg_query(pg.url, f"DELETE {job_of}", sid)

            async with phases.phase("9 SIGTERM with streams open: they end at once, clean exit"):
                await streams.delivered_within(10)
                offsets = {p.name: len(p.stderr()) for p in (a, b)}
                stopping = time.monotonic()
                send_sigterm([a, b])
                for p in (a, b):
                    assert p.proc is not None
                    assert await asyncio.to_thread(p.proc.wait, 15) == 0, p.stderr()[-2000:]
                figures["shutdown with 4 open streams, s"] = round(time.monotonic() - stopping, 2)
                await asyncio.sleep(0.1)
                assert len(streams.ended) == len(streams.tasks), "a stream outlived its server"
                figures["streams ended after SIGTERM, s (max)"] = round(
                    max(streams.ended.values()) - stopping, 2
                )
                for p in (a, b):
                    tail = p.stderr()[offsets[p.name] :]
                    # uvicorn cancels what outlives SHUTDOWN_TIMEOUT: the streams closed by themselves
                    assert "timeout graceful shutdown exceeded" not in tail, tail[-2000:]
                    assert "Traceback" not in tail and '"level": "error"' not in tail.lower(), tail[-2000:]
            await streams.close()

            async with phases.phase("7 both instances restart at once: the lost schedule is delivered once"):
                assert sid is not None, "no schedule was made"
                for p in (a, b):
                    p.start()  # both re-queue the schedule whose job is gone
                await wait_healthy([a, b])
                owner = load.users[0]

                async def published() -> bool:
                    r = await load.request(ca, "GET", f"{SEGMINT}/schedules/{sid}", headers=owner.headers)
                    return (
                        r is not None and r.status_code == 200 and r.json()["data"]["status"] == "published"
                    )

                await wait_until(published, 60, "the lost schedule published", 0.5)
                await asyncio.sleep(3)  # a second delivery would arrive meanwhile
                posts = [r for r in hooks.requests if r["path"] == "/hook"]
                requeued = await pg_query(pg.url, f"SELECT id {job_of}", sid)
                figures["schedule re-queued by the restart: jobs / webhook posts"] = (
                    len(requeued),
                    len(posts),
                )
                assert len(posts) == 1, posts

        async with phases.phase("data: every acknowledged write present, every job done once"):
            rows = await pg_query(pg.url, "SELECT id::text FROM gym_session")
            lost = load.acknowledged - {r[0] for r in rows}
            figures["writes acknowledged / lost"] = (len(load.acknowledged), len(lost))
            assert not lost, sorted(lost)[:10]
            done = jobs.completions()
            figures["jobs deferred / completed / executions"] = (
                len(jobs.keys),
                len(done),
                len(jobs.executions()),
            )
            assert sorted(done) == sorted(jobs.keys), done
            statuses = await pg_query(
                pg.url,
                "SELECT status::text, count(*) FROM procrastinate_jobs WHERE task_name = $1 GROUP BY 1",
                TASK,
            )
            assert {r[0]: r[1] for r in statuses} == {"succeeded": len(jobs.keys)}, statuses
        for p in procs:
            p.stop()
        figures["requests"] = sum(load.statuses.values())
        figures["answers by status"] = dict(sorted(load.statuses.items()))
        figures["5xx other than 503 + Retry-After, transport errors"] = len(load.bad)
        figures["phase seconds"] = phases.seconds
        figures["total s"] = round(time.monotonic() - began, 1)
        report = json.dumps(figures, indent=1, default=str)
        print(f"\nfault suite figures:\n{report}")
        record_property("fault_figures", report)  # tests/conftest.py prints it in the summary
        assert not load.bad, "\n".join(load.bad[:20])
        assert not phases.failures, json.dumps(phases.failures, indent=1)
        passed = True
    finally:
        if "refusal" in locals() and refusal.poll() is None:
            refusal.kill()
        for p in procs:
            p.stop()
        if "hooks" in locals():
            hooks.close()
        redis.kill()
        pg.destroy()
        if passed:
            shutil.rmtree(workdir, ignore_errors=True)
        else:  # the processes' logs stay for the post-mortem
            print(f"fault suite logs kept in {workdir}")
