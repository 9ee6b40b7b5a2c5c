"""A client that reconnects gets the complete message: the customer's stream is cut while the model's
reply is still streaming (`message.delta`), and the reconnect with `Last-Event-ID` (on the other
instance when Redis is configured) receives the reply's final `message.created` with the whole text,
and nothing it had already seen."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgspec
import pytest

from fixtures.openai_server import Reply
from keel.app import create_app
from market_live import API, register, serve, sse_blocks

ANSWER = "We have the City bike, blue, for 549.00 EUR, and two are in stock right now."


@pytest.fixture
def settings(make_settings: Any, tmp_path: Any, openai_server: Any) -> Any:
    return make_settings(
        keel_apps="gym,scribe,market",
        storage_url=f"file://{tmp_path}/storage",
        ai_base_url=openai_server.base_url,
        ai_model="tiny-chat",
        ai_max_retries=0,
        ai_timeout=10.0,
        rate_limit_auth="1000/minute",
        realtime_keepalive=0.3,
    )


async def test_a_stream_cut_mid_reply_gets_the_final_message_after_reconnecting(
    settings, openai_server
) -> None:
    openai_server.script(Reply(text=ANSWER, chunk_delay=0.1))
    async with contextlib.AsyncExitStack() as stack:
        front = await stack.enter_async_context(serve(create_app(settings)))
        two = settings.redis_url and settings.is_postgres
        back = await stack.enter_async_context(serve(create_app(settings))) if two else front
        owner, customer = await register(front, "Owner"), await register(front, "Customer")
        vendor = (await front.post(f"{API}/vendors", json={"name": "Replay"}, headers=owner.headers)).json()[
            "data"
        ]
        enabled = await front.put(
            f"{API}/vendors/{vendor['id']}/assistant", json={"enabled": True}, headers=owner.headers
        )
        assert enabled.status_code == 200
        chat = (
            await front.post(f"{API}/chats", json={"vendor_id": vendor["id"]}, headers=customer.headers)
        ).json()["data"]

        seen: list[tuple[str | None, dict[str, Any]]] = []
        async with front.stream("GET", "/api/v1/events?topics=market", headers=customer.headers) as first:
            blocks = sse_blocks(first.aiter_lines(), 15.0)  # loaded CI
            await asyncio.sleep(0.3)
            body = {"client_id": "0190e0a0-0000-7000-8000-0000000000aa", "body": "a blue bike?"}
            sent = await front.post(f"{API}/chats/{chat['id']}/messages", json=body, headers=customer.headers)
            assert sent.status_code == 201
            try:
                async with asyncio.timeout(30):
                    async for event_id, item in blocks:  # until the reply has begun to stream: cut there
                        seen.append((event_id, item))
                        if item["event"]["type"] == "message.delta":
                            break
            except TimeoutError:
                raise AssertionError(f"no delta; saw {[e['event']['type'] for _, e in seen]}") from None
            await blocks.aclose()
        mine = [i for i, e in seen if e["event"]["type"] == "message.created"]
        assert mine and mine[-1] is not None  # the customer's own message came with an id
        assert all(i is None for i, e in seen if e["event"]["type"] == "message.delta")  # deltas: none
        last_id = mine[-1]

        async with asyncio.timeout(15):  # the reply is stored meanwhile, while nobody listens
            while True:
                window = await front.get(f"{API}/chats/{chat['id']}/messages", headers=customer.headers)
                stored = [m for m in window.json()["data"]["messages"] if m["author"] == "assistant"]
                if stored:
                    break
                await asyncio.sleep(0.1)
        assert stored[0]["body"] == ANSWER

        headers = {**customer.headers, "Last-Event-ID": last_id}
        async with back.stream("GET", "/api/v1/events?topics=market", headers=headers) as second:
            again = sse_blocks(second.aiter_lines(), 15.0)
            event_id, item = await anext(again)
            await again.aclose()
    assert item["event"]["type"] == "message.created"  # first thing after the reconnect: the reply
    assert item["event"]["message"]["id"] == stored[0]["id"]
    assert item["event"]["message"]["body"] == ANSWER
    assert event_id is not None and event_id == item["id"]


async def test_last_event_id_replays_only_the_callers_events(settings, openai_server) -> None:
    """A made-up or someone else's id replays nothing foreign: the history is per user."""
    async with serve(create_app(msgspec.structs.replace(settings, ai_base_url=""))) as http:
        owner, customer, other = [await register(http, n) for n in ("Owner", "Customer", "Other")]
        vendor = (await http.post(f"{API}/vendors", json={"name": "Mine"}, headers=owner.headers)).json()[
            "data"
        ]
        chat = (
            await http.post(f"{API}/chats", json={"vendor_id": vendor["id"]}, headers=customer.headers)
        ).json()["data"]
        body = {"client_id": "0190e0a0-0000-7000-8000-0000000000bb", "body": "hello shop"}
        assert (
            await http.post(f"{API}/chats/{chat['id']}/messages", json=body, headers=customer.headers)
        ).status_code == 201
        for last in ("0-0", "not-an-id"):
            headers = {**other.headers, "Last-Event-ID": last}
            async with http.stream("GET", "/api/v1/events?topics=market", headers=headers) as stream:
                assert stream.status_code == 200
                lines = stream.aiter_lines()
                got: list[str] = []
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        async for line in lines:
                            got.append(line)
                assert not [line for line in got if line.startswith("data:")], last
        # the customer, from the start of the history: their own chat's events
        headers = {**customer.headers, "Last-Event-ID": "0-0"}
        async with http.stream("GET", "/api/v1/events?topics=market", headers=headers) as stream:
            blocks = sse_blocks(stream.aiter_lines())
            kinds = []
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(15):
                    async for _, item in blocks:
                        kinds.append(item["event"]["type"])
                        if item["event"]["type"] == "message.created":
                            assert item["event"]["message"]["body"] == "hello shop"
                            break
            await blocks.aclose()
        assert kinds == ["chat.created", "message.created"]
