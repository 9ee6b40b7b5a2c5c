"""Helpers for tests/core/test_core_{jobs,realtime,shutdown}.py: task blueprints a `keel worker`
subprocess can import (JOBS_TASK_MODULES=core_platform_helpers), an app with test-only routes, and a
`python -m core_platform_helpers serve ...` entry point that runs the real `keel serve` on that app.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from litestar import Request, get, post
from procrastinate import Blueprint

tasks = Blueprint()


@tasks.task(name="slow_marker_job")
async def slow_marker_job(workdir: str, key: str) -> None:
    """Records each execution; sleeps while `<workdir>/hold` exists; completes idempotently."""
    root = Path(workdir)
    with (root / "executions.log").open("a") as fh:
        fh.write(f"{os.getpid()}\n")
    while (root / "hold").exists():  # noqa: ASYNC110 - another process removes the file
        await asyncio.sleep(0.1)
    try:
        fd = os.open(root / f"done-{key}", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return  # already completed by an earlier run: the effect happens once
    os.close(fd)
    with (root / "completions.log").open("a") as fh:
        fh.write(f"{key}\n")


# --- subprocess servers ------------------------------------------------------------------------------


class StatementCounter:
    """The SQL of every statement the app's engine sends inside the `with` block (whitespace folded), for
    the statement-count contracts of hot requests: SQLAlchemy's cursor events and the hot reads run on
    the driver (`keel.core.driver_select`). BEGIN/COMMIT are not statements on these hooks."""

    def __init__(self, app: Any) -> None:
        self.engine = app.state.sa_config.get_engine().sync_engine
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements.append(" ".join(statement.split()))

    def _driver(self, statement: str) -> None:
        self.statements.append(" ".join(statement.split()))

    def __enter__(self) -> StatementCounter:
        from sqlalchemy import event

        from keel.core.driver_select import observe_statements

        self.statements = []
        event.listen(self.engine, "before_cursor_execute", self)
        observe_statements(self.engine, self._driver)
        return self

    def __exit__(self, *_: Any) -> None:
        from sqlalchemy import event

        from keel.core.driver_select import stop_observing

        event.remove(self.engine, "before_cursor_execute", self)
        stop_observing(self.engine, self._driver)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def serve_address(app: Any) -> AsyncIterator[str]:
    """The app on a real uvicorn server on this event loop, as `host:port` (event streams, WebSockets and
    browsers need a real HTTP server); open streams get 2 s to end at shutdown."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "server failed to start"
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """`serve_address`, as the base URL."""
    async with serve_address(app) as address:
        yield f"http://{address}"


class OwnRedis:
    """A redis-server of the test's own on a free loopback port, which it may kill and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: Any = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import shutil
        import subprocess
        import time

        import redis

        binary = shutil.which("redis-server")
        assert binary, "the redis-server binary is needed (apt-get install redis-server)"
        cmd = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def wait_for_health(port: int, proc: Any, timeout: float = 90.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"server on port {port} not healthy after {timeout}s")


class FakePrincipal:
    def __init__(self, user_id: uuid.UUID) -> None:
        self.user_id = user_id


async def header_authenticate(connection: Any) -> FakePrincipal:
    """Test stand-in for identity's authenticate_connection: `X-Test-User` header or `?user=`."""
    from keel.core.errors import Unauthorized

    raw = connection.headers.get("x-test-user") or connection.query_params.get("user")
    if not raw:
        raise Unauthorized()
    return FakePrincipal(uuid.UUID(raw))


def create() -> Any:
    """The real app plus test-only routes (slow request, publish) and header authentication."""
    from keel.app import create_app
    from keel.core.realtime import publish

    @get("/test/slow", opt={"rate_limit": None})
    async def slow(seconds: float = 2.0) -> dict[str, str]:
        await asyncio.sleep(seconds)
        return {"slept": str(seconds)}

    @post("/test/publish", status_code=200, opt={"rate_limit": None})
    async def publish_route(data: dict[str, Any], request: Request[Any, Any, Any]) -> dict[str, bool]:
        await publish(request.app, data["channel"], data["event"])
        return {"published": True}

    app = create_app()
    app.state.authenticate_connection = header_authenticate
    app.register(slow)
    app.register(publish_route)
    return app


def main(argv: list[str]) -> None:
    """`python -m core_platform_helpers serve --port N`: `keel serve` with `create()` as the app."""
    import types

    module = types.ModuleType("keel.asgi")
    module.app = create()  # type: ignore[attr-defined]
    sys.modules["keel.asgi"] = module
    from keel.cli import main as keel_main

    keel_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])


# --- a PostgreSQL cluster a test owns (so it may restart or kill it) -----------------------------------


class OwnPostgres:
    """`initdb` + `pg_ctl` on a free loopback port in a temporary directory (as the `postgres` user when
    the tests run as root: PostgreSQL refuses to run as root)."""

    def __init__(self) -> None:
        import glob
        import tempfile

        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
        self.bin = Path(found[-1]).parent
        # its own directory right under /tmp: pytest's tmp dirs are private to root, unreadable by postgres
        self.root = Path(tempfile.mkdtemp(prefix="keel-pg-"))
        self.data = self.root / "pgdata"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/keel"

    def _run(self, *args: str, check: bool = True) -> Any:
        import pwd
        import subprocess

        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
            os.chown(self.root, pwd.getpwnam("postgres").pw_uid, -1)
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120, cwd="/")  # noqa: S603

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "keel")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "pg.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def destroy(self) -> None:
        import shutil

        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
