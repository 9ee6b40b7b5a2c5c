"""The shop assistant as a chat participant: the owner's settings, replies grounded in the catalogue
(never an invented product, price or stock), hand-off to a person, quiet while a person answers, and
handed back."""

from __future__ import annotations

from typing import Any

API = "/api/v1/market"


async def add_product(client: Any, user: Any, vendor_id: str, **values: Any) -> dict[str, Any]:
    resp = await client.post(f"{API}/vendors/{vendor_id}/products", json=values, headers=user.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


async def switch_on(client: Any, shop: Any, **settings: Any) -> dict[str, Any]:
    body = {"enabled": True, "name": "Bikebot", "greeting": "Hi, I'm Bikebot. How can I help?", **settings}
    resp = await client.put(f"{API}/vendors/{shop.id}/assistant", json=body, headers=shop.owner.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


async def messages(client: Any, user: Any, chat_id: str) -> list[dict[str, Any]]:
    resp = await client.get(f"{API}/chats/{chat_id}/messages", headers=user.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["messages"]


async def catalogue(client: Any, shop: Any) -> dict[str, dict[str, Any]]:
    seller = shop.seller_a
    items = [
        dict(
            sku="CITY-BLU",
            name="City bike, blue",
            description="7 gears. Colour: blue. Sizes M, L.",
            price_minor=54900,
        ),
        dict(
            sku="LOCK-U",
            name="U-lock with bracket",
            description="Hardened steel lock.",
            price_minor=3990,
            stock=0,
        ),
        dict(sku="HELM-W", name="Helmet, white", description="Colour: white. Sizes M, L.", price_minor=5900),
    ]
    out = {}
    for item in items:
        out[item["sku"]] = await add_product(client, seller, shop.id, currency="EUR", **{"stock": 3, **item})
    return out


async def test_owner_manages_the_assistant_and_nobody_else(client, shop) -> None:
    url = f"{API}/vendors/{shop.id}/assistant"
    default = await client.get(url, headers=shop.owner.headers)
    assert default.status_code == 200 and default.json()["data"]["enabled"] is False
    assert default.json()["data"]["engine"] == "retrieval"  # no model server configured

    saved = await switch_on(
        client,
        shop,
        timezone="Europe/Berlin",
        human_hours=[{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
        handoff_topics=["refunds", "refunds", "shipping"],
    )
    assert (
        saved["enabled"] and saved["name"] == "Bikebot" and saved["handoff_topics"] == ["refunds", "shipping"]
    )
    assert (await client.get(url, headers=shop.owner.headers)).json()["data"]["timezone"] == "Europe/Berlin"

    for outsider, status in ((shop.seller_a, 403), (shop.customer, 403)):
        assert (await client.get(url, headers=outsider.headers)).status_code == status
        assert (
            await client.put(url, json={"enabled": False}, headers=outsider.headers)
        ).status_code == status
    other = f"{API}/vendors/00000000-0000-7000-8000-000000000000/assistant"
    assert (await client.get(other, headers=shop.owner.headers)).status_code == 404

    bad = [
        ({"enabled": True, "timezone": "Mars/Olympus"}, "timezone"),
        (
            {"enabled": True, "human_hours": [{"days": [0], "start": "18:00", "end": "09:00"}]},
            "human_hours[0]",
        ),
        ({"enabled": True, "human_hours": [{"days": [7], "start": "09:00", "end": "10:00"}]}, None),
        ({"enabled": True, "surprise": 1}, None),
    ]
    for body, field in bad:
        resp = await client.put(url, json=body, headers=shop.owner.headers)
        assert resp.status_code == 400, resp.text
        if field:
            assert field in resp.json()["error"]["details"]
    # nothing of the refused updates was kept
    assert (await client.get(url, headers=shop.owner.headers)).json()["data"]["timezone"] == "Europe/Berlin"


async def test_greets_then_answers_from_the_catalogue_with_cards(client, shop, market) -> None:
    products = await catalogue(client, shop)
    await switch_on(client, shop)
    chat = await market.open_chat(
        client, shop.customer, shop.id, first_message="do you have the blue bike in size L?"
    )
    history = await messages(client, shop.customer, chat["id"])
    assert history[0]["author"] == "assistant" and history[0]["body"].startswith("Hi, I'm Bikebot")
    assert history[1]["author"] == "user" and history[1]["sender_id"] == shop.customer.id
    replies = history[2:]
    assert all(
        r["author"] == "assistant" and r["engine"] == "retrieval" and r["sender_id"] is None for r in replies
    )
    assert "City bike, blue" in replies[0]["body"] and "549.00 EUR" in replies[0]["body"]
    card = replies[1]
    assert card["product"]["id"] == products["CITY-BLU"]["id"] and "in stock (3 left)" in card["body"]

    # stock is read from the row: an out-of-stock product is never offered as available
    await market.send(client, shop.customer, chat["id"], "I need a lock")
    last = (await messages(client, shop.customer, chat["id"]))[-1]
    assert last["product"]["id"] == products["LOCK-U"]["id"] and "out of stock" in last["body"]


async def test_a_product_that_does_not_exist_is_not_invented(client, shop, market) -> None:
    await catalogue(client, shop)
    await switch_on(client, shop)
    chat = await market.open_chat(client, shop.customer, shop.id)
    await market.send(client, shop.customer, chat["id"], "do you have a purple unicorn saddle?")
    reply = (await messages(client, shop.customer, chat["id"]))[-1]
    assert reply["author"] == "assistant" and reply["product"] is None
    assert "couldn't find" in reply["body"] and "person" in reply["body"]
    state = (await client.get(f"{API}/chats/{chat['id']}", headers=shop.owner.headers)).json()["data"]
    assert state["handoff_reason"] == "not_found" and state["handoff_at"]

    # price limits are hard: nothing under 10 € here
    await market.send(client, shop.customer, chat["id"], "a helmet cheaper than 10 euros")
    assert (await messages(client, shop.customer, chat["id"]))[-1]["product"] is None


async def test_hand_off_take_over_quiet_and_hand_back(client, shop, market) -> None:
    await catalogue(client, shop)
    await switch_on(client, shop, human_hours=[], handoff_topics=["refunds"])
    chat = await market.open_chat(client, shop.customer, shop.id)
    chat_url = f"{API}/chats/{chat['id']}"

    await market.send(client, shop.customer, chat["id"], "can I talk to a person please")
    reply = (await messages(client, shop.customer, chat["id"]))[-1]
    assert reply["author"] == "assistant" and "person" in reply["body"] and reply["product"] is None
    assert (await client.get(chat_url, headers=shop.owner.headers)).json()["data"][
        "handoff_reason"
    ] == "human"

    # a seller of the shop who is not in the chat may take over a chat waiting for a person; a stranger not
    assert (await client.post(f"{chat_url}/take-over", headers=shop.stranger.headers)).status_code == 404
    assert (await client.post(f"{chat_url}/take-over", headers=shop.customer.headers)).status_code == 403
    taken = await client.post(f"{chat_url}/take-over", headers=shop.seller_b.headers)
    assert taken.status_code == 200, taken.text
    assert taken.json()["data"]["human_since"] and shop.seller_b_id in {
        s["seller_id"] for s in taken.json()["data"]["sellers"]
    }
    assert (await client.post(f"{chat_url}/take-over", headers=shop.owner.headers)).status_code == 409

    # while a person answers, the assistant stays quiet
    before = len(await messages(client, shop.customer, chat["id"]))
    await market.send(client, shop.seller_b, chat["id"], "Hi, Ben here. What do you need?")
    await market.send(client, shop.customer, chat["id"], "a blue bike")
    after = await messages(client, shop.customer, chat["id"])
    assert len(after) == before + 2 and all(m["author"] == "user" for m in after[before:])

    # handed back: the next customer message gets the assistant's answer again
    assert (await client.post(f"{chat_url}/hand-back", headers=shop.customer.headers)).status_code == 403
    back = await client.post(f"{chat_url}/hand-back", headers=shop.seller_b.headers)
    assert back.status_code == 200 and back.json()["data"]["human_since"] is None
    assert back.json()["data"]["handoff_at"] is None
    assert (await client.post(f"{chat_url}/hand-back", headers=shop.seller_b.headers)).status_code == 409
    await market.send(client, shop.customer, chat["id"], "a blue bike")
    last = (await messages(client, shop.customer, chat["id"]))[-1]
    assert last["author"] == "assistant" and last["product"] and last["product"]["sku"] == "CITY-BLU"

    # configured topics go to a person
    await market.send(client, shop.customer, chat["id"], "I want my money back for the lock, a refund")
    last = (await messages(client, shop.customer, chat["id"]))[-1]
    assert last["product"] is None and "person" in last["body"]
    assert (await client.get(chat_url, headers=shop.owner.headers)).json()["data"][
        "handoff_reason"
    ] == "topic:refunds"


async def test_a_seller_writing_first_silences_the_assistant_and_off_means_off(client, shop, market) -> None:
    await catalogue(client, shop)
    await switch_on(client, shop)
    chat = await market.open_chat(client, shop.customer, shop.id)
    await market.send(client, shop.owner, chat["id"], "Olga here, welcome!")
    await market.send(client, shop.customer, chat["id"], "a white helmet")
    assert (await messages(client, shop.customer, chat["id"]))[-1]["author"] == "user"

    await switch_on(client, shop, enabled=False)
    other = await market.open_chat(client, shop.customer, shop.id, first_message="a white helmet")
    assert [m["author"] for m in await messages(client, shop.customer, other["id"])] == ["user"]
    # the owner cannot hand a chat back to a switched-off assistant
    resp = await client.post(f"{API}/chats/{chat['id']}/hand-back", headers=shop.owner.headers)
    assert resp.status_code == 409
