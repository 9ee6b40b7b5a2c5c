"""Rate limits: a pure-ASGI Litestar middleware over the `limits` library (moving window, exact).

Per route: `opt={"rate_limit": "5/minute"}` (a `limits` string), `"auth"` (RATE_LIMIT_AUTH), or `None`
(exempt). Everything else shares the default, RATE_LIMIT_MAX per RATE_LIMIT_WINDOW seconds per client.
The client is `user:<id>` when `app.state.identify(scope)` recognises a valid access token, else
`ip:<client ip>` (set by the edge from trusted proxies only).

Counters live in process by default and in Redis when REDIS_URL is set, so every worker and instance
shares them. Responses carry `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds); a
refusal is 429 `RATE_LIMITED` with `Retry-After`. When the storage fails the limiter lets requests through
(a warning, then a short circuit breaker so requests never wait on a dead Redis).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import structlog
from limits import RateLimitItem, RateLimitItemPerSecond, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware

from keel.core.cache import CircuitBreaker
from keel.core.components import AppBuilder
from keel.core.errors import TooManyRequests
from keel.core.metrics import RATE_LIMITED

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from keel.settings import Settings

log = structlog.get_logger("keel.ratelimit")
_DEFAULT = object()  # the handler names no limit: the shared default applies


class RateLimiter:
    """The limits and their storage, independent of ASGI so services may call `hit` directly too."""

    def __init__(self, settings: Settings, *, breaker_cooldown: float = 5.0) -> None:
        self.default = RateLimitItemPerSecond(settings.rate_limit_max, settings.rate_limit_window)
        self.auth = parse(settings.rate_limit_auth)
        if settings.redis_url:
            self.storage: Any = RedisStorage(
                settings.redis_url,
                implementation="redispy",
                key_prefix="keel:ratelimit",
                socket_connect_timeout=1.0,
                socket_timeout=1.0,
            )
        else:
            self.storage = MemoryStorage()
        self.strategy = MovingWindowRateLimiter(self.storage)
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
            allowed = await self.strategy.hit(item, bucket, client)
            reset, remaining = await self.strategy.get_window_stats(item, bucket, client)
        except Exception as exc:  # fail open: a limiter outage must never become a 500
            if self.breaker.trip():
                log.warning("rate_limit_storage_unavailable", error=f"{type(exc).__name__}: {exc}"[:200])
            return None
        return allowed, max(0, remaining), reset

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
