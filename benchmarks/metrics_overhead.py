"""What the /metrics hooks cost on `GET /api/v1/users/me`: `python -m benchmarks.metrics_overhead`.

In one process, on the real app (SQLite under a temporary folder, or DATABASE_URL when it is
PostgreSQL): register a user, then alternate rounds of ROUNDS_REQUESTS authenticated requests with the
query-duration listeners attached and removed (the rest of the instrumentation cannot be switched off
without changing the code measured). Prints CPU ms per request (process time, median of the rounds) of
each, and the cost of the listener pair per statement. Environment: BENCH_ROUNDS (6), BENCH_REQUESTS (300).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import event

from keel.app import create_app
from keel.core import metrics, migrate
from keel.settings import load_settings

ROUNDS = int(os.environ.get("BENCH_ROUNDS", 6))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", 300))


def _listeners(engine: Any, attach: bool) -> None:
    for name, fn in (
        ("before_cursor_execute", metrics._query_started),
        ("after_cursor_execute", metrics._query_finished),
    ):
        has = event.contains(engine.sync_engine, name, fn)
        if attach and not has:
            event.listen(engine.sync_engine, name, fn)
        elif not attach and has:
            event.remove(engine.sync_engine, name, fn)


async def _round(client: Any, headers: dict[str, str]) -> float:
    started = time.process_time()
    for _ in range(REQUESTS):
        response = await client.get("/api/v1/users/me", headers=headers)
        assert response.status_code == 200, response.text
    return (time.process_time() - started) * 1000 / REQUESTS


def _listener_cost() -> float:
    """µs per statement of the two listeners themselves (called directly, as SQLAlchemy calls them)."""

    class Context:
        pass

    context, n = Context(), 200_000
    started = time.perf_counter()
    for _ in range(n):
        metrics._query_started(None, None, "SELECT 1", None, context, False)
        metrics._query_finished(None, None, "SELECT 1", None, context, False)
    return (time.perf_counter() - started) * 1e6 / n


def _settings() -> Any:
    root = tempfile.mkdtemp(prefix="keel-metrics-bench-")
    url = os.environ.get("DATABASE_URL", "")
    settings = load_settings(
        None,
        keel_env="production",
        database_url=url if url.startswith("postgresql") else f"sqlite+aiosqlite:///{root}/bench.db",
        redis_url="",
        storage_url=f"file://{root}/storage",
        jwt_secret="bench-only-secret-that-is-long-enough-0123456789",  # noqa: S106 - a throwaway bench app
        log_level="WARNING",
        rate_limit_max=10_000_000,
        rate_limit_auth="1000000/minute",
        keel_apps="",
    )
    migrate.upgrade(settings)
    return settings


async def main(settings: Any) -> None:
    app = create_app(settings)
    engine = app.state.sa_config.get_engine()
    async with AsyncTestClient(app=app, base_url="https://testserver.local") as client:
        account = {"email": f"bench{time.time_ns()}@example.com", "password": "Bench-password-0001"}
        token = (await client.post("/api/v1/auth/register", json=account)).json()["data"]["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        await _round(client, headers)  # warm-up
        with_hooks: list[float] = []
        without: list[float] = []
        for i in range(ROUNDS):  # ABBA order: a drift of the machine's load counts against both alike
            for attach in (False, True) if i % 2 == 0 else (True, False):
                _listeners(engine, attach=attach)
                (with_hooks if attach else without).append(await _round(client, headers))
    on, off = statistics.median(with_hooks), statistics.median(without)
    print(f"database: {'postgresql' if settings.is_postgres else 'sqlite'}; {ROUNDS} rounds of {REQUESTS}")
    print(f"GET /users/me CPU ms/request: with query histogram {on:.3f}, without {off:.3f}")
    print(f"difference: {on - off:+.3f} ms ({(on - off) / off * 100:+.1f} %)")
    print(f"listener pair alone: {_listener_cost():.2f} µs per statement")


if __name__ == "__main__":
    asyncio.run(main(_settings()))
