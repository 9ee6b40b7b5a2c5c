"""The assistant on a model server (tests/fixtures/openai_server.py, a real OpenAI-compatible server):
tool calls run by the server on the chat's shop, the stored message is the final text with cards for
the products the model was shown and named, and a server that is down hands the chat to a person."""

from __future__ import annotations

from typing import Any

import pytest

from fixtures.openai_server import Reply

API = "/api/v1/market"


@pytest.fixture
def settings(make_settings: Any, tmp_path: Any, openai_server: Any) -> Any:
    return make_settings(
        keel_apps="gym,scribe,market",
        storage_url=f"file://{tmp_path}/storage",
        ai_base_url=openai_server.base_url,
        ai_model="tiny-chat",
        ai_max_retries=0,
        ai_timeout=5.0,
    )


async def setup(client: Any, shop: Any) -> dict[str, Any]:
    product = {
        "sku": "CITY-BLU",
        "name": "City bike, blue",
        "description": "Colour: blue.",
        "price_minor": 54900,
        "currency": "EUR",
        "stock": 2,
    }
    resp = await client.post(f"{API}/vendors/{shop.id}/products", json=product, headers=shop.seller_a.headers)
    assert resp.status_code == 201
    other = await client.post(f"{API}/vendors", json={"name": "Other Shop"}, headers=shop.stranger.headers)
    secret = {
        "sku": "SECRET",
        "name": "Blue racing bike",
        "price_minor": 99900,
        "currency": "EUR",
        "stock": 1,
    }
    await client.post(
        f"{API}/vendors/{other.json()['data']['id']}/products", json=secret, headers=shop.stranger.headers
    )
    settings = {"enabled": True, "name": "Bikebot", "persona": "Friendly and short."}
    assert (
        await client.put(f"{API}/vendors/{shop.id}/assistant", json=settings, headers=shop.owner.headers)
    ).status_code == 200
    return resp.json()["data"]


async def test_the_model_answers_through_tools_on_the_shop_catalogue(
    client, shop, market, openai_server
) -> None:
    product = await setup(client, shop)
    assert (await client.get(f"{API}/vendors/{shop.id}/assistant", headers=shop.owner.headers)).json()[
        "data"
    ]["engine"] == "llm"
    openai_server.script(
        Reply(text="", tool_calls=[{"name": "search_products", "arguments": {"query": "blue bike"}}]),
        Reply(text="Yes: the City bike, blue costs 549.00 EUR and 2 are in stock."),
    )
    chat = await market.open_chat(client, shop.customer, shop.id, first_message="got a blue bike?")
    history = (await client.get(f"{API}/chats/{chat['id']}/messages", headers=shop.customer.headers)).json()[
        "data"
    ]["messages"]
    replies = [m for m in history if m["author"] == "assistant"]
    assert replies[0]["body"] == "Yes: the City bike, blue costs 549.00 EUR and 2 are in stock."
    assert replies[0]["engine"] == "llm:tiny-chat"
    assert replies[1]["product"]["id"] == product["id"]  # a card for the product the model named

    first, second = openai_server.chat_requests
    assert first.body["stream"] is True and {t["function"]["name"] for t in first.body["tools"]} == {
        "search_products",
        "get_product",
        "list_policies",
    }
    assert (
        "Bikebot" in first.body["messages"][0]["content"]
        and first.body["messages"][-1]["content"] == "got a blue bike?"
    )
    tool_result = second.body["messages"][-1]
    assert tool_result["role"] == "tool" and "City bike, blue" in tool_result["content"]
    assert "Blue racing bike" not in tool_result["content"]  # another shop's product is never found


async def test_a_model_server_that_is_down_hands_over_to_a_person(
    client, shop, market, openai_server
) -> None:
    await setup(client, shop)
    openai_server.script(Reply(status=503), Reply(status=503))
    chat = await market.open_chat(client, shop.customer, shop.id)
    sent = await client.post(
        f"{API}/chats/{chat['id']}/messages",
        json={"client_id": "0190e0a0-0000-7000-8000-000000000001", "body": "got a blue bike?"},
        headers=shop.customer.headers,
    )
    assert sent.status_code == 201  # the customer's message is stored whatever the model does
    history = (await client.get(f"{API}/chats/{chat['id']}/messages", headers=shop.customer.headers)).json()[
        "data"
    ]["messages"]
    last = history[-1]
    assert last["author"] == "assistant" and "person" in last["body"] and last["product"] is None
    state = (await client.get(f"{API}/chats/{chat['id']}", headers=shop.owner.headers)).json()["data"]
    assert state["handoff_reason"] == "engine_unavailable"


async def test_the_reply_streams_as_deltas_then_the_stored_message(settings, openai_server) -> None:
    """Over SSE on a real server: `message.delta` events carrying the model's pieces, then
    `message.created` with the whole text under the same message id."""
    import asyncio
    import contextlib
    import importlib.util
    import uuid
    from pathlib import Path

    import httpx
    import msgspec

    spec = importlib.util.spec_from_file_location(
        "market_live", Path(__file__).parent / "test_market_realtime.py"
    )
    assert spec is not None and spec.loader is not None
    live_helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(live_helpers)  # the realtime tests' server and SSE helpers
    auth, next_events, register, serve = (
        live_helpers.auth,
        live_helpers.next_events,
        live_helpers.register,
        live_helpers.serve,
    )

    from keel.app import create_app

    openai_server.script(Reply(text="We have the City bike, blue for 549.00 EUR."))
    live = msgspec.structs.replace(settings, realtime_keepalive=0.3)
    async with contextlib.AsyncExitStack() as stack:
        host = await stack.enter_async_context(serve(create_app(live)))
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=f"http://{host}", timeout=10))
        owner, customer = await register(http, "Owner"), await register(http, "Customer")
        vendor = (
            await http.post(f"{API}/vendors", json={"name": "Stream Bikes"}, headers=auth(owner))
        ).json()["data"]
        await http.put(f"{API}/vendors/{vendor['id']}/assistant", json={"enabled": True}, headers=auth(owner))
        chat = (
            await http.post(f"{API}/chats", json={"vendor_id": vendor["id"]}, headers=auth(customer))
        ).json()["data"]
        async with http.stream("GET", "/api/v1/events?topics=market", headers=auth(customer)) as stream:
            lines = stream.aiter_lines()
            assert (await anext(lines)).startswith(": connected")
            await asyncio.sleep(0.3)
            body = {"client_id": str(uuid.uuid4()), "body": "a blue bike?"}
            assert (
                await http.post(f"{API}/chats/{chat['id']}/messages", json=body, headers=auth(customer))
            ).status_code == 201
            events: list[dict[str, Any]] = []
            async with asyncio.timeout(15):  # until the assistant's stored message arrives
                while not any(
                    e["type"] == "message.created" and e["message"]["author"] == "assistant" for e in events
                ):
                    events.extend(e["event"] for e in await next_events(lines, 1))
    deltas = [e for e in events if e["type"] == "message.delta"]
    created = [e for e in events if e["type"] == "message.created" and e["message"]["author"] == "assistant"]
    assert (
        len(deltas) > 3
        and "".join(d["delta"] for d in deltas) == "We have the City bike, blue for 549.00 EUR."
    )
    assert created and created[0]["message"]["id"] == deltas[0]["message_id"]
    assert created[0]["message"]["body"] == "We have the City bike, blue for 549.00 EUR."
    assert events.index(created[0]) > events.index(deltas[-1])
