"""Graceful shutdown: `keel serve` finishes in-flight requests after SIGTERM, refuses new connections,
stops its in-process job worker and channels, and exits 0 within SHUTDOWN_TIMEOUT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from core_platform_helpers import free_port, wait_for_health

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_sigterm_drains_in_flight_requests_and_exits_zero(settings, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "KEEL_ENV": "test",
        "KEEL_APPS": "",  # the core alone
        "JWT_SECRET": settings.jwt_secret,
        "JOBS_IN_SERVER": "true",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_MAX": "100000",
        "SHUTDOWN_TIMEOUT": "10",
    }
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "core_platform_helpers", "serve", "--port", str(port)], env=env, cwd=tmp_path
    )
    try:
        wait_for_health(port, proc)
        result: dict[str, object] = {}

        def slow_request() -> None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/test/slow?seconds=3", timeout=20)
                result["status"] = response.status_code
                result["body"] = response.json()
            except Exception as exc:  # reported by the assertion below
                result["error"] = repr(exc)

        thread = threading.Thread(target=slow_request)
        thread.start()
        time.sleep(1.0)  # the request is in flight
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # the listening socket is closed: new connections are refused
        thread.join(20)
        assert result.get("status") == 200, result
        assert result["body"] == {"slept": "3.0"}
        assert proc.wait(15) == 0
        assert time.monotonic() - started < 10 + 5  # SHUTDOWN_TIMEOUT, plus slack for a loaded machine
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.mark.slow
def test_sigterm_ends_open_sse_streams_at_once(settings, tmp_path: Path) -> None:
    """Open SSE streams end as soon as shutdown starts: exit well before SHUTDOWN_TIMEOUT, no traceback."""
    import uuid

    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "KEEL_ENV": "test",
        "KEEL_APPS": "",
        "JWT_SECRET": settings.jwt_secret,
        "LOG_LEVEL": "INFO",
        "SHUTDOWN_TIMEOUT": "10",
        "REALTIME_KEEPALIVE": "30",
    }
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "core_platform_helpers", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_health(port, proc)
        ended: dict[str, float] = {}
        users = [str(uuid.uuid4()) for _ in range(3)]
        opened = {u: threading.Event() for u in users}

        def listen(user: str) -> None:
            with httpx.stream(
                "GET", f"http://127.0.0.1:{port}/api/v1/events", headers={"X-Test-User": user}, timeout=30
            ) as response:
                assert response.status_code == 200
                opened[user].set()
                for _ in response.iter_lines():
                    pass
            ended[user] = time.monotonic()

        threads = [threading.Thread(target=listen, args=(u,)) for u in users]
        for thread in threads:
            thread.start()
        for user in users:  # every stream is open (a fixed sleep was too short on a loaded machine)
            assert opened[user].wait(60), "a stream did not open"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(15)
        assert proc.wait(15) == 0
        stopped_after = time.monotonic() - started
        assert sorted(ended) == sorted(users)
        assert max(ended.values()) - started < 3, "the streams outlived the start of shutdown"
        assert stopped_after < 5, f"shutdown took {stopped_after:.1f} s with streams open"
        stderr = proc.stderr.read()  # type: ignore[union-attr]
        assert "Traceback" not in stderr and '"level": "error"' not in stderr.lower(), stderr[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
