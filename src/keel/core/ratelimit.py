"""Rate limits: a pure-ASGI Litestar middleware over the `limits` library (moving window, exact).

Per route: `opt={"rate_limit": "5/minute"}` (a `limits` string), `"auth"` (RATE_LIMIT_AUTH), or `None`
(exempt). Everything else shares the default, RATE_LIMIT_MAX per RATE_LIMIT_WINDOW seconds per client.
The client is `user:<id>` when `app.state.identify(scope)` recognises a valid access token, else
`ip:<client ip>` (set by the edge from trusted proxies only).

Counters live in process by default and in Redis when REDIS_URL is set, so every worker and instance
shares them. Responses carry `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds); a
refusal is 429 `RATE_LIMITED` with `Retry-After`. While Redis is unreachable the counters fall back to a
local in-memory limiter (`FallbackLimitStorage`: per process, so limits stay enforced, just not shared; a
warning and `keel_degraded{component="ratelimit"}`, and a circuit breaker so requests never wait on a dead
Redis). Any other storage failure lets the request through rather than failing it.
"""

from __future__ import annotations

import math
import time
from functools import partial
from typing import TYPE_CHECKING, Any

import structlog
from limits import RateLimitItem, RateLimitItemPerSecond, parse
from limits.aio.storage import MemoryStorage, MovingWindowSupport, RedisStorage, Storage
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware

from keel.core.components import AppBuilder
from keel.core.errors import TooManyRequests
from keel.core.metrics import RATE_LIMITED
from keel.core.stores import BREAKER_COOLDOWN, CircuitBreaker, mark_degraded, mark_recovered

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from keel.settings import Settings

log = structlog.get_logger("keel.ratelimit")
_DEFAULT = object()  # the handler names no limit: the shared default applies


class LocalLimitStorage(MemoryStorage):
    """limits' in-process storage with its clean-up pass at most once a second. The library starts one
    after every hit, and that pass hands each key's trim to a worker thread: a thread-pool round trip
    per request. Expiry there only frees memory (a window's count reads its entries' timestamps), so
    running it less often changes no answer."""

    CLEANUP_EVERY = 1.0  # seconds
    _cleaned_at = 0.0

    async def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now - self._cleaned_at < self.CLEANUP_EVERY:
            return
        self._cleaned_at = now
        await super()._MemoryStorage__schedule_expiry()  # type: ignore[misc]

    async def acquire_with_window(self, key: str, limit: int, expiry: int) -> tuple[bool, float, int]:
        """Take one entry, then read the window: (taken, the window's oldest entry, entries in it)."""
        taken = await self.acquire_entry(key, limit, expiry)
        oldest, count = await self.get_moving_window(key, limit, expiry)
        return taken, oldest, count


async def acquire_with_window_on_redis(
    bridge: Any, key: str, limit: int, expiry: int
) -> tuple[bool, float, int]:
    """limits' two moving-window scripts (take an entry, read the window) sent in one round trip on its
    redis-py bridge (`limit_storage` makes a RedisStorage with implementation="redispy"), where
    the library's `acquire_entry` and `get_moving_window` take one each (issue 12: ~0.25 ms of CPU per
    request at ~0.6). EVALSHA only: redis-py's own script pipelining asks SCRIPT EXISTS first, a round
    trip again. A Redis that has forgotten the scripts (restarted, SCRIPT FLUSH) answers NOSCRIPT; then
    the library's calls, which load them, do whatever did not run."""
    from redis.exceptions import NoScriptError  # redis loads with REDIS_URL only

    prefixed, now = bridge.prefixed_key(key), time.time()
    take, window = bridge.lua_acquire_moving_window, bridge.lua_moving_window
    connection: Any = bridge.get_connection()  # limits types it as a protocol without pipeline()
    async with connection.pipeline(transaction=False) as pipe:
        pipe.evalsha(take.sha, 1, prefixed, now, limit, expiry, 1)
        pipe.evalsha(window.sha, 1, prefixed, now - expiry, limit)
        taken, found = await pipe.execute(raise_on_error=False)
    if isinstance(taken, NoScriptError):
        taken = await bridge.acquire_entry(key, limit, expiry)
    elif isinstance(taken, Exception):
        raise taken
    if isinstance(found, NoScriptError):
        return bool(taken), *(await bridge.get_moving_window(key, limit, expiry))
    if isinstance(found, Exception):
        raise found
    return bool(taken), (float(found[0]) if found else now), (int(found[1]) if found else 0)


