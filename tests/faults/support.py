"""The fault suite's helpers: jobs deferred through the cluster's procrastinate tables, the schema applied
in-process, phases that keep their failures, and a segmint schedule delivered to a local webhook."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from faults.cluster import JWT_SECRET, Load, User

TASK = "faults.fault_tasks:marker"
SEGMINT = "/api/v1/segmint"
STRONG_HEADER = (
    "Date,Workout Name,Duration,Exercise Name,Set Order,Weight,Reps,Distance,Seconds,Notes,Workout Notes,RPE"
)


def strong_csv(sets: int) -> str:
    lines = [STRONG_HEADER]
    for i in range(sets):
        day = i // 20
        lines.append(
            f"2021-{1 + day // 28 % 12:02d}-{1 + day % 28:02d} 07:00:00,W{day},1h,"
            f"Bench Press (Barbell),{i % 20 + 1},{60 + i % 40},5,0,0,,,"
        )
    return "\n".join(lines) + "\n"


class Jobs:
    """Defers the workers' marker jobs through the cluster's own procrastinate tables."""

    def __init__(self, database_url: str, workdir: Path) -> None:
        import procrastinate

        from keel.core.jobs import conninfo

        self.app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=conninfo(database_url))
        )
        self.workdir = workdir
        self.keys: list[str] = []

    async def defer(self, key: str, **kwargs: Any) -> None:
        deadline = time.monotonic() + 30
        while True:  # the database may be restarting
            try:
                async with self.app.open_async():
                    await self.app.configure_task(TASK).defer_async(
                        workdir=str(self.workdir), key=key, **kwargs
                    )
                break
            except Exception:
                assert time.monotonic() < deadline, f"could not defer {key}"
                await asyncio.sleep(0.3)
        self.keys.append(key)

    def executions(self, key: str | None = None) -> list[tuple[int, str]]:
        path = self.workdir / "executions.log"
        rows = [line.split() for line in path.read_text().splitlines()] if path.exists() else []
        return [(int(pid), k) for pid, k in rows if key is None or k == key]

    def completions(self) -> list[str]:
        path = self.workdir / "completions.log"
        return path.read_text().split() if path.exists() else []

    async def wait_completed(self, within: float) -> None:
        deadline = time.monotonic() + within
        while not set(self.keys) <= set(self.completions()):
            missing = sorted(set(self.keys) - set(self.completions()))
            assert time.monotonic() < deadline, f"jobs not completed within {within} s: {missing}"
            await asyncio.sleep(0.2)


async def pg_query(url: str, sql: str, *args: Any) -> list[Any]:
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = await asyncpg.connect(host=u.host, port=u.port, user=u.username, database=u.database)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def wait_until(check: Any, within: float, what: str, step: float = 0.2) -> float:
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < within, f"{what} not within {within} s"
        await asyncio.sleep(step)
    return time.monotonic() - started


async def migrate_and_seed(database_url: str) -> None:
    """`keel migrate` (the schema, procrastinate's tables, the seed data) in this process."""
    from keel.app import app_seeders, enabled_apps
    from keel.core import migrate
    from keel.core.seed import run_seeders
    from keel.settings import load_settings

    settings = load_settings(None, database_url=database_url, keel_apps="gym,segmint", jwt_secret=JWT_SECRET)
    await asyncio.to_thread(migrate.upgrade, settings)
    await run_seeders(settings, app_seeders(enabled_apps(settings)))


async def ready(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/ready", timeout=5)
    body: dict[str, Any] = response.json()["data"]
    body["status_code"] = response.status_code
    return body


class Phases:
    """Runs each fault's checks, keeping the first failure of each so one broken fault hides no other."""

    def __init__(self) -> None:
        self.failures: dict[str, str] = {}
        self.seconds: dict[str, float] = {}

    @contextlib.asynccontextmanager
    async def phase(self, name: str) -> Any:
        started = time.monotonic()
        try:
            yield
        except AssertionError as exc:
            self.failures[name] = str(exc)[:1500]
        finally:
            self.seconds[name] = round(time.monotonic() - started, 1)


async def schedule_webhook_post(
    load: Load, client: httpx.AsyncClient, owner: User, approver: User, url: str
) -> str:
    """An approved segmint post scheduled to a webhook at `url` a few seconds from now; the schedule's id."""

    async def call(method: str, path: str, user: User, body: dict[str, Any]) -> dict[str, Any]:
        response = await load.request(client, method, f"{SEGMINT}{path}", headers=user.headers, json=body)
        assert response is not None and response.status_code in (200, 201), response and response.text[:500]
        data: dict[str, Any] = response.json()["data"]
        return data

    workflow = await call("POST", "/workflow", owner, {"name": "faults", "approver_emails": [approver.email]})
    content = await call(
        "POST", "/content", owner, {"text": "Fault suite news", "tone": "friendly", "platforms": ["mastodon"]}
    )
    await call("POST", f"/content/{content['id']}/submit", owner, {"workflow_id": workflow["id"]})
    await call("POST", f"/workflow/reviews/{content['id']}/decision", approver, {"decision": "approve"})
    hook = await call(
        "POST",
        "/integration",
        owner,
        {"name": "hook", "provider": "webhook", "url": url, "secret": "fault-suite-webhook-secret"},
    )
    at = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
    schedule = await call(
        "POST",
        f"/content/{content['id']}/schedules",
        owner,
        {"publish_at": at, "integration_ids": [hook["id"]]},
    )
    return str(schedule["id"])
