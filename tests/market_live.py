"""Helpers for market tests against real servers (tests/market/test_market_{concurrency,live}.py): the
app on a real uvicorn server on the test's loop, accounts registered over HTTP, SSE lines read as
events. A real server (not the in-process test client) so requests truly run at the same time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

API = "/api/v1/market"
PASSWORD = "Market live test pass 1!"  # noqa: S105 - test data


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    from core_platform_helpers import serve_address

    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with (
        serve_address(app) as address,
        httpx.AsyncClient(base_url=f"http://{address}", timeout=20, limits=limits) as http,
    ):
        yield http


class Person:
    def __init__(self, user_id: str, email: str, token: str) -> None:
        self.id, self.email, self.token = user_id, email, token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def register(http: httpx.AsyncClient, name: str) -> Person:
    email = f"{name.lower().replace(' ', '-')}-{uuid.uuid4().hex[:8]}@example.com"
    resp = await http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": name})
    assert resp.status_code == 201, resp.text
    data = resp.json()["data"]
    return Person(data["user"]["id"], email, data["access_token"])


async def shop_with_sellers(
    http: httpx.AsyncClient, name: str, sellers: int
) -> tuple[dict[str, Any], Person, list[tuple[Person, str]]]:
    """(vendor, owner, [(seller, seller row id)])."""
    owner = await register(http, f"{name} owner")
    vendor = (await http.post(f"{API}/vendors", json={"name": name}, headers=owner.headers)).json()["data"]
    people = []
    for n in range(sellers):
        seller = await register(http, f"{name} seller {n}")
        row = await http.post(
            f"{API}/vendors/{vendor['id']}/sellers", json={"email": seller.email}, headers=owner.headers
        )
        assert row.status_code == 201, row.text
        people.append((seller, row.json()["data"]["id"]))
    return vendor, owner, people


async def send(http: httpx.AsyncClient, person: Person, chat_id: str, body: str) -> httpx.Response:
    payload = {"client_id": str(uuid.uuid4()), "body": body}
    return await http.post(f"{API}/chats/{chat_id}/messages", json=payload, headers=person.headers)


async def sse_events(
    lines: Any, count: int, wait: float = 5.0, *, types: set[str] | None = None
) -> list[dict[str, Any]]:
    """The next `count` events (of `types`, if given) from an SSE line iterator, as {channel, event};
    keep-alives do not extend the wait past 4 times `wait` in all."""
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(wait * 4):
        while len(events) < count:
            line = await asyncio.wait_for(anext(lines), wait)
            if line.startswith("data:"):
                item = json.loads(line[5:])
                if types is None or item["event"].get("type") in types:
                    events.append(item)
    return events


async def drain(lines: Any, seconds: float) -> list[str]:
    """Every line that arrives within `seconds`."""
    seen: list[str] = []
    with contextlib.suppress(asyncio.TimeoutError, StopAsyncIteration):
        async with asyncio.timeout(seconds):
            async for line in lines:
                seen.append(line)
    return seen


async def sse_blocks(lines: Any, wait: float = 5.0) -> AsyncIterator[tuple[str | None, dict[str, Any]]]:
    """(SSE `id:` or None, decoded data) for each event of a stream, as they come."""
    event_id: str | None = None
    data: str | None = None
    while True:
        line = await asyncio.wait_for(anext(lines), wait)
        if line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
        elif line == "":
            if data is not None:
                yield event_id, json.loads(data)
            event_id, data = None, None
