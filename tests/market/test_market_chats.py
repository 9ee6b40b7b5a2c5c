"""market chats: who takes part, messages (text, media, product cards), idempotent sends, cursor pages,
read markers and unread counts, closing and archiving, rate limits, and nothing half-written."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import create_async_engine

API = "/api/v1/market"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n" + b"0" * 500


def stored_files(settings: Any) -> list[Path]:
    root = Path(settings.storage_url.removeprefix("file://")) / "market"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def count_messages(settings: Any) -> int:
    from keel.apps.market.models import Message

    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(select(func.count()).select_from(Message.__table__)) or 0
    finally:
        await engine.dispose()


def upload(
    client: Any, user: Any, chat_id: str, content: bytes, filename: str = "photo.png", **fields: Any
) -> Any:
    data = {"client_id": str(uuid.uuid4()), **fields}
    files = {"file": (filename, content, "application/octet-stream")}
    return client.post(f"{API}/chats/{chat_id}/media", data=data, files=files, headers=user.headers)


# --------------------------------------------------------------------------- chats and participants


async def test_customer_opens_a_chat_and_only_participants_see_it(client, shop, market) -> None:
    chat = await market.open_chat(client, shop.customer, shop.id, first_message="Is the city bike in stock?")
    assert chat["title"] == "Chat with Corner Bikes" and chat["status"] == "open"
    assert chat["my_role"] == "customer" and chat["vendor_id"] == shop.id
    assert chat["last_message"]["body"] == "Is the city bike in stock?" and chat["unread_count"] == 0
    assert {m["role"] for m in chat["members"]} == {"customer", "owner"}

    # the owner sees it with one unread message; unassigned sellers and strangers do not see it at all
    owner_view = await client.get(f"{API}/chats", headers=shop.owner.headers)
    assert owner_view.status_code == 200
    [row] = owner_view.json()["data"]
    assert row["id"] == chat["id"] and row["my_role"] == "owner" and row["unread_count"] == 1
    for outsider in (shop.stranger, shop.seller_a):
        assert (await client.get(f"{API}/chats", headers=outsider.headers)).json()["data"] == []
        for method, path, body in (
            ("GET", f"/chats/{chat['id']}", None),
            ("PATCH", f"/chats/{chat['id']}", {"title": "mine"}),
            ("GET", f"/chats/{chat['id']}/messages", None),
            ("POST", f"/chats/{chat['id']}/messages", {"client_id": str(uuid.uuid4()), "body": "hi"}),
            ("POST", f"/chats/{chat['id']}/close", None),
            ("POST", f"/chats/{chat['id']}/archive", None),
            ("POST", f"/chats/{chat['id']}/sellers", {"seller_id": shop.seller_a_id}),
        ):
            resp = await client.request(method, f"{API}{path}", json=body, headers=outsider.headers)
            assert resp.status_code == 404, (method, path, resp.text)

    # the owner assigns a seller, who then takes part
    resp = await client.post(
        f"{API}/chats/{chat['id']}/sellers", json={"seller_id": shop.seller_a_id}, headers=shop.owner.headers
    )
    assert resp.status_code == 201
    assert [s["name"] for s in resp.json()["data"]["sellers"]] == ["Ana Seller"]
    seller_view = await client.get(f"{API}/chats/{chat['id']}", headers=shop.seller_a.headers)
    assert seller_view.status_code == 200 and seller_view.json()["data"]["my_role"] == "seller"
    await market.send(client, shop.seller_a, chat["id"], "Yes, four left.")
    # everyone renames it
    resp = await client.patch(
        f"{API}/chats/{chat['id']}", json={"title": "City bike"}, headers=shop.seller_a.headers
    )
    assert resp.status_code == 200 and resp.json()["data"]["title"] == "City bike"

    # unassigned again: the seller loses access
    resp = await client.delete(
        f"{API}/chats/{chat['id']}/sellers/{shop.seller_a_id}", headers=shop.owner.headers
    )
    assert resp.status_code == 204
    assert (await client.get(f"{API}/chats/{chat['id']}", headers=shop.seller_a.headers)).status_code == 404


async def test_seller_assignment_rules(client, shop, user_factory, market) -> None:
    chat = await market.open_chat(client, shop.customer, shop.id)
    path = f"{API}/chats/{chat['id']}/sellers"
    assert (
        await client.post(path, json={"seller_id": shop.seller_a_id}, headers=shop.owner.headers)
    ).status_code == 201
    dup = await client.post(path, json={"seller_id": shop.seller_a_id}, headers=shop.owner.headers)
    assert dup.status_code == 409 and dup.json()["error"]["details"] == {"seller_id": "already assigned"}
    # only the owner assigns (a participant customer or seller gets 403)
    for who in (shop.customer, shop.seller_a):
        resp = await client.post(path, json={"seller_id": shop.seller_b_id}, headers=who.headers)
        assert resp.status_code == 403
    # a seller of another shop cannot be assigned
    other_owner = await user_factory()
    other = await market.make_vendor(client, other_owner, "Elsewhere")
    foreign = await market.add_seller(client, other_owner, other["id"], shop.stranger.email)
    resp = await client.post(path, json={"seller_id": foreign["id"]}, headers=shop.owner.headers)
    assert resp.status_code == 400 and "seller_id" in resp.json()["error"]["details"]
    resp = await client.post(path, json={"seller_id": "not-a-uuid"}, headers=shop.owner.headers)
    assert resp.status_code == 400
    assert (await client.delete(f"{path}/{shop.seller_b_id}", headers=shop.owner.headers)).status_code == 404


async def test_opening_chat_rules(client, shop, market) -> None:
    resp = await client.post(f"{API}/chats", json={"vendor_id": shop.id}, headers=shop.seller_a.headers)
    assert resp.status_code == 400 and "vendor_id" in resp.json()["error"]["details"]
    resp = await client.post(
        f"{API}/chats", json={"vendor_id": str(uuid.uuid4())}, headers=shop.customer.headers
    )
    assert resp.status_code == 400 and resp.json()["error"]["details"] == {"vendor_id": "no such shop"}
    resp = await client.post(
        f"{API}/chats", json={"vendor_id": shop.id, "title": ""}, headers=shop.customer.headers
    )
    assert resp.status_code == 400 and "title" in str(resp.json()["error"]["details"])
    await client.patch(f"{API}/vendors/{shop.id}", json={"is_active": False}, headers=shop.owner.headers)
    resp = await client.post(f"{API}/chats", json={"vendor_id": shop.id}, headers=shop.customer.headers)
    assert resp.status_code == 400


async def test_close_reopen_and_archive(client, shop, market) -> None:
    chat = await market.open_chat(client, shop.customer, shop.id, title="Warranty")
    closed = await client.post(f"{API}/chats/{chat['id']}/close", headers=shop.owner.headers)
    assert closed.status_code == 200 and closed.json()["data"]["status"] == "closed"
    assert closed.json()["data"]["closed_at"]
    assert (
        await client.post(f"{API}/chats/{chat['id']}/close", headers=shop.owner.headers)
    ).status_code == 409
    resp = await client.post(
        f"{API}/chats/{chat['id']}/messages",
        json={"client_id": str(uuid.uuid4()), "body": "hello?"},
        headers=shop.customer.headers,
    )
    assert resp.status_code == 409
    listing = await client.get(f"{API}/chats", params={"status": "closed"}, headers=shop.customer.headers)
    assert [c["id"] for c in listing.json()["data"]] == [chat["id"]]
    assert (
        await client.post(f"{API}/chats/{chat['id']}/reopen", headers=shop.customer.headers)
    ).status_code == 200
    await market.send(client, shop.customer, chat["id"], "hello again")

    # archiving hides the chat from my list only
    archived = await client.post(f"{API}/chats/{chat['id']}/archive", headers=shop.customer.headers)
    assert archived.status_code == 200 and archived.json()["data"]["archived"] is True
    assert (await client.get(f"{API}/chats", headers=shop.customer.headers)).json()["data"] == []
    mine = await client.get(f"{API}/chats", params={"archived": "true"}, headers=shop.customer.headers)
    assert [c["id"] for c in mine.json()["data"]] == [chat["id"]]
    assert len((await client.get(f"{API}/chats", headers=shop.owner.headers)).json()["data"]) == 1
    await client.post(f"{API}/chats/{chat['id']}/unarchive", headers=shop.customer.headers)
    assert len((await client.get(f"{API}/chats", headers=shop.customer.headers)).json()["data"]) == 1
    resp = await client.get(f"{API}/chats", params={"status": "archived"}, headers=shop.customer.headers)
    assert resp.status_code == 400


# --------------------------------------------------------------------------- messages


async def test_send_edit_delete_and_idempotent_retries(client, shop, market) -> None:
    chat = await market.open_chat(client, shop.customer, shop.id)
    messages = f"{API}/chats/{chat['id']}/messages"
    body = {"client_id": str(uuid.uuid4()), "body": "  Do you deliver?  "}
    first = await client.post(messages, json=body, headers=shop.customer.headers)
    assert first.status_code == 201 and first.json()["data"]["body"] == "Do you deliver?"
    again = await client.post(messages, json=body, headers=shop.customer.headers)
    assert again.status_code == 200 and again.json()["data"]["id"] == first.json()["data"]["id"]
    changed = await client.post(
        messages, json={**body, "body": "Something else"}, headers=shop.customer.headers
    )
    assert changed.status_code == 409 and "client_id" in changed.json()["error"]["details"]
    listing = (await client.get(messages, headers=shop.owner.headers)).json()["data"]
    assert [m["body"] for m in listing["messages"]] == ["Do you deliver?"]

    mid = first.json()["data"]["id"]
    edited = await client.patch(
        f"{messages}/{mid}", json={"body": "Do you deliver to Lyon?"}, headers=shop.customer.headers
    )
    assert edited.status_code == 200 and edited.json()["data"]["edited_at"]
    assert (
        await client.patch(f"{messages}/{mid}", json={"body": "x"}, headers=shop.owner.headers)
    ).status_code == 403
    assert (await client.delete(f"{messages}/{mid}", headers=shop.owner.headers)).status_code == 403
    assert (
        await client.patch(f"{messages}/{mid}", json={"body": "x"}, headers=shop.stranger.headers)
    ).status_code == 404
    assert (await client.delete(f"{messages}/{mid}", headers=shop.customer.headers)).status_code == 204
    [gone] = (await client.get(messages, headers=shop.owner.headers)).json()["data"]["messages"]
    assert gone["deleted"] is True and gone["body"] is None and gone["id"] == mid
    assert (
        await client.patch(f"{messages}/{mid}", json={"body": "x"}, headers=shop.customer.headers)
    ).status_code == 409

    # validation names the fields
    resp = await client.post(
        messages, json={"body": "x" * 4001, "client_id": "nope"}, headers=shop.customer.headers
    )
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "VALIDATION_ERROR"
    resp = await client.post(
        messages, json={"client_id": str(uuid.uuid4()), "body": "   "}, headers=shop.customer.headers
    )
    assert resp.status_code == 400 and resp.json()["error"]["details"] == {"body": "must not be blank"}


async def test_product_cards_must_belong_to_the_chats_shop(client, shop, user_factory, market) -> None:
    bike = await client.post(
        f"{API}/vendors/{shop.id}/products",
        json={"name": "City bike", "sku": "CB-1", "price_minor": 54900, "currency": "EUR"},
        headers=shop.seller_a.headers,
    )
    other_owner = await user_factory()
    other = await market.make_vendor(client, other_owner, "Elsewhere")
    foreign = await client.post(
        f"{API}/vendors/{other['id']}/products",
        json={"name": "Pen", "sku": "P-1", "price_minor": 100, "currency": "GBP"},
        headers=other_owner.headers,
    )
    chat = await market.open_chat(client, shop.customer, shop.id)
    await client.post(
        f"{API}/chats/{chat['id']}/sellers", json={"seller_id": shop.seller_a_id}, headers=shop.owner.headers
    )
    card = await market.send(
        client, shop.seller_a, chat["id"], "This one?", product_id=bike.json()["data"]["id"]
    )
    assert card["product"] == {
        "id": bike.json()["data"]["id"],
        "name": "City bike",
        "sku": "CB-1",
        "price_minor": 54900,
        "currency": "EUR",
        "is_active": True,
    }
    resp = await client.post(
        f"{API}/chats/{chat['id']}/messages",
        json={"client_id": str(uuid.uuid4()), "body": "or this", "product_id": foreign.json()["data"]["id"]},
        headers=shop.seller_a.headers,
    )
    assert resp.status_code == 400 and "product_id" in resp.json()["error"]["details"]


async def test_cursor_pagination_both_ways(client, shop, market) -> None:
    chat = await market.open_chat(client, shop.customer, shop.id)
    sent = [(await market.send(client, shop.customer, chat["id"], f"m{n}"))["id"] for n in range(12)]
    path = f"{API}/chats/{chat['id']}/messages"
    latest = (await client.get(path, params={"limit": 5}, headers=shop.owner.headers)).json()["data"]
    assert [m["body"] for m in latest["messages"]] == ["m7", "m8", "m9", "m10", "m11"]
    assert latest["has_more_before"] is True and latest["has_more_after"] is False
    older = (
        await client.get(path, params={"limit": 5, "before": sent[7]}, headers=shop.owner.headers)
    ).json()["data"]
    assert [m["body"] for m in older["messages"]] == ["m2", "m3", "m4", "m5", "m6"]
    oldest = (
        await client.get(path, params={"limit": 5, "before": sent[2]}, headers=shop.owner.headers)
    ).json()["data"]
    assert [m["body"] for m in oldest["messages"]] == ["m0", "m1"] and oldest["has_more_before"] is False
    newer = (
        await client.get(path, params={"limit": 4, "after": sent[1]}, headers=shop.owner.headers)
    ).json()["data"]
    assert [m["body"] for m in newer["messages"]] == ["m2", "m3", "m4", "m5"] and newer[
        "has_more_after"
    ] is True
    tail = (await client.get(path, params={"after": sent[9]}, headers=shop.owner.headers)).json()["data"]
    assert [m["body"] for m in tail["messages"]] == ["m10", "m11"] and tail["has_more_after"] is False

    both = await client.get(path, params={"before": sent[3], "after": sent[1]}, headers=shop.owner.headers)
    assert both.status_code == 400
    other_chat = await market.open_chat(client, shop.customer, shop.id)
    foreign = await client.get(
        f"{API}/chats/{other_chat['id']}/messages", params={"before": sent[3]}, headers=shop.customer.headers
    )
    assert foreign.status_code == 400 and foreign.json()["error"]["details"] == {
        "before": "not a message of this chat"
    }
    assert (await client.get(path, params={"limit": 0}, headers=shop.owner.headers)).status_code == 400


async def test_read_markers_and_unread_counts(client, shop, market) -> None:
    chat = await market.open_chat(client, shop.customer, shop.id)
    await client.post(
        f"{API}/chats/{chat['id']}/sellers", json={"seller_id": shop.seller_a_id}, headers=shop.owner.headers
    )
    ids = [(await market.send(client, shop.customer, chat["id"], f"q{n}"))["id"] for n in range(3)]
    reply = await market.send(client, shop.seller_a, chat["id"], "answer")

    async def unread(user: Any) -> int:
        return (await client.get(f"{API}/chats", headers=user.headers)).json()["data"][0]["unread_count"]

    assert await unread(shop.owner) == 4
    assert await unread(shop.seller_a) == 0  # answering reads everything up to the answer
    assert await unread(shop.customer) == 1
    marked = await client.post(
        f"{API}/chats/{chat['id']}/read", json={"message_id": ids[1]}, headers=shop.owner.headers
    )
    assert marked.status_code == 200 and marked.json()["data"]["last_read_message_id"] == ids[1]
    assert await unread(shop.owner) == 2
    # markers never move back
    await client.post(
        f"{API}/chats/{chat['id']}/read", json={"message_id": ids[0]}, headers=shop.owner.headers
    )
    assert await unread(shop.owner) == 2
    await client.post(
        f"{API}/chats/{chat['id']}/read", json={"message_id": reply["id"]}, headers=shop.owner.headers
    )
    assert await unread(shop.owner) == 0
    detail = (await client.get(f"{API}/chats/{chat['id']}", headers=shop.customer.headers)).json()["data"]
    markers = {m["role"]: m["last_read_message_id"] for m in detail["members"]}
    assert markers == {"customer": ids[2], "owner": reply["id"], "seller": reply["id"]}
    # a deleted message no longer counts as unread
    await client.delete(f"{API}/chats/{chat['id']}/messages/{reply['id']}", headers=shop.seller_a.headers)
    assert await unread(shop.customer) == 0
    resp = await client.post(
        f"{API}/chats/{chat['id']}/read", json={"message_id": str(uuid.uuid4())}, headers=shop.owner.headers
    )
    assert resp.status_code == 400 and "message_id" in resp.json()["error"]["details"]


async def test_chat_list_costs_a_fixed_number_of_queries(client, app, shop, user_factory, market) -> None:
    customers = [await user_factory() for _ in range(3)]
    for n in range(12):
        chat = await market.open_chat(client, customers[n % 3], shop.id, first_message=f"hello {n}")
        await client.post(
            f"{API}/chats/{chat['id']}/sellers",
            json={"seller_id": shop.seller_a_id},
            headers=shop.owner.headers,
        )
        await market.send(client, shop.seller_a, chat["id"], f"reply {n}")
    engine = app.state.sa_config.get_engine().sync_engine
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        resp = await client.get(f"{API}/chats", params={"limit": 12}, headers=shop.owner.headers)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    data = resp.json()["data"]
    assert len(data) == 12 and all(c["unread_count"] == 2 and c["sellers"] for c in data)
    assert data[0]["last_message"]["body"] == "reply 11"  # latest activity first
    # auth, count, chats, vendors, assignments, sellers, last messages, their products, members, unread,
    # seller names: the same for 12 chats as for 1
    assert len(statements) <= 11, len(statements)


async def test_message_sending_is_rate_limited_per_user(client, shop, market) -> None:
    chat = await market.open_chat(client, shop.customer, shop.id)
    path = f"{API}/chats/{chat['id']}/messages"
    codes = [
        (
            await client.post(
                path, json={"client_id": str(uuid.uuid4()), "body": f"n{n}"}, headers=shop.customer.headers
            )
        ).status_code
        for n in range(31)
    ]
    assert codes[:30] == [201] * 30 and codes[30] == 429
    # another participant still gets through
    assert (
        await client.post(
            path, json={"client_id": str(uuid.uuid4()), "body": "hi"}, headers=shop.owner.headers
        )
    ).status_code == 201


# --------------------------------------------------------------------------- media


async def test_media_upload_download_and_delete(client, shop, settings, market) -> None:
    chat = await market.open_chat(client, shop.customer, shop.id)
    resp = await upload(
        client, shop.customer, chat["id"], PNG, filename="../../bike photo.txt", body="Scratch here"
    )
    assert resp.status_code == 201, resp.text
    message = resp.json()["data"]
    assert message["kind"] == "media" and message["media_type"] == "image/png"
    assert message["media_size"] == len(PNG) and message["media_name"] == "bike photo.png"
    assert message["body"] == "Scratch here"
    download = await client.get(message["media_url"], headers=shop.owner.headers)
    assert download.status_code == 200 and download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-length"] == str(len(PNG))
    assert (await client.get(message["media_url"], headers=shop.stranger.headers)).status_code == 404

    pdf = await upload(client, shop.owner, chat["id"], PDF, filename="invoice")
    assert pdf.status_code == 201 and pdf.json()["data"]["media_type"] == "application/pdf"
    assert pdf.json()["data"]["media_name"] == "invoice.pdf"

    # deleting the message removes its file
    assert len(stored_files(settings)) == 2
    assert (
        await client.delete(
            f"{API}/chats/{chat['id']}/messages/{message['id']}", headers=shop.customer.headers
        )
    ).status_code == 204
    assert len(stored_files(settings)) == 1
    assert (await client.get(message["media_url"], headers=shop.owner.headers)).status_code == 404


async def test_media_retry_with_the_same_client_id_stores_once(client, shop, settings, market) -> None:
    chat = await market.open_chat(client, shop.customer, shop.id)
    client_id = str(uuid.uuid4())
    first = await upload(client, shop.customer, chat["id"], PNG, client_id=client_id)
    again = await upload(client, shop.customer, chat["id"], PNG, client_id=client_id)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["data"]["id"] == again.json()["data"]["id"]
    assert len(stored_files(settings)) == 1 and await count_messages(settings) == 1


async def test_refused_uploads_leave_nothing_behind(client, shop, settings, market) -> None:
    chat = await market.open_chat(client, shop.customer, shop.id)
    # the name says PNG, the bytes are a script: 415
    fake = await upload(client, shop.customer, chat["id"], b"#!/bin/sh\nrm -rf /\n" * 10, filename="cat.png")
    assert fake.status_code == 415 and fake.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    # a real PNG over MARKET_MAX_MEDIA_SIZE (64 KiB in these tests): 413
    big = await upload(client, shop.customer, chat["id"], PNG + b"\x00" * (70 * 1024))
    assert big.status_code == 413 and big.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    # stored, then refused (an unknown field after the file): the row rolls back and the object goes
    files = {"file": ("a.png", PNG, "image/png")}
    fields = {"client_id": str(uuid.uuid4())}
    late = await client.post(
        f"{API}/chats/{chat['id']}/media",
        data=fields,
        files={**files, "zzz": (None, "late")},
        headers=shop.customer.headers,
    )
    assert late.status_code == 400
    # missing client id, and non-participants
    resp = await client.post(f"{API}/chats/{chat['id']}/media", files=files, headers=shop.customer.headers)
    assert resp.status_code == 400 and resp.json()["error"]["details"] == {"client_id": "required"}
    assert (await upload(client, shop.stranger, chat["id"], PNG)).status_code == 404
    assert stored_files(settings) == [] and await count_messages(settings) == 0
    listing = (await client.get(f"{API}/chats", headers=shop.customer.headers)).json()["data"]
    assert listing[0]["last_message"] is None and listing[0]["last_message_at"] is None


async def test_openapi_documents_market_errors(client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    send = schema["paths"]["/api/v1/market/chats/{chat_id}/messages"]["post"]
    assert {"404", "409", "429"} <= set(send["responses"])
    media = schema["paths"]["/api/v1/market/chats/{chat_id}/media"]["post"]
    assert {"413", "415"} <= set(media["responses"])
