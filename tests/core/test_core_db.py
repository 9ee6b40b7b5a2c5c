"""The request's database session (keel.core.db): one transaction per write, none on PostgreSQL for a
read, no pre-ping round trip, and a pooled connection the server closed never reaches a user as a 500.

The statements PostgreSQL receives are read from asyncpg's own query log (BEGIN and COMMIT included,
which SQLAlchemy's cursor events do not show).
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar import get, post
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from keel.app import create_app
from keel.core import db
from keel.core.driver_select import observe_statements, stop_observing
from keel.core.errors import ValidationFailed


@post("/test-db/rename-then-fail", status_code=200)
async def rename_then_fail(db_session: AsyncSession, data: dict[str, str]) -> None:
    await db_session.execute(
        text("UPDATE user_account SET name = :name WHERE email = :email"),
        {"name": "Changed", "email": data["email"]},
    )
    raise ValidationFailed("refused after a write")


@post("/test-db/rename", status_code=200)
async def rename(db_session: AsyncSession, data: dict[str, str]) -> None:
    await db_session.execute(
        text("UPDATE user_account SET name = :name WHERE email = :email"),
        {"name": data["name"], "email": data["email"]},
    )


@get("/test-db/name")
async def read_name(db_session: AsyncSession, email: str) -> dict[str, str]:
    name = (
        await db_session.execute(text("SELECT name FROM user_account WHERE email = :e"), {"e": email})
    ).scalar()
    return {"name": name}


HANDLERS = [rename_then_fail, rename, read_name]


@pytest.fixture
def app(settings: Any) -> Any:
    return create_app(settings, extra_route_handlers=HANDLERS)


async def test_a_failed_write_request_leaves_nothing_written(client, user_factory):
    alice = await user_factory(name="Alice")
    resp = await client.post("/test-db/rename-then-fail", json={"email": alice.email})
    assert resp.status_code == 400
    assert (await client.get("/test-db/name", params={"email": alice.email})).json() == {"name": "Alice"}
    resp = await client.post("/test-db/rename", json={"email": alice.email, "name": "Bob"})
    assert resp.status_code == 200
    assert (await client.get("/test-db/name", params={"email": alice.email})).json() == {"name": "Bob"}


class WireLog:
    """What the app sends to PostgreSQL: each statement (SQLAlchemy's cursor event, or the driver's for a
    hot read) and each BEGIN and COMMIT the asyncpg adapter issues (it begins lazily before the first
    statement unless the connection is in AUTOCOMMIT)."""

    def __init__(self, app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection as Adapted

        self.engine = app.state.sa_config.get_engine().sync_engine
        self.sent: list[str] = []
        begin, commit = Adapted._start_transaction, Adapted.commit

        async def counting_begin(adapted: Any) -> None:
            await begin(adapted)
            if adapted._transaction is not None:  # in AUTOCOMMIT the adapter sends no BEGIN
                self.sent.append("BEGIN")

        def counting_commit(adapted: Any) -> None:
            if adapted._transaction is not None:
                self.sent.append("COMMIT")
            commit(adapted)

        monkeypatch.setattr(Adapted, "_start_transaction", counting_begin)
        monkeypatch.setattr(Adapted, "commit", counting_commit)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.sent.append(" ".join(statement.split())[:80])

    def _driver_statement(self, statement: str) -> None:
        self.sent.append(" ".join(statement.split())[:80])

    def __enter__(self) -> WireLog:
        event.listen(self.engine, "before_cursor_execute", self._statement)
        observe_statements(self.engine, self._driver_statement)  # the hot reads run on the driver
        return self

    def __exit__(self, *_: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        stop_observing(self.engine, self._driver_statement)


@pytest.mark.services
async def test_a_read_sends_its_statement_alone_and_a_write_one_transaction(
    app, client, user_factory, monkeypatch
):
    alice = await user_factory(name="Alice")
    with WireLog(app, monkeypatch) as log:
        resp = await client.get("/api/v1/users/me", headers=alice.headers)
    assert resp.status_code == 200 and resp.json()["data"]["name"] == "Alice"
    # no pre-ping (BEGIN; ; ROLLBACK), no BEGIN/COMMIT: the guard's one SELECT
    assert len(log.sent) == 1 and log.sent[0].startswith("SELECT"), log.sent

    with WireLog(app, monkeypatch) as log:
        resp = await client.patch("/api/v1/users/me", json={"name": "Alice B"}, headers=alice.headers)
    assert resp.status_code == 200, resp.text
    # one transaction around all of it (the adapter begins just before the first statement goes out)
    assert log.sent.count("BEGIN") == 1 and log.sent.count("COMMIT") == 1 and log.sent[-1] == "COMMIT", (
        log.sent
    )
    assert (await client.get("/api/v1/users/me", headers=alice.headers)).json()["data"]["name"] == "Alice B"


async def _terminate_app_backends(settings: Any) -> int:
    """pg_terminate_backend every other connection to the test database (what a restart or an
    idle-timeout kill does to the pool)."""
    admin = create_async_engine(settings.database_url)
    try:
        async with admin.connect() as conn:
            killed = (
                await conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            ).scalar_one()
    finally:
        await admin.dispose()
    return int(killed)


@pytest.mark.services
async def test_connections_killed_by_the_server_are_replaced_without_an_error(
    app, client, user_factory, settings
):
    alice = await user_factory()
    for _ in range(2):
        assert (await client.get("/api/v1/users/me", headers=alice.headers)).status_code == 200
        assert await _terminate_app_backends(settings) >= 1
        assert (await client.get("/api/v1/users/me", headers=alice.headers)).status_code == 200
        assert await _terminate_app_backends(settings) >= 1
        resp = await client.patch("/api/v1/users/me", json={"name": "After"}, headers=alice.headers)
        assert resp.status_code == 200, resp.text


@pytest.mark.services
async def test_the_first_statement_is_retried_once_on_a_dead_connection(settings):
    """Without the checkout check (a connection whose death the event loop has not noticed yet), the
    session's first statement still succeeds, on a fresh connection."""
    database = db.sqlalchemy_config(settings)
    pool = database.get_engine().sync_engine.pool
    event.remove(pool, "checkout", db._drop_closed_connection)
    try:
        async with database.get_session() as session:  # one pooled connection, then its backend dies
            first_pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert await _terminate_app_backends(settings) >= 1
        async with database.get_session() as session:
            second_pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert second_pid != first_pid
        # a dead connection after the session's first statement is not retried: that would repeat work
        async with database.get_session() as session:
            await session.execute(text("SELECT 1"))
            await _terminate_app_backends(settings)
            with pytest.raises(DBAPIError):
                await session.execute(text("SELECT 2"))
    finally:
        await database.dispose()
