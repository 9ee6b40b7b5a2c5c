"""HTTP protection at the edge: headers, CORS, compression, body limits, hostile input and metrics."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

import brotli
import msgspec
import pytest
from litestar import get, post
from litestar.testing import AsyncTestClient

from keel.app import create_app
from keel.core.envelope import Envelope, ok

CONSUMED: list[str] = []


class Note(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(max_length=500)]


@post("/t/http/echo")
async def echo(data: Note) -> Envelope[Note]:
    CONSUMED.append(data.text)
    return ok(data)


@get("/t/http/big", sync_to_thread=False)
def big() -> Envelope[list[str]]:
    return ok([f"row {i} of a long list" for i in range(500)])


@get("/t/http/things/{thing_id:uuid}", sync_to_thread=False)
def thing(thing_id: UUID) -> Envelope[str]:
    return ok(str(thing_id))


HANDLERS = [echo, big, thing]


@pytest.fixture
async def client(make_settings) -> AsyncIterator[AsyncTestClient]:
    CONSUMED.clear()
    app = create_app(make_settings(max_body_size=2048), extra_route_handlers=HANDLERS)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as test_client:
        yield test_client


async def test_security_headers_on_success_error_and_unmatched(client) -> None:
    for response in (
        await client.get("/t/http/big"),
        await client.get("/t/http/things/nope"),
        await client.get("/no/such/path"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert response.headers["x-request-id"]


async def test_cors_preflight_for_an_allowed_origin(client) -> None:
    response = await client.options(
        "/t/http/echo",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,authorization",
        },
    )
    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "POST" in response.headers["access-control-allow-methods"]


async def test_cors_allowed_origin_sees_exposed_headers(client) -> None:
    response = await client.get("/t/http/big", headers={"Origin": "http://localhost:3000"})
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    exposed = response.headers["access-control-expose-headers"].lower()
    assert "x-request-id" in exposed and "retry-after" in exposed


async def test_cors_denies_other_origins(client) -> None:
    preflight = await client.options(
        "/t/http/echo", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers or preflight.status_code >= 400
    simple = await client.get("/t/http/big", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


@pytest.mark.parametrize(("encoding", "decode"), [("gzip", gzip.decompress), ("br", brotli.decompress)])
async def test_large_bodies_are_compressed(make_settings, encoding, decode) -> None:
    app = create_app(make_settings(), extra_route_handlers=HANDLERS)
    accept = [(b"accept-encoding", encoding.encode())]
    status, headers, raw = await _call(app, "GET", "/t/http/big", [], accept)
    assert status == 200
    assert headers[b"content-encoding"] == encoding.encode()
    plain = decode(raw)
    assert len(raw) < len(plain) / 3
    assert msgspec.json.decode(plain)["data"][499] == "row 499 of a long list"
    assert headers[b"x-content-type-options"] == b"nosniff"


async def _call(
    app: Any, method: str, path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[bytes, bytes], bytes]:
    """Drive the ASGI app directly, counting the body chunks it pulls: (status, headers, raw body)."""
    sent: list[dict[str, Any]] = []
    PULLED.clear()

    async def receive() -> dict[str, Any]:
        if len(PULLED) < len(chunks):
            PULLED.append(1)
            more = len(PULLED) < len(chunks)
            return {"type": "http.request", "body": chunks[len(PULLED) - 1], "more_body": more}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver.local"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver.local", 80),
        "state": {},
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body


PULLED: list[int] = []


async def test_declared_oversize_body_is_refused_before_reading(make_settings) -> None:
    CONSUMED.clear()
    app = create_app(make_settings(max_body_size=2048), extra_route_handlers=HANDLERS)
    chunks = [b"x" * 1024] * 64
    status, _, body = await _call(app, "POST", "/t/http/echo", chunks, [(b"content-length", b"65536")])
    assert status == 413
    assert PULLED == []  # not one byte of the body was read
    assert CONSUMED == []
    assert msgspec.json.decode(body)["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_chunked_oversize_body_stops_at_the_limit(make_settings) -> None:
    CONSUMED.clear()
    app = create_app(make_settings(max_body_size=2048), extra_route_handlers=HANDLERS)
    chunks = [b'{"text": "', *([b"y" * 512] * 64), b'"}']
    status, _, body = await _call(app, "POST", "/t/http/echo", chunks, [(b"transfer-encoding", b"chunked")])
    assert status == 413
    assert len(PULLED) <= 6  # stopped right after crossing 2 KiB, not after 32 KiB
    assert CONSUMED == []
    assert msgspec.json.decode(body)["error"]["code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize(
    "hostile",
    [
        "'; DROP TABLE users; --",
        "1 OR 1=1",
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "\u202e bidi override",  # NUL is refused as a field error instead (test_core_hostile_input)
    ],
)
async def test_hostile_strings_echo_back_as_inert_json(client, hostile) -> None:
    response = await client.post("/t/http/echo", json={"text": hostile})
    assert response.status_code == 201
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.json()["data"]["text"] == hostile
    assert response.content.startswith(b'{"status":"success"')  # a JSON string value, never markup


async def test_unknown_fields_are_refused(client) -> None:
    response = await client.post("/t/http/echo", json={"text": "hi", "role": "admin"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert CONSUMED == []


async def test_invalid_uuid_in_path_is_an_envelope(client) -> None:
    response = await client.get("/t/http/things/1%27%20OR%20%271%27%3D%271")
    assert response.status_code in (400, 404)
    assert response.json()["status"] == "error"


async def test_metrics_count_requests_by_route_template(client) -> None:
    ids = ["0190d2a0-0000-7000-8000-000000000001", "0190d2a0-0000-7000-8000-000000000002"]
    before = await client.get("/metrics")
    for thing_id in ids:
        assert (await client.get(f"/t/http/things/{thing_id}")).status_code == 200
    text = (await client.get("/metrics")).text
    assert "text/plain" in before.headers["content-type"]

    def count(body: str) -> float:
        total = 0.0
        for line in body.splitlines():
            if line.startswith("keel_http_requests_total{") and 'route="/t/http/things/{thing_id}"' in line:
                if 'status="200"' in line and 'method="GET"' in line:
                    total += float(line.rsplit(" ", 1)[1])
        return total

    assert count(text) - count(before.text) == 2
    for thing_id in ids:
        assert thing_id not in text  # raw paths never become label values


LOG_SCRIPT = """
import logging, sys
from litestar.testing import TestClient
from keel.app import create_app
from keel.settings import load_settings

