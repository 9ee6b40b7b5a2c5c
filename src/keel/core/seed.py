"""Seed data, loaded idempotently by `keel migrate`, `keel seed` and `make run`.

The caller passes the seeders in order (identity's roles first, then each *enabled* app's `AppSpec.seed`):
core knows no app.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from keel.core.components import Seeder
from keel.settings import Settings

log = structlog.get_logger("keel.seed")


async def run_seeders(settings: Settings, seeders: Iterable[tuple[str, Seeder]]) -> None:
    """Run each `(name, seeder)` in its own transaction, in order."""
    engine = create_async_engine(settings.database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        for name, seeder in seeders:
            async with sessions() as session, session.begin():
                await seeder(session, settings)
            log.info("seeded", seeder=name)
    finally:
        await engine.dispose()
