"""Presence: a user is `online` while at least one SSE or WebSocket stream of theirs is open on any
instance, else `away`.

With Redis each open stream is a member of the user's sorted set `keel:presence:<user id>` scored with
its expiry (now + PRESENCE_TTL), refreshed every PRESENCE_TTL / 3 while it stays open; the key itself
expires with its last member. A crashed instance's streams therefore stop counting after PRESENCE_TTL.
Without Redis a count per user in this process.

The first stream of a user (anywhere) and the end of their last one call every listener in
`app.state.presence_listeners` with `(app, user_id, "online" | "away")`; apps install their listener
(whom to tell is theirs to know: core knows no chats). Listeners run in the background, never in the
way of the stream; a Redis failure makes presence unknown (`away`), never a broken stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import structlog

from keel.core.metrics import REALTIME_SUBSCRIBERS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from litestar import Litestar
    from redis.asyncio import Redis

PRESENCE_TTL = 30.0  # seconds an open stream counts without a refresh
KEY_PREFIX = "keel:presence"
ONLINE, AWAY = "online", "away"
PresenceListener = Callable[["Litestar", Any, str], Awaitable[None]]
log = structlog.get_logger("keel.realtime")

# drop expired members, add this one, keep the key as long as its newest member: the number of streams
_JOIN = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return redis.call('ZCARD', KEYS[1])
"""
_LEAVE = """
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZCARD', KEYS[1])
"""


class MemoryPresence:
    def __init__(self) -> None:
        self._open: dict[str, int] = {}

    async def join(self, user: str, _stream: str) -> bool:
        self._open[user] = self._open.get(user, 0) + 1
        return self._open[user] == 1

    async def leave(self, user: str, _stream: str) -> bool:
        left = self._open.get(user, 0) - 1
        if left > 0:
            self._open[user] = left
            return False
        self._open.pop(user, None)
        return True

    async def refresh(self, user: str, stream: str) -> None:
        return None

    async def online(self, users: list[str]) -> set[str]:
        return {u for u in users if self._open.get(u)}


class RedisPresence:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._join = redis.register_script(_JOIN)
        self._leave = redis.register_script(_LEAVE)

    @staticmethod
    def _key(user: str) -> str:
        return f"{KEY_PREFIX}:{user}"

    async def join(self, user: str, stream: str) -> bool:
        now = time.time()
        count = await self._join(
            keys=[self._key(user)], args=[now, now + PRESENCE_TTL, stream, int(PRESENCE_TTL * 1000)]
        )
        return int(count) == 1

    async def leave(self, user: str, stream: str) -> bool:
        return int(await self._leave(keys=[self._key(user)], args=[time.time(), stream])) == 0

    async def refresh(self, user: str, stream: str) -> None:
        key = self._key(user)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {stream: time.time() + PRESENCE_TTL})
            pipe.pexpire(key, int(PRESENCE_TTL * 1000))
            await pipe.execute()

    async def online(self, users: list[str]) -> set[str]:
        now = time.time()
        async with self._redis.pipeline(transaction=False) as pipe:
            for user in users:
                pipe.zcount(self._key(user), now, "+inf")
            counts = await pipe.execute()
        return {user for user, count in zip(users, counts, strict=True) if int(count)}


class Presence:
    """`app.state.presence`: who is online, and the streams that make them so."""

    def __init__(self, redis: Redis | None = None) -> None:
        self.store: MemoryPresence | RedisPresence = (
            MemoryPresence() if redis is None else RedisPresence(redis)
        )
        self._tasks: set[asyncio.Task[None]] = set()

    async def online(self, user_ids: Iterable[Any]) -> dict[str, str]:
        """`{user id: "online" | "away"}` (as strings); Redis down: everyone is away."""
        users = list(dict.fromkeys(str(u) for u in user_ids))
        try:
            present = await self.store.online(users) if users else set()
        except Exception as exc:
            log.warning("realtime_presence_unavailable", error=type(exc).__name__)
            present = set()
        return {u: ONLINE if u in present else AWAY for u in users}

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        async def run() -> None:
            try:
                await work
            except Exception as exc:
                log.warning("realtime_presence_failed", error=type(exc).__name__)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _announce(self, app: Litestar, user: str, status: str) -> None:
        for listener in list(app.state.get("presence_listeners", ())):
            try:
                await listener(app, user, status)
            except Exception:
                log.warning("realtime_presence_listener_failed", status=status, exc_info=True)

    @contextlib.asynccontextmanager
    async def streaming(self, app: Litestar, user_id: Any, transport: str) -> AsyncIterator[None]:
        """Around an open stream: counted in `keel_realtime_subscribers{transport}`, and in presence."""
        user, stream = str(user_id), uuid.uuid4().hex
        REALTIME_SUBSCRIBERS.labels(transport).inc()

        async def join() -> None:
            if await self.store.join(user, stream):
                await self._announce(app, user, ONLINE)

        async def keep() -> None:
            while True:
                await asyncio.sleep(PRESENCE_TTL / 3)
                with contextlib.suppress(Exception):
                    await self.store.refresh(user, stream)

        joined = self._spawn(join())
        refresher = asyncio.create_task(keep())
        try:
            yield
        finally:
            REALTIME_SUBSCRIBERS.labels(transport).dec()
            refresher.cancel()

            async def leave() -> None:
                with contextlib.suppress(BaseException):
                    await joined  # a stream that ends at once still leaves after it joined
                if await self.store.leave(user, stream):
                    await self._announce(app, user, AWAY)

            # a task of its own: the stream's task may be cancelled (the client went away) right here
            self._spawn(leave())

    async def settle(self, within: float = 2.0) -> None:
        """Wait (briefly) for pending joins, leaves and announcements: at shutdown, and in tests."""
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=within)
