"""The rate limiter on Redis: one request takes its entry and reads its window in one round trip, counts
exactly like limits' own moving window, and survives a Redis that has forgotten the library's scripts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
import redis.asyncio as redis
from limits import RateLimitItemPerMinute

from keel.core.ratelimit import RateLimiter

pytestmark = pytest.mark.services


class CountingRelay:
    """A TCP relay in front of the real Redis that counts what the client sends: a client that waits for
    each answer before its next command sends once per round trip."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.sends = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, counted: bool) -> None:
            while chunk := await source.read(65536):
                if counted:
                    self.sends += 1
                sink.write(chunk)
                await sink.drain()
            sink.close()

        await asyncio.gather(
            pump(reader, upstream_writer, True), pump(upstream_reader, writer, False), return_exceptions=True
        )

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()


@pytest.fixture
async def relay(settings) -> AsyncIterator[tuple[CountingRelay, str]]:
    url = urlsplit(settings.redis_url)
    counting = CountingRelay(url.hostname or "127.0.0.1", url.port or 6379)
    port = await counting.start()
    yield counting, f"redis://127.0.0.1:{port}{url.path or '/0'}"
    await counting.stop()


async def test_a_request_costs_the_limiter_one_round_trip(make_settings, relay) -> None:
    counting, url = relay
    limiter = RateLimiter(make_settings(redis_url=url))
    item = RateLimitItemPerMinute(3)
    await limiter.hit(item, "round-trips", "warm-up")  # the connection's own hand-shake
    before = counting.sends
    answers = [await limiter.hit(item, "round-trips", "client") for _ in range(4)]
    assert counting.sends - before == 4
    assert [(allowed, remaining) for allowed, remaining, _ in answers] == [
        (True, 2),
        (True, 1),
        (True, 0),
        (False, 0),
    ]
    resets = [reset for _, _, reset in answers]
    assert resets[0] == resets[-1]  # the window's oldest entry plus a minute, as limits reports it


async def test_a_redis_that_forgot_the_scripts_counts_each_request_once(make_settings, settings) -> None:
    limiter = RateLimiter(make_settings(rate_limit_max=5))
    item = RateLimitItemPerMinute(5)
    first = await limiter.hit(item, "flushed", "client")
    admin = redis.from_url(settings.redis_url)
    try:
        await admin.script_flush()
    finally:
        await admin.aclose()
    second = await limiter.hit(item, "flushed", "client")
    third = await limiter.hit(item, "flushed", "client")
    assert first is not None and second is not None and third is not None
    assert [first[1], second[1], third[1]] == [4, 3, 2]
