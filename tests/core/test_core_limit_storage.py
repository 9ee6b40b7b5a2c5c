"""The in-process limit storage (no REDIS_URL) counts like limits' own and cleans up at most once a second
instead of after every hit (each clean-up sends every key through a worker thread: issue 12)."""

from __future__ import annotations

import asyncio

from limits import RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter

from keel.core.ratelimit import LocalLimitStorage


async def test_counts_like_limits_and_cleans_up_once_a_second() -> None:
    storage = LocalLimitStorage()
    limiter = MovingWindowRateLimiter(storage)
    item = RateLimitItemPerSecond(2, 1)
    assert await limiter.hit(item, "bucket", "client")
    await asyncio.sleep(0.05)  # the clean-up the first hit started has run
    first_cleanup = storage.timer
    assert first_cleanup is not None and first_cleanup.done()
    assert await limiter.hit(item, "bucket", "client")
    assert not await limiter.hit(item, "bucket", "client")  # the third within the second is refused
    assert storage.timer is first_cleanup  # no new clean-up per hit
    await asyncio.sleep(1.1)
    assert await limiter.hit(item, "bucket", "client")  # the window moved on
    assert storage.timer is not first_cleanup  # and a second later it cleans up again
