"""Images attached to a draft are uploaded to each network the way it documents (X media upload,
Mastodon /api/v2/media, Bluesky blobs, LinkedIn's Images API) and the post references what was uploaded;
several images go out as one gallery (LinkedIn: a multi-image post); counts, types and sizes are checked
before scheduling; the bytes decide the type; another workspace's content answers 404."""

from __future__ import annotations

import struct
import uuid
import zlib
from typing import Any

import pytest

from keel.app import create_app
from segmint.helpers import API, create_content
from segmint.test_segmint_networks_bluesky import APP_PASSWORD
from segmint.test_segmint_networks_connect import connect
from segmint.test_segmint_publishing import soon, wait_schedule


def png(seed: int, side: int = 2) -> bytes:
    """A real PNG (side x side, one colour per seed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes([seed % 256, 80, 160]) * side
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * side))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def settings(network_settings: Any) -> Any:
    return network_settings


@pytest.fixture
def app(settings: Any) -> Any:
    return create_app(settings)


async def attach(
    client: Any, headers: dict[str, str], cid: str, data: bytes, alt: str = "", **kw: Any
) -> Any:
    return await client.post(
        f"{API}/content/{cid}/media",
        headers=headers,
        data={"alt": alt} if alt else {},
        files={"file": (kw.get("name", "loaf.png"), data, kw.get("type", "image/png"))},
    )


async def approve(client: Any, user_factory: Any, owner: Any, cid: str) -> None:
    approver = await user_factory()
    workflow = await client.post(
        f"{API}/workflow",
        headers=owner.headers,
        json={"name": f"wf-{uuid.uuid4().hex[:6]}", "approver_emails": [approver.email]},
    )
    await client.post(
        f"{API}/content/{cid}/submit",
        headers=owner.headers,
        json={"workflow_id": workflow.json()["data"]["id"]},
    )
    decided = await client.post(
        f"{API}/workflow/reviews/{cid}/decision", headers=approver.headers, json={"decision": "approve"}
    )
    assert decided.json()["data"]["content"]["status"] == "approved", decided.text


async def test_images_are_uploaded_to_each_network_and_attached_to_the_post(
    client: Any, user_factory: Any, network_server: Any
) -> None:
    owner, stranger = await user_factory(), await user_factory()
    targets = [
        (await connect(client, owner.headers, network_server, "x"))["id"],
        (await connect(client, owner.headers, network_server, "mastodon", instance=network_server.url))["id"],
        (await connect(client, owner.headers, network_server, "linkedin"))["id"],
    ]
    sky = await client.post(
        f"{API}/connections/bluesky",
        headers=owner.headers,
        json={"name": "sky", "identifier": "alice.example.com", "app_password": APP_PASSWORD},
    )
    assert sky.status_code == 201, sky.text
    targets.append(sky.json()["data"]["id"])

    cid = (await create_content(client, owner.headers, text="Two new loaves this week."))["id"]
    images = [png(1), png(2)]
    first = await attach(client, owner.headers, cid, images[0], alt="A dark rye loaf")
    assert first.status_code == 201, first.text
    assert first.json()["data"]["mime_type"] == "image/png" and first.json()["data"]["position"] == 1
    second = await attach(client, owner.headers, cid, images[1], name="x.jpg", type="image/jpeg")
    assert second.json()["data"]["mime_type"] == "image/png"  # the bytes decide, not the client
    listed = (await client.get(f"{API}/content/{cid}/media", headers=owner.headers)).json()
    assert [m["alt_text"] for m in listed["data"]] == ["A dark rye loaf", ""] and listed["meta"]["total"] == 2
    assert (await client.get(f"{API}/content/{cid}/media", headers=stranger.headers)).status_code == 404
    assert (await attach(client, stranger.headers, cid, png(3))).status_code == 404

    await approve(client, user_factory, owner, cid)
    assert (await attach(client, owner.headers, cid, png(4))).status_code == 409  # approved: no changes
    sid = (
        await client.post(
            f"{API}/content/{cid}/schedules",
            headers=owner.headers,
            json={"publish_at": soon(0.3), "integration_ids": targets},
        )
    ).json()["data"]["id"]
    result = await wait_schedule(client, owner.headers, sid)
    assert result["status"] == "published", result

    uploaded = network_server.media
    by_network = {
        n: [m for m in uploaded.values() if m["network"] == n] for n in ("x", "mastodon", "bluesky")
    }
    for network, items in by_network.items():
        assert [m["data"] for m in items] == images, network
    tweet = next(p for p in network_server.posts if p["network"] == "x")
    assert [uploaded[i]["data"] for i in tweet["media"]["media_ids"]] == images
    assert uploaded[tweet["media"]["media_ids"][0]]["alt"] == "A dark rye loaf"
    toot = next(p for p in network_server.posts if p["network"] == "mastodon")
    assert [uploaded[i]["alt"] for i in toot["media_ids"]] == ["A dark rye loaf", ""]
    record = next(p for p in network_server.posts if p["network"] == "bluesky")["record"]
    embed = record["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert [uploaded[i["image"]["ref"]["$link"]]["data"] for i in embed["images"]] == images
    assert embed["images"][0]["alt"] == "A dark rye loaf"
    post = next(p for p in network_server.posts if p["network"] == "linkedin")
    carousel = post["content"]["multiImage"]["images"]
    assert [uploaded[i["id"]]["data"] for i in carousel] == images
    assert carousel[0]["altText"] == "A dark rye loaf"
    assert all(uploaded[i["id"]]["owner"] == "urn:li:person:782bbtaQ" for i in carousel)


async def test_media_rules_are_checked_before_scheduling_and_bad_files_refused(
    client: Any, user_factory: Any, network_server: Any
) -> None:
    owner = await user_factory()
    x_id = (await connect(client, owner.headers, network_server, "x"))["id"]
    cid = (await create_content(client, owner.headers, text="Five loaves, five photos."))["id"]
    text_file = await attach(client, owner.headers, cid, b"not an image at all", name="a.png")
    assert text_file.status_code == 415 and "file" in text_file.json()["error"]["details"]
    huge = await attach(client, owner.headers, cid, png(1) + b"\x00" * (8 * 1024 * 1024))
    assert huge.status_code == 413
    extra = await client.post(
        f"{API}/content/{cid}/media",
        headers=owner.headers,
        data={"caption": "no"},
        files={"file": ("a.png", png(1), "image/png")},
    )
    assert extra.status_code == 400 and "caption" in extra.json()["error"]["details"]
    for n in range(5):
        assert (await attach(client, owner.headers, cid, png(n))).status_code == 201
    ids = [
        m["id"]
        for m in (await client.get(f"{API}/content/{cid}/media", headers=owner.headers)).json()["data"]
    ]
    await approve(client, user_factory, owner, cid)
    refused = await client.post(
        f"{API}/content/{cid}/schedules",
        headers=owner.headers,
        json={"publish_at": soon(60), "integration_ids": [x_id]},
    )
    assert (
        refused.status_code == 422
        and "5 media attached; at most 4" in refused.json()["error"]["details"]["x"]
    )
    assert network_server.media == {} and not network_server.posts  # nothing went out
    reopened = await client.post(f"{API}/content/{cid}/reopen", headers=owner.headers)
    assert reopened.status_code == 200, reopened.text
    assert (
        await client.delete(f"{API}/content/{cid}/media/{ids[0]}", headers=owner.headers)
    ).status_code == 204
    assert (
        await client.delete(f"{API}/content/{cid}/media/{ids[0]}", headers=owner.headers)
    ).status_code == 404
    assert (await client.get(f"{API}/content/{cid}/media", headers=owner.headers)).json()["meta"][
        "total"
    ] == 4