class FallbackLimitStorage(Storage, MovingWindowSupport):
    """A `limits` storage on Redis that counts in a local MemoryStorage while Redis is unreachable."""

    STORAGE_SCHEME = None

    def __init__(self, primary: Any, component: str, *, cooldown: float = BREAKER_COOLDOWN) -> None:
        super().__init__()
        self.primary = primary
        self.local = LocalLimitStorage()
        self.component = component
        self.breaker = CircuitBreaker(cooldown)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return Exception

    async def _call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        return await self._either(getattr(self.primary, op), getattr(self.local, op), *args, **kwargs)

    async def _either(self, on_primary: Any, on_local: Any, *args: Any, **kwargs: Any) -> Any:
        """`on_primary(...)` while the breaker is closed; `on_local(...)` once it has failed (tripping it)."""
        if self.breaker.closed:
            try:
                result = await on_primary(*args, **kwargs)
            except Exception as exc:
                self.breaker.trip()
                mark_degraded(self.component, exc)
            else:
                mark_recovered(self.component)
                return result
        return await on_local(*args, **kwargs)

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return await self._call("incr", key, expiry, amount=amount)  # type: ignore[no-any-return]

    async def get(self, key: str) -> int:
        return await self._call("get", key)  # type: ignore[no-any-return]

    async def get_expiry(self, key: str) -> float:
        return await self._call("get_expiry", key)  # type: ignore[no-any-return]

    async def check(self) -> bool:
        return await self._call("check")  # type: ignore[no-any-return]

    async def reset(self) -> int | None:
        await self.local.reset()
        return await self._call("reset")  # type: ignore[no-any-return]

    async def clear(self, key: str) -> None:
        await self.local.clear(key)
        await self._call("clear", key)

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return await self._call("acquire_entry", key, limit, expiry, amount=amount)  # type: ignore[no-any-return]

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        return await self._call("get_moving_window", key, limit, expiry)  # type: ignore[no-any-return]

    async def acquire_with_window(self, key: str, limit: int, expiry: int) -> tuple[bool, float, int]:
        on_redis = partial(acquire_with_window_on_redis, self.primary.bridge)
        return await self._either(on_redis, self.local.acquire_with_window, key, limit, expiry)  # type: ignore[no-any-return]


def limit_storage(settings: Settings, key_prefix: str, component: str) -> Any:
    """A `limits` storage: Redis (falling back to memory during an outage) when REDIS_URL is set."""
    if not settings.redis_url:
        return LocalLimitStorage()
    redis = RedisStorage(
        settings.redis_url,
        implementation="redispy",
        key_prefix=key_prefix,
        socket_connect_timeout=1.0,
        socket_timeout=1.0,
    )
    return FallbackLimitStorage(redis, component)


class RateLimiter:
    """The limits and their storage, independent of ASGI so services may call `hit` directly too."""

    def __init__(self, settings: Settings, *, breaker_cooldown: float = 5.0) -> None:
        self.default = RateLimitItemPerSecond(settings.rate_limit_max, settings.rate_limit_window)
        self.auth = parse(settings.rate_limit_auth)
        self.storage: Any = limit_storage(settings, "keel:ratelimit", "ratelimit")
        self.breaker = CircuitBreaker(breaker_cooldown)
        self._items: dict[int, tuple[RateLimitItem, str] | None] = {}

    def item_for(self, handler: Any) -> tuple[RateLimitItem, str] | None:
        """(limit, bucket) for a route handler, or None when exempt; parsed once per handler."""
        key = id(handler)
        try:
            return self._items[key]
        except KeyError:
            pass
        spec = handler.opt.get("rate_limit", _DEFAULT) if handler is not None else _DEFAULT
        resolved: tuple[RateLimitItem, str] | None
        if spec is None:
            resolved = None
        elif spec is _DEFAULT:
            resolved = (self.default, "default")
        else:
            item = self.auth if spec == "auth" else parse(str(spec))
            methods = ",".join(sorted(getattr(handler, "http_methods", ()) or ()))
            resolved = (item, f"route:{methods}:{'|'.join(sorted(handler.paths))}")
        self._items[key] = resolved
        return resolved

    async def hit(self, item: RateLimitItem, bucket: str, client: str) -> tuple[bool, int, float] | None:
        """Count one request: (allowed, remaining, reset epoch seconds), or None when storage is down."""
        if not self.breaker.closed:
            return None
        try:
            expiry = item.get_expiry()
            allowed, oldest, count = await self.storage.acquire_with_window(
                item.key_for(bucket, client), item.amount, expiry
            )
        except Exception as exc:  # fail open: a limiter outage must never become a 500
            if self.breaker.trip():
                log.warning("rate_limit_storage_unavailable", error=f"{type(exc).__name__}: {exc}"[:200])
            return None
        # what limits' MovingWindowRateLimiter.get_window_stats reports
        return allowed, max(0, item.amount - count), oldest + expiry

    async def reset(self) -> None:
        await self.storage.reset()


def client_key(scope: Scope) -> str:
    identify = scope["litestar_app"].state.get("identify")
    if identify is not None:
        user_id = identify(scope)
        if user_id:
            return f"user:{user_id}"
    return f"ip:{scope.get('state', {}).get('client_ip', 'unknown')}"


class RateLimitMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        resolved = self.limiter.item_for(scope.get("route_handler"))
        if resolved is None or scope.get("method") == "OPTIONS":
            await next_app(scope, receive, send)
            return
        item, bucket = resolved
        result = await self.limiter.hit(item, bucket, client_key(scope))
        if result is None:
            await next_app(scope, receive, send)
            return
        allowed, remaining, reset = result
        reset_in = max(0, math.ceil(reset - time.time()))
        if not allowed:
            route = scope.get("path_template") or scope["path"]
            RATE_LIMITED.labels(route).inc()
            raise TooManyRequests(
                f"Rate limit of {item.amount} per {item.get_expiry()} seconds exceeded",
                retry_after=max(1, reset_in),
                headers={
                    "RateLimit-Limit": str(item.amount),
                    "RateLimit-Remaining": "0",
                    "RateLimit-Reset": str(max(1, reset_in)),
                },
            )
        headers = [
            (b"ratelimit-limit", str(item.amount).encode()),
            (b"ratelimit-remaining", str(remaining).encode()),
            (b"ratelimit-reset", str(reset_in).encode()),
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await next_app(scope, receive, send_with_headers)


def install(builder: AppBuilder) -> None:
    if not builder.settings.rate_limit_enabled:
        return
    limiter = RateLimiter(builder.settings)
    builder.state["rate_limiter"] = limiter
    builder.middleware.append(RateLimitMiddleware(limiter))
