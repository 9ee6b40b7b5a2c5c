"""market realtime: every message change and read marker reaches each participant's `user:<id>:market`
channel over SSE and WebSocket, and nobody else's. With Redis (the services lane) the listeners sit on
another app instance than the one that handles the requests, as behind a load balancer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from core_platform_helpers import serve_address as serve
from keel.app import create_app

API = "/api/v1/market"


@pytest.fixture
async def instances(settings: Any) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """(client of the instance handling requests, client of the instance holding the listeners): two apps
    sharing Redis when it is configured, else one app for both."""
    import msgspec

    live = msgspec.structs.replace(settings, realtime_keepalive=0.3)
    async with contextlib.AsyncExitStack() as stack:
        front = await stack.enter_async_context(serve(create_app(live)))
        back = await stack.enter_async_context(serve(create_app(live))) if settings.redis_url else front
        writer = await stack.enter_async_context(httpx.AsyncClient(base_url=f"http://{front}", timeout=10))
        reader = await stack.enter_async_context(httpx.AsyncClient(base_url=f"http://{back}", timeout=10))
        yield writer, reader


async def register(http: httpx.AsyncClient, name: str) -> dict[str, str]:
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    resp = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": "Market realtime pass 1!", "name": name}
    )
    assert resp.status_code == 201, resp.text
    data = resp.json()["data"]
    return {"id": data["user"]["id"], "email": email, "token": data["access_token"]}


def auth(user: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {user['token']}"}


async def next_events(lines: Any, count: int, wait: float = 5.0) -> list[dict[str, Any]]:
    """The next `count` events but presence (who came online; test_market_presence.py checks those)."""
    events: list[dict[str, Any]] = []
    while len(events) < count:
        line = await asyncio.wait_for(anext(lines), wait)
        if line.startswith("data:") and json.loads(line[5:])["event"].get("type") != "presence":
            events.append(json.loads(line[5:]))
    return events


async def test_participants_receive_chat_events_and_others_do_not(instances) -> None:
    writer, reader = instances
    owner, customer, seller, stranger = [
        await register(writer, n) for n in ("Owner", "Customer", "Seller", "Stranger")
    ]
    vendor = (await writer.post(f"{API}/vendors", json={"name": "Corner Bikes"}, headers=auth(owner))).json()[
        "data"
    ]
    seller_row = (
        await writer.post(
            f"{API}/vendors/{vendor['id']}/sellers", json={"email": seller["email"]}, headers=auth(owner)
        )
    ).json()["data"]
    chat = (
        await writer.post(f"{API}/chats", json={"vendor_id": vendor["id"]}, headers=auth(customer))
    ).json()["data"]
    await writer.post(
        f"{API}/chats/{chat['id']}/sellers", json={"seller_id": seller_row["id"]}, headers=auth(owner)
    )

    ws_base = str(reader.base_url).replace("http://", "ws://").rstrip("/")
    async with (
        reader.stream("GET", "/api/v1/events?topics=market", headers=auth(customer)) as customer_stream,
        reader.stream("GET", "/api/v1/events?topics=market", headers=auth(stranger)) as stranger_stream,
        connect(f"{ws_base}/api/v1/ws?topics=market&access_token={seller['token']}") as seller_ws,
    ):
        customer_lines = customer_stream.aiter_lines()
        stranger_lines = stranger_stream.aiter_lines()
        assert (await anext(customer_lines)).startswith(": connected")
        assert (await anext(stranger_lines)).startswith(": connected")
        await asyncio.sleep(0.3)  # subscribed on every instance

        sent = await writer.post(
            f"{API}/chats/{chat['id']}/messages",
            json={"client_id": str(uuid.uuid4()), "body": "Your bike is ready"},
            headers=auth(owner),
        )
        assert sent.status_code == 201
        message_id = sent.json()["data"]["id"]
        edited = await writer.patch(
            f"{API}/chats/{chat['id']}/messages/{message_id}",
            json={"body": "Your bike is ready for pick-up"},
            headers=auth(owner),
        )
        assert edited.status_code == 200
        read = await writer.post(
            f"{API}/chats/{chat['id']}/read", json={"message_id": message_id}, headers=auth(customer)
        )
        assert read.status_code == 200
        deleted = await writer.delete(f"{API}/chats/{chat['id']}/messages/{message_id}", headers=auth(owner))
        assert deleted.status_code == 204

        events = await next_events(customer_lines, 4)
        channel = f"user:{customer['id']}:market"
        assert [e["channel"] for e in events] == [channel] * 4
        assert [e["event"]["type"] for e in events] == [
            "message.created",
            "message.updated",
            "read",
            "message.deleted",
        ]
        assert events[0]["event"]["message"]["body"] == "Your bike is ready"
        assert events[0]["event"]["chat_id"] == chat["id"]
        assert events[1]["event"]["message"]["body"] == "Your bike is ready for pick-up"
        assert events[2]["event"]["user_id"] == customer["id"]
        assert events[3]["event"]["message"]["deleted"] is True

        first = json.loads(await asyncio.wait_for(seller_ws.recv(), 5))
        while first["event"]["type"] == "presence":  # the customer's stream came online
            first = json.loads(await asyncio.wait_for(seller_ws.recv(), 5))
        assert first["channel"] == f"user:{seller['id']}:market"
        assert first["event"]["type"] == "message.created" and first["event"]["message"]["id"] == message_id

        # the stranger's stream carries keep-alives only
        seen: list[str] = []
        with contextlib.suppress(asyncio.TimeoutError):
            async with asyncio.timeout(1.0):
                async for line in stranger_lines:
                    seen.append(line)
        assert any(s.startswith(": keep-alive") for s in seen)
        assert not [s for s in seen if s.startswith("data:")]


async def test_failed_send_publishes_nothing(instances) -> None:
    writer, reader = instances
    owner, customer = await register(writer, "Owner"), await register(writer, "Customer")
    vendor = (await writer.post(f"{API}/vendors", json={"name": "Quiet Shop"}, headers=auth(owner))).json()[
        "data"
    ]
    chat = (
        await writer.post(f"{API}/chats", json={"vendor_id": vendor["id"]}, headers=auth(customer))
    ).json()["data"]
    await writer.post(f"{API}/chats/{chat['id']}/close", headers=auth(owner))
    async with reader.stream("GET", "/api/v1/events?topics=market", headers=auth(customer)) as stream:
        lines = stream.aiter_lines()
        assert (await anext(lines)).startswith(": connected")
        await asyncio.sleep(0.3)
        refused = await writer.post(
            f"{API}/chats/{chat['id']}/messages",
            json={"client_id": str(uuid.uuid4()), "body": "hello?"},
            headers=auth(owner),
        )
        assert refused.status_code == 409
        await writer.post(f"{API}/chats/{chat['id']}/reopen", headers=auth(owner))
        accepted = await writer.post(
            f"{API}/chats/{chat['id']}/messages",
            json={"client_id": str(uuid.uuid4()), "body": "open again"},
            headers=auth(owner),
        )
        assert accepted.status_code == 201
        reopened, sent = await next_events(lines, 2)  # nothing of the refused send in between
        assert reopened["event"]["type"] == "chat.reopened"
        assert sent["event"]["type"] == "message.created" and sent["event"]["message"]["body"] == "open again"


async def test_handoff_reaches_every_seller_of_the_shop_live(instances) -> None:
    """The customer asks for a person: the assistant's reply reaches the customer live, and the shop's
    sellers, even one not in the chat, hear of the hand-off and can take the chat over."""
    writer, reader = instances
    owner, customer, seller = [await register(writer, n) for n in ("Owner", "Customer", "Seller")]
    vendor = (await writer.post(f"{API}/vendors", json={"name": "Live Bikes"}, headers=auth(owner))).json()[
        "data"
    ]
    await writer.post(
        f"{API}/vendors/{vendor['id']}/sellers", json={"email": seller["email"]}, headers=auth(owner)
    )
    settings = {"enabled": True, "name": "Bikebot"}
    assert (
        await writer.put(f"{API}/vendors/{vendor['id']}/assistant", json=settings, headers=auth(owner))
    ).status_code == 200
    chat = (
        await writer.post(f"{API}/chats", json={"vendor_id": vendor["id"]}, headers=auth(customer))
    ).json()["data"]
    async with (
        reader.stream("GET", "/api/v1/events?topics=market", headers=auth(customer)) as customer_stream,
        reader.stream("GET", "/api/v1/events?topics=market", headers=auth(seller)) as seller_stream,
    ):
        customer_lines, seller_lines = customer_stream.aiter_lines(), seller_stream.aiter_lines()
        assert (await anext(customer_lines)).startswith(": connected")
        assert (await anext(seller_lines)).startswith(": connected")
        await asyncio.sleep(0.3)
        sent = await writer.post(
            f"{API}/chats/{chat['id']}/messages",
            json={"client_id": str(uuid.uuid4()), "body": "I want to talk to a human"},
            headers=auth(customer),
        )
        assert sent.status_code == 201
        mine, reply, handoff = await next_events(customer_lines, 3)
        assert mine["event"]["message"]["author"] == "user"
        assert reply["event"]["type"] == "message.created"
        assert reply["event"]["message"]["author"] == "assistant" and reply["event"]["message"]["engine"]
        assert handoff["event"]["type"] == "chat.handoff" and handoff["event"]["reason"] == "human"
        [alert] = await next_events(seller_lines, 1)
        assert alert["event"]["type"] == "chat.handoff" and alert["event"]["chat_id"] == chat["id"]
        assert alert["event"]["customer_message"] == "I want to talk to a human"
        taken = await writer.post(f"{API}/chats/{chat['id']}/take-over", headers=auth(seller))
        assert taken.status_code == 200 and taken.json()["data"]["human_since"]


async def test_typing_and_chat_lifecycle_events(instances) -> None:
    writer, reader = instances
    owner, customer, seller, stranger = [
        await register(writer, n) for n in ("Owner", "Customer", "Seller", "Other")
    ]
    vendor = (await writer.post(f"{API}/vendors", json={"name": "Event Bikes"}, headers=auth(owner))).json()[
        "data"
    ]
    seller_row = (
        await writer.post(
            f"{API}/vendors/{vendor['id']}/sellers", json={"email": seller["email"]}, headers=auth(owner)
        )
    ).json()["data"]
    async with reader.stream("GET", "/api/v1/events?topics=market", headers=auth(owner)) as owner_stream:
        lines = owner_stream.aiter_lines()
        assert (await anext(lines)).startswith(": connected")
        await asyncio.sleep(0.3)
        chat = (
            await writer.post(f"{API}/chats", json={"vendor_id": vendor["id"]}, headers=auth(customer))
        ).json()["data"]
        # events are published after the response: a transient one of the next request could overtake
        [created] = await next_events(lines, 1)
        url = f"{API}/chats/{chat['id']}"
        assert (await writer.post(f"{url}/typing", headers=auth(customer))).status_code == 204
        assert (await writer.post(f"{url}/typing", headers=auth(stranger))).status_code == 404
        assert (await writer.patch(url, json={"title": "Brakes"}, headers=auth(customer))).status_code == 200
        assert (
            await writer.post(f"{url}/sellers", json={"seller_id": seller_row["id"]}, headers=auth(owner))
        ).status_code == 201
        assert (
            await writer.delete(f"{url}/sellers/{seller_row['id']}", headers=auth(owner))
        ).status_code == 204
        assert (await writer.post(f"{url}/close", headers=auth(customer))).status_code == 200
        assert (await writer.post(f"{url}/reopen", headers=auth(owner))).status_code == 200
        assert (await writer.post(f"{url}/archive", headers=auth(owner))).status_code == 200
        events = [created["event"]] + [e["event"] for e in await next_events(lines, 7)]
        assert [e["type"] for e in events] == [
            "chat.created",
            "typing",
            "chat.renamed",
            "chat.seller_assigned",
            "chat.seller_removed",
            "chat.closed",
            "chat.reopened",
            "chat.archived",
        ]
        typing = events[1]
        assert typing["user_id"] == customer["id"] and typing["role"] == "customer" and typing["until"]
        assert events[2]["title"] == "Brakes" and events[4]["user_id"] == seller["id"]


async def test_the_offline_engine_streams_its_sentence_before_the_stored_reply(instances) -> None:
    """The retrieval engine's sentence arrives as one `message.delta` first, then `message.created` with
    the same id and text, then its product card; the stored messages match."""
    writer, reader = instances
    owner, customer = await register(writer, "Owner"), await register(writer, "Customer")
    vendor = (await writer.post(f"{API}/vendors", json={"name": "Delta Bikes"}, headers=auth(owner))).json()[
        "data"
    ]
    product = {
        "sku": "CITY-BLU",
        "name": "City bike, blue",
        "price_minor": 54900,
        "currency": "EUR",
        "stock": 2,
    }
    created = await writer.post(f"{API}/vendors/{vendor['id']}/products", json=product, headers=auth(owner))
    assert created.status_code == 201
    await writer.put(f"{API}/vendors/{vendor['id']}/assistant", json={"enabled": True}, headers=auth(owner))
    chat = (
        await writer.post(f"{API}/chats", json={"vendor_id": vendor["id"]}, headers=auth(customer))
    ).json()["data"]
    async with reader.stream("GET", "/api/v1/events?topics=market", headers=auth(customer)) as stream:
        lines = stream.aiter_lines()
        assert (await anext(lines)).startswith(": connected")
        await asyncio.sleep(0.3)
        body = {"client_id": str(uuid.uuid4()), "body": "do you have a blue city bike?"}
        assert (
            await writer.post(f"{API}/chats/{chat['id']}/messages", json=body, headers=auth(customer))
        ).status_code == 201
        mine, delta, sentence, card = [e["event"] for e in await next_events(lines, 4)]
    assert mine["type"] == "message.created" and mine["message"]["author"] == "user"
    assert delta["type"] == "message.delta" and delta["engine"] == "retrieval"
    assert sentence["type"] == "message.created" and sentence["message"]["id"] == delta["message_id"]
    assert sentence["message"]["body"] == delta["delta"] and sentence["message"]["engine"] == "retrieval"
    assert (
        card["type"] == "message.created" and card["message"]["product"]["id"] == created.json()["data"]["id"]
    )
    stored = (await writer.get(f"{API}/chats/{chat['id']}/messages", headers=auth(customer))).json()["data"]
    assert [m["id"] for m in stored["messages"][-2:]] == [sentence["message"]["id"], card["message"]["id"]]
