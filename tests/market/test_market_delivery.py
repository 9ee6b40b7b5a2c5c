"""Every event reaches every participant exactly once: listeners on both instances (sharing Redis and
PostgreSQL in the services lane; one instance embedded), sends through both instances."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from keel.app import create_app
from market_live import API, drain, register, send, serve, shop_with_sellers


@pytest.fixture
async def servers(settings: Any) -> AsyncIterator[list[httpx.AsyncClient]]:
    live = msgspec.structs.replace(settings, rate_limit_auth="1000/minute", realtime_keepalive=0.5)
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(serve(create_app(live)))]
        if settings.redis_url and settings.is_postgres:
            clients.append(await stack.enter_async_context(serve(create_app(live))))
        yield clients


async def test_each_event_reaches_each_participant_once_across_instances(servers) -> None:
    front, back = servers[0], servers[-1]
    vendor, owner, sellers = await shop_with_sellers(front, "Once Shop", 1)
    customer = await register(front, "Customer")
    chat = (
        await front.post(f"{API}/chats", json={"vendor_id": vendor["id"]}, headers=customer.headers)
    ).json()["data"]
    assigned = await front.post(
        f"{API}/chats/{chat['id']}/sellers", json={"seller_id": sellers[0][1]}, headers=owner.headers
    )
    assert assigned.status_code == 201
    seller = sellers[0][0]
    listeners = [(customer, front), (owner, back), (seller, front), (seller, back)]  # seller: two devices
    async with contextlib.AsyncExitStack() as stack:
        streams = []
        for person, http in listeners:
            response = await stack.enter_async_context(
                http.stream("GET", "/api/v1/events?topics=market", headers=person.headers)
            )
            lines = response.aiter_lines()
            assert (await anext(lines)).startswith(": connected")
            streams.append(lines)
        await asyncio.sleep(0.5)  # subscribed on every instance
        writers = [customer, owner, seller]
        results = await asyncio.gather(
            *[send(servers[n % len(servers)], writers[n % 3], chat["id"], f"message {n}") for n in range(12)]
        )
        assert {r.status_code for r in results} == {201}
        sent = {r.json()["data"]["id"] for r in results}
        seen = await asyncio.gather(*[drain(lines, 3.0) for lines in streams])
    for (person, _), lines in zip(listeners, seen, strict=True):
        created = Counter(
            msgspec.json.decode(line[5:])["event"]["message"]["id"]
            for line in lines
            if line.startswith("data:") and '"message.created"' in line
        )
        assert set(created) == sent, person.email
        assert set(created.values()) == {1}, f"{person.email} got an event more than once"
