"""Revocation holds across server processes: log in on one, log out on the other, the token dies on both."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fixtures.identity import DEFAULT_PASSWORD, free_port


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready: {log.read_text()[-4000:]}")


@pytest.mark.services
@pytest.mark.slow
def test_logout_on_one_process_revokes_on_the_other(base_settings, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": base_settings.database_url,
        "REDIS_URL": base_settings.redis_url,
        "KEEL_ENV": "test",
        "JWT_SECRET": base_settings.jwt_secret,
        "KEEL_APPS": base_settings.keel_apps,
        "RATE_LIMIT_MAX": "100000",
        "RATE_LIMIT_AUTH": "10000/minute",
        "JOBS_IN_SERVER": "false",
        "LOG_LEVEL": "WARNING",
    }
    procs, urls, logs = [], [], []
    try:
        for index in range(2):
            port = free_port()
            # a file, not a pipe: an unread pipe fills up and blocks the server
            logs.append(tmp_path / f"server{index}.log")
            procs.append(
                subprocess.Popen(  # noqa: S603 - our own interpreter and args
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "keel.asgi:app",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                    ],
                    env=env,
                    stdout=logs[-1].open("wb"),
                    stderr=subprocess.STDOUT,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url, proc, log in zip(urls, procs, logs, strict=True):
            _wait_ready(url, proc, log)
        one, two = urls
        r = httpx.post(
            f"{one}/api/v1/auth/register", json={"email": "mp@example.com", "password": DEFAULT_PASSWORD}
        )
        assert r.status_code == 201, r.text
        headers = {"Authorization": f"Bearer {r.json()['data']['access_token']}"}
        assert httpx.get(f"{one}/api/v1/users/me", headers=headers).status_code == 200
        assert httpx.get(f"{two}/api/v1/users/me", headers=headers).status_code == 200
        assert httpx.post(f"{two}/api/v1/auth/logout", headers=headers).status_code == 200
        assert httpx.get(f"{one}/api/v1/users/me", headers=headers).status_code == 401
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
