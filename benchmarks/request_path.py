"""CPU per request of the core scenarios in one process, without a load generator: `python -m
benchmarks.request_path [users_me|sessions|create|content_list|gym_sessions|health ...]`.

The real app (all apps, production settings, INFO access log to /dev/null, Prometheus in process as
`keel serve` has it with one worker; BENCH_MULTIPROC=1: multiprocess files, as with several) on
DATABASE_URL (PostgreSQL) or a temporary SQLite file; each request is one ASGI call shaped like
uvicorn's scope, in sequence, so what is measured is the server's own work
per request (no client, no sockets). Prints CPU ms per request (process time, best of BENCH_ROUNDS
rounds of BENCH_REQUESTS) and Python function calls per request (cProfile, which does not move with the
machine's load); `content_list` is a user of its own with 100 posts (created before its first round,
so the other scenarios' rows do not move it) asking for the first page of 20; BENCH_PROFILE=<name>
prints that scenario's cProfile (CPU time), the top BENCH_TOP (40) by BENCH_SORT (tottime). For the
figures the issue's goals name, `make bench` (wrk against `keel serve`) remains the reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import os
import pstats
import sys
import tempfile
import time
from typing import Any

ROUNDS = int(os.environ.get("BENCH_ROUNDS", 5))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", 300))
_ROOT = tempfile.mkdtemp(prefix="keel-request-path-")
# BENCH_ACCEPT_ENCODING="gzip, deflate, br": requests as browsers and httpx send them (wrk sends none)
_ACCEPT_ENCODING = (
    [(b"accept-encoding", os.environ["BENCH_ACCEPT_ENCODING"].encode())]
    if os.environ.get("BENCH_ACCEPT_ENCODING")
    else []
)
if os.environ.get(
    "BENCH_MULTIPROC"
):  # as `keel serve --workers N` (N > 1) or a given PROMETHEUS_MULTIPROC_DIR
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(_ROOT, "prometheus"))
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
else:  # as `keel serve` with one worker: the in-process registry
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


def _settings() -> Any:
    from keel.core import migrate
    from keel.settings import load_settings

    url = os.environ.get("DATABASE_URL", "")
    settings = load_settings(
        None,
        keel_env="production",
        database_url=url if url.startswith("postgresql") else f"sqlite+aiosqlite:///{_ROOT}/bench.db",
        redis_url=os.environ.get("REDIS_URL", ""),
        storage_url=f"file://{_ROOT}/storage",
        jwt_secret="bench-only-secret-that-is-long-enough-0123456789",  # noqa: S106 - a throwaway bench app
        segmint_encryption_key="YmVuY2gtb25seS1rZXktMDEyMzQ1Njc4OWFiY2RlZmc=",
        log_level="INFO",
        rate_limit_max=10**9,
        rate_limit_window=1,
        rate_limit_auth="1000000000/second",
        register_limit="1000000000/second",  # each run registers its users (a lazy scenario its own)
        jobs_in_server=False,
        auth_require_verified_email=False,  # as the bench's servers: signed in at registration
    )
    migrate.upgrade(settings)
    return settings


class Call:
    """One request as uvicorn hands it to the app; the status and body are kept for the checks."""

    def __init__(self, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> None:
        path, _, query = path.partition("?")
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 50000),
            "scheme": "http",
            "method": method,
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": [(b"host", b"127.0.0.1:8000"), *_ACCEPT_ENCODING, *headers],
        }
        self.body = body

    async def __call__(self, app: Any, n: int = 0) -> tuple[int, bytes]:
        body = self.body.replace(b"{n}", str(n).encode())
        sent = False
        status, chunks = 0, []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        scope = dict(self.scope, headers=list(self.scope["headers"]), state={})
        if body:
            scope["headers"].append((b"content-length", str(len(body)).encode()))
        await app(scope, receive, send)
        return status, b"".join(chunks)


def _scenarios(token: str) -> dict[str, Call]:
    auth = [(b"authorization", f"Bearer {token}".encode())]
    json = [(b"content-type", b"application/json")]
    return {
        "health": Call("GET", "/health", []),
        "users_me": Call("GET", "/api/v1/users/me", auth),
        "sessions": Call("GET", "/api/v1/auth/sessions?limit=20", auth),
        "create": Call(
            "POST",
            "/api/v1/segmint/content",
            auth + json,
            b'{"text": "Bench post {n}", "tone": "friendly", "tags": ["bench"]}',
        ),
    }


async def _register(app: Any) -> tuple[str, str]:
    """A new user's email and access token."""
    import msgspec

    email = f"bench{time.time_ns()}@example.com"
    account = msgspec.json.encode({"email": email, "password": "Bench-password-0001", "name": "B"})
    json = [(b"content-type", b"application/json")]
    status, body = await Call("POST", "/api/v1/auth/register", json, account)(app)
    assert status == 201, body
    token: str = msgspec.json.decode(body)["data"]["access_token"]
    return email, token


