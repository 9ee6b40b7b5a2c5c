"""market fixtures: settings serving the market app, a shop with its owner, two sellers and a customer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

API = "/api/v1/market"


@pytest.fixture
def settings(make_settings: Any, tmp_path: Any) -> Any:
    # storage of its own per test, so tests can assert that nothing was left behind
    return make_settings(
        keel_apps="gym,scribe,market",
        market_max_media_size=64 * 1024,
        storage_url=f"file://{tmp_path}/storage",
    )


@dataclass
class Shop:
    vendor: dict[str, Any]
    owner: Any
    seller_a: Any
    seller_b: Any
    seller_a_id: str
    seller_b_id: str
    customer: Any
    stranger: Any

    @property
    def id(self) -> str:
        return self.vendor["id"]


async def make_vendor(client: Any, user: Any, name: str, **extra: Any) -> dict[str, Any]:
    resp = await client.post(f"{API}/vendors", json={"name": name, **extra}, headers=user.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


async def add_seller(client: Any, owner: Any, vendor_id: str, email: str) -> dict[str, Any]:
    resp = await client.post(
        f"{API}/vendors/{vendor_id}/sellers", json={"email": email}, headers=owner.headers
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


@pytest.fixture
async def shop(client: Any, user_factory: Any) -> Shop:
    owner = await user_factory(name="Olga Owner")
    seller_a = await user_factory(name="Ana Seller")
    seller_b = await user_factory(name="Ben Seller")
    customer = await user_factory(name="Carl Customer")
    stranger = await user_factory(name="Stan Stranger")
    vendor = await make_vendor(client, owner, "Corner Bikes", description="Bicycles and parts")
    a = await add_seller(client, owner, vendor["id"], seller_a.email)
    b = await add_seller(client, owner, vendor["id"], seller_b.email)
    return Shop(vendor, owner, seller_a, seller_b, a["id"], b["id"], customer, stranger)


async def open_chat(client: Any, customer: Any, vendor_id: str, **extra: Any) -> dict[str, Any]:
    resp = await client.post(f"{API}/chats", json={"vendor_id": vendor_id, **extra}, headers=customer.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


async def send(client: Any, user: Any, chat_id: str, body: str, **extra: Any) -> dict[str, Any]:
    payload = {"client_id": str(uuid.uuid4()), "body": body, **extra}
    resp = await client.post(f"{API}/chats/{chat_id}/messages", json=payload, headers=user.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


@pytest.fixture
def market() -> Any:
    """The helpers above for test modules (this conftest is not importable next to tests/conftest.py)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        API=API, make_vendor=make_vendor, add_seller=add_seller, open_chat=open_chat, send=send
    )
