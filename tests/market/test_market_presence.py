"""Presence and resilience of live chat. With Redis (the services lane) the customer's streams sit on
another app instance than the owner's, as behind a load balancer: presence is shared through Redis. After
a Redis restart (a redis-server the test owns) open market streams deliver again within 5 s."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from websockets.asyncio.client import connect

from core_platform_helpers import OwnRedis
from keel.app import create_app
from market_live import API, drain, register, send, serve, sse_events


@pytest.fixture
async def instances(settings: Any) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    live = msgspec.structs.replace(settings, rate_limit_auth="1000/minute", realtime_keepalive=0.3)
    async with contextlib.AsyncExitStack() as stack:
        front = await stack.enter_async_context(serve(create_app(live)))
        back = await stack.enter_async_context(serve(create_app(live))) if settings.redis_url else front
        yield front, back


def subscribers(metrics: str, transport: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(f'keel_realtime_subscribers{{transport="{transport}"}}'):
            return float(line.split()[-1])
    return 0.0


async def member_presence(http: httpx.AsyncClient, viewer: Any, chat_id: str) -> dict[str, str]:
    resp = await http.get(f"{API}/chats/{chat_id}", headers=viewer.headers)
    assert resp.status_code == 200, resp.text
    return {m["user_id"]: m["presence"] for m in resp.json()["data"]["members"]}


async def test_presence_follows_open_streams_across_instances(instances) -> None:
    front, back = instances
    owner, customer, stranger = [await register(front, n) for n in ("Owner", "Customer", "Stranger")]
    vendor = (await front.post(f"{API}/vendors", json={"name": "Present"}, headers=owner.headers)).json()[
        "data"
    ]
    chat = (
        await front.post(f"{API}/chats", json={"vendor_id": vendor["id"]}, headers=customer.headers)
    ).json()["data"]
    assert (await member_presence(front, owner, chat["id"]))[customer.id] == "away"
    async with contextlib.AsyncExitStack() as stack:
        owner_stream = await stack.enter_async_context(
            front.stream("GET", "/api/v1/events?topics=market", headers=owner.headers)
        )
        stranger_stream = await stack.enter_async_context(
            front.stream("GET", "/api/v1/events?topics=market", headers=stranger.headers)
        )
        owner_lines, stranger_lines = owner_stream.aiter_lines(), stranger_stream.aiter_lines()
        assert (await anext(owner_lines)).startswith(": connected")
        assert (await anext(stranger_lines)).startswith(": connected")
        await asyncio.sleep(0.3)
        before = subscribers((await back.get("/metrics")).text, "sse")

        async with back.stream("GET", "/api/v1/events?topics=market", headers=customer.headers) as mine:
            my_lines = mine.aiter_lines()  # kept: a dropped line iterator closes the stream
            assert (await anext(my_lines)).startswith(": connected")
            [online] = await sse_events(owner_lines, 1, types={"presence"})
            assert online["event"]["user_id"] == customer.id and online["event"]["status"] == "online"
            assert online["event"]["chat_ids"] == [chat["id"]]
            assert (await member_presence(front, owner, chat["id"]))[customer.id] == "online"
            assert subscribers((await back.get("/metrics")).text, "sse") == before + 1

            # a second device of the customer (a WebSocket) is no news; closing it leaves them online
            ws_base = str(back.base_url).replace("http://", "ws://").rstrip("/")
            async with connect(f"{ws_base}/api/v1/ws?topics=market&access_token={customer.token}"):
                await asyncio.sleep(0.3)
                assert subscribers((await back.get("/metrics")).text, "websocket") >= 1
            await asyncio.sleep(0.5)
            assert (await member_presence(front, owner, chat["id"]))[customer.id] == "online"

        [away] = await sse_events(owner_lines, 1, types={"presence"})
        assert away["event"]["user_id"] == customer.id and away["event"]["status"] == "away"
        assert (await member_presence(front, owner, chat["id"]))[customer.id] == "away"
        assert subscribers((await back.get("/metrics")).text, "sse") == before
        # the stranger shares no chat with the customer: nothing about them
        seen = await drain(stranger_lines, 0.8)
        assert not [line for line in seen if line.startswith("data:")]


async def test_market_streams_deliver_again_within_5s_after_redis_restarts(settings) -> None:
    """Listener and sender on two instances sharing a Redis the test owns; the Redis is killed and
    started again (empty, as after a crash) while the customer's stream stays open."""
    own = OwnRedis()
    own.start()
    try:
        live = msgspec.structs.replace(
            settings, redis_url=own.url, rate_limit_auth="1000/minute", realtime_keepalive=0.3
        )
        async with contextlib.AsyncExitStack() as stack:
            front = await stack.enter_async_context(serve(create_app(live)))
            # two instances on PostgreSQL (the embedded lane's in-memory job queue is one per process)
            back = await stack.enter_async_context(serve(create_app(live))) if settings.is_postgres else front
            owner, customer = await register(front, "Owner"), await register(front, "Customer")
            vendor = (
                await front.post(f"{API}/vendors", json={"name": "Restart"}, headers=owner.headers)
            ).json()["data"]
            chat = (
                await front.post(f"{API}/chats", json={"vendor_id": vendor["id"]}, headers=customer.headers)
            ).json()["data"]
            async with back.stream("GET", "/api/v1/events?topics=market", headers=customer.headers) as stream:
                lines = stream.aiter_lines()
                assert (await anext(lines)).startswith(": connected")
                await asyncio.sleep(0.3)
                assert (await send(front, owner, chat["id"], "before")).status_code == 201
                [before] = await sse_events(lines, 1, types={"message.created"})
                assert before["event"]["message"]["body"] == "before"

                own.kill()
                await asyncio.sleep(0.5)
                during = await send(front, owner, chat["id"], "during")  # stored; its event is dropped
                assert during.status_code == 201
                own.start()

                received: list[str] = []

                async def collect() -> None:  # a timed-out read would end the line iterator: no timeouts
                    async for line in lines:
                        if line.startswith("data:") and '"message.created"' in line:
                            received.append(json.loads(line[5:])["event"]["message"]["body"])

                async def delivered_after_restart() -> None:
                    n = 0
                    while not any(body.startswith("after") for body in received):
                        assert not collector.done(), "the stream ended"
                        n += 1  # one message every 0.5 s until one of them arrives live
                        assert (await send(front, owner, chat["id"], f"after {n}")).status_code == 201
                        await asyncio.sleep(0.5)

                collector = asyncio.create_task(collect())
                try:
                    await asyncio.wait_for(delivered_after_restart(), 5.0)
                finally:
                    collector.cancel()
                    with contextlib.suppress(BaseException):
                        await collector
    finally:
        own.kill()
