"""market shops: vendors, their sellers and products, as owners, sellers, customers and admins see them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

API = "/api/v1/market"


async def product(client: Any, user: Any, vendor_id: str, **body: Any) -> Any:
    payload = {
        "name": "City bike",
        "sku": "CB-1",
        "price_minor": 54900,
        "currency": "EUR",
        "stock": 3,
        **body,
    }
    return await client.post(f"{API}/vendors/{vendor_id}/products", json=payload, headers=user.headers)


# --------------------------------------------------------------------------- vendors


async def test_register_vendor_read_search_and_edit(client, user_factory, market) -> None:
    owner = await user_factory()
    other = await user_factory()
    vendor = await market.make_vendor(client, owner, "Corner Bikes", contact_email="shop@bikes.example")
    assert vendor["slug"] == "corner-bikes" and vendor["owner_id"] == owner.id and vendor["is_active"]
    await market.make_vendor(client, other, "Paper & Ink", slug="paper-ink", description="Pens and notebooks")

    # anyone signed in reads and searches the shops
    resp = await client.get(f"{API}/vendors", params={"q": "pens"}, headers=other.headers)
    assert resp.status_code == 200
    assert [v["name"] for v in resp.json()["data"]] == ["Paper & Ink"]
    resp = await client.get(f"{API}/vendors", headers=other.headers)
    assert [v["name"] for v in resp.json()["data"]] == ["Corner Bikes", "Paper & Ink"]
    assert resp.json()["meta"] == {"limit": 20, "offset": 0, "total": 2}
    assert (await client.get(f"{API}/vendors/{vendor['id']}", headers=other.headers)).status_code == 200

    # the owner edits; another user may read but not change it
    resp = await client.patch(
        f"{API}/vendors/{vendor['id']}", json={"description": "Bikes!"}, headers=owner.headers
    )
    assert resp.status_code == 200 and resp.json()["data"]["description"] == "Bikes!"
    resp = await client.patch(
        f"{API}/vendors/{vendor['id']}", json={"description": "mine"}, headers=other.headers
    )
    assert resp.status_code == 403

    # a deactivated shop disappears for everyone but its owner
    resp = await client.patch(
        f"{API}/vendors/{vendor['id']}", json={"is_active": False}, headers=owner.headers
    )
    assert resp.status_code == 200 and resp.json()["data"]["is_active"] is False
    assert (await client.get(f"{API}/vendors/{vendor['id']}", headers=other.headers)).status_code == 404
    assert (await client.get(f"{API}/vendors/{vendor['id']}", headers=owner.headers)).status_code == 200
    names = [v["name"] for v in (await client.get(f"{API}/vendors", headers=other.headers)).json()["data"]]
    assert names == ["Paper & Ink"]


async def test_vendor_names_and_slugs_are_unique_case_insensitively(client, user_factory, market) -> None:
    first = await user_factory()
    second = await user_factory()
    await market.make_vendor(client, first, "Corner Bikes")
    resp = await client.post(f"{API}/vendors", json={"name": "corner BIKES"}, headers=second.headers)
    assert resp.status_code == 409
    assert resp.json()["error"]["details"]["name"]
    resp = await client.post(
        f"{API}/vendors", json={"name": "Other", "slug": "corner-bikes"}, headers=second.headers
    )
    assert resp.status_code == 409 and "slug" in resp.json()["error"]["details"]
    mine = await market.make_vendor(client, second, "Other Shop")
    resp = await client.patch(
        f"{API}/vendors/{mine['id']}", json={"name": "CORNER bikes"}, headers=second.headers
    )
    assert resp.status_code == 409
    # renaming to its own name in another case is fine
    resp = await client.patch(
        f"{API}/vendors/{mine['id']}", json={"name": "OTHER shop"}, headers=second.headers
    )
    assert resp.status_code == 200 and resp.json()["data"]["name"] == "OTHER shop"


async def test_vendor_validation_names_each_field(client, auth_headers) -> None:
    body = {"name": "", "slug": "Not A Slug", "contact_email": "nope", "extra": 1}
    resp = await client.post(f"{API}/vendors", json=body, headers=auth_headers)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR" and resp.json()["error"]["details"]
    resp = await client.post(f"{API}/vendors", json={"name": "Fine", "slug": "NOT OK"}, headers=auth_headers)
    assert resp.status_code == 400 and "slug" in str(resp.json()["error"]["details"])
    resp = await client.post(f"{API}/vendors", json={"name": "   "}, headers=auth_headers)
    assert resp.status_code == 400 and resp.json()["error"]["details"] == {"name": "must not be blank"}
    assert (await client.get(f"{API}/vendors")).status_code == 401


async def test_admin_with_permission_manages_any_vendor(client, user_factory, market) -> None:
    owner = await user_factory()
    admin = await user_factory(roles=["admin"])
    vendor = await market.make_vendor(client, owner, "Corner Bikes")
    await client.patch(f"{API}/vendors/{vendor['id']}", json={"is_active": False}, headers=owner.headers)
    resp = await client.patch(
        f"{API}/vendors/{vendor['id']}", json={"is_active": True}, headers=admin.headers
    )
    assert resp.status_code == 200 and resp.json()["data"]["is_active"] is True
    helper = await user_factory()
    resp = await client.post(
        f"{API}/vendors/{vendor['id']}/sellers", json={"email": helper.email}, headers=admin.headers
    )
    assert resp.status_code == 201


# --------------------------------------------------------------------------- sellers


async def test_owner_adds_and_removes_sellers(client, shop, user_factory) -> None:
    resp = await client.get(f"{API}/vendors/{shop.id}/sellers", headers=shop.owner.headers)
    assert resp.status_code == 200 and resp.json()["meta"]["total"] == 2
    assert {s["email"] for s in resp.json()["data"]} == {shop.seller_a.email, shop.seller_b.email}
    # customers see who sells, not their email addresses
    resp = await client.get(f"{API}/vendors/{shop.id}/sellers", headers=shop.customer.headers)
    assert {s["name"] for s in resp.json()["data"]} == {"Ana Seller", "Ben Seller"}
    assert all(s["email"] is None for s in resp.json()["data"])

    # (vendor, user) is unique
    resp = await client.post(
        f"{API}/vendors/{shop.id}/sellers",
        json={"email": shop.seller_a.email.upper()},
        headers=shop.owner.headers,
    )
    assert resp.status_code == 409 and resp.json()["error"]["details"] == {"email": "already a seller"}
    resp = await client.post(
        f"{API}/vendors/{shop.id}/sellers", json={"email": "ghost@example.com"}, headers=shop.owner.headers
    )
    assert resp.status_code == 400 and "email" in resp.json()["error"]["details"]
    # only the owner adds or removes
    resp = await client.post(
        f"{API}/vendors/{shop.id}/sellers", json={"email": shop.stranger.email}, headers=shop.seller_a.headers
    )
    assert resp.status_code == 403
    resp = await client.delete(
        f"{API}/vendors/{shop.id}/sellers/{shop.seller_b_id}", headers=shop.customer.headers
    )
    assert resp.status_code == 403
    resp = await client.delete(
        f"{API}/vendors/{shop.id}/sellers/{shop.seller_b_id}", headers=shop.owner.headers
    )
    assert resp.status_code == 204
    resp = await client.delete(
        f"{API}/vendors/{shop.id}/sellers/{shop.seller_b_id}", headers=shop.owner.headers
    )
    assert resp.status_code == 404
    resp = await client.get(f"{API}/vendors/{shop.id}/sellers", headers=shop.owner.headers)
    assert [s["name"] for s in resp.json()["data"]] == ["Ana Seller"]


async def test_sellers_of_an_inactive_or_unknown_shop_are_not_found(client, shop) -> None:
    await client.patch(f"{API}/vendors/{shop.id}", json={"is_active": False}, headers=shop.owner.headers)
    resp = await client.get(f"{API}/vendors/{shop.id}/sellers", headers=shop.customer.headers)
    assert resp.status_code == 404
    resp = await client.post(
        f"{API}/vendors/{shop.id}/sellers", json={"email": shop.customer.email}, headers=shop.stranger.headers
    )
    assert resp.status_code == 404


# --------------------------------------------------------------------------- products


async def test_sellers_manage_their_products_and_customers_browse(client, shop) -> None:
    resp = await product(client, shop.seller_a, shop.id)
    assert resp.status_code == 201, resp.text
    bike = resp.json()["data"]
    assert (
        bike["seller_id"] == shop.seller_a_id and bike["price_minor"] == 54900 and bike["currency"] == "EUR"
    )
    lock = await product(
        client, shop.seller_b, shop.id, name="U-lock", sku="LOCK-1", price_minor=3990, stock=0
    )
    assert lock.status_code == 201
    lock = lock.json()["data"]
    hidden = await product(client, shop.seller_b, shop.id, name="Prototype", sku="PROTO", is_active=False)
    assert hidden.status_code == 201

    # customers see active products only, searched, filtered and sorted
    listing = await client.get(
        f"{API}/vendors/{shop.id}/products", params={"sort": "-price_minor"}, headers=shop.customer.headers
    )
    assert [p["sku"] for p in listing.json()["data"]] == ["CB-1", "LOCK-1"]
    assert listing.json()["meta"]["total"] == 2
    found = await client.get(
        f"{API}/vendors/{shop.id}/products", params={"q": "lock"}, headers=shop.customer.headers
    )
    assert [p["sku"] for p in found.json()["data"]] == ["LOCK-1"]
    in_stock = await client.get(
        f"{API}/vendors/{shop.id}/products",
        params={"in_stock": "true", "max_price": 100000},
        headers=shop.customer.headers,
    )
    assert [p["sku"] for p in in_stock.json()["data"]] == ["CB-1"]
    by_seller = await client.get(
        f"{API}/vendors/{shop.id}/products",
        params={"seller_id": shop.seller_b_id},
        headers=shop.owner.headers,
    )
    assert {p["sku"] for p in by_seller.json()["data"]} == {"LOCK-1", "PROTO"}  # the shop's people see all
    assert (
        await client.get(f"{API}/products/{hidden.json()['data']['id']}", headers=shop.customer.headers)
    ).status_code == 404

    # the seller and the owner change a product; the other seller and customers cannot
    resp = await client.patch(
        f"{API}/products/{bike['id']}", json={"stock": 7}, headers=shop.seller_a.headers
    )
    assert resp.status_code == 200 and resp.json()["data"]["stock"] == 7
    resp = await client.patch(
        f"{API}/products/{bike['id']}", json={"price_minor": 49900}, headers=shop.owner.headers
    )
    assert resp.status_code == 200 and resp.json()["data"]["price_minor"] == 49900
    resp = await client.patch(
        f"{API}/products/{bike['id']}", json={"stock": 0}, headers=shop.seller_b.headers
    )
    assert resp.status_code == 403
    resp = await client.patch(
        f"{API}/products/{bike['id']}", json={"stock": 0}, headers=shop.customer.headers
    )
    assert resp.status_code == 403
    resp = await client.delete(f"{API}/products/{lock['id']}", headers=shop.seller_a.headers)
    assert resp.status_code == 403
    assert (
        await client.delete(f"{API}/products/{lock['id']}", headers=shop.seller_b.headers)
    ).status_code == 204
    assert (
        await client.get(f"{API}/products/{lock['id']}", headers=shop.seller_b.headers)
    ).status_code == 404


async def test_product_rules_sku_price_currency_and_who_may_add(client, shop) -> None:
    assert (await product(client, shop.seller_a, shop.id)).status_code == 201
    dup = await product(client, shop.seller_b, shop.id, name="Other")
    assert dup.status_code == 409 and dup.json()["error"]["details"] == {"sku": "already used in this shop"}
    bad = await product(client, shop.seller_a, shop.id, sku="X-2", price_minor=-1, currency="eur", stock=-3)
    assert bad.status_code == 400
    details = bad.json()["error"]["details"]
    assert details and bad.json()["error"]["code"] == "VALIDATION_ERROR"
    bad = await product(client, shop.seller_a, shop.id, sku="X-2", currency="EURO")
    assert bad.status_code == 400 and "currency" in str(bad.json()["error"]["details"])
    # customers cannot add products; a seller files products under their own name only
    assert (await product(client, shop.customer, shop.id, sku="C-1")).status_code == 403
    other = await product(client, shop.seller_a, shop.id, sku="X-3", seller_id=shop.seller_b_id)
    assert other.status_code == 403
    # the owner may file one under a seller
    mine = await product(client, shop.owner, shop.id, sku="X-4", seller_id=shop.seller_b_id)
    assert mine.status_code == 201 and mine.json()["data"]["seller_id"] == shop.seller_b_id
    # the same SKU in another shop is fine (an owner who does not sell files shop products: no seller)
    other_shop = await client.post(
        f"{API}/vendors", json={"name": "Elsewhere"}, headers=shop.stranger.headers
    )
    elsewhere = await product(client, shop.stranger, other_shop.json()["data"]["id"], sku="X-4")
    assert elsewhere.status_code == 201 and elsewhere.json()["data"]["seller_id"] is None
    resp = await client.get(
        f"{API}/vendors/{shop.id}/products", params={"sort": "colour"}, headers=shop.owner.headers
    )
    assert resp.status_code == 400 and "sort" in resp.json()["error"]["details"]


async def test_removed_sellers_products_stay_with_the_shop(client, shop) -> None:
    created = (await product(client, shop.seller_a, shop.id)).json()["data"]
    await client.delete(f"{API}/vendors/{shop.id}/sellers/{shop.seller_a_id}", headers=shop.owner.headers)
    resp = await client.get(f"{API}/products/{created['id']}", headers=shop.customer.headers)
    assert resp.status_code == 200 and resp.json()["data"]["seller_id"] is None
    # the former seller can no longer change it
    resp = await client.patch(
        f"{API}/products/{created['id']}", json={"stock": 1}, headers=shop.seller_a.headers
    )
    assert resp.status_code == 403


async def test_seed_is_idempotent(settings) -> None:
    from keel.apps.market.models import Product, Seller, Vendor
    from keel.apps.market.seed import seed

    engine = create_async_engine(settings.database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        counts = []
        for _ in range(2):
            async with sessions() as session, session.begin():
                await seed(session, settings)
            async with sessions() as session:
                counts.append(
                    [
                        await session.scalar(select(func.count()).select_from(m))
                        for m in (Vendor, Seller, Product)
                    ]
                )
    finally:
        await engine.dispose()
    assert counts[0] == counts[1] == [2, 3, 5]


async def test_currency_must_be_an_iso_4217_code(client, shop) -> None:
    # three capitals that no country uses: 422 naming the field, and no product is stored
    bad = await product(client, shop.seller_a, shop.id, sku="ISO-1", currency="XYZ")
    assert bad.status_code == 422, bad.text
    assert bad.json()["error"]["code"] == "UNPROCESSABLE"
    assert bad.json()["error"]["details"] == {"currency": "not an ISO 4217 currency code"}
    listed = await client.get(f"{API}/vendors/{shop.id}/products", headers=shop.owner.headers)
    assert listed.json()["meta"]["total"] == 0
    # real codes of several regions are accepted, on create and on change
    for code in ("JPY", "CHF", "BRL"):
        ok = await product(client, shop.seller_a, shop.id, sku=f"ISO-{code}", currency=code)
        assert ok.status_code == 201, ok.text
    product_id = ok.json()["data"]["id"]
    changed = await client.patch(
        f"{API}/products/{product_id}", json={"currency": "ABC"}, headers=shop.seller_a.headers
    )
    assert changed.status_code == 422 and changed.json()["error"]["details"] == {
        "currency": "not an ISO 4217 currency code"
    }
    again = await client.get(f"{API}/products/{product_id}", headers=shop.seller_a.headers)
    assert again.json()["data"]["currency"] == "BRL"
    # the list filter checks it the same way
    listed = await client.get(
        f"{API}/vendors/{shop.id}/products", params={"currency": "QQQ"}, headers=shop.owner.headers
    )
    assert listed.status_code == 422 and "currency" in listed.json()["error"]["details"]


async def test_product_search_is_literal_and_sort_is_checked(client, shop) -> None:
    for sku, name in (("P-1", "50% off poster"), ("P-2", "Poster 50 x 70"), ("P-3", "Wall_hook")):
        assert (await product(client, shop.seller_a, shop.id, sku=sku, name=name)).status_code == 201
    found = await client.get(
        f"{API}/vendors/{shop.id}/products", params={"q": "50%"}, headers=shop.customer.headers
    )
    assert [p["name"] for p in found.json()["data"]] == ["50% off poster"]  # % is no wildcard
    found = await client.get(
        f"{API}/vendors/{shop.id}/products", params={"q": "l_h"}, headers=shop.customer.headers
    )
    assert [p["name"] for p in found.json()["data"]] == ["Wall_hook"]
    twice = await client.get(
        f"{API}/vendors/{shop.id}/products", params={"sort": "name,-name"}, headers=shop.customer.headers
    )
    assert twice.status_code == 400 and "sort" in twice.json()["error"]["details"]
