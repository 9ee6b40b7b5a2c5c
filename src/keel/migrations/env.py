"""Alembic environment: async engine from settings, all models imported, batch mode for SQLite."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from keel.app import import_all_models
from keel.core.db import metadata
from keel.core.migrate import compare_type, include_object
from keel.settings import get_settings

config = context.config
import_all_models()
target_metadata = metadata


def _url() -> str:
    return config.attributes.get("database_url") or get_settings().database_url


def _configure(connection=None, url=None) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copy
        compare_type=compare_type,
        include_object=include_object,
        user_module_prefix="sa.",
        literal_binds=url is not None,
    )


def run_offline() -> None:
    _configure(url=_url())
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection) -> None:  # type: ignore[no-untyped-def]
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        await connectable.run_sync(_run_sync)
        return
    engine = create_async_engine(_url())
    async with engine.begin() as connection:
        await connection.run_sync(_run_sync)
    await engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())