async def _content_list(app: Any) -> Call:
    """A user with 100 posts of their own (two tags each), asking for the first page of 20."""
    _, token = await _register(app)
    auth = [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json")]
    post = Call(
        "POST",
        "/api/v1/segmint/content",
        auth,
        b'{"text": "Post {n}", "tone": "friendly", "tags": ["b", "a{n}"]}',
    )
    for n in range(100):
        status, body = await post(app, n)
        assert status == 201, body
    return Call("GET", "/api/v1/segmint/content?limit=20", auth[:1])


# scenarios that need rows of their own, made before their first round
_LAZY = {"content_list": _content_list}


async def _prepare(app: Any) -> str:
    import msgspec

    email, token = await _register(app)
    json = [(b"content-type", b"application/json")]
    login = msgspec.json.encode({"email": email, "password": "Bench-password-0001"})
    for n in range(99):
        # a client address per login (loopback is a trusted proxy): the per-IP login limit stays out
        forwarded = [(b"x-forwarded-for", f"10.77.{n // 256}.{n % 256}".encode())]
        status, body = await Call("POST", "/api/v1/auth/login", json + forwarded, login)(app)
        assert status == 200, body
    return token


# --- gym_sessions: a lifter of their own with 100 workout sessions (two sets each), the first page of 20
async def _gym_sessions(app: Any) -> Call:
    from datetime import UTC, datetime, timedelta

    import msgspec

    _, token = await _register(app)
    json = [(b"content-type", b"application/json")]
    auth = [(b"authorization", f"Bearer {token}".encode())]
    status, body = await Call("POST", "/api/v1/gym/exercises", auth + json, b'{"name": "Bench lift"}')(app)
    assert status == 201, body
    exercise = msgspec.json.decode(body)["data"]["id"]
    for n in range(100):
        started = datetime(2026, 1, 1, 7, tzinfo=UTC) + timedelta(days=n)
        start = msgspec.json.encode({"name": f"Day {n}", "started_at": started})
        status, body = await Call("POST", "/api/v1/gym/sessions", auth + json, start)(app)
        assert status == 201, body
        sets = f"/api/v1/gym/sessions/{msgspec.json.decode(body)['data']['id']}/sets"
        for reps in (5, 8):
            logged = msgspec.json.encode({"exercise_id": exercise, "reps": reps, "weight": 60 + n % 7})
            status, body = await Call("POST", sets, auth + json, logged)(app)
            assert status == 201, body
    return Call("GET", "/api/v1/gym/sessions?limit=20", auth)


_LAZY["gym_sessions"] = _gym_sessions
# ---


async def _round(app: Any, call: Call, counter: list[int]) -> tuple[float, float]:
    """CPU ms per request of the process and of its other threads (on SQLite: aiosqlite's, where the
    database engine itself runs; on PostgreSQL that work is the server's, outside this process)."""
    started, main_started = time.process_time(), time.thread_time()
    for _ in range(REQUESTS):
        counter[0] += 1
        status, body = await call(app, counter[0])
        assert 200 <= status < 300, (status, body[:300])
    process, main_thread = time.process_time() - started, time.thread_time() - main_started
    return process * 1000 / REQUESTS, (process - main_thread) * 1000 / REQUESTS


@contextlib.asynccontextmanager
async def _lifespan(app: Any) -> Any:
    """The app's start-up and shutdown hooks, on this event loop (as uvicorn runs them)."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    await inbox.put({"type": "lifespan.startup"})
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


async def main(names: list[str], settings: Any) -> None:
    from keel.app import create_app

    app = create_app(settings)
    counter = [0]
    async with _lifespan(app):
        calls = _scenarios(await _prepare(app))
        for name in names or [*calls, *_LAZY]:
            call = calls[name] if name in calls else await _LAZY[name](app)
            await _round(app, call, counter)  # warm-up
            best, threads = min([await _round(app, call, counter) for _ in range(ROUNDS)])
            profile = cProfile.Profile(time.process_time)
            profile.enable()
            for _ in range(100):
                counter[0] += 1
                await call(app, counter[0])
            profile.disable()
            stats = pstats.Stats(profile)
            calls_per = stats.total_calls / 100  # type: ignore[attr-defined]
            print(
                f"{name:10s} {best:7.3f} ms CPU/request  {calls_per:8.0f} calls/request  "
                f"(other threads {threads:.3f} ms)",
                file=sys.stderr,
            )
            if os.environ.get("BENCH_PACKAGES"):
                by: dict[str, int] = {}
                for (path, _line, _fn), row in stats.stats.items():  # type: ignore[attr-defined]
                    key = path.split("site-packages/")[-1].split("/src/")[-1].split("/")[0]
                    by[key] = by.get(key, 0) + row[1]
                top = sorted(by.items(), key=lambda kv: -kv[1])[:14]
                print("   " + ", ".join(f"{k} {v / 100:.0f}" for k, v in top), file=sys.stderr)
            if os.environ.get("BENCH_PROFILE") == name:
                stats.stream = sys.stderr  # type: ignore[attr-defined]
                stats.sort_stats(os.environ.get("BENCH_SORT", "tottime")).print_stats(
                    int(os.environ.get("BENCH_TOP", 40))
                )


if __name__ == "__main__":
    stdout = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    if not os.environ.get("BENCH_SHOW_LOG"):
        os.dup2(devnull, 1)  # the access log (JSON lines on stdout) is written, to nowhere
    try:
        asyncio.run(main(sys.argv[1:], _settings()))
    finally:
        os.dup2(stdout, 1)
