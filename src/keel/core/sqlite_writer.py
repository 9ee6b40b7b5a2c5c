"""One writer at a time for SQLite, queued in the event loop instead of in SQLite's busy handler.

SQLite lets one connection write at a time. A second connection that starts writing meanwhile waits in
SQLite's busy handler, which polls in sleeps growing to 100 ms (`busy_timeout`): under concurrent sends
a request slept up to 100 ms after the writer before it had long finished. Here a connection takes the
process's writer turn just before its first write statement (`before_cursor_execute` of anything but a
read; SQLAlchemy's greenlet bridge lets that sync event await), and gives it back when its COMMIT or
ROLLBACK has returned (the dialect's `do_commit` / `do_rollback`, also on the pool's reset and on close).
Waiters are woken in arrival order the moment the turn is free.

The turn belongs to the connection, not to the request or task: a request whose guard already wrote on
the request's session (last-seen) holds it through that session's connection until its commit, and its
handler's writes on the same connection find it held. A task that writes on a second connection while
its first still holds the turn would have waited in the busy handler until `busy_timeout` and failed
"database is locked"; it now fails the same way after the same time.

Only the app's engine is hooked (`keel.core.db.sqlalchemy_config`); other processes writing the same
file still meet SQLite's own lock and busy handler, as before.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util.concurrency import await_

# text statements that do not take SQLite's write lock themselves (a SAVEPOINT's writes do)
_READS = (
    "SELECT",
    "WITH",
    "PRAGMA",
    "VALUES",
    "SAVEPOINT",
    "RELEASE",
    "ROLLBACK",
    "EXPLAIN",
    "BEGIN",
    "COMMIT",
)


class WriterTurn:
    """A FIFO mutex per event loop whose holder is a DBAPI connection."""

    def __init__(self) -> None:
        self.holder: Any = None
        self.waiters: collections.deque[tuple[Any, asyncio.Future[None]]] = collections.deque()

    def take_now(self, connection: Any) -> bool:
        if self.holder is None and not self.waiters:
            self.holder = connection
            return True
        return self.holder is connection

    async def take(self, connection: Any, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append((connection, future))
        try:
            await asyncio.wait_for(future, seconds)
        except BaseException:
            if self.holder is connection:  # handed over just as the wait ended: pass it on
                self.give(connection)
            raise

    def give(self, connection: Any) -> None:
        if self.holder is not connection:
            return
        self.holder = None
        while self.waiters:
            waiter, future = self.waiters.popleft()
            if not future.done():  # (a waiter that timed out or was cancelled is skipped)
                self.holder = waiter
                future.set_result(None)
                return


class SqliteWriter:
    """The hooks for one engine; a turn per event loop (tests run several loops in one process)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WriterTurn] = (
            weakref.WeakKeyDictionary()
        )

    def turn(self) -> WriterTurn | None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a sync engine outside the loop (never this engine's case)
            return None
        found = self._turns.get(loop)
        if found is None:
            found = self._turns[loop] = WriterTurn()
        return found

    def before_execute(
        self, conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        if not _writes(statement, context):
            return
        turn = self.turn()
        if turn is None:
            return
        dbapi = conn.connection.dbapi_connection
        if turn.take_now(dbapi):
            return
        try:
            await_(turn.take(dbapi, self.timeout))
        except TimeoutError:
            locked = sqlite3.OperationalError("database is locked")
            raise OperationalError(statement, None, locked) from None

    def release(self, dbapi_connection: Any) -> None:
        """After the connection's transaction ended (or the connection did)."""
        turn = self.turn()
        if turn is not None:
            turn.give(getattr(dbapi_connection, "dbapi_connection", dbapi_connection))


def _writes(statement: str, context: Any) -> bool:
    if context is not None and context.compiled is not None and not context.is_text:  # it knows what it is
        return bool(context.isinsert or context.isupdate or context.isdelete or context.isddl)
    return not statement.lstrip()[:9].upper().startswith(_READS)  # text: by its first word


def install(engine: AsyncEngine, timeout: float) -> SqliteWriter:
    """Hook `engine` (aiosqlite); `timeout`: seconds a writer waits for its turn (SQLite's busy_timeout).
    Connections of this engine never use AUTOCOMMIT (its statements would end no transaction here)."""
    writer = SqliteWriter(timeout)
    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", writer.before_execute)
    dialect = sync.dialect
    for name in ("do_commit", "do_rollback", "do_close", "do_terminate"):
        original = getattr(dialect, name)

        def ended(dbapi_connection: Any, _original: Any = original) -> None:
            try:
                _original(dbapi_connection)
            finally:
                writer.release(dbapi_connection)

        setattr(dialect, name, ended)  # this engine's dialect instance only
    return writer
