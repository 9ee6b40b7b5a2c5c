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


@post("/t/hostile/write", opt={"rate_limit": None})
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


async def test_nul_in_a_multipart_text_field_is_a_field_error(client, auth_headers) -> None:
    files = {"file": ("a.wav", b"RIFF0000WAVEfmt " + b"\0" * 64, "audio/wav")}
    response = await client.post(
        "/api/v1/scribe/transcriptions/upload",
        data={"language": "e\u0000n"},
        files=files,
        headers=auth_headers,
    )
    assert_envelope(response, 400, "VALIDATION_ERROR")
    assert response.json()["error"]["details"] == {"language": "must not contain NUL characters"}


@pytest.mark.parametrize("parser", ["httptools", "h11"])
async def test_an_absurd_content_length_gets_the_envelope_under_uvicorn(settings, parser) -> None:
    """uvicorn refuses a request its parser cannot read before the app sees it; `keel serve`'s protocol
    answers that 400 in the envelope too. A raw socket, since HTTP clients refuse to send such a header."""
    import asyncio
    import json

    import uvicorn
    from uvicorn.protocols.http.h11_impl import H11Protocol

    from core_platform_helpers import free_port
    from keel.core.protocol import KeelH11Protocol, http_protocol

    protocol = http_protocol() if parser == "httptools" else KeelH11Protocol
    assert parser == "h11" or (protocol is not KeelH11Protocol and not issubclass(protocol, H11Protocol))
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), port=port, http=protocol, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "uvicorn did not start"
            await asyncio.sleep(0.02)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 99999999999999999999999999999999\r\n\r\n{}"
        )
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), raw
    assert b"content-type: application/json" in head.lower(), head
    envelope = json.loads(body)
    assert envelope["status"] == "error" and envelope["error"]["code"] == "BAD_REQUEST", envelope
