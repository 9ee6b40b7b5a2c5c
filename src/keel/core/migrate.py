"""Programmatic Alembic: `keel migrate`, start-up checks and tests all go through here."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy.types import TypeDecorator

from keel.core.db import MIGRATIONS_DIR, prepare_sqlite_path
from keel.settings import Settings


def alembic_config(settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.attributes["database_url"] = settings.database_url
    return cfg


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    """Autogenerate compares our models only: procrastinate's tables are applied by `upgrade` below, so a new
    revision must never try to drop them; hand-written full-text tables and indexes (`*_fts*`) neither."""
    if not (reflected and compare_to is None):
        return True
    if type_ == "table" and str(name).startswith("procrastinate"):
        return False
    # full-text machinery written by hand in migrations (an FTS5 table and its shadow tables, a GIN
    # expression index) has no model; it is named *_fts*
    return not (type_ in ("table", "index") and "_fts" in str(name))


def compare_type(  # type: ignore[no-untyped-def]
    context, inspected_column, metadata_column, inspected_type, metadata_type
) -> bool | None:
    """Autogenerate sees no change where a decorator type (advanced-alchemy's GUID, DateTimeUTC, JSON) is
    stored as what the database reflects: comparing the decorator itself would rewrite every such column
    of every table on SQLite (a batch copy per table, which fails on seeded rows) in each new revision."""
    if isinstance(metadata_type, TypeDecorator):
        dialect = context.dialect
        if dialect.name == "sqlite":  # SQLite stores any value in any column: its declared type is a label
            return False
        stored = metadata_type.load_dialect_impl(dialect)
        try:
            same = stored.compile(dialect=dialect) == inspected_type.compile(dialect=dialect)
        except Exception:
            return None
        if same or type(stored)._type_affinity is type(inspected_type)._type_affinity:
            return False
    return None  # Alembic's own comparison


def upgrade(settings: Settings, revision: str = "head") -> None:
    if not settings.is_postgres:
        prepare_sqlite_path(settings.database_url)
    command.upgrade(alembic_config(settings), revision)
    if settings.is_postgres:
        from keel.core.jobs import ensure_jobs_schema

        ensure_jobs_schema(settings)  # procrastinate's own tables, applied once when missing


def downgrade(settings: Settings, revision: str = "-1") -> None:
    command.downgrade(alembic_config(settings), revision)


def revision(settings: Settings, message: str, autogenerate: bool = True) -> None:
    command.revision(alembic_config(settings), message=message, autogenerate=autogenerate)


def current(settings: Settings) -> None:
    command.current(alembic_config(settings), verbose=True)
