"""The model-server engine (when AI_BASE_URL is set): the model answers through tools that the server
executes for the customer, on the chat's shop only (search products by text, price and stock; get a
product; the shop's policies). It never sees SQL. Its text streams to the chat's participants as
`message.delta` events; the stored message is the final text, with cards for the products it was shown
and names. A model server that fails raises to the caller, which hands the chat to a person.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from keel.apps.market.assistant import language, retrieval
from keel.apps.market.models import ASSISTANT, Message, Product

if TYPE_CHECKING:
    from litestar import Litestar
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.apps.market.models import Assistant, Chat

MAX_ROUNDS = 4
HISTORY = 12
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "search_products",
            "description": "Search the shop's catalogue. Returns matching products with price and stock.",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "what the customer looks for"},
                    "max_price": {"type": "number", "description": "highest price in the shop's currency"},
                    "min_price": {"type": "number"},
                    "in_stock": {"type": "boolean"},
                },
                "required": ["query"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_product",
            "description": "One product of the shop by id, with description, price and stock.",
            "parameters": {
                "type": "object",
                "properties": {"product_id": {"type": "string"}},
                "required": ["product_id"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "list_policies",
            "description": "The shop's description, contact, hours when people answer, topics people handle.",
            "parameters": {"type": "object", "properties": {}},
        },
    },
]


@dataclass
class Turn:
    text: str
    engine: str
    products: list[Product] = field(default_factory=list)
    reply_id: uuid.UUID | None = None  # the id the streamed deltas announced


def product_json(product: Product) -> dict[str, Any]:
    return {
        "id": str(product.id),
        "name": product.name,
        "sku": product.sku,
        "description": product.description,
        "price": f"{product.price_minor / 100:.2f}",
        "currency": product.currency,
        "stock": product.stock,
    }


async def _tool(db: AsyncSession, chat: Chat, assistant: Assistant, name: str, args: dict[str, Any]) -> Any:
    """Run one tool call as the customer may: active products of this chat's shop only."""
    from keel.apps.market.services import assistant as state

    if name == "search_products":
        request = language.understand(str(args.get("query") or ""))
        for key in ("max_price", "min_price"):
            value = args.get(key)
            if isinstance(value, int | float) and value >= 0:
                setattr(request, key, round(value * 100))
        request.in_stock = bool(args.get("in_stock"))
        answer = await retrieval.search_catalogue(db, chat.vendor_id, request)
        found = [m.product for m in answer.matches if not request.in_stock or m.product.stock > 0]
        return [product_json(p) for p in found]
    if name == "get_product":
        try:
            product_id = uuid.UUID(str(args.get("product_id")))
        except ValueError:
            return {"error": "no such product"}
        product = await db.scalar(
            select(Product).where(
                Product.id == product_id, Product.vendor_id == chat.vendor_id, Product.is_active.is_(True)
            )
        )
        return product_json(product) if product is not None else {"error": "no such product"}
    if name == "list_policies":
        return {
            "shop": chat.vendor.name,
            "description": chat.vendor.description,
            "contact_email": chat.vendor.contact_email,
            "people_answer": state.hours_text(assistant) or "no fixed hours",
            "topics_for_people": list(assistant.handoff_topics or []),
        }
    return {"error": f"unknown tool {name}"}


def _system(chat: Chat, assistant: Assistant) -> str:
    return (
        f"You are {assistant.name}, the chat assistant of the shop {chat.vendor.name}. "
        f"{assistant.persona or ''}\n"
        "Answer the customer briefly. Use the tools for every product, price, stock or policy fact and "
        "never state one the tools did not return; if the tools find nothing, say the shop does not have it. "
        "Name products exactly as the tools do."
    )


_HISTORY = (
    select(Message.author, Message.body)
    .where(Message.chat_id == bindparam("chat_id"), Message.deleted_at.is_(None))
    .order_by(Message.id.desc())
    .limit(HISTORY)
)  # built once: the statement is the same for every turn


async def _history(db: AsyncSession, chat_id: uuid.UUID) -> list[dict[str, Any]]:
    """The chat's last HISTORY messages as the model's turns (two columns, no ORM objects)."""
    rows = list(await db.execute(_HISTORY, {"chat_id": chat_id}))
    return [
        {"role": "assistant" if author == ASSISTANT else "user", "content": body}
        for author, body in reversed(rows)
        if body
    ]


async def converse(
    app: Litestar,
    db: AsyncSession,
    chat: Chat,
    assistant: Assistant,
    reply_id: uuid.UUID,
    publish_delta: Any,
) -> Turn:
    llm = app.state.llm
    messages: list[dict[str, Any]] = [{"role": "system", "content": _system(chat, assistant)}]
    messages += await _history(db, chat.id)
    shown: dict[uuid.UUID, Product] = {}
    model = ""
    for _ in range(MAX_ROUNDS):
        text = ""
        last = None
        async for event in llm.stream(messages, user_id=chat.customer_id, app="market", tools=TOOLS):
            model = event.model or model
            if event.delta:
                text += event.delta
                await publish_delta(reply_id, event.delta, f"llm:{model}")
            if event.done:
                last = event
        calls = last.tool_calls if last is not None else []
        if not calls:
            named = [p for p in shown.values() if p.name.lower() in text.lower()]
            return Turn(text.strip(), f"llm:{model}", named[: retrieval.MAX_CARDS])
        messages.append(
            {
                "role": "assistant",
                "content": text or None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                    }
                    for call in calls
                ],
            }
        )
        for call in calls:
            async with db.begin_nested():  # a failed tool query must not end the turn's transaction
                result = await _tool(db, chat, assistant, call.name, call.arguments)
            for item in result if isinstance(result, list) else [result]:
                if isinstance(item, dict) and "id" in item:
                    product = await db.get(Product, uuid.UUID(item["id"]))
                    if product is not None:
                        shown[product.id] = product
            messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
    return Turn("", f"llm:{model}")  # the model kept calling tools: the caller hands over
