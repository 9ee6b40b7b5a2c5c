"""Hostile request bodies answer 400 in the envelope, never 500; a locked SQLite database answers 503."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from litestar import post
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from keel.app import create_app

DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


def assert_envelope(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error" and body["error"]["code"] == code, body
    assert body["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    "path", ["/api/v1/auth/login", "/api/v1/auth/register", "/api/v1/gym/sessions", "/api/v1/gym/exercises"]
)
async def test_deeply_nested_json_is_400(client, auth_headers, path) -> None:
    headers = {**auth_headers, "content-type": "application/json"}
    response = await client.post(path, content=DEEP_JSON, headers=headers)
    assert_envelope(response, 400, "BAD_REQUEST")
    assert "nested" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "path", ["/api/v1/auth/login", "/api/v1/auth/register", "/api/v1/gym/sessions", "/api/v1/gym/exercises"]
)
async def test_invalid_utf8_body_is_400(client, auth_headers, path) -> None:
    headers = {**auth_headers, "content-type": "application/json"}
    response = await client.post(path, content=b'{"name": "\xff\xfe", "email": "\xc3"}', headers=headers)
    assert_envelope(response, 400, "BAD_REQUEST")
    assert "UTF-8" in response.json()["error"]["message"]


@post("/t/hostile/recursion", sync_to_thread=False)
def own_recursion() -> None:
    raise RecursionError("a bug of ours, not the client's input")


async def test_a_recursion_error_of_our_own_stays_a_500(make_settings) -> None:
    app = create_app(make_settings(), extra_route_handlers=[own_recursion])
    async with AsyncTestClient(app=app) as own:
        assert_envelope(await own.post("/t/hostile/recursion"), 500, "INTERNAL_ERROR")


@post("/t/hostile/write", sync_to_thread=False, opt={"rate_limit": None})
async def write_row(db_session: AsyncSession) -> str:
    await db_session.execute(text("PRAGMA busy_timeout=200"))  # wait 0.2 s for the lock, not 10 s
    await db_session.execute(text("CREATE TABLE IF NOT EXISTS t_hostile_busy (n INTEGER)"))
    await db_session.execute(text("INSERT INTO t_hostile_busy VALUES (1)"))
    return "written"


async def test_a_locked_sqlite_database_is_503_with_retry_after(make_settings, tmp_path) -> None:
    """A concurrent writer (its own sqlite3 connection) holds the write lock past busy_timeout; the
    request answers 503 with Retry-After, and succeeds once the lock is gone. Always on SQLite (its own
    file), whichever database the lane uses."""
    url = f"sqlite+aiosqlite:///{tmp_path}/busy.db"
    path = make_url(url).database
    holder = sqlite3.connect(path, timeout=0, isolation_level=None)
    app = create_app(make_settings(database_url=url, keel_apps=""), extra_route_handlers=[write_row])
    try:
        async with AsyncTestClient(app=app) as busy:
            await busy.post("/t/hostile/write")  # create the table before the lock is taken
            holder.execute("BEGIN IMMEDIATE")  # the write lock, held by someone else
            response = await busy.post("/t/hostile/write")
            holder.execute("ROLLBACK")
            after = await busy.post("/t/hostile/write")
    finally:
        holder.execute("DROP TABLE IF EXISTS t_hostile_busy")
        holder.close()
    assert_envelope(response, 503, "SERVICE_UNAVAILABLE")
    assert int(response.headers["retry-after"]) >= 1
    assert after.status_code == 201, after.text


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/api/v1/auth/register", {"email": "a\u0000@example.com", "password": "long-enough-pw-1"}, "email"),
        ("/api/v1/gym/sessions", {"name": "Legs", "notes": "a\u0000b"}, "notes"),
        (
            "/api/v1/gym/workout-plans",
            {"name": "Plan", "exercises": [{"name": "Squat\u0000"}]},
            "exercises.0.name",
        ),
    ],
)
async def test_nul_in_any_text_field_is_a_field_error(client, auth_headers, path, payload, field) -> None:
    response = await client.post(path, json=payload, headers=auth_headers)
    assert_envelope(response, 400, "VALIDATION_ERROR")
    assert response.json()["error"]["details"] == {field: "must not contain NUL characters"}


@pytest.mark.parametrize(
    "path", ["/api/v1/gym/exercises", "/api/v1/scribe/transcriptions", "/api/v1/users/me"]
)
async def test_nul_in_a_query_parameter_is_a_field_error(client, auth_headers, path) -> None:
    response = await client.get(path, params={"q": "squat\u0000", "limit": "5"}, headers=auth_headers)
    assert_envelope(response, 400, "VALIDATION_ERROR")
    assert response.json()["error"]["details"] == {"q": "must not contain NUL characters"}