settings = load_settings(None, keel_env="test", log_level="INFO", database_url=sys.argv[1], keel_apps="",
                         jwt_secret="test-only-secret-that-is-long-enough-0123456789",
                         storage_url=sys.argv[2])
with TestClient(create_app(settings)) as client:
    account = {"email": "logged@example.com", "password": "Logged-password-0001"}
    token = client.post("/api/v1/auth/register", json=account).json()["data"]["access_token"]
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "trace-me-42"}
    assert client.get("/api/v1/auth/sessions", headers=headers).status_code == 200
logging.getLogger("some.library").warning("pool %s is %d%% full", "main", 90)
"""


def test_logs_are_json_lines_with_the_request_context(settings, tmp_path) -> None:
    """One access line per request (request id, user id, route template, status, latency) on stdout, and
    libraries' stdlib logging as JSON on stderr. In a fresh process: structlog caches configured loggers."""
    import json
    import subprocess
    import sys

    run = subprocess.run(  # noqa: S603
        [sys.executable, "-c", LOG_SCRIPT, settings.database_url, f"file://{tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    access = next(line for line in lines if line.get("request_id") == "trace-me-42")
    assert access["event"] == "request" and access["status"] == 200 and access["method"] == "GET"
    assert access["route"] == "/api/v1/auth/sessions" and access["path"] == "/api/v1/auth/sessions"
    assert access["user_id"] and isinstance(access["latency_ms"], float) and access["level"] == "info"
    library = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
    line = next(line for line in library if line.get("logger") == "some.library")
    assert (line["event"], line["level"]) == ("pool main is 90% full", "warning") and line["timestamp"]
