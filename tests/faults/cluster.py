"""What the fault suite runs and breaks: its own PostgreSQL cluster and redis-server on free loopback ports,
Keel instances (`keel serve`, uvicorn, in subprocesses) and `keel worker`s, and a bounded HTTP load that
records every answer."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from core_platform_helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
KEEL = str(Path(sys.executable).with_name("keel"))
JWT_SECRET = "fault-suite-secret-that-is-long-enough-0123456789"  # noqa: S105 - test data
PASSWORD = "Fault suite pass 1 with spaces!"  # noqa: S105 - test data
STALLED, SWEEP = 3.0, 5  # JOBS_STALLED_TIMEOUT, JOBS_RECOVER_INTERVAL of the workers


def base_env(database_url: str, redis_url: str, workdir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STORAGE_URL": f"file://{workdir}/storage",
        "KEEL_ENV": "test",
        "KEEL_APPS": "gym,segmint",
        "SEGMINT_ALLOW_PRIVATE_TARGETS": "true",  # its webhook is a local server
        "JWT_SECRET": JWT_SECRET,
        "LOG_LEVEL": "WARNING",
        "LOG_JSON": "true",
        "JOBS_IN_SERVER": "false",  # jobs run in the `keel worker`s
        "RATE_LIMIT_MAX": "100000",
        "RATE_LIMIT_AUTH": "10000/minute",
        "REGISTER_LIMIT": "1000/hour",
        "LOGIN_IP_LIMIT": "10/minute",  # the limit fault 6 checks across the two instances
        "PASSWORD_HASH_MEMORY_KIB": "19456",
        "PASSWORD_HASH_TIME_COST": "2",
        "SHUTDOWN_TIMEOUT": "10",
        "REALTIME_KEEPALIVE": "0.5",
        "JOBS_POLL_INTERVAL": "0.2",
        "JOBS_HEARTBEAT_INTERVAL": "0.5",
        "JOBS_STALLED_TIMEOUT": str(STALLED),
        "JOBS_RECOVER_INTERVAL": str(SWEEP),
        "JOBS_TASK_MODULES": "faults.fault_tasks",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("WORKERS", None)
    return env


@dataclass
class Proc:
    """A Keel subprocess (an instance or a worker) with its stderr in a file."""

    name: str
    cmd: list[str]
    env: dict[str, str]
    cwd: Path
    port: int | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.cwd.mkdir(parents=True, exist_ok=True)
        with (self.cwd / "stderr.log").open("ab") as err:
            self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=self.cwd, stdout=err, stderr=err)  # noqa: S603

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr(self) -> str:
        path = self.cwd / "stderr.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def instance(name: str, env: dict[str, str], workdir: Path) -> Proc:
    """The real app (plus the test-only publish route of core_platform_helpers) under `keel serve`."""
    port = free_port()
    cmd = [sys.executable, "-m", "core_platform_helpers", "serve", "--port", str(port)]
    return Proc(name, cmd, env, workdir / name, port=port)


def worker(name: str, env: dict[str, str], workdir: Path) -> Proc:
    return Proc(name, [KEEL, "worker", "--concurrency", "2"], env, workdir / name)


async def wait_healthy(procs: list[Proc], within: float = 120.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as http:
        for p in procs:
            while True:
                assert p.alive(), f"{p.name} exited: {p.stderr()[-2000:]}"
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"http://127.0.0.1:{p.port}/health")).status_code == 200:
                        break
                assert time.monotonic() < deadline, f"{p.name} not healthy after {within} s"
                await asyncio.sleep(0.2)


def alive_pid(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@dataclass
class User:
    email: str
    token: str
    id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Load:
    """A bounded load over both instances: each round writes a gym session (kept when acknowledged with
    201), reads the caller and lists its sessions. Every answer is counted by status."""

    clients: list[httpx.AsyncClient]
    users: list[User] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)  # 5xx other than a 503 with Retry-After, transport errors
    acknowledged: set[str] = field(default_factory=set)
    budget: int = 900
    sent: int = 0

    async def request(
        self, client: httpx.AsyncClient, method: str, url: str, **kw: Any
    ) -> httpx.Response | None:
        self.sent += 1
        try:
            response = await client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            self.statuses["transport"] += 1
            self.bad.append(f"{method} {client.base_url}{url}: {exc!r}")
            return None
        self.statuses[str(response.status_code)] += 1
        if response.status_code >= 500 and not (
            response.status_code == 503 and response.headers.get("retry-after")
        ):
            self.bad.append(f"{method} {client.base_url}{url}: {response.status_code} {response.text[:300]}")
        return response

    async def register(self, client: httpx.AsyncClient) -> User:
        email = f"fault-{uuid.uuid4().hex[:10]}@example.com"
        body = {"email": email, "password": PASSWORD, "name": "Fault"}
        response = await self.request(client, "POST", "/api/v1/auth/register", json=body)
        assert response is not None and response.status_code == 201, response and response.text
        token = response.json()["data"]["access_token"]
        me = await self.request(
            client, "GET", "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert me is not None and me.status_code == 200
        user = User(email, token, me.json()["data"]["id"])
        self.users.append(user)
        return user

    async def _round(self, client: httpx.AsyncClient, user: User, n: int) -> None:
        created = await self.request(
            client, "POST", "/api/v1/gym/sessions", headers=user.headers, json={"name": f"load {n}"}
        )
        if created is not None and created.status_code == 201:
            self.acknowledged.add(created.json()["data"]["id"])
        await self.request(client, "GET", "/api/v1/users/me", headers=user.headers)
        await self.request(client, "GET", "/api/v1/gym/sessions?limit=5", headers=user.headers)

    @contextlib.asynccontextmanager
    async def running(self, concurrency: int = 3, pause: float = 0.05) -> AsyncIterator[None]:
        """Drive the load in the background for the body of the `async with` (until the budget is spent)."""
        stop = asyncio.Event()
        counter = itertools.count()

        async def loop(k: int) -> None:
            while not stop.is_set() and self.sent < self.budget:
                n = next(counter)
                await self._round(
                    self.clients[(n + k) % len(self.clients)], self.users[n % len(self.users)], n
                )
                await asyncio.sleep(pause)

        tasks = [asyncio.create_task(loop(k)) for k in range(concurrency)]
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks)


class Streams:
    """SSE listeners (`GET /api/v1/events`) on every instance; events are published through an instance."""

    def __init__(self, clients: list[httpx.AsyncClient], users: list[User]) -> None:
        self.clients = clients
        self.users = users
        self.received: dict[tuple[int, str], list[int]] = {}
        self.tasks: dict[tuple[int, str], asyncio.Task[None]] = {}
        self.ended: dict[tuple[int, str], float] = {}
        self.counter = itertools.count(1)

    async def _listen(self, key: tuple[int, str]) -> None:
        import json

        index, user_id = key
        headers = {"X-Test-User": user_id}
        try:
            async with self.clients[index].stream(
                "GET", "/api/v1/events", headers=headers, timeout=None
            ) as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        event = json.loads(line[5:]).get("event", {})
                        if "n" in event:
                            self.received[key].append(event["n"])
        finally:
            self.ended[key] = time.monotonic()

    def open(self) -> None:
        for index in range(len(self.clients)):
            for user in self.users:
                self.received[(index, user.id)] = []
                self.tasks[(index, user.id)] = asyncio.create_task(self._listen((index, user.id)))

    async def delivered_within(self, within: float) -> float:
        """Publish fresh events (alternating instances) until every stream got one; seconds it took."""
        from keel.core.realtime import user_channel

        started = time.monotonic()
        n = next(self.counter)
        while True:
            if all(n in got for got in self.received.values()):
                return time.monotonic() - started
            for key, task in self.tasks.items():
                assert not task.done(), f"stream {key} ended: {task.exception() if task.done() else ''}"
            assert time.monotonic() - started < within, f"event {n} not on every stream within {within} s"
            for user in self.users:
                client = self.clients[n % len(self.clients)]
                body = {"channel": user_channel(user.id), "event": {"type": "tick", "n": n}}
                with contextlib.suppress(httpx.HTTPError):
                    await client.post("/test/publish", json=body, timeout=2)
            await asyncio.sleep(0.2)

    async def close(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        for task in self.tasks.values():
            with contextlib.suppress(BaseException):
                await task


def send_sigterm(procs: list[Proc]) -> None:
    for p in procs:
        p.signal(signal.SIGTERM)
