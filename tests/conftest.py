"""Test harness: the real app against a real database (SQLite file, or PostgreSQL/Redis when
DATABASE_URL/REDIS_URL are set: the services lane). The schema comes from the Alembic history once per
session; every test starts from empty tables and an empty Redis database.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from keel.app import KNOWN_APPS, KeelApp, create_app, import_all_models
from keel.core import migrate
from keel.core.db import metadata
from keel.settings import Settings, load_settings

pytest_plugins: list[str] = ["fixtures.identity", "fixtures.openai_server"]

SRC = Path(__file__).resolve().parent.parent / "src" / "keel"


def _isolate_local_services() -> None:
    """Outside CI several test runs may share one PostgreSQL and Redis: give this run its own database
    and Redis db index (through the environment, so server subprocesses inherit them). CI uses the URLs
    exactly as given, unless the run is split across pytest-xdist workers: each worker gets its own."""
    parallel_worker = os.environ.get("PYTEST_XDIST_WORKER")  # workers of one run must not share a database
    if (os.environ.get("CI") or os.environ.get("KEEL_TEST_NO_ISOLATION")) and not parallel_worker:
        return
    import asyncio
    import atexit

    from sqlalchemy.engine import make_url

    db_url = os.environ.get("DATABASE_URL", "")
    if db_url.startswith("postgresql"):
        url = make_url(db_url)
        name = f"{url.database}_run{os.getpid()}"

        async def admin(sql: str) -> None:
            import asyncpg

            conn = await asyncpg.connect(
                host=url.host,
                port=url.port or 5432,
                user=url.username,
                password=url.password,
                database=url.database,
            )
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        atexit.register(lambda: asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))
        os.environ["DATABASE_URL"] = url.set(database=name).render_as_string(hide_password=False)

    redis_url = os.environ.get("REDIS_URL", "")
    if redis_url:
        import redis

        # claims live in db 15, which no run uses for data: a CI-mode run flushing db 0 can't free them
        base = redis.Redis.from_url(redis_url, db=15)
        for index in range(1, 15):
            if base.set(f"keel:test-run-db:{index}", os.getpid(), nx=True, ex=3 * 3600):
                atexit.register(lambda i=index: base.delete(f"keel:test-run-db:{i}"))
                os.environ["REDIS_URL"] = re.sub(r"(/\d*)?$", f"/{index}", redis_url, count=1)
                break


_isolate_local_services()


def installed_apps() -> str:
    return ",".join(a for a in KNOWN_APPS if (SRC / "apps" / a / "plugin.py").exists())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`services` tests need real PostgreSQL and Redis, and the `faults` suite runs in that lane too (it
    starts its own cluster and Redis to break them); the embedded lane deselects (and reports) them."""
    if os.environ.get("DATABASE_URL", "").startswith("postgresql") and os.environ.get("REDIS_URL"):
        return

    def lane_only(item: pytest.Item) -> bool:
        return bool(item.get_closest_marker("services") or item.get_closest_marker("faults"))

    deselected = [i for i in items if lane_only(i)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [i for i in items if not lane_only(i)]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The fault suite's figures (requests, errors by status, recovery seconds, writes lost), also when
    it ran on a pytest-xdist worker (they travel in the report's user_properties)."""
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        for name, value in getattr(report, "user_properties", []):
            if name == "fault_figures" and report.when == "call":
                terminalreporter.write_sep("-", f"fault suite figures ({report.outcome})")
                terminalreporter.write_line(str(value))


@pytest.fixture(scope="session")
def test_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keel")


def _test_overrides(root: Path) -> dict[str, Any]:
    return {
        "keel_env": "test",
        "database_url": os.environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{root}/test.db",
        "redis_url": os.environ.get("REDIS_URL", ""),
        "storage_url": f"file://{root}/storage",
        "jwt_secret": "test-only-secret-that-is-long-enough-0123456789",
        "log_level": "WARNING",
        "rate_limit_max": 100_000,
        "rate_limit_auth": "10000/minute",
        "keel_apps": installed_apps(),
        "password_hash_memory_kib": 19456,
        "password_hash_time_cost": 2,
        "frontend_url": "http://testserver.local",
    }


async def _reset_schema(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture(scope="session")
def base_settings(test_root: Path) -> Settings:
    import asyncio

    settings = load_settings(None, **_test_overrides(test_root))
    if settings.is_postgres:
        asyncio.run(_reset_schema(settings.database_url))
    migrate.upgrade(settings)
    return settings


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return base_settings


@pytest.fixture
def make_settings(base_settings: Settings) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        return msgspec.structs.replace(base_settings, **overrides)

    return make


def _tables() -> list[str]:
    import_all_models()
    return [t.name for t in reversed(metadata.sorted_tables)]


@pytest.fixture(autouse=True)
async def _clean_state(base_settings: Settings) -> AsyncIterator[None]:
    """Empty every table and the Redis test database after each test, so tests never see each other."""
    yield
    engine = create_async_engine(base_settings.database_url)
    async with engine.begin() as conn:
        tables = _tables()
        if base_settings.is_postgres:
            # TRUNCATE costs about 30 ms per table whether or not it holds rows (over a second for every
            # table, every test); one probe finds the few tables a test wrote to, and only those are emptied
            has_jobs = await conn.scalar(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL"))
            candidates = [*tables, "procrastinate_jobs"] if has_jobs else tables
            probe = " UNION ALL ".join(
                f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM \"{name}\")"  # noqa: S608 - our own table names
                for name in candidates
            )
            written = [row[0] for row in await conn.execute(text(probe))] if candidates else []
            if written:
                quoted = ", ".join(f'"{name}"' for name in written)
                await conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(text(f'DELETE FROM "{table}"'))  # noqa: S608 - our own table names
    await engine.dispose()
    if base_settings.redis_url:
        import redis.asyncio as redis

        client = redis.from_url(base_settings.redis_url)
        await client.flushdb()
        await client.aclose()


@pytest.fixture
def app(settings: Settings) -> KeelApp:
    return create_app(settings)


@pytest.fixture
async def client(app: KeelApp) -> AsyncIterator[AsyncTestClient[KeelApp]]:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as test_client:
        yield test_client
