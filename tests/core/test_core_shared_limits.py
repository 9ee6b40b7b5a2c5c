"""Across processes: one rate limit shared by two servers on one Redis; metrics summed over workers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow
KEEL = str(Path(sys.executable).with_name("keel"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        KEEL_ENV="test",
        KEEL_APPS="",
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        JWT_SECRET="test-only-secret-that-is-long-enough-0123456789",  # noqa: S106
        LOG_LEVEL="WARNING",
        JOBS_IN_SERVER="false",
    )
    env.update(extra)
    return env


@contextmanager
def running(cmd: list[str], env: dict[str, str], cwd: Path, port: int) -> Iterator[str]:
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("server did not start")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.services
def test_a_limit_is_shared_by_two_servers_on_one_redis(settings, tmp_path: Path) -> None:
    env = server_env(settings, RATE_LIMIT_MAX="5", RATE_LIMIT_WINDOW="60")
    ports = [free_port(), free_port()]
    uvicorn = [sys.executable, "-m", "uvicorn", "keel.asgi:app", "--host", "127.0.0.1"]
    cmds = [[*uvicorn, "--port", str(p)] for p in ports]
    with running(cmds[0], env, tmp_path, ports[0]) as one, running(cmds[1], env, tmp_path, ports[1]) as two:
        codes = [
            httpx.get(f"{(one, two)[i % 2]}/schema/openapi.json", timeout=10).status_code for i in range(14)
        ]
    assert codes.count(200) == 5, codes
    assert codes.count(429) == 9, codes


@pytest.mark.services  # several workers need REDIS_URL (keel serve refuses otherwise)
def test_metrics_add_up_the_requests_of_every_worker(settings, tmp_path: Path) -> None:
    port = free_port()
    metrics_dir = tmp_path / "prometheus"
    env = server_env(settings, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), REDIS_URL=settings.redis_url)
    cmd = [KEEL if shutil.which(KEEL) else "keel", "serve", "--workers", "2", "--port", str(port)]
    sent = 0
    with running(cmd, env, tmp_path, port) as base:
        # fresh connections until both workers have answered (each keeps its own samples file)
        deadline = time.monotonic() + 90
        while True:
            for _ in range(20):
                with httpx.Client() as fresh:
                    assert fresh.get(f"{base}/ready", timeout=5).status_code == 200
                sent += 1
            pids = {p.name.split("_")[-1] for p in metrics_dir.glob("counter_*.db")}
            if len(pids) >= 2 or time.monotonic() > deadline:
                break
        assert len(pids) >= 2, "one worker served every request"
        text = httpx.get(f"{base}/metrics", timeout=5).text
    counted = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("keel_http_requests_total{") and 'route="/ready"' in line
    )
    assert counted == sent
