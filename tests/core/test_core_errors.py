"""Every failure answers the error envelope: routing, parsing, validation, auth, conflicts, rollback, 500."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID, uuid4

import msgspec
import pytest
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from litestar import get, post
from litestar.params import QueryParameter
from litestar.testing import AsyncTestClient
from sqlalchemy import MetaData, String, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keel.app import create_app
from keel.core.envelope import Envelope, ok
from keel.core.errors import Forbidden, NotFound, Unauthorized, ValidationFailed


class _TestBase(DeclarativeBase):
    metadata = MetaData()  # never part of the app's metadata or migrations


class Widget(_TestBase):
    __tablename__ = "test_core_errors_widget"
    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)
    name: Mapped[str] = mapped_column(String(50), unique=True)


class WidgetRepository(SQLAlchemyAsyncRepository[Widget]):
    model_type = Widget


class WidgetIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=2, max_length=50)]
    size: Annotated[int, msgspec.Meta(ge=1, le=10)] = 1


@post("/t/err/widgets")
async def create_widget(data: WidgetIn, db_session: AsyncSession) -> Envelope[dict[str, Any]]:
    widget = await WidgetRepository(session=db_session).add(Widget(name=data.name))
    return ok({"id": str(widget.id), "name": widget.name, "size": data.size})


@post("/t/err/widgets-raw")
async def create_widget_raw(data: WidgetIn, db_session: AsyncSession) -> Envelope[str]:
    db_session.add(Widget(name=data.name))
    await db_session.flush()  # a unique violation straight from SQLAlchemy, without a repository
    return ok(data.name)


@post("/t/err/widgets-then-fail")
async def create_then_fail(data: WidgetIn, db_session: AsyncSession) -> None:
    db_session.add(Widget(name=data.name))
    await db_session.flush()
    raise ValidationFailed(details={"name": "rejected after the insert"})


@get("/t/err/unauthorized", sync_to_thread=False)
def unauthorized() -> None:
    raise Unauthorized()


@get("/t/err/forbidden", sync_to_thread=False)
def forbidden() -> None:
    raise Forbidden()


@get("/t/err/missing/{widget_id:uuid}", sync_to_thread=False)
def missing(widget_id: UUID) -> None:
    raise NotFound(f"No widget {widget_id}")


@get("/t/err/crash", sync_to_thread=False)
def crash() -> None:
    raise RuntimeError("secret internals: password=hunter2")


HANDLERS = [create_widget, create_widget_raw, create_then_fail, unauthorized, forbidden, missing, crash]


@pytest.fixture
async def widget_table(settings) -> AsyncIterator[None]:
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.run_sync(_TestBase.metadata.create_all)
    yield
    async with engine.begin() as conn:
        await conn.run_sync(_TestBase.metadata.drop_all)
    await engine.dispose()


async def _widget_names(settings) -> list[str]:
    engine = create_async_engine(settings.database_url)
    async with engine.connect() as conn:
        names = list((await conn.execute(select(Widget.name))).scalars())
    await engine.dispose()
    return names


@pytest.fixture
async def client(make_settings) -> AsyncIterator[AsyncTestClient]:
    app = create_app(make_settings(), extra_route_handlers=HANDLERS)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as test_client:
        yield test_client


def assert_envelope(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"status", "error", "request_id"}
    assert body["status"] == "error"
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_unknown_route_is_404(client) -> None:
    assert_envelope(await client.get("/t/err/nowhere"), 404, "NOT_FOUND")


async def test_wrong_method_is_405(client) -> None:
    assert_envelope(await client.get("/t/err/widgets"), 405, "METHOD_NOT_ALLOWED")


async def test_malformed_json_is_400(client) -> None:
    response = await client.post(
        "/t/err/widgets", content=b'{"name": "oops",', headers={"Content-Type": "application/json"}
    )
    body = assert_envelope(response, 400, response.json()["error"]["code"])
    assert body["error"]["code"] in ("BAD_REQUEST", "VALIDATION_ERROR")
    assert "Traceback" not in response.text


async def test_wrong_content_type_is_415(client) -> None:
    response = await client.post("/t/err/widgets", content=b"name=x", headers={"Content-Type": "text/plain"})
    assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


async def test_validation_names_each_field(client) -> None:
    response = await client.post("/t/err/widgets", json={"name": "x", "size": 1})
    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert isinstance(body["error"]["details"], dict)
    assert any("name" in key for key in body["error"]["details"]), body
    response = await client.post("/t/err/widgets", json={"name": "ok", "size": 99})
    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert any("size" in key for key in body["error"]["details"]), body


async def test_unknown_fields_are_refused(client) -> None:
    response = await client.post("/t/err/widgets", json={"name": "ok", "is_admin": True})
    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert "is_admin" in response.text, body


async def test_401_and_403(client) -> None:
    response = await client.get("/t/err/unauthorized")
    assert_envelope(response, 401, "UNAUTHORIZED")
    assert response.headers["www-authenticate"] == "Bearer"
    assert_envelope(await client.get("/t/err/forbidden"), 403, "FORBIDDEN")


async def test_404_from_a_handler(client) -> None:
    body = assert_envelope(await client.get(f"/t/err/missing/{uuid4()}"), 404, "NOT_FOUND")
    assert body["error"]["message"].startswith("No widget")


async def test_invalid_uuid_path_param_is_an_envelope_not_500(client) -> None:
    response = await client.get("/t/err/missing/not-a-uuid")
    assert response.status_code in (400, 404)
    assert_envelope(response, response.status_code, response.json()["error"]["code"])


async def test_unique_violation_is_409_and_nothing_half_written(client, settings, widget_table) -> None:
    first = await client.post("/t/err/widgets", json={"name": "bench"})
    assert first.status_code == 201, first.text
    assert_envelope(await client.post("/t/err/widgets", json={"name": "bench"}), 409, "CONFLICT")
    assert await _widget_names(settings) == ["bench"]


async def test_raw_integrity_error_is_409(client, settings, widget_table) -> None:
    assert (await client.post("/t/err/widgets-raw", json={"name": "rack"})).status_code == 201
    assert_envelope(await client.post("/t/err/widgets-raw", json={"name": "rack"}), 409, "CONFLICT")


async def test_failed_request_rolls_back_its_writes(client, settings, widget_table) -> None:
    response = await client.post("/t/err/widgets-then-fail", json={"name": "ghost"})
    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert body["error"]["details"] == {"name": "rejected after the insert"}
    assert await _widget_names(settings) == []
    assert (await client.post("/t/err/widgets", json={"name": "kept"})).status_code == 201
    assert await _widget_names(settings) == ["kept"]


async def test_500_hides_internals_outside_development(client) -> None:
    response = await client.get("/t/err/crash")
    body = assert_envelope(response, 500, "INTERNAL_ERROR")
    assert body["error"]["message"] == "Internal server error"
    assert "hunter2" not in response.text and "RuntimeError" not in response.text


async def test_500_shows_the_exception_and_trace_in_development(make_settings) -> None:
    app = create_app(make_settings(keel_env="development"), extra_route_handlers=HANDLERS)
    async with AsyncTestClient(app=app) as dev:
        response = await dev.get("/t/err/crash")
    body = assert_envelope(response, 500, "INTERNAL_ERROR")
    assert "RuntimeError: secret internals" in body["error"]["message"]
    assert any("crash" in line for line in body["error"]["details"]["traceback"])  # the raising handler


async def test_a_client_hanging_up_mid_body_is_499_not_a_server_error(
    make_settings, settings, widget_table
) -> None:
    """The body stops half-way with a disconnect: 499 CLIENT_CLOSED_REQUEST, nothing written, and no 5xx in
    the metrics a dashboard alerts on."""
    from prometheus_client import REGISTRY

    def errors_5xx() -> float:
        return sum(
            s.value
            for m in REGISTRY.collect()
            if m.name == "keel_http_requests"
            for s in m.samples
            if s.name.endswith("_total") and s.labels.get("status", "").startswith("5")
        )

    app = create_app(make_settings(), extra_route_handlers=HANDLERS)
    before = errors_5xx()
    messages = iter(
        [
            {"type": "http.request", "body": b'{"name": "half', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/t/err/widgets", "raw_path": b"/t/err/widgets", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                    (b"content-length", b"40")],
        "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
    }  # fmt: skip
    async with AsyncTestClient(app=app):  # lifespan: the database plugin is up
        await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 499
    body = msgspec.json.decode(
        b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    )
    assert body["error"]["code"] == "CLIENT_CLOSED_REQUEST"
    assert await _widget_names(settings) == []
    assert errors_5xx() == before


async def test_413_for_a_body_over_the_limit(make_settings) -> None:
    app = create_app(make_settings(max_body_size=1024), extra_route_handlers=HANDLERS)
    async with AsyncTestClient(app=app) as small:
        response = await small.post("/t/err/widgets", json={"name": "x" * 4096})
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


class _Window(msgspec.Struct):
    title: str
    size: int = 1


async def test_validation_details_use_the_names_the_client_sent(settings) -> None:  # type: ignore[no-untyped-def]
    """A query parameter under its wire name (`from`, `format`, not `date_from`, `fmt`); a missing body
    field under its own name, not `data`."""

    @get("/test/window", opt={"rate_limit": None})
    async def window(
        date_from: Annotated[datetime.date | None, QueryParameter(name="from")] = None,
        fmt: Annotated[str, QueryParameter(name="format", pattern="^(csv|json)$")] = "csv",
    ) -> str:
        return "ok"

    @post("/test/window", opt={"rate_limit": None})
    async def make_window(data: _Window) -> str:
        return "ok"

    app = create_app(settings, extra_route_handlers=[window, make_window])
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        bad_date = await client.get("/test/window", params={"from": "yesterday"})
        bad_format = await client.get("/test/window", params={"format": "xml"})
        missing = await client.post("/test/window", json={"size": 2})
    assert bad_date.status_code == bad_format.status_code == missing.status_code == 400
    assert list(bad_date.json()["error"]["details"]) == ["from"]
    assert list(bad_format.json()["error"]["details"]) == ["format"]
    assert missing.json()["error"]["details"] == {"title": "Required field is missing"}
