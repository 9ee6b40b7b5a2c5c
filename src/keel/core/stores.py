"""Key-value stores shared by the core: in process by default, Redis when REDIS_URL is set.

One Redis connection pool per process, created lazily; every component namespaces its keys.

Redis is a shared accelerator, not the source of truth: when it is unreachable every store falls back to
a local in-memory store (revocation markers: the database check behind them still decides), a warning is
logged once per outage, `keel_degraded{component}` is 1, and a short circuit breaker keeps requests from
waiting on a dead Redis. The next call after the cool-down tries Redis again; success ends the outage.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import structlog
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore

from keel.core.components import AppBuilder
from keel.core.metrics import DEGRADED

if TYPE_CHECKING:
    from datetime import timedelta

    from litestar import Litestar
    from redis.asyncio import Redis

    from keel.settings import Settings

log = structlog.get_logger("keel.degraded")
BREAKER_COOLDOWN = 2.0  # seconds a failed backend is skipped before the next attempt

_degraded_since: dict[str, float] = {}  # component → monotonic time its outage began (this process)


def mark_degraded(component: str, exc: BaseException | None = None) -> None:
    """`component` serves from its fallback: warn once per outage and raise `keel_degraded{component}`."""
    if component in _degraded_since:
        return
    _degraded_since[component] = time.monotonic()
    DEGRADED.labels(component).set(1)
    error = f"{type(exc).__name__}: {exc}"[:200] if exc is not None else None
    log.warning("degraded", component=component, error=error)


def mark_recovered(component: str) -> None:
    since = _degraded_since.pop(component, None)
    if since is None:
        return
    DEGRADED.labels(component).set(0)
    log.warning("recovered", component=component, degraded_seconds=round(time.monotonic() - since, 1))


def degraded_components() -> list[str]:
    return sorted(_degraded_since)


class CircuitBreaker:
    """Open for `cooldown` seconds after a failure: callers skip the backend instead of waiting on it."""

    def __init__(self, cooldown: float = 5.0) -> None:
        self.cooldown = cooldown
        self.open_until = 0.0

    @property
    def closed(self) -> bool:
        return self.open_until == 0.0 or time.monotonic() >= self.open_until

    def trip(self) -> bool:
        """Open the breaker; True when it was closed (the first failure of an outage: log it)."""
        was_closed = self.closed
        self.open_until = time.monotonic() + self.cooldown
        return was_closed

    def reset(self) -> None:
        self.open_until = 0.0


class FallbackStore(Store):
    """A Redis-backed store that answers from a local MemoryStore while Redis is unreachable.

    Writes made during an outage stay local to this process (they are hints: lockouts, revocation
    markers whose truth is in the database), and are not copied to Redis afterwards."""

    def __init__(self, primary: Store, component: str, *, cooldown: float = BREAKER_COOLDOWN) -> None:
        self.primary = primary
        self.local = MemoryStore()
        self.component = component
        self.breaker = CircuitBreaker(cooldown)

    async def _call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        if self.breaker.closed:
            try:
                result = await getattr(self.primary, op)(*args, **kwargs)
            except Exception as exc:  # Redis down or misbehaving: never fail the request for it
                self.breaker.trip()
                mark_degraded(self.component, exc)
            else:
                mark_recovered(self.component)
                return result
        return await getattr(self.local, op)(*args, **kwargs)

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        await self._call("set", key, value, expires_in)

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        return await self._call("get", key, renew_for)  # type: ignore[no-any-return]

    async def delete(self, key: str) -> None:
        await self.local.delete(key)
        await self._call("delete", key)

    async def delete_all(self) -> None:
        await self.local.delete_all()
        await self._call("delete_all")

    async def exists(self, key: str) -> bool:
        return await self._call("exists", key)  # type: ignore[no-any-return]

    async def expires_in(self, key: str) -> int | None:
        return await self._call("expires_in", key)  # type: ignore[no-any-return]


class Stores:
    """`app.state.stores`: `.redis` (or None) and `.get(namespace)` for a namespaced Store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis: Redis | None = None
        if settings.redis_url:
            from redis.asyncio import Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            # one immediate retry (a pooled connection gone stale across a Redis restart), not redis-py's
            # default backoff: during an outage the fallback answers at once
            self.redis = Redis.from_url(
                settings.redis_url,
                socket_connect_timeout=1.0,
                socket_timeout=1.0,
                health_check_interval=30,
                retry=Retry(NoBackoff(), 1),
            )
        self._stores: dict[str, Store] = {}

    def get(self, namespace: str) -> Store:
        if namespace not in self._stores:
            if self.redis is not None:
                from litestar.stores.redis import RedisStore  # redis-py loads only when REDIS_URL is set

                shared = RedisStore(self.redis, namespace=f"keel:{namespace}", handle_client_shutdown=False)
                self._stores[namespace] = FallbackStore(shared, f"store:{namespace}")
            else:
                self._stores[namespace] = MemoryStore()
        return self._stores[namespace]

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


class Degraded(Exception):  # a state, not an error: readiness reports it and stays ready
    """Raised by a readiness check whose component works on its fallback (the instance still serves)."""


async def check_redis(app: Litestar) -> None:
    redis = app.state.stores.redis
    if redis is not None:
        try:
            await redis.ping()
        except Exception as exc:
            raise Degraded(f"unreachable ({type(exc).__name__}); serving from local fallbacks") from exc


def install(builder: AppBuilder) -> None:
    stores = Stores(builder.settings)
    builder.state["stores"] = stores

    async def close(_: Litestar) -> None:
        await stores.close()

    builder.on_shutdown.append(close)
    if stores.redis is not None:
        builder.readiness_checks["redis"] = check_redis
