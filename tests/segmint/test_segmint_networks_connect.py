"""OAuth 2.0 connect flows (authorization code + PKCE S256, state bound to the user, single use) for X,
LinkedIn and Mastodon against a local server speaking their APIs; tokens encrypted at rest, refreshed
before expiry, revoked on disconnect; a thread posted as a reply chain; 429 recorded as answered."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from keel.app import create_app
from segmint.helpers import API
from segmint.test_segmint_publishing import approved_content, soon, wait_schedule

LONG = " ".join(f"Sentence number {i} about sourdough starters and patience." for i in range(12))


@pytest.fixture
def settings(network_settings: Any) -> Any:
    return network_settings


@pytest.fixture
def app(settings: Any) -> Any:
    return create_app(settings)


async def connect(
    client: Any, headers: dict[str, str], server: Any, network: str, **query: str
) -> dict[str, Any]:
    started = await client.get(
        f"{API}/connections/{network}/authorize", headers=headers, params={"name": f"my {network}", **query}
    )
    assert started.status_code == 200, started.text
    url = started.json()["data"]["url"]
    state = parse_qs(urlsplit(url).query)["state"][0]
    code = server.approve(url)
    done = await client.post(
        f"{API}/connections/{network}/callback", headers=headers, json={"code": code, "state": state}
    )
    assert done.status_code == 201, done.text
    return done.json()["data"] | {"_state": state, "_url": url}


async def test_x_connect_uses_pkce_and_a_single_use_state_bound_to_the_user(
    client: Any, user_factory: Any, network_server: Any, settings: Any
) -> None:
    owner, stranger = await user_factory(), await user_factory()
    started = await client.get(
        f"{API}/connections/x/authorize", headers=owner.headers, params={"name": "my x"}
    )
    url = started.json()["data"]["url"]
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{network_server.url}/i/oauth2/authorize?")
    assert query["redirect_uri"] == ["https://app.example.com/connect/x"] and query[
        "code_challenge_method"
    ] == ["S256"]
    assert "offline.access" in query["scope"][0] and "tweet.write" in query["scope"][0]
    state, code = query["state"][0], network_server.approve(url)

    # another user cannot finish this user's authorization
    theirs = await client.post(
        f"{API}/connections/x/callback", headers=stranger.headers, json={"code": code, "state": state}
    )
    assert theirs.status_code == 400 and "state" in theirs.json()["error"]["details"]
    done = await client.post(
        f"{API}/connections/x/callback", headers=owner.headers, json={"code": code, "state": state}
    )
    assert done.status_code == 201, done.text
    assert done.json()["data"]["provider"] == "x" and done.json()["data"]["account"] == "@alice"
    # the token exchange authenticated with HTTP Basic and sent the verifier (the server checked it)
    exchange = network_server.seen("/2/oauth2/token")[-1]
    assert exchange.headers["authorization"].startswith("Basic ") and exchange.body["code_verifier"]
    # the state is spent
    again = await client.post(
        f"{API}/connections/x/callback", headers=owner.headers, json={"code": code, "state": state}
    )
    assert again.status_code == 400

    # tokens are encrypted at rest
    engine = create_async_engine(settings.database_url)
    async with engine.connect() as conn:
        stored = " ".join(
            str(v) for row in await conn.execute(text("SELECT * FROM segmint_connection")) for v in row
        )
    await engine.dispose()
    assert not any(token in stored for token in network_server.live_tokens)


async def test_a_wrong_verifier_or_unknown_state_connects_nothing(
    client: Any, user_factory: Any, network_server: Any
) -> None:
    owner = await user_factory()
    started = await client.get(f"{API}/connections/x/authorize", headers=owner.headers, params={"name": "x"})
    url = started.json()["data"]["url"]
    state = parse_qs(urlsplit(url).query)["state"][0]
    code = network_server.approve(url.replace("code_challenge=", "code_challenge=tampered"))
    refused = await client.post(
        f"{API}/connections/x/callback", headers=owner.headers, json={"code": code, "state": state}
    )
    assert refused.status_code == 400 and "invalid_grant" in refused.text
    unknown = await client.post(
        f"{API}/connections/x/callback", headers=owner.headers, json={"code": "c", "state": "s" * 40}
    )
    assert unknown.status_code == 400
    listed = await client.get(f"{API}/integration", headers=owner.headers)
    assert listed.json()["meta"]["total"] == 0


async def test_x_thread_refresh_before_expiry_and_revoke_on_disconnect(
    client: Any, user_factory: Any, network_server: Any
) -> None:
    owner = await user_factory()
    network_server.expires_in = 60  # inside the refresh margin: the delivery refreshes first
    integration = await connect(client, owner.headers, network_server, "x")
    cid = await approved_content(client, user_factory, owner, text=LONG)

    too_long = await client.post(
        f"{API}/content/{cid}/schedules",
        headers=owner.headers,
        json={"publish_at": soon(), "integration_ids": [integration["id"]]},
    )
    assert too_long.status_code == 422 and "x" in too_long.json()["error"]["details"]
    assert "X: the text is" in too_long.json()["error"]["details"]["x"]

    sid = (
        await client.post(
            f"{API}/content/{cid}/schedules",
            headers=owner.headers,
            json={"publish_at": soon(0.3), "integration_ids": [integration["id"]], "thread": True},
        )
    ).json()["data"]["id"]
    result = await wait_schedule(client, owner.headers, sid)
    assert result["status"] == "published", result
    tweets = [p for p in network_server.posts if p["network"] == "x"]
    assert len(tweets) >= 2 and all(len(t["text"]) <= 280 for t in tweets)
    assert " ".join(t["text"] for t in tweets) == LONG
    for previous, reply in itertools.pairwise(tweets):
        assert reply["reply"] == {"in_reply_to_tweet_id": previous["id"]}
    delivery = result["deliveries"][0]
    assert [p["id"] for p in delivery["parts"]] == [t["id"] for t in tweets] and delivery[
        "response_status"
    ] == 201
    assert delivery["external_url"] == f"https://x.com/alice/status/{tweets[0]['id']}"
    assert [r.body["grant_type"] for r in network_server.seen("/2/oauth2/token")] == [
        "authorization_code",
        "refresh_token",
    ]

    gone = await client.delete(f"{API}/integration/{integration['id']}", headers=owner.headers)
    assert gone.status_code == 204
    assert len(network_server.revoked) == 2  # the refresh token and the access token


async def test_a_429_is_recorded_with_what_x_answered(
    client: Any, user_factory: Any, network_server: Any
) -> None:
    owner = await user_factory()
    integration = await connect(client, owner.headers, network_server, "x")
    cid = await approved_content(client, user_factory, owner, text="Fresh loaves at eight.")
    for _ in range(6):
        network_server.fail(
            "/2/tweets",
            429,
            {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank"},
            {"retry-after": "1"},
        )
    sid = (
        await client.post(
            f"{API}/content/{cid}/schedules",
            headers=owner.headers,
            json={"publish_at": soon(0.3), "integration_ids": [integration["id"]]},
        )
    ).json()["data"]["id"]
    result = await wait_schedule(client, owner.headers, sid, limit=90)
    delivery = result["deliveries"][0]
    assert result["status"] == "failed" and delivery["response_status"] == 429
    assert delivery["error_code"] == "Too Many Requests" and "rate-limited" in delivery["error"]
    assert delivery["attempts"] >= 2  # transient: retried


async def test_linkedin_posts_as_the_member_with_the_versioned_api(
    client: Any, user_factory: Any, network_server: Any
) -> None:
    owner = await user_factory()
    integration = await connect(client, owner.headers, network_server, "linkedin")
    assert integration["account"] == "Alice Baker"
    assert "w_member_social" in parse_qs(urlsplit(integration["_url"]).query)["scope"][0]
    cid = await approved_content(client, user_factory, owner, text="Our #sourdough class (Saturday) is full!")
    sid = (
        await client.post(
            f"{API}/content/{cid}/schedules",
            headers=owner.headers,
            json={"publish_at": soon(0.3), "integration_ids": [integration["id"]]},
        )
    ).json()["data"]["id"]
    result = await wait_schedule(client, owner.headers, sid)
    assert result["status"] == "published", result
    sent = network_server.seen("/rest/posts")[-1]
    assert sent.headers["linkedin-version"] and sent.headers["x-restli-protocol-version"] == "2.0.0"
    assert (
        sent.body["author"] == "urn:li:person:782bbtaQ"
        and sent.body["commentary"] == r"Our \#sourdough class \(Saturday\) is full!"
    )
    assert result["deliveries"][0]["external_id"].startswith("urn:li:share:")


async def test_mastodon_registers_one_app_per_instance(
    client: Any, user_factory: Any, network_server: Any
) -> None:
    alice, bob = await user_factory(), await user_factory()
    first = await connect(client, alice.headers, network_server, "mastodon", instance=network_server.url)
    await connect(client, bob.headers, network_server, "mastodon", instance=network_server.url)
    assert network_server.apps_registered == 1 and first["account"] == "@alice"
    check = await client.post(f"{API}/integration/{first['id']}/test", headers=alice.headers)
    assert check.json()["data"] == {"ok": True, "detail": "signed in as @alice"}
    # another user cannot see or delete it
    assert (await client.get(f"{API}/integration/{first['id']}", headers=bob.headers)).status_code == 404
    assert (await client.delete(f"{API}/integration/{first['id']}", headers=bob.headers)).status_code == 404
    missing = await client.get(
        f"{API}/connections/mastodon/authorize", headers=alice.headers, params={"name": "m"}
    )
    assert missing.status_code == 400 and "instance" in missing.json()["error"]["details"]
