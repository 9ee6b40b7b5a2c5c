"""Read-through cache: `app.state.cache` and the app-wide dependency `cache: Cache`.

    items = await cache.get_or_set("gym:library", f"exercises:{lang}", load_exercises, ttl=600)
    await cache.invalidate("gym:library")
    await cache.invalidate_on_commit(db_session, "gym:library")   # inside a request's transaction

Values are msgspec JSON: a hit and a miss return the same shape (builtins, or `type=` when given).
Invalidation bumps a per-namespace version counter (O(1), immediate on every instance sharing Redis);
entries of older versions are never read again and expire on their TTL.
`keel_cache_requests_total{namespace, result}` counts hits and misses: a namespace is a fixed name (never
one per user or id, that would be a metric series each).

In process by default, Redis when REDIS_URL is set. A Redis failure never fails a request: the loader
runs, a warning is logged, `keel_cache_errors_total` counts it, and a short circuit breaker keeps the next
requests from waiting on a dead Redis. Invalidations that could not reach Redis are retried when it is back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import structlog
from litestar.datastructures import State
from litestar.di import Provide
from sqlalchemy import event

from keel.core.components import AppBuilder
from keel.core.metrics import CACHE_ERRORS, CACHE_HITS
from keel.core.stores import CircuitBreaker, mark_degraded, mark_recovered

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.core.stores import Stores

log = structlog.get_logger("keel.cache")
T = TypeVar("T")
PREFIX = "keel:cache"
MEMORY_MAX_ENTRIES = 10_000  # per namespace, in process; the namespace is dropped when it grows past this

# version key missing → start it at the current time in microseconds, so a lost (evicted) counter never
# goes back to a version whose entries may still be alive
_READ = """
local v = redis.call('GET', KEYS[1])
if not v then
  v = ARGV[1]
  redis.call('SET', KEYS[1], v, 'NX')
  v = redis.call('GET', KEYS[1])
end
return {v, redis.call('GET', ARGV[2] .. v .. ':' .. ARGV[3])}
"""
_BUMP = """
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('INCR', KEYS[1])
"""


class Cache:
    def __init__(self, redis: Redis | None, default_ttl: int, *, breaker_cooldown: float = 5.0) -> None:
        self.redis = redis
        self.default_ttl = default_ttl
        self.breaker = CircuitBreaker(breaker_cooldown)
        self._memory: dict[str, dict[str, tuple[float, bytes]]] = {}
        self._pending_invalidations: set[str] = set()
        self._background: set[asyncio.Task[None]] = set()  # after-commit invalidations in flight
        if redis is not None:
            self._read = redis.register_script(_READ)
            self._bump = redis.register_script(_BUMP)

    @staticmethod
    def _version_key(namespace: str) -> str:
        return f"{PREFIX}:{namespace}:v"

    def _failed(self, op: str, exc: Exception) -> None:
        CACHE_ERRORS.labels(op).inc()
        mark_degraded("cache", exc)
        if self.breaker.trip():
            log.warning("cache_unavailable", op=op, error=f"{type(exc).__name__}: {exc}"[:200])

    async def get_or_set(
        self,
        namespace: str,
        key: str,
        loader: Callable[[], Awaitable[Any]],
        ttl: int | None = None,
        *,
        type: Any = Any,  # mirrors msgspec.json.decode(type=)
    ) -> Any:
        """The cached value of `key` in `namespace`, else `await loader()` stored for `ttl` seconds."""
        ttl = self.default_ttl if ttl is None else ttl
        if self.redis is None:
            return await self._memory_get_or_set(namespace, key, loader, ttl, type)

        data_key = None
        if self.breaker.closed:
            try:
                if self._pending_invalidations:
                    await self._flush_invalidations()
                version, raw = await self._read(
                    keys=[self._version_key(namespace)],
                    args=[time.time_ns() // 1000, f"{PREFIX}:{namespace}:", key],
                )
                mark_recovered("cache")
                data_key = f"{PREFIX}:{namespace}:{version.decode()}:{key}"
                if raw is not None:
                    try:
                        value = msgspec.json.decode(raw, type=type)
                    except (msgspec.ValidationError, msgspec.DecodeError):
                        pass  # written by an older schema: reload below
                    else:
                        CACHE_HITS.labels(namespace, "hit").inc()
                        return value
            except Exception as exc:  # Redis down or misbehaving: serve from the loader
                self._failed("get", exc)
                data_key = None
        else:
            CACHE_ERRORS.labels("bypass").inc()

        CACHE_HITS.labels(namespace, "miss").inc()
        encoded = msgspec.json.encode(await loader())
        if data_key is not None and self.breaker.closed:
            try:
                await self.redis.set(data_key, encoded, ex=max(1, ttl))
            except Exception as exc:
                self._failed("set", exc)
        return msgspec.json.decode(encoded, type=type)

    async def _memory_get_or_set(
        self, namespace: str, key: str, loader: Callable[[], Awaitable[Any]], ttl: int, type_: Any
    ) -> Any:
        entries = self._memory.get(namespace)
        now = time.monotonic()
        if entries is not None and (hit := entries.get(key)) is not None and hit[0] > now:
            try:
                value = msgspec.json.decode(hit[1], type=type_)
            except (msgspec.ValidationError, msgspec.DecodeError):
                pass
            else:
                CACHE_HITS.labels(namespace, "hit").inc()
                return value
        CACHE_HITS.labels(namespace, "miss").inc()
        encoded = msgspec.json.encode(await loader())
        entries = self._memory.setdefault(namespace, {})  # after the await: an invalidation may have run
        if len(entries) >= MEMORY_MAX_ENTRIES:
            entries.clear()
        entries[key] = (time.monotonic() + ttl, encoded)
        return msgspec.json.decode(encoded, type=type_)

    async def invalidate(self, namespace: str) -> None:
        """Forget every entry of `namespace`, on every instance sharing the Redis."""
        if self.redis is None:
            self._memory.pop(namespace, None)
            return
        self._pending_invalidations.add(namespace)
        if not self.breaker.closed:
            CACHE_ERRORS.labels("invalidate").inc()
            log.warning("cache_invalidation_deferred", namespace=namespace)
            return
        try:
            await self._flush_invalidations()
        except Exception as exc:
            self._failed("invalidate", exc)
        else:
            mark_recovered("cache")

    async def invalidate_on_commit(self, session: AsyncSession, namespace: str) -> None:
        """Invalidate now and again right after `session` commits. A reader between the two still sees the
        old rows (the write is not committed yet) and may cache them; the second invalidation drops that
        entry, so readers never keep pre-commit data for a whole TTL."""
        await self.invalidate(namespace)

        def after_commit(_: Any) -> None:
            task = asyncio.get_running_loop().create_task(self.invalidate(namespace))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

        event.listen(session.sync_session, "after_commit", after_commit, once=True)

    async def _flush_invalidations(self) -> None:
        for namespace in list(self._pending_invalidations):
            await self._bump(keys=[self._version_key(namespace)], args=[time.time_ns() // 1000])
            self._pending_invalidations.discard(namespace)


def _provide_cache(state: State) -> Cache:
    return state.cache  # type: ignore[no-any-return]


def install(builder: AppBuilder) -> None:
    stores: Stores = builder.state["stores"]
    builder.state["cache"] = Cache(stores.redis, builder.settings.cache_ttl)
    builder.dependencies["cache"] = Provide(_provide_cache, sync_to_thread=False)
    builder.signature_namespace["Cache"] = Cache
