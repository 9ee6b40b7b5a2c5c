"""Bluesky through an AT Protocol session from an app password, against a local server speaking the XRPC
methods: the session, facets at UTF-8 byte offsets (links, resolved mentions, hashtags), a thread as
reply refs (root/parent), an expired access token renewed once, the session ended on disconnect."""

from __future__ import annotations

from typing import Any

import pytest

from keel.app import create_app
from keel.apps.segmint.networks.facets import facets
from segmint.helpers import API
from segmint.test_segmint_publishing import approved_content, soon, wait_schedule

APP_PASSWORD = "abcd-efgh-ijkl-mnop"  # noqa: S105 - test data


@pytest.fixture
def settings(network_settings: Any) -> Any:
    return network_settings


@pytest.fixture
def app(settings: Any) -> Any:
    return create_app(settings)


def test_facets_count_utf8_bytes() -> None:
    text = "Café ☕ with @bob.example.com at https://bakery.example/menu. #sourdough #2024"
    found = facets(text, {"bob.example.com": "did:plc:bob"})
    raw = text.encode()
    spans = {f["features"][0]["$type"].rsplit("#", 1)[1]: f for f in found}
    assert set(spans) == {"mention", "link", "tag"}  # "#2024" (digits only) is no hashtag
    for kind, expected in (
        ("mention", "@bob.example.com"),
        ("link", "https://bakery.example/menu"),
        ("tag", "#sourdough"),
    ):
        index = spans[kind]["index"]
        assert raw[index["byteStart"] : index["byteEnd"]].decode() == expected
    assert spans["tag"]["features"][0]["tag"] == "sourdough"
    assert spans["mention"]["features"][0]["did"] == "did:plc:bob"


async def test_bluesky_connect_post_a_thread_and_disconnect(
    client: Any, user_factory: Any, network_server: Any
) -> None:
    owner, stranger = await user_factory(), await user_factory()
    wrong = await client.post(
        f"{API}/connections/bluesky",
        headers=owner.headers,
        json={"name": "sky", "identifier": "alice.example.com", "app_password": "wrong-pass-word"},
    )
    assert wrong.status_code == 400 and "app_password" in wrong.json()["error"]["details"]
    made = await client.post(
        f"{API}/connections/bluesky",
        headers=owner.headers,
        json={"name": "sky", "identifier": "alice.example.com", "app_password": APP_PASSWORD},
    )
    assert made.status_code == 201, made.text
    integration = made.json()["data"]
    assert integration["provider"] == "bluesky" and integration["account"] == "@alice.example.com"
    assert APP_PASSWORD not in made.text
    assert (
        await client.get(f"{API}/integration/{integration['id']}", headers=stranger.headers)
    ).status_code == 404

    text = "Ask @bob.example.com about rye. " + " ".join(
        f"Loaf {i} rose well overnight, crumb was open." for i in range(9)
    )
    cid = await approved_content(client, user_factory, owner, text=text)
    network_server.live_tokens.clear()  # the access JWT expired: the adapter renews the session once
    sid = (
        await client.post(
            f"{API}/content/{cid}/schedules",
            headers=owner.headers,
            json={"publish_at": soon(0.3), "integration_ids": [integration["id"]], "thread": True},
        )
    ).json()["data"]["id"]
    result = await wait_schedule(client, owner.headers, sid)
    assert result["status"] == "published", result
    posts = [p for p in network_server.posts if p["network"] == "bluesky"]
    assert len(posts) >= 2 and all(len(p["record"]["text"]) <= 300 for p in posts)
    assert posts[0]["repo"] == "did:plc:alice" and posts[0]["collection"] == "app.bsky.feed.post"
    mention = posts[0]["record"]["facets"][0]
    assert mention["features"][0] == {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:bob"}
    root = {"uri": posts[0]["id"], "cid": "bafy" + posts[0]["id"].rsplit("/", 1)[1]}
    assert posts[1]["record"]["reply"]["root"] == root and posts[1]["record"]["reply"]["parent"] == root
    assert len(network_server.seen("/xrpc/com.atproto.server.refreshSession")) == 1
    delivery = result["deliveries"][0]
    assert delivery["external_url"].startswith("https://bsky.app/profile/alice.example.com/post/")
    assert len(delivery["parts"]) == len(posts)

    assert (
        await client.delete(f"{API}/integration/{integration['id']}", headers=owner.headers)
    ).status_code == 204
    assert len(network_server.seen("/xrpc/com.atproto.server.deleteSession")) == 1


async def test_a_thread_cut_by_a_failure_resumes_without_posting_twice(
    client: Any, user_factory: Any, network_server: Any
) -> None:
    owner = await user_factory()
    made = await client.post(
        f"{API}/connections/bluesky",
        headers=owner.headers,
        json={"name": "sky", "identifier": "alice.example.com", "app_password": APP_PASSWORD},
    )
    text = " ".join(f"Step {i}: fold the dough and let it rest for thirty minutes." for i in range(10))
    cid = await approved_content(client, user_factory, owner, text=text)
    # the first part goes out, the second meets a 503: the retry continues with the second
    original = network_server._xrpc
    calls = {"n": 0}

    def flaky(nsid: str, *args: Any) -> Any:
        if nsid == "com.atproto.repo.createRecord":
            calls["n"] += 1
            if calls["n"] == 2:
                return 503, {"error": "InternalServerError", "message": "try again"}, {}
        return original(nsid, *args)

    network_server._xrpc = flaky
    sid = (
        await client.post(
            f"{API}/content/{cid}/schedules",
            headers=owner.headers,
            json={"publish_at": soon(1.0), "integration_ids": [made.json()["data"]["id"]], "thread": True},
        )
    ).json()["data"]["id"]
    result = await wait_schedule(client, owner.headers, sid)
    assert result["status"] == "published", result
    texts = [p["record"]["text"] for p in network_server.posts if p["network"] == "bluesky"]
    assert len(texts) == len(set(texts)) and " ".join(texts) == text
    assert result["deliveries"][0]["attempts"] == 2
