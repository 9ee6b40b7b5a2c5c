"""Starting and stopping servers, the bench user, and a migrated database of each kind."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import httpx

from benchmarks import measure as m
from benchmarks.run.config import BIN, OUT, ROOT, database_url, server_env


def start(cmd: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start a server; its output (JSON log lines, tracebacks) goes to `log`, never to an undrained pipe."""
    with log.open("wb") as sink:
        proc = subprocess.Popen(  # noqa: S603
            [*m.server_prefix(), *cmd], env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server failed: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def make_user(base: str) -> dict[str, str]:
    body = {
        "email": f"bench-user-{uuid.uuid4().hex[:12]}@bench.example",
        "password": "Bench-password-0001",
        "name": "B",
    }
    response = httpx.post(f"{base}/api/v1/auth/register", json=body, timeout=60)
    response.raise_for_status()
    return {**body, "token": response.json()["data"]["access_token"]}


def prepare_database(kind: str) -> dict[str, str]:
    """A migrated database of KIND: SQLite starts fresh, PostgreSQL (created when missing) is reused."""
    url = database_url(kind)
    env = server_env(url)
    if kind == "sqlite":
        for leftover in OUT.glob("bench.db*"):
            leftover.unlink()
    else:
        from benchmarks.twins import ensure_postgres_database

        ensure_postgres_database(url)
    subprocess.run([str(BIN / "keel"), "migrate"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    return env
