"""What a customer's message and the assistant's answer cost the database is part of the contract
(issue 11, measured goals): a fixed number of statements and two commits, however many product cards the
answer carries. Counted with SQLAlchemy's `before_cursor_execute` (BEGIN/COMMIT are not statements on
that hook; commits are counted on the engine's `commit` event).

The customer's send: the guard's user lookup, the chat with its shop and sellers and the client-id
replay check (one statement), the chat's lock with its activity time (one), the newest id, the message,
the sender's read marker: 6. The assistant's turn: chat, shop, assistant, message and the catalogue's
version (one statement), the full-text candidates, then its messages written by the writer: the chat's
lock with its activity time, the newest id, one INSERT for the sentence and every card: 5. On SQLite
the chat's lock returns its newest id (one statement less in each: 5 and 4).
"""

from __future__ import annotations

from typing import Any

from core_platform_helpers import StatementCounter

API = "/api/v1/market"
SEND = 6
TURN = 5


class Commits:
    def __init__(self, app: Any) -> None:
        self.engine = app.state.sa_config.get_engine().sync_engine
        self.count = 0

    def __call__(self, *_: Any) -> None:
        self.count += 1

    def __enter__(self) -> Commits:
        from sqlalchemy import event

        event.listen(self.engine, "commit", self)
        return self

    def __exit__(self, *_: Any) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "commit", self)


async def _shop_with_assistant(client: Any, shop: Any) -> None:
    items = [
        ("TREK-BLU", "Trek bike, blue", "Colour: blue. Sizes M, L.", 54900),
        ("CITY-BLU", "City bike, blue", "7 gears. Colour: blue. Sizes M, L.", 49900),
        ("KIDS-BLU", "Kids bike, blue", "Colour: blue. Sizes S, M, L.", 19900),
        ("HELM-W", "Helmet, white", "Colour: white. Sizes M, L.", 5900),
    ]
    for sku, name, description, price in items:
        body = {"sku": sku, "name": name, "description": description, "price_minor": price}
        resp = await client.post(
            f"{API}/vendors/{shop.id}/products",
            json={**body, "currency": "EUR", "stock": 3},
            headers=shop.owner.headers,
        )
        assert resp.status_code == 201, resp.text
    resp = await client.put(
        f"{API}/vendors/{shop.id}/assistant", json={"enabled": True}, headers=shop.owner.headers
    )
    assert resp.status_code == 200, resp.text


async def _answered(client: Any, shop: Any, chat_id: str) -> list[dict[str, Any]]:
    resp = await client.get(f"{API}/chats/{chat_id}/messages", headers=shop.customer.headers)
    assert resp.status_code == 200, resp.text
    messages = resp.json()["data"]["messages"]
    last_user = max(i for i, m in enumerate(messages) if m["author"] == "user")
    return messages[last_user + 1 :]


async def test_a_message_and_its_answer_cost_fixed_statements_and_two_commits(
    app, client, shop, market
) -> None:
    await _shop_with_assistant(client, shop)
    chat = await market.open_chat(client, shop.customer, shop.id)
    await market.send(client, shop.customer, chat["id"], "a white helmet?")  # the shop's words are read once

    for question, cards in (("a helmet in white, size M?", 1), ("do you have a blue bike in size L?", 3)):
        with StatementCounter(app) as counter, Commits(app) as commits:
            await market.send(client, shop.customer, chat["id"], question)
        answer = await _answered(client, shop, chat["id"])
        assert [m["product"] is not None for m in answer] == [False] + [True] * cards, answer
        assert all(m["engine"] == "retrieval" for m in answer)
        sqlite = app.state.sa_config.get_engine().dialect.name == "sqlite"
        assert counter.count == SEND + TURN - (2 if sqlite else 0), counter.statements
        inserts = [s for s in counter.statements if s.startswith("INSERT INTO market_message ")]
        assert len(inserts) == 2, inserts  # the customer's message; the answer's sentence with its cards
        assert commits.count == 2
