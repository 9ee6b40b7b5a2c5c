"""Database: one async engine per process, one transaction per write request, one Alembic history.

SQLite (aiosqlite) is the embedded default with WAL and foreign keys on; PostgreSQL (asyncpg) when
DATABASE_URL says so. Models inherit `Base` (UUIDv7 `id`, `created_at`, `updated_at`).

Request sessions (`db_session`, and the guard's) are wired here rather than through advanced-alchemy's
Litestar extension, whose import pulls Alembic and the Litestar CLI into every serving process:
- a write (POST/PUT/PATCH/DELETE) runs in one transaction, committed on 2xx/3xx and rolled back on
  anything else, so a failed request leaves nothing half-written;
- on PostgreSQL a safe method (GET/HEAD/OPTIONS) runs on an AUTOCOMMIT connection: no BEGIN/COMMIT
  round trips around its reads (a single-statement write such as the guard's last-seen stamp still
  commits on its own);
- no pool pre-ping (a round trip per request): a pooled asyncpg connection whose socket the server
  closed is dropped at checkout, and a statement that finds its connection dead before anything else
  ran in the session is retried once on a fresh one;
- on SQLite this process's writers take turns for its one write lock in the event loop
  (`keel.core.sqlite_writer`) instead of polling for it in SQLite's busy handler.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advanced_alchemy.base import UUIDv7AuditBase, orm_registry
from advanced_alchemy.config import AsyncSessionConfig, EngineConfig, SQLAlchemyAsyncConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from keel.settings import Settings

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.config.app import AppConfig
    from litestar.connection import ASGIConnection
    from litestar.datastructures import State
    from litestar.types import Message

Base = UUIDv7AuditBase
metadata = orm_registry.metadata

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_BUSY_MS = 10_000  # how long a SQLite writer waits for the lock (its turn, sqlite_writer.py)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# where the request's session lives on the ASGI scope: advanced-alchemy's namespace and key, so code
# written against its scope helpers keeps finding it
SCOPE_NAMESPACE = "_aa_connection_state"
SESSION_SCOPE_KEY = "_sqlalchemy_db_session"
_SESSION_ENDS = frozenset(
    {"http.response.start", "http.disconnect", "websocket.disconnect", "websocket.close"}
)
log = logging.getLogger("keel.db")


def import_models(modules: Iterable[str]) -> None:
    """Import model modules so their tables join `metadata`; the application factory names them (every
    app's, whatever KEEL_APPS serves, so one Alembic history knows all tables)."""
    for name in modules:
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
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _skip_idle_commit_and_rollback(dialect: Any) -> None:
    """SQLite: a COMMIT or ROLLBACK with no transaction open is not sent. sqlite3 does nothing in that
    case either (it checks the same flag), but aiosqlite would still cross to its thread and back for it;
    a read (no write, so no transaction: pysqlite begins only before one) paid two such hops, the
    request's commit and the pool's reset-on-return rollback."""

    def idle(dbapi_connection: Any) -> bool:
        inner = getattr(dbapi_connection, "_connection", None)  # SQLAlchemy's adapter -> aiosqlite
        return inner is not None and inner._connection is not None and not inner.in_transaction

    commit, rollback = dialect.do_commit, dialect.do_rollback
    dialect.do_commit = lambda dbapi_connection: None if idle(dbapi_connection) else commit(dbapi_connection)
    dialect.do_rollback = lambda dbapi_connection: (
        None if idle(dbapi_connection) else rollback(dbapi_connection)
    )


def _drop_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Checkout: an asyncpg connection whose socket is already closed (server restarted, backend
    terminated) is replaced by the pool (DisconnectionError), without the pre-ping's round trip."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise DisconnectionError("pooled connection was closed by the server")


class RetryingSession(AsyncSession):
    """Retries a statement once when it is the session's first and its pooled connection turned out
    dead: nothing ran on that connection yet, so running it again on a fresh one is safe. (On a
    disconnect SQLAlchemy invalidates every connection the pool handed out before it, so one retry
    is enough after a database restart.)"""

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        first = not self.in_transaction()
        try:
            return await super().execute(*args, **kwargs)
        except DBAPIError as exc:
            if not (first and exc.connection_invalidated):
                raise
            log.warning("db_connection_retry", extra={"error": str(exc.orig)[:200]})
            await self.rollback()
            return await super().execute(*args, **kwargs)


def engine_config(settings: Settings) -> EngineConfig:
    if settings.is_postgres:
        return EngineConfig(
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            pool_recycle=settings.db_pool_recycle,
            pool_pre_ping=False,  # see the module docstring: checkout check + one retry instead
            echo=settings.db_echo,
        )
    return EngineConfig(echo=settings.db_echo)


_AUTOCOMMIT_KEY = "keel_autocommit"


def _nothing_to_commit(session: AsyncSession) -> bool:
    """A safe method's AUTOCOMMIT session with no pending ORM changes: its commit would only walk the
    session's transaction machinery (and a rollback has nothing to undo)."""
    return bool(session.info.get(_AUTOCOMMIT_KEY)) and not (session.new or session.dirty or session.deleted)


def _untouched(session: AsyncSession) -> bool:
    """A session that never ran a statement nor held an object (its request read on the driver, or not
    at all): closing it would only walk its empty state (~16 µs and a greenlet)."""
    return not (session.in_transaction() or session.identity_map or session.new or session.deleted)


def _scope_sessions(scope: Any) -> dict[str, Any]:
    return scope.setdefault(SCOPE_NAMESPACE, {})  # type: ignore[no-any-return]


class Database:
    """`app.state.sa_config`: the engine, session factories and the request session's life cycle."""

    session_scope_key = SESSION_SCOPE_KEY

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.config = SQLAlchemyAsyncConfig(
            connection_string=settings.database_url,
            engine_config=engine_config(settings),
            session_config=AsyncSessionConfig(expire_on_commit=False, class_=RetryingSession),
            create_all=False,
            # advanced-alchemy's FileObject columns are not used here; its listener inspected every flush
            enable_file_object_listener=False,
        )
        self._read_engine: AsyncEngine | None = None
        self._maker = self._session_maker()

    def _session_maker(self) -> Any:
        """advanced-alchemy's session factory without its repository-cache listeners: Keel configures no
        such cache, and each commit and rollback asked the engine for its options twice (two engine
        copies per request) before finding nothing to invalidate."""
        from advanced_alchemy._listeners import AsyncCacheListener

        maker = self.config.create_session_maker()
        sync_maker = getattr(maker, "kw", {}).get("sync_session_class")
        if sync_maker is not None:
            for name, listener in (
                ("after_commit", AsyncCacheListener.after_commit),
                ("after_rollback", AsyncCacheListener.after_rollback),
            ):
                if event.contains(sync_maker, name, listener):
                    event.remove(sync_maker, name, listener)
        return maker

    def get_engine(self) -> AsyncEngine:
        return self.config.get_engine()

    def get_session(self) -> Any:
        """`async with db.get_session() as session:` a session outside any request (commit yourself)."""
        return self.config.get_session()

    def create_session_maker(self) -> Any:
        return self._maker

    def _autocommit_engine(self) -> AsyncEngine:
        """The same pool, connections in AUTOCOMMIT (set on checkout, reset on return: no round trip)."""
        if self._read_engine is None:
            self._read_engine = self.get_engine().execution_options(isolation_level="AUTOCOMMIT")
        return self._read_engine

    def provide_session(self, _state: State | None, scope: Any) -> AsyncSession:
        """The request's session, created on first use and shared by the guard and the handler."""
        sessions = _scope_sessions(scope)
        session: AsyncSession | None = sessions.get(SESSION_SCOPE_KEY)
        if session is None:
            maker = self._maker
            if (
                self.settings.is_postgres
                and scope.get("type") == "http"
                and scope.get("method", "GET") in SAFE_METHODS
            ):
                session = maker(bind=self._autocommit_engine())
                session.info[_AUTOCOMMIT_KEY] = True
            else:
                session = maker()
            sessions[SESSION_SCOPE_KEY] = session
        return session

    def reader(self, scope: Any) -> AsyncSession | AsyncEngine:
        """Where a hot read (`keel.core.driver_select`) of this request runs: the request's session once
        it has one (its transaction), otherwise the engine, so no session is made for the read."""
        sessions: dict[str, Any] | None = scope.get(SCOPE_NAMESPACE)
        session: AsyncSession | None = sessions.get(SESSION_SCOPE_KEY) if sessions else None
        return session if session is not None else self.get_engine()

    async def before_send(self, message: Message, scope: Any) -> None:
        """Commit on 2xx/3xx, roll back otherwise, then close: before the response starts."""
        sessions: dict[str, Any] | None = scope.get(SCOPE_NAMESPACE)
        session: AsyncSession | None = sessions.get(SESSION_SCOPE_KEY) if sessions else None
        if session is None:
            return
        kind = message["type"]
        if _untouched(session):  # nothing to commit, roll back or close
            if kind in _SESSION_ENDS and sessions is not None:
                sessions.pop(SESSION_SCOPE_KEY, None)
            return
        try:
            if kind == "http.response.start":
                if _nothing_to_commit(session):
                    pass  # every statement of an AUTOCOMMIT read committed itself; close() releases it
                elif 200 <= message["status"] < 400:  # type: ignore[typeddict-item]
                    await session.commit()
                else:
                    await session.rollback()
        except Exception:  # the response is already decided; a failed cleanup must not replace it
            log.debug("session commit/rollback failed during cleanup", exc_info=True)
        finally:
            if kind in _SESSION_ENDS:
                try:
                    await session.close()
                except Exception:
                    log.debug("session close failed during cleanup", exc_info=True)
                if sessions is not None:
                    sessions.pop(SESSION_SCOPE_KEY, None)

    async def release(self, scope: Any, *, commit: bool) -> None:
        """End the request's session now, if it has one (commit or roll back, then close): for a request
        that goes on for long after its guard (a stream, a transcription) and must hold no transaction."""
        sessions: dict[str, Any] | None = scope.get(SCOPE_NAMESPACE)
        session: AsyncSession | None = sessions.pop(SESSION_SCOPE_KEY, None) if sessions else None
        if session is None:
            return
        try:
            await (session.commit() if commit else session.rollback())
        finally:
            await session.close()

    async def dispose(self, _app: Litestar | None = None) -> None:
        await self.get_engine().dispose()


class DatabasePlugin(InitPluginProtocol):
    """Injects `db_session`, closes it before the response is sent, disposes the engine at shutdown."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        database = self.database

        def provide_db_session(state: State, scope: Any) -> AsyncSession:
            return database.provide_session(state, scope)

        app_config.dependencies["db_session"] = Provide(provide_db_session, sync_to_thread=False)
        app_config.before_send.append(database.before_send)
        app_config.on_shutdown.append(database.dispose)
        app_config.signature_namespace.update(AsyncSession=AsyncSession, AsyncEngine=AsyncEngine)
        return app_config


def reader_of(connection: ASGIConnection[Any, Any, Any, Any]) -> AsyncSession | AsyncEngine:
    """Where a handler that takes no `db_session` runs its hot reads (`Database.reader`): a hot GET list
    authenticates in its handler and reads here, so the request resolves no dependency and makes no
    session (~0.1 ms of CPU, ~140 Python calls of a list of 20)."""
    return connection.app.state.sa_config.reader(connection.scope)  # type: ignore[no-any-return]


def session_of(connection: ASGIConnection[Any, Any, Any, Any]) -> AsyncSession:
    """The request's session (`db_session`'s), made now if nothing has made it yet: committed or rolled
    back with the response like `db_session`."""
    return connection.app.state.sa_config.provide_session(None, connection.scope)  # type: ignore[no-any-return]


def sqlalchemy_config(settings: Settings) -> Database:
    if not settings.is_postgres:
        prepare_sqlite_path(settings.database_url)
    database = Database(settings)
    engine = database.get_engine()
    if settings.is_postgres:
        event.listen(engine.sync_engine.pool, "checkout", _drop_closed_connection)
    else:
        from keel.core import sqlite_writer

        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        _skip_idle_commit_and_rollback(engine.sync_engine.dialect)
        # this process's writers queue for SQLite's one write lock here, not in its polling busy handler
        # (installed after the skip above: its release wraps whichever commit/rollback runs)
        sqlite_writer.install(engine, timeout=SQLITE_BUSY_MS / 1000)
    from keel.core.metrics import instrument_pool

    instrument_pool(engine)
    return database
