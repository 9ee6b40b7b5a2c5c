"""The offline assistant, measured (issue 11 §3): a seeded catalogue of 56 products and questions written
the way customers write (typos, sizes, colours, price limits, "cheaper than"), each with the product(s)
that answer it, plus questions the shop cannot answer. The data (tests/market/data/assistant_eval.json)
was written before the engine was tuned; the thresholds are the issue's.

The questions go through the real API: a customer opens a chat with the question as its first message,
and the assistant's reply is read back from the chat.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

API = "/api/v1/market"
DATA = json.loads((Path(__file__).parent / "data" / "assistant_eval.json").read_text())


async def seeded_shop(
    client: Any, user_factory: Any, market: Any
) -> tuple[Any, dict[str, Any], dict[str, str]]:
    owner = await user_factory(name="Tess Trailhead")
    vendor = await market.make_vendor(
        client, owner, DATA["shop"]["name"], description=DATA["shop"]["description"]
    )
    skus: dict[str, str] = {}
    for product in DATA["products"]:
        resp = await client.post(
            f"{API}/vendors/{vendor['id']}/products", json=product, headers=owner.headers
        )
        assert resp.status_code == 201, resp.text
        skus[resp.json()["data"]["id"]] = product["sku"]
    resp = await client.put(
        f"{API}/vendors/{vendor['id']}/assistant",
        json={"enabled": True, "name": "Trail helper", "handoff_topics": ["refunds", "complaints"]},
        headers=owner.headers,
    )
    assert resp.status_code == 200, resp.text
    return owner, vendor, skus


async def ask(client: Any, customer: Any, vendor_id: str, question: str) -> list[dict[str, Any]]:
    """The assistant's messages answering `question` (the first message of a new chat)."""
    chat = (
        await client.post(
            f"{API}/chats", json={"vendor_id": vendor_id, "first_message": question}, headers=customer.headers
        )
    ).json()["data"]
    window = (await client.get(f"{API}/chats/{chat['id']}/messages", headers=customer.headers)).json()["data"]
    return [m for m in window["messages"] if m["author"] == "assistant"]


async def test_offline_assistant_evaluation(client, user_factory, market) -> None:
    assert len(DATA["products"]) >= 50 and len(DATA["answerable"]) >= 30
    _, vendor, skus = await seeded_shop(client, user_factory, market)
    customer = await user_factory(name="Casey Customer")

    right, misses, handed_over = 0, [], 0
    for case in DATA["answerable"]:
        replies = await ask(client, customer, vendor["id"], case["question"])
        assert replies, f"no reply to {case['question']!r}"
        assert all(r["engine"] == "retrieval" for r in replies)
        cards = [skus[r["product"]["id"]] for r in replies if r["product"]]
        handed_over += not cards  # a miss, but an honest one: nothing offered, a person asked
        if cards and cards[0] in case["expected"]:
            right += 1
        else:
            misses.append((case["question"], cards[:1], case["expected"]))
    score = right / len(DATA["answerable"])
    print(
        f"\nassistant evaluation: top card right for {right}/{len(DATA['answerable'])} = {score:.0%}; "
        f"misses: {misses}"
    )
    assert score >= 0.8, misses

    for question in DATA["unanswerable"]:
        replies = await ask(client, customer, vendor["id"], question)
        assert [r["product"] for r in replies if r["product"]] == [], f"offered a product for {question!r}"
        assert "couldn't find" in replies[-1]["body"] and "person" in replies[-1]["body"], replies

    for case in DATA["handoff"]:
        replies = await ask(client, customer, vendor["id"], case["question"])
        assert not any(r["product"] for r in replies)
        assert "person" in replies[-1]["body"], replies

    chats = (await client.get(f"{API}/chats?limit=100", headers=customer.headers)).json()
    waiting = [c for c in chats["data"] if c["handoff_at"]]
    assert len(waiting) == len(DATA["unanswerable"]) + len(DATA["handoff"]) + handed_over
    reasons = {c["handoff_reason"] for c in waiting}
    assert {"not_found", "human", "topic:refunds", "topic:complaints"} <= reasons
