"""The channels plugin's backend: in process without Redis; with REDIS_URL, Litestar's Redis pub/sub backend
made resilient (reconnects with backoff, re-subscribes every wanted channel, drops events while Redis is
down instead of raising into the request)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import structlog
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend

from keel.core.stores import mark_degraded, mark_recovered

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Iterable

    from redis.asyncio.client import PubSub

    from keel.settings import Settings

REDIS_KEY_PREFIX = "keel:channels"
COMPONENT = "realtime"
RECONNECT_MIN, RECONNECT_MAX = 0.1, 1.0  # seconds between pub/sub reconnection attempts
log = structlog.get_logger("keel.realtime")


class ResilientRedisPubSub(RedisChannelsPubSubBackend):
    """Litestar's Redis pub/sub backend, but a lost connection is re-established (with backoff) and every
    wanted channel re-subscribed, instead of ending the plugin's subscriber task for good; publishing while
    Redis is down drops the event with a warning instead of raising into the request (or killing the
    plugin's publisher task)."""

    def __init__(self, *, redis: Any, key_prefix: str) -> None:
        super().__init__(redis=redis, key_prefix=key_prefix)
        self._wanted: set[str] = set()
        self._pubsub: PubSub | None = None
        self._wake: asyncio.Event | None = None  # created lazily, inside the running loop
        self.connected = False  # the pub/sub connection is live (or nothing needs one yet)
        self.last_error: str | None = None

    @property
    def _wanted_event(self) -> asyncio.Event:
        if self._wake is None:
            self._wake = asyncio.Event()
        return self._wake

    async def subscribe(self, channels: Iterable[str]) -> None:
        channels = list(channels)
        self._wanted.update(channels)
        self._wanted_event.set()
        if self._pubsub is not None and self.connected:
            try:
                await self._pubsub.subscribe(*channels)
            except Exception as exc:  # the stream loop reconnects and subscribes every wanted channel
                self._failed(exc)

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        channels = list(channels)
        self._wanted.difference_update(channels)
        if self._pubsub is not None and self.connected:
            with contextlib.suppress(Exception):
                await self._pubsub.unsubscribe(*channels)

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        keys = sorted(set(channels))
        try:
            await self._publish_script(keys=keys, args=[data])
        except Exception as exc:
            mark_degraded(COMPONENT, exc)
            log.warning("realtime_event_dropped", channels=keys[:5], error=type(exc).__name__)
        else:
            if self.connected or not self._wanted:  # else the subscription still has to come back
                mark_recovered(COMPONENT)

    def _failed(self, exc: BaseException) -> None:
        self.connected = False
        self.last_error = f"{type(exc).__name__}: {exc}"[:160]
        mark_degraded(COMPONENT, exc)

    async def _drop(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _connect(self) -> PubSub:
        if self._pubsub is None:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(*self._wanted)
            except BaseException:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                raise
            self._pubsub = pubsub
            if not self.connected:
                self.connected = True
                self.last_error = None
                mark_recovered(COMPONENT)
        return self._pubsub

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        delay = RECONNECT_MIN
        while True:
            if not self._wanted:
                self._wanted_event.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wanted_event.wait(), 1.0)
                continue
            try:
                pubsub = await self._connect()
                missing = {c.encode() for c in self._wanted} - set(pubsub.channels)
                if missing:  # wanted while the connection was being replaced
                    await pubsub.subscribe(*missing)
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(exc)
                await self._drop()
                await asyncio.sleep(delay)
                delay = min(RECONNECT_MAX, delay * 2)
                continue
            delay = RECONNECT_MIN
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"].decode()
            if channel in self._wanted:
                yield channel, message["data"]

    async def on_shutdown(self) -> None:
        await self._drop()


def make_backend(settings: Settings) -> tuple[Any, Any]:
    """(backend, redis client to close) — Redis pub/sub when REDIS_URL is set, else in process."""
    if settings.redis_url:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # its own client: a pub/sub connection blocks on reads, so no socket timeout here; one immediate retry
        # inside redis-py (its default backoff would stall the stream loop for seconds); `stream_events`
        # retries with its own backoff.
        # The health check pings an idle connection, so a silently dead one is noticed within seconds.
        redis = Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=2.0,
            health_check_interval=5,
            retry=Retry(NoBackoff(), 0),
        )
        return ResilientRedisPubSub(redis=redis, key_prefix=REDIS_KEY_PREFIX), redis
    return MemoryChannelsBackend(), None
