"""`keel worker` under faults: it survives PostgreSQL restarts (reconnecting with backoff) and its
helper processes die with it, even when it is killed with SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from keel.core import jobs

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
KEEL = str(Path(sys.executable).with_name("keel"))


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has finished; only its exit status is left


def _wait_gone(pids: list[int], within: float) -> list[int]:
    deadline = time.monotonic() + within
    while (alive := [p for p in pids if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def test_scribe_pool_children_die_with_a_killed_parent(tmp_path: Path) -> None:
    """The transcription pool's children get SIGKILL when their parent dies by SIGKILL (no atexit runs)."""
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent("""
        import os, time
        from keel.apps.scribe import tasks

        def pid_after_a_while():
            time.sleep(1.0)
            return os.getpid()

        if __name__ == "__main__":  # spawned children import this file too
            pool = tasks._pool(2)
            # both children up and through their initializer (under load one may start much later)
            pids, deadline = set(), time.monotonic() + 90
            while len(pids) < 2 and time.monotonic() < deadline:
                pids |= {f.result() for f in [pool.submit(pid_after_a_while) for _ in range(2)]}
            assert len(pids) == 2, pids
            futures = [pool.submit(time.sleep, 120) for _ in range(2)]
            print(" ".join(str(pid) for pid in pool._processes), flush=True)
            time.sleep(120)
    """)
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)  # noqa: S603
    try:
        line = parent.stdout.readline()  # type: ignore[union-attr]
        children = [int(p) for p in line.split()]
        assert len(children) == 2 and all(_alive(p) for p in children), line
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        assert _wait_gone(children, 10) == []
    finally:
        if parent.poll() is None:
            parent.kill()
        for pid in children if "children" in locals() else []:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


async def _run_job(settings, workdir: Path, key: str, within: float) -> None:  # type: ignore[no-untyped-def]
    """Defer `slow_marker_job` through a fresh connection and wait until it has completed."""
    import core_platform_helpers as helpers

    connector = jobs.configure(settings, connector=jobs.make_connector(settings, max_size=1))
    jobs.register_tasks(helpers.tasks, "core_platform_helpers")
    deadline = time.monotonic() + within
    while True:  # the database may still be coming back
        try:
            await connector.open_async()
            break
        except Exception:
            assert time.monotonic() < deadline, "the database did not come back"
            await asyncio.sleep(0.2)
    try:
        await helpers.slow_marker_job.defer_async(workdir=str(workdir), key=key)
    finally:
        await connector.close_async()
    completions = workdir / "completions.log"
    while not (completions.exists() and key in completions.read_text().split()):
        assert time.monotonic() < deadline, f"job {key} was not run within {within} s"
        await asyncio.sleep(0.1)


async def test_worker_keeps_processing_across_postgresql_restarts(make_settings, tmp_path: Path) -> None:
    from core_platform_helpers import OwnPostgres

    pg = OwnPostgres()
    pg.init()
    worker = None
    try:
        settings = make_settings(database_url=pg.url, keel_apps="")
        jobs.ensure_jobs_schema(settings)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
            "DATABASE_URL": pg.url,
            "KEEL_ENV": "test",
            "KEEL_APPS": "",
            "JWT_SECRET": settings.jwt_secret,
            "LOG_LEVEL": "WARNING",
            "JOBS_TASK_MODULES": "core_platform_helpers",
            "JOBS_POLL_INTERVAL": "0.2",
        }
        env.pop("REDIS_URL", None)
        worker = subprocess.Popen([KEEL, "worker", "--concurrency", "1"], env=env, cwd=tmp_path)  # noqa: ASYNC220, S603
        await _run_job(settings, tmp_path, "before", 90)

        pg.restart("fast")  # every connection of the worker is cut
        await asyncio.sleep(1)
        assert worker.poll() is None, "keel worker exited when PostgreSQL restarted"
        started = time.monotonic()
        await _run_job(settings, tmp_path, "after-restart", 30)
        print(f"a job ran {time.monotonic() - started:.1f} s after the PostgreSQL restart")

        pg.stop("immediate")  # down for a while: the worker keeps retrying with backoff
        await asyncio.sleep(4)
        assert worker.poll() is None, "keel worker exited while PostgreSQL was down"
        pg.start()
        await _run_job(settings, tmp_path, "after-outage", 40)
        assert worker.poll() is None

        worker.send_signal(signal.SIGTERM)  # still stops cleanly
        assert worker.wait(30) == 0
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        pg.destroy()
