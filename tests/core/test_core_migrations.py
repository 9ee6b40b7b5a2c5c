"""The one Alembic history upgrades and downgrades cleanly on the configured database."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.types import TypeDecorator

from keel.app import import_all_models
from keel.core import migrate
from keel.core.db import metadata
from keel.core.migrate import include_object


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


async def test_models_and_migrations_do_not_drift(base_settings) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import_all_models()
    engine = create_async_engine(base_settings.database_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"include_object": include_object}), metadata
            )
        )
    await engine.dispose()
    # SQLite reflects advanced-alchemy's decorator types (GUID, DateTimeUTC) as their storage types
    diff = [
        d
        for d in diff
        if not (isinstance(d, list) and d[0][0] == "modify_type" and isinstance(d[0][-1], TypeDecorator))
    ]
    assert not diff, f"models differ from the migrations: {diff}"


async def test_history_matches_models_and_round_trips(base_settings) -> None:
    import asyncio

    import_all_models()
    model_tables = {t.name for t in metadata.sorted_tables}
    assert model_tables <= await _tables(base_settings.database_url), "a model has no migration"

    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, migrate.downgrade, base_settings, "base")
    remaining = await _tables(base_settings.database_url)
    assert not (remaining & model_tables), f"downgrade left {remaining & model_tables}"
    await loop.run_in_executor(None, migrate.upgrade, base_settings, "head")
    assert model_tables <= await _tables(base_settings.database_url)


def test_first_migrate_creates_the_sqlite_folder(tmp_path) -> None:
    """A fresh checkout has no ./var: `keel migrate` (the first step of `make run`) must create it."""
    from keel.settings import load_settings

    database = tmp_path / "var" / "nested" / "keel.db"
    settings = load_settings(None, keel_env="test", database_url=f"sqlite+aiosqlite:///{database}")
    migrate.upgrade(settings)
    assert database.is_file()
