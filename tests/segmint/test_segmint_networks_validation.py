"""Per-network checks before scheduling: length counted each network's way, media count and types, and
thread splitting that keeps every word (URLs and handles whole) within the limit."""

from __future__ import annotations

from typing import Any

from keel.apps.segmint.networks import length
from keel.apps.segmint.networks.validation import Media, check, split_thread
from segmint.helpers import API


def test_threads_keep_every_word_and_stay_within_the_limit() -> None:
    text = "Read https://bakery.example/a.b.c first. " + " ".join(
        f"Tip {i}: weigh the flour, not cups." for i in range(30)
    )
    for network, platform, limit in (
        ("x", "twitter", 280),
        ("mastodon", "mastodon", 500),
        ("bluesky", "bluesky", 300),
    ):
        result = check(text, network, thread=True)
        assert result.ok and len(result.parts) > 1
        assert all(length(p, platform) <= limit for p in result.parts)
        assert " ".join(result.parts) == text
    assert split_thread("x" * 600, "bluesky", 300) == ["x" * 300, "x" * 300]


def test_problems_name_the_network_and_what_to_change() -> None:
    long = "word " * 100
    assert check(long, "x").problems == [
        "X: the text is 500 of 280 weighted characters; shorten it or ask for a thread (thread: true)"
    ]
    assert "LinkedIn has no threads" in check("w " * 1600, "linkedin", thread=True).problems[0]
    media = [
        Media("image/png", 10),
        Media("image/png", 10),
        Media("image/png", 10),
        Media("image/png", 10),
        Media("image/png", 10),
    ]
    assert check("hi", "x", media=media).problems == ["X: 5 media attached; at most 4"]
    assert check("hi", "x", media=[Media("image/gif", 10), Media("image/png", 10)]).problems == [
        "X: a video or GIF must be the only media"
    ]
    assert check("hi", "bluesky", media=[Media("image/gif", 10)]).problems == [
        "Bluesky: image/gif is not accepted"
    ]
    assert check("hi", "webhook", media=[Media("image/png", 1)]).problems == [
        "Webhook: media cannot be attached"
    ]


async def test_validate_route_answers_per_network(client: Any, user_factory: Any) -> None:
    owner = await user_factory()
    text = "🥐" * 150  # 150 graphemes: 300 weighted on X, fine on Bluesky
    resp = await client.post(
        f"{API}/networks/validate", headers=owner.headers, json={"text": text, "networks": ["x", "bluesky"]}
    )
    assert resp.status_code == 200, resp.text
    x, sky = resp.json()["data"]
    assert (x["network"], x["ok"], x["length"], x["limit"]) == ("x", False, 300, 280)
    assert (sky["ok"], sky["length"]) == (True, 150)
    bad = await client.post(
        f"{API}/networks/validate", headers=owner.headers, json={"text": "hi", "networks": ["myspace"]}
    )
    assert bad.status_code == 400
    assert (
        await client.post(f"{API}/networks/validate", json={"text": "hi", "networks": ["x"]})
    ).status_code == 401
