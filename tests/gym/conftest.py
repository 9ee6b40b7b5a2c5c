"""gym API fixtures: the catalogue seeded through the real seeder, and small request helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

API = "/api/v1/gym"


async def run_seed(settings: Any) -> None:
    from keel.apps.gym.seed import seed

    engine = create_async_engine(settings.database_url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session, session.begin():
            await seed(session, settings)
    finally:
        await engine.dispose()


@pytest.fixture
async def gym_seeded(settings: Any) -> AsyncIterator[None]:
    await run_seed(settings)
    yield


async def exercise_id(client: Any, headers: dict[str, str], q: str) -> str:
    resp = await client.get(f"{API}/exercises", params={"q": q, "limit": 100}, headers=headers)
    assert resp.status_code == 200, resp.text
    items = resp.json()["data"]
    exact = [i for i in items if i["name"].lower() == q.lower()]
    return (exact or items)[0]["id"]


@pytest.fixture
def gym_helpers() -> Any:
    """The helpers above for test modules (this conftest is not importable next to tests/conftest.py)."""
    from types import SimpleNamespace

    return SimpleNamespace(API=API, exercise_id=exercise_id, run_seed=run_seed)
