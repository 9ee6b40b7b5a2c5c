"""Hot reads on the driver: a SELECT built once, compiled once per dialect, run on a pooled connection's
own driver (asyncpg, aiosqlite) with none of the ORM session's or Core execution's machinery per call.

    PRINCIPAL = DriverSelect(select(users.c.id, users.c.email).where(users.c.id == bindparam("user_id")))
    rows = await PRINCIPAL.rows(db_session, {"user_id": user_id})  # [{"id": ..., "email": ...}]

Why: on a request that reads one or two rows, SQLAlchemy's per-execution work (session and connection
set-up, cache key, execution context, seven event dispatches, result metadata) cost ~0.3 ms of CPU, five
times the driver's own ~0.06 ms. Here a call is: check a connection out of the engine's pool (its
checkout and checkin events run: the closed-connection check, the pool gauges), bind the parameters
through the columns' types, one driver call (asyncpg's prepared-statement cache; aiosqlite's
`execute_fetchall`, one hop to its thread instead of four), rows as dicts with the columns' result
types applied (a `plain()` column keeps the driver's value).

What stays the same:
- values: the bind and result processors are the ones SQLAlchemy would apply (GUID as 16 bytes on SQLite,
  DateTimeUTC aware), so a row reads alike on either database;
- observers: `keel_db_query_duration_seconds{operation="select"}` is observed, and `observe_statements`
  listeners (the tests' statement counters) see each statement;
- transactions: a session that already holds a connection (it wrote, or read in its transaction) runs
  the statement itself, so a request reads its own writes; with tracing or SQL echo on, every statement
  goes through SQLAlchemy so its instrumentation sees it;
- failures: a driver error invalidates that connection and the statement runs once more through the
  session (which retries a dead connection and raises SQLAlchemy's errors: a lost database is a 503).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.util.concurrency import await_only, greenlet_spawn

from keel.core.metrics import observe_query


async def _asyncpg_fetch(driver: Any, sql: str, arguments: list[Any]) -> Any:
    return await driver.fetch(sql, *arguments)


async def _aiosqlite_fetch(driver: Any, sql: str, arguments: list[Any]) -> Any:
    return await driver.execute_fetchall(sql, arguments)


# the drivers this runs on (by SQLAlchemy's dialect.driver); any other goes through the session
_FETCH: dict[str | None, Callable[[Any, str, list[Any]], Any]] = {
    "asyncpg": _asyncpg_fetch,
    "aiosqlite": _aiosqlite_fetch,
}
StatementObserver = Callable[[str], None]
# by the engine's pool: an engine with other execution options (the AUTOCOMMIT one) shares it
_observers: weakref.WeakKeyDictionary[Any, list[StatementObserver]] = weakref.WeakKeyDictionary()
_through_sqlalchemy: weakref.WeakSet[Any] = weakref.WeakSet()  # pools whose statements must be seen


def observe_statements(sync_engine: Any, observer: StatementObserver) -> None:
    """Call `observer(sql)` for each driver statement run on `sync_engine` (SQLAlchemy's cursor events
    see the others)."""
    _observers.setdefault(sync_engine.pool, []).append(observer)


def stop_observing(sync_engine: Any, observer: StatementObserver) -> None:
    found = _observers.get(sync_engine.pool)
    if found and observer in found:
        found.remove(observer)


def through_sqlalchemy(sync_engine: Any) -> None:
    """Every statement on `sync_engine` goes through SQLAlchemy (tracing instruments its engine events)."""
    _through_sqlalchemy.add(sync_engine.pool)


class _Compiled:
    """The statement for one dialect: its SQL, parameter order with bind processors, and result columns
    with result processors."""

    __slots__ = ("binds", "defaults", "keys", "results", "sql")

    def __init__(self, statement: Select[Any], dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("a DriverSelect takes plain bind parameters (no expanding IN, no literals)")
        self.sql = str(compiled)
        binds = compiled.binds
        self.binds = tuple(
            (name, binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup or ()
        )
        # values the statement carries itself (a literal such as coalesce(..., '[]')), by their names
        self.defaults = {name: bind.effective_value for name, bind in binds.items() if not bind.required}
        columns = list(statement.selected_columns)
        self.keys: tuple[str, ...] = tuple(str(column.key) for column in columns)
        self.results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
        if len(set(self.keys)) != len(self.keys):
            raise ValueError(f"a DriverSelect needs distinct column names: {self.keys}")

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        if self.defaults:
            params = {**self.defaults, **params}
        return [params[name] if proc is None else proc(params[name]) for name, proc in self.binds]

    def rows(self, records: Any) -> list[dict[str, Any]]:
        keys, results = self.keys, self.results
        if not any(results):
            return [dict(zip(keys, record, strict=True)) for record in records]
        return [
            {
                key: value if proc is None else proc(value)
                for key, proc, value in zip(keys, results, record, strict=True)
            }
            for record in records
        ]


class DriverSelect:
    """A module-level SELECT (bind parameters by name) run on the driver; see the module docstring."""

    __slots__ = ("_by_dialect", "statement")

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, dialect: Any) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            found = self._by_dialect[dialect.name] = _Compiled(self.statement, dialect)
        return found

    async def rows(self, db: AsyncSession | AsyncEngine, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row, as {column name: value}; `db` is the request's session (its transaction, once it has
        one, is where the statement runs) or, before the request has one, the engine."""
        in_session = isinstance(db, AsyncSession)
        sync_engine = getattr(db.bind if in_session else db, "sync_engine", None)  # type: ignore[union-attr]
        driver_name = getattr(getattr(sync_engine, "dialect", None), "driver", None)
        if (
            driver_name not in _FETCH
            or (in_session and db.in_transaction())  # type: ignore[union-attr]
            or sync_engine.echo  # type: ignore[union-attr]
            or sync_engine.pool in _through_sqlalchemy  # type: ignore[union-attr]
        ):
            return await self._through_session(db, params)
        compiled = self._compiled(sync_engine.dialect)  # type: ignore[union-attr]
        arguments = compiled.arguments(params)
        pool = sync_engine.pool  # type: ignore[union-attr]
        fetch, sql = _FETCH[driver_name], compiled.sql

        def checkout_fetch_checkin() -> Any:
            # one greenlet for the checkout, the driver call (await_only hands it to the loop) and the
            # checkin, as SQLAlchemy's own async layer runs a statement
            pooled = pool.connect()
            try:
                for observer in _observers.get(pool, ()):
                    observer(sql)
                started = time.perf_counter()
                records = await_only(fetch(pooled.driver_connection, sql, arguments))
                observe_query("select", time.perf_counter() - started)
            except BaseException:
                pooled.invalidate()  # its state after a failure mid-statement is unknown
                raise
            finally:
                pooled.close()
            return records

        try:
            records = await greenlet_spawn(checkout_fetch_checkin)
        except SQLAlchemyError:  # from the checkout: the database is not reachable
            raise
        except Exception:  # the session's path retries a dead connection, raises SQLAlchemy's error
            return await self._through_session(db, params)
        return compiled.rows(records)

    async def _through_session(
        self, db: AsyncSession | AsyncEngine, params: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        return await through_session(db, self.statement, params)


async def through_session(
    db: AsyncSession | AsyncEngine, statement: Select[Any], params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """`statement`'s rows as dicts through SQLAlchemy: in the session, or, given the engine, in a session
    of its own (a dead connection is retried once)."""
    if isinstance(db, AsyncSession):
        return [dict(row._mapping) for row in await db.execute(statement, dict(params))]
    from keel.core.db import RetryingSession

    async with RetryingSession(bind=db) as session:
        return [dict(row._mapping) for row in await session.execute(statement, dict(params))]


__all__ = ["DriverSelect", "observe_statements", "stop_observing", "through_session", "through_sqlalchemy"]
