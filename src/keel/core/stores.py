"""Key-value stores shared by the core: in process by default, Redis when REDIS_URL is set.

One Redis connection pool per process, created lazily; every component namespaces its keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore

from keel.core.components import AppBuilder

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.stores.base import Store
    from redis.asyncio import Redis

    from keel.settings import Settings


class Stores:
    """`app.state.stores`: `.redis` (or None) and `.get(namespace)` for a namespaced Store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis: Redis | None = None
        if settings.redis_url:
            from redis.asyncio import Redis

            self.redis = Redis.from_url(
                settings.redis_url, socket_connect_timeout=1.0, socket_timeout=1.0, health_check_interval=30
            )
        self._stores: dict[str, Store] = {}

    def get(self, namespace: str) -> Store:
        if namespace not in self._stores:
            if self.redis is not None:
                self._stores[namespace] = RedisStore(
                    self.redis, namespace=f"keel:{namespace}", handle_client_shutdown=False
                )
            else:
                self._stores[namespace] = MemoryStore()
        return self._stores[namespace]

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


async def check_redis(app: Litestar) -> None:
    redis = app.state.stores.redis
    if redis is not None:
        await redis.ping()


def install(builder: AppBuilder) -> None:
    stores = Stores(builder.settings)
    builder.state["stores"] = stores

    async def close(_: Litestar) -> None:
        await stores.close()

    builder.on_shutdown.append(close)
    if stores.redis is not None:
        builder.readiness_checks["redis"] = check_redis
