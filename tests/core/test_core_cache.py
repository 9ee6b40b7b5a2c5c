"""Read-through cache: hits, misses, namespace invalidation, Redis sharing and surviving a Redis outage."""

from __future__ import annotations

import msgspec
import pytest
from litestar import get, post
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from keel.app import create_app
from keel.core.cache import Cache


class Item(msgspec.Struct):
    name: str
    tags: list[str]


def counting_loader(value: object):
    calls: list[int] = []

    async def load() -> object:
        calls.append(1)
        return value

    return load, calls


def _metric(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
async def cache(request, settings):
    if request.param == "memory":
        yield Cache(None, default_ttl=60)
        return
    from redis.asyncio import Redis

    redis = Redis.from_url(settings.redis_url)
    yield Cache(redis, default_ttl=60)
    await redis.aclose()


async def test_read_through_loads_once_then_hits(cache) -> None:
    load, calls = counting_loader({"a": [1, 2]})
    hits = _metric("keel_cache_requests_total", {"namespace": "ns", "result": "hit"})
    assert await cache.get_or_set("ns", "k", load) == {"a": [1, 2]}
    assert await cache.get_or_set("ns", "k", load) == {"a": [1, 2]}
    assert len(calls) == 1
    assert _metric("keel_cache_requests_total", {"namespace": "ns", "result": "hit"}) == hits + 1


async def test_invalidate_on_commit_drops_what_a_reader_cached_before_the_commit(cache, settings) -> None:
    """A reader between the write's invalidation and its commit caches the old value; the second,
    after-commit invalidation must drop it. A rolled-back session leaves the cache alone afterwards."""
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    engine = create_async_engine(settings.database_url)
    sessions = async_sessionmaker(engine)
    try:
        async with sessions() as session:
            await session.execute(text("SELECT 1"))
            await cache.invalidate_on_commit(session, "plans")
            stale, _ = counting_loader("old")
            assert await cache.get_or_set("plans", "all", stale) == "old"  # a concurrent reader, pre-commit
            await session.commit()
        await asyncio.sleep(0.05)  # the after-commit invalidation runs as a task on this loop
        fresh, calls = counting_loader("new")
        assert await cache.get_or_set("plans", "all", fresh) == "new" and len(calls) == 1

        async with sessions() as session:
            await session.execute(text("SELECT 1"))
            await cache.invalidate_on_commit(session, "plans")
            assert await cache.get_or_set("plans", "all", fresh) == "new"
            await session.rollback()
        await asyncio.sleep(0.05)
        assert await cache.get_or_set("plans", "all", fresh) == "new" and len(calls) == 2
        assert await cache.get_or_set("plans", "all", fresh) == "new" and len(calls) == 2  # cached again
    finally:
        await engine.dispose()


async def test_hit_and_miss_return_the_same_shape(cache) -> None:
    load, _ = counting_loader(Item(name="squat", tags=["legs"]))
    miss = await cache.get_or_set("ns", "item", load, type=Item)
    hit = await cache.get_or_set("ns", "item", load, type=Item)
    assert miss == hit == Item(name="squat", tags=["legs"])
    untyped_load, _ = counting_loader(Item(name="row", tags=[]))
    assert await cache.get_or_set("ns", "plain", untyped_load) == {"name": "row", "tags": []}


async def test_invalidate_drops_the_whole_namespace_only(cache) -> None:
    load_a, calls_a = counting_loader(1)
    load_b, calls_b = counting_loader(2)
    await cache.get_or_set("one", "a", load_a)
    await cache.get_or_set("one", "b", load_a)
    await cache.get_or_set("two", "a", load_b)
    await cache.invalidate("one")
    await cache.get_or_set("one", "a", load_a)
    await cache.get_or_set("one", "b", load_a)
    await cache.get_or_set("two", "a", load_b)
    assert len(calls_a) == 4
    assert len(calls_b) == 1


async def test_expired_entries_are_reloaded() -> None:
    cache = Cache(None, default_ttl=60)
    load, calls = counting_loader("x")
    await cache.get_or_set("ns", "k", load, ttl=0)
    await cache.get_or_set("ns", "k", load, ttl=0)
    assert len(calls) == 2


async def test_loader_errors_propagate_and_nothing_is_cached(cache) -> None:
    async def broken() -> object:
        raise LookupError("boom")

    with pytest.raises(LookupError):
        await cache.get_or_set("ns", "k", broken)
    load, calls = counting_loader("fine")
    assert await cache.get_or_set("ns", "k", load) == "fine"
    assert len(calls) == 1


@pytest.mark.services
async def test_invalidation_reaches_every_instance_on_one_redis(settings) -> None:
    from redis.asyncio import Redis

    redis_one, redis_two = Redis.from_url(settings.redis_url), Redis.from_url(settings.redis_url)
    one, two = Cache(redis_one, 60), Cache(redis_two, 60)
    load, calls = counting_loader([1])
    await one.get_or_set("shared", "k", load)
    await two.get_or_set("shared", "k", load)
    assert len(calls) == 1  # the second instance hit what the first stored
    await two.invalidate("shared")
    await one.get_or_set("shared", "k", load)
    assert len(calls) == 2
    # a lost version counter restarts above every earlier version, never back to a stale one
    await redis_one.delete("keel:cache:shared:v")
    await one.get_or_set("shared", "k", load)
    assert len(calls) == 3
    await redis_one.aclose()
    await redis_two.aclose()


@get("/t/cache/item/{name:str}")
async def cached_item(name: str, cache: Cache) -> dict[str, object]:
    async def load() -> dict[str, object]:
        LOADS.append(name)
        return {"name": name, "loads": len(LOADS)}

    return await cache.get_or_set("t-items", name, load)


@post("/t/cache/invalidate", status_code=204)
async def invalidate_items(cache: Cache) -> None:
    await cache.invalidate("t-items")


LOADS: list[str] = []


async def test_dependency_serves_cached_values(make_settings) -> None:
    LOADS.clear()
    app = create_app(make_settings(), extra_route_handlers=[cached_item, invalidate_items])
    assert isinstance(app.state.cache, Cache)
    async with AsyncTestClient(app=app) as client:
        first = (await client.get("/t/cache/item/bench")).json()
        second = (await client.get("/t/cache/item/bench")).json()
        assert first == second == {"name": "bench", "loads": 1}
        assert (await client.post("/t/cache/invalidate")).status_code == 204
        assert (await client.get("/t/cache/item/bench")).json() == {"name": "bench", "loads": 2}


async def test_redis_outage_still_answers_counts_errors_and_opens_the_breaker(make_settings) -> None:
    LOADS.clear()
    app = create_app(
        make_settings(redis_url="redis://127.0.0.1:1/0"), extra_route_handlers=[cached_item, invalidate_items]
    )
    get_errors = _metric("keel_cache_errors_total", {"op": "get"})
    bypassed = _metric("keel_cache_errors_total", {"op": "bypass"})
    async with AsyncTestClient(app=app) as client:
        bodies = [(await client.get("/t/cache/item/row")) for _ in range(3)]
        assert [b.status_code for b in bodies] == [200, 200, 200]
        assert [b.json()["loads"] for b in bodies] == [1, 2, 3]  # the loader answered every time
        assert (await client.post("/t/cache/invalidate")).status_code == 204
    # one real attempt hit the dead Redis; the breaker let the next requests skip it without waiting
    assert _metric("keel_cache_errors_total", {"op": "get"}) == get_errors + 1
    assert _metric("keel_cache_errors_total", {"op": "bypass"}) == bypassed + 2
    assert app.state.cache._pending_invalidations == {"t-items"}  # retried when Redis is back
