"""Hot reads on the driver (keel.core.driver_select): the rows SQLAlchemy would give, on either database,
without its session machinery; a session's own transaction still reads its writes; a dead or failing
connection never reaches the caller as anything but SQLAlchemy's own error path."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import bindparam, func, insert, select, text

from keel.core import db
from keel.core.driver_select import DriverSelect, observe_statements, stop_observing
from keel.core.metrics import QUERY_DURATION
from keel.core.query import plain
from keel.identity.models import ApiKey, User

_users, _keys = User.__table__, ApiKey.__table__

ACCOUNT_KEYS = DriverSelect(
    select(
        _users.c.id,
        _users.c.email,
        _users.c.is_active,
        _users.c.last_login_at,
        _users.c.created_at,
        _keys.c.id.label("key_id"),
        _keys.c.scopes,
        _keys.c.expires_at,
    )
    .select_from(_users.outerjoin(_keys, _keys.c.user_id == _users.c.id))
    .where(_users.c.email == bindparam("email"))
    .order_by(_keys.c.name)
)


@pytest.fixture
async def database(settings: Any) -> Any:
    found = db.sqlalchemy_config(settings)
    yield found
    await found.dispose()


async def _account_with_keys(database: Any, email: str) -> uuid.UUID:
    user_id = uuid.uuid4()
    async with database.get_session() as session:
        await session.execute(
            insert(User).values(id=user_id, email=email, name="D", password_hash="x", is_active=True)  # noqa: S106 - never logs in
        )
        for name, scopes in (("a", ["read", "write"]), ("b", None)):
            await session.execute(
                insert(ApiKey).values(
                    user_id=user_id,
                    name=name,
                    prefix=name,
                    key_hash=uuid.uuid4().hex,
                    scopes=scopes,
                    expires_at=datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC) if name == "a" else None,
                )
            )
        await session.commit()
    return user_id


def _pooled(database: Any) -> int:
    return int(database.get_engine().sync_engine.pool.checkedout())


async def test_rows_are_what_sqlalchemy_gives_on_either_database(database: Any) -> None:
    user_id = await _account_with_keys(database, "d@example.com")
    seen: list[str] = []
    engine = database.get_engine().sync_engine
    observe_statements(engine, seen.append)
    try:
        async with database.get_session() as session:
            rows = await ACCOUNT_KEYS.rows(session, {"email": "d@example.com"})
            assert not session.in_transaction()  # the session itself never ran anything
            result = await session.execute(ACCOUNT_KEYS.statement, {"email": "d@example.com"})
            expected = [dict(r._mapping) for r in result]
    finally:
        stop_observing(engine, seen.append)
    assert rows == expected and len(rows) == 2
    first = rows[0]
    assert first["id"] == user_id and isinstance(first["id"], uuid.UUID)  # not SQLite's 16 bytes
    assert first["scopes"] == ["read", "write"] and rows[1]["scopes"] is None  # JSON decoded
    assert first["expires_at"] == datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)  # aware, on SQLite too
    assert first["is_active"] is True and first["last_login_at"] is None
    assert len(seen) == 1 and seen[0].startswith("SELECT")  # observers see the driver's statement
    assert _pooled(database) == 0
    async with database.get_session() as session:
        assert await ACCOUNT_KEYS.rows(session, {"email": "nobody@example.com"}) == []


async def test_a_plain_column_keeps_the_drivers_value(database: Any) -> None:
    await _account_with_keys(database, "p@example.com")
    read = DriverSelect(select(plain(_users.c.id)).where(_users.c.email == bindparam("email")))
    async with database.get_session() as session:
        (row,) = await read.rows(session, {"email": "p@example.com"})
    # what msgspec converts in C: asyncpg's UUID, or SQLite's 16 bytes
    assert isinstance(row["id"], uuid.UUID if database.settings.is_postgres else bytes)


async def test_values_the_statement_carries_are_bound_with_the_callers(database: Any) -> None:
    await _account_with_keys(database, "v@example.com")
    read = DriverSelect(
        select(func.coalesce(_keys.c.expires_at.is_(None), False).label("open"), _keys.c.name)
        .join(_users, _users.c.id == _keys.c.user_id)
        .where(_users.c.email == bindparam("email"), _keys.c.name != "zz")  # two literals of its own
        .order_by(_keys.c.name)
    )
    async with database.get_session() as session:
        rows = await read.rows(session, {"email": "v@example.com"})
    assert rows == [{"open": False, "name": "a"}, {"open": True, "name": "b"}]


async def test_a_session_in_its_transaction_reads_its_own_writes(database: Any) -> None:
    async with database.get_session() as session:
        await session.execute(
            insert(User).values(email="w@example.com", name="W", password_hash="x", is_active=True)  # noqa: S106 - never logs in
        )
        rows = await ACCOUNT_KEYS.rows(session, {"email": "w@example.com"})  # uncommitted, its own
        assert [r["email"] for r in rows] == ["w@example.com"]
        await session.rollback()
    async with database.get_session() as session:
        assert await ACCOUNT_KEYS.rows(session, {"email": "w@example.com"}) == []


async def test_the_query_histogram_counts_driver_reads(database: Any) -> None:
    def selects() -> float:
        for metric in QUERY_DURATION.collect():
            for sample in metric.samples:
                if sample.name.endswith("_count") and sample.labels.get("operation") == "select":
                    return sample.value
        return 0.0

    before = selects()
    async with database.get_session() as session:
        await ACCOUNT_KEYS.rows(session, {"email": "x@example.com"})
    assert selects() == before + 1


async def test_a_failing_statement_raises_sqlalchemys_error_and_frees_its_connection(database: Any) -> None:
    from sqlalchemy.exc import DBAPIError

    broken = DriverSelect(select(text("no_such_column FROM user_account")).where(text("1 = 1")))
    async with database.get_session() as session:
        with pytest.raises(DBAPIError):
            await broken.rows(session, {})
    assert _pooled(database) == 0


@pytest.mark.services
async def test_a_cancelled_read_frees_its_connection(database: Any) -> None:
    sleeper = DriverSelect(select(text("pg_sleep(5)")).where(text("1 = 1")))
    async with database.get_session() as session:
        task = asyncio.create_task(sleeper.rows(session, {}))
        await asyncio.sleep(0.3)
        assert _pooled(database) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert _pooled(database) == 0
    async with database.get_session() as session:  # and the pool goes on serving
        assert await ACCOUNT_KEYS.rows(session, {"email": "x@example.com"}) == []


@pytest.mark.services
async def test_a_connection_the_server_killed_is_replaced(database: Any, settings: Any) -> None:
    """The checkout check is off (a death the event loop has not noticed yet): the driver's error sends
    the read through the session, whose retry takes a fresh connection."""
    from sqlalchemy import event
    from sqlalchemy.ext.asyncio import create_async_engine

    await _account_with_keys(database, "k@example.com")
    event.remove(database.get_engine().sync_engine.pool, "checkout", db._drop_closed_connection)
    async with database.get_session() as session:
        assert len(await ACCOUNT_KEYS.rows(session, {"email": "k@example.com"})) == 2
    admin = create_async_engine(settings.database_url)
    async with admin.connect() as conn:  # what a restart or an idle-timeout kill does to the pool
        killed = await conn.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    await admin.dispose()
    assert killed >= 1
    async with database.get_session() as session:
        assert len(await ACCOUNT_KEYS.rows(session, {"email": "k@example.com"})) == 2
    assert _pooled(database) == 0


def test_expanding_parameters_are_refused_when_compiled() -> None:
    from sqlalchemy.dialects import sqlite

    read = DriverSelect(select(_users.c.id).where(_users.c.email.in_(bindparam("emails", expanding=True))))
    with pytest.raises(ValueError, match="expanding"):
        read._compiled(sqlite.dialect())
