"""Database: one async engine per process, one transaction per request, one Alembic history.

SQLite (aiosqlite) is the embedded default with WAL and foreign keys on; PostgreSQL (asyncpg) when
DATABASE_URL says so. Models inherit `Base` (UUIDv7 `id`, `created_at`, `updated_at`).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from advanced_alchemy.base import UUIDv7AuditBase, orm_registry
from advanced_alchemy.config import EngineConfig
from advanced_alchemy.extensions.litestar import AsyncSessionConfig, SQLAlchemyAsyncConfig
from sqlalchemy import event
from sqlalchemy.engine import make_url

from keel.settings import Settings

Base = UUIDv7AuditBase
metadata = orm_registry.metadata

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# core model modules; every app's `keel.apps.<name>.models` is found on top of these (model_modules()),
# so one Alembic history knows all tables whatever KEEL_APPS serves
MODEL_MODULES = ("keel.identity.models", "keel.core.llm.models")


def model_modules() -> list[str]:
    """MODEL_MODULES, then `keel.apps.<name>.models` for every app package that has one."""
    import pkgutil

    import keel.apps

    names = list(MODEL_MODULES)
    for info in sorted(pkgutil.iter_modules(keel.apps.__path__), key=lambda i: i.name):
        if info.ispkg:
            names.append(f"keel.apps.{info.name}.models")
    return names


def import_all_models() -> None:
    for name in model_modules():
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # an app without models.py is fine; a real import error inside a module must surface
            if not (exc.name and name.startswith(exc.name)):
                raise


def prepare_sqlite_path(url: str) -> None:
    """Create the folder of a SQLite file (./var on a fresh checkout) so the first connect can create it."""
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def engine_config(settings: Settings) -> EngineConfig:
    if settings.is_postgres:
        return EngineConfig(
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            pool_recycle=settings.db_pool_recycle,
            pool_pre_ping=True,
            echo=settings.db_echo,
        )
    return EngineConfig(echo=settings.db_echo)


def sqlalchemy_config(settings: Settings) -> SQLAlchemyAsyncConfig:
    if not settings.is_postgres:
        prepare_sqlite_path(settings.database_url)
    config = SQLAlchemyAsyncConfig(
        connection_string=settings.database_url,
        engine_config=engine_config(settings),
        session_config=AsyncSessionConfig(expire_on_commit=False),
        session_dependency_key="db_session",
        # commit on 2xx/3xx, roll back on anything else: a failed request leaves nothing half-written
        before_send_handler="autocommit_include_redirects",
        create_all=False,
    )
    engine = config.get_engine()
    if not settings.is_postgres:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    from keel.core.metrics import instrument_pool

    instrument_pool(engine)
    return config
