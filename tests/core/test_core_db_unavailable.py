"""A database that cannot be reached (restarting, failing over) answers 503 with Retry-After in the error
envelope, never 500: the request was rolled back and a retry is safe. The app reaches PostgreSQL through
a small TCP proxy that the test cuts (every connection closed, new ones refused)."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from core_platform_helpers import free_port
from keel.app import create_app
from keel.core.db_errors import database_unreachable


class CuttableProxy:
    """127.0.0.1:<port> → the database, in a thread of its own; `cut()` closes everything."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        started = threading.Event()
        threading.Thread(target=self._run, args=(started,), daemon=True).start()
        started.wait(10)

    def _run(self, started: threading.Event) -> None:
        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.close()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            self.writers += [writer, up_writer]
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

        async def serve() -> None:
            self.server = await asyncio.start_server(handle, "127.0.0.1", self.port)
            started.set()

        self.loop.run_until_complete(serve())
        self.loop.run_forever()

    def cut(self) -> None:
        def close() -> None:
            assert self.server is not None
            self.server.close()
            for writer in self.writers:
                writer.transport.abort()

        self.loop.call_soon_threadsafe(close)

    def stop(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.mark.services
async def test_a_lost_database_answers_503_with_retry_after(make_settings, settings) -> None:
    url = make_url(settings.database_url)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        app = create_app(make_settings(database_url=proxied, keel_apps="", jobs_in_server=False))
        async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
            body = {"email": "someone@example.com", "password": "a long enough password"}
            # through the proxy first: the database answers
            assert (await client.post("/api/v1/auth/login", json=body)).status_code == 401
            proxy.cut()  # pooled connections die mid-use, new ones are refused
            for _ in range(3):
                response = await client.post("/api/v1/auth/login", json=body)
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"] == "2"
                assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    finally:
        proxy.stop()


def test_only_connection_losses_count_as_unreachable() -> None:
    lost = sa_exc.OperationalError("SELECT 1", {}, ConnectionResetError(), connection_invalidated=True)
    assert database_unreachable(lost)
    assert database_unreachable(sa_exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached"))
    try:
        try:
            raise ConnectionRefusedError(111, "Connect call failed")
        except ConnectionRefusedError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert database_unreachable(wrapped)
    syntax = sa_exc.ProgrammingError("SELEC 1", {}, Exception("syntax error"))
    assert not database_unreachable(syntax)
    assert not database_unreachable(ValueError("a bug"))
