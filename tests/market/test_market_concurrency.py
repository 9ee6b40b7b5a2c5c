"""Concurrent sends: unread counts, read markers and the chat list ordered by last activity stay right
when several participants (and one participant on several devices) write at the same time. Real
servers (two instances sharing the database in the services lane), so requests truly overlap."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from keel.app import create_app
from market_live import API, register, send, serve, shop_with_sellers


@pytest.fixture
async def servers(settings: Any) -> AsyncIterator[list[httpx.AsyncClient]]:
    live = msgspec.structs.replace(settings, rate_limit_auth="1000/minute")
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(serve(create_app(live)))]
        if settings.is_postgres:  # a second instance on the same database, as behind a load balancer
            clients.append(await stack.enter_async_context(serve(create_app(live))))
        yield clients


def _id(message: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(message["id"])


async def _messages(http: httpx.AsyncClient, person: Any, chat_id: str) -> list[dict[str, Any]]:
    resp = await http.get(f"{API}/chats/{chat_id}/messages", params={"limit": 100}, headers=person.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["messages"]


async def _chat(http: httpx.AsyncClient, person: Any, chat_id: str) -> dict[str, Any]:
    resp = await http.get(f"{API}/chats/{chat_id}", headers=person.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


async def test_concurrent_sends_keep_unread_counts_markers_and_order(servers) -> None:
    http = servers[0]
    vendor, owner, sellers = await shop_with_sellers(http, "Busy Shop", 2)
    customer, other = await register(http, "Customer"), await register(http, "Other customer")
    chat = (
        await http.post(
            f"{API}/chats", json={"vendor_id": vendor["id"], "title": "Busy chat"}, headers=customer.headers
        )
    ).json()["data"]
    for _, seller_row in sellers:
        resp = await http.post(
            f"{API}/chats/{chat['id']}/sellers", json={"seller_id": seller_row}, headers=owner.headers
        )
        assert resp.status_code == 201, resp.text
    quiet = (
        await http.post(
            f"{API}/chats", json={"vendor_id": vendor["id"], "title": "Quiet chat"}, headers=other.headers
        )
    ).json()["data"]

    writers = {"customer": customer, "owner": owner, "seller 0": sellers[0][0], "seller 1": sellers[1][0]}
    counts = {"customer": 12, "owner": 10, "seller 0": 8, "seller 1": 6}
    sends = [
        send(servers[n % len(servers)], writers[name], chat["id"], f"{name} #{n}")
        for name in counts
        for n in range(counts[name])
    ]
    sends += [send(servers[n % len(servers)], other, quiet["id"], f"quiet #{n}") for n in range(6)]
    results = await asyncio.gather(*sends)
    assert [r.status_code for r in results] == [201] * len(results), [
        r.text for r in results if r.status_code != 201
    ]

    messages = await _messages(http, owner, chat["id"])
    assert len(messages) == sum(counts.values()) and len({m["id"] for m in messages}) == len(messages)
    assert [m["id"] for m in messages] == [m["id"] for m in sorted(messages, key=_id)]
    detail = await _chat(http, owner, chat["id"])
    markers = {m["user_id"]: m["last_read_message_id"] for m in detail["members"]}
    assert detail["last_message"]["id"] == messages[-1]["id"]
    assert detail["last_message_at"] == messages[-1]["created_at"]
    for name, person in writers.items():
        own = [_id(m) for m in messages if m["sender_id"] == person.id]
        assert len(own) == counts[name]
        # your own messages are read: the marker is at your newest, whatever order the sends finished in
        assert markers[person.id] == str(max(own)), name
        unread = [m for m in messages if m["sender_id"] != person.id and _id(m) > max(own)]
        assert (await _chat(http, person, chat["id"]))["unread_count"] == len(unread), name

    # marking read from several devices at once: the marker ends at the newest one marked, never goes back
    marked = messages[::3]
    marks = [
        servers[n % len(servers)].post(
            f"{API}/chats/{chat['id']}/read", json={"message_id": m["id"]}, headers=customer.headers
        )
        for n, m in enumerate(marked)
    ]
    assert {r.status_code for r in await asyncio.gather(*marks)} == {200}
    mine = await _chat(http, customer, chat["id"])
    marker = uuid.UUID(
        next(m for m in mine["members"] if m["user_id"] == customer.id)["last_read_message_id"]
    )
    assert marker == max(
        max(_id(m) for m in marked), max(_id(m) for m in messages if m["sender_id"] == customer.id)
    )
    assert mine["unread_count"] == len(
        [m for m in messages if _id(m) > marker and m["sender_id"] != customer.id]
    )

    # the chat list: newest activity first, each chat's activity time is its newest message's
    await asyncio.gather(
        send(servers[0], other, quiet["id"], "quiet again"), send(servers[-1], owner, quiet["id"], "hello")
    )
    listed = (await http.get(f"{API}/chats", headers=owner.headers)).json()["data"]
    assert [c["title"] for c in listed] == ["Quiet chat", "Busy chat"]
    for entry in listed:
        assert entry["last_message_at"] == entry["last_message"]["created_at"], entry["title"]
    quiet_messages = await _messages(http, owner, quiet["id"])
    owner_newest = max(_id(m) for m in quiet_messages if m["sender_id"] == owner.id)
    expected = len([m for m in quiet_messages if m["sender_id"] != owner.id and _id(m) > owner_newest])
    assert next(c for c in listed if c["title"] == "Quiet chat")["unread_count"] == expected


async def test_first_sends_of_one_person_from_several_devices_all_land(servers) -> None:
    # the participant row is created by the first send: simultaneous first sends must not collide on it
    http = servers[0]
    vendor, owner, _ = await shop_with_sellers(http, "First Shop", 0)
    customer = await register(http, "Customer")
    chat = (
        await http.post(f"{API}/chats", json={"vendor_id": vendor["id"]}, headers=customer.headers)
    ).json()["data"]
    results = await asyncio.gather(
        *[send(servers[n % len(servers)], owner, chat["id"], f"hi {n}") for n in range(10)]
    )
    assert [r.status_code for r in results] == [201] * 10, [r.text for r in results]
    assert (await _chat(http, customer, chat["id"]))["unread_count"] == 10
    assert (await _chat(http, owner, chat["id"]))["unread_count"] == 0
