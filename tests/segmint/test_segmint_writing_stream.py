"""Streaming generation: the draft arrives as it is written (server-sent events over a real HTTP server),
through the core client against a real streaming OpenAI-compatible server, then the stored drafts; a
model down before its first token is a 503, one that dies mid-way an `error` event with nothing stored."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx

from core_platform_helpers import serve
from fixtures.identity import DEFAULT_PASSWORD
from fixtures.openai_server import OpenAIServer, Reply
from keel.app import create_app
from keel.apps.segmint import networks
from segmint.helpers import API, create_content
from segmint.test_segmint_writing import BAKERY

TWEET = "Rye is back on Friday! Dense, dark and a little sour, the way you asked for it 🥖 #bakery"
TOOT = "Rye returns this Friday. We bake from 5am; first loaves out at 7. Fresh from the oven, as always 🥖"


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    event = None
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event:
            yield event, json.loads(line.removeprefix("data: "))
            event = None


async def _owner(http: httpx.AsyncClient, email: str = "stream@example.com") -> dict[str, str]:
    reg = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": DEFAULT_PASSWORD, "name": "Baker"}
    )
    assert reg.status_code == 201, reg.text
    return {"Authorization": f"Bearer {reg.json()['data']['access_token']}"}


async def test_a_model_draft_streams_as_it_is_written_then_is_stored(
    make_settings: Any, openai_server: OpenAIServer
) -> None:
    settings = make_settings(
        keel_apps="gym,scribe,segmint", ai_base_url=openai_server.base_url, ai_model="tiny", ai_api_key="sk-1"
    )
    gate = threading.Event()
    openai_server.script(Reply(text=TWEET, gate=gate), Reply(text=TOOT))
    body = {"brief": "rye returns on Friday", "platforms": ["twitter", "mastodon"], "tone": "friendly"}
    async with serve(create_app(settings)) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        owner = await _owner(http)
        for text in BAKERY:
            await create_content(http, owner, text=text, tone="friendly")
        seen: list[tuple[str, Any]] = []
        async with http.stream("POST", f"{API}/content/generate/stream", headers=owner, json=body) as resp:
            assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
            async for event, data in _events(resp):
                seen.append((event, data))
                if len(seen) == 1:
                    # the model is still held after its first token: the client got it already
                    assert (event, data) == ("delta", {"platform": "twitter", "text": "Rye"})
                    stored = (await http.get(f"{API}/content", headers=owner)).json()["meta"]["total"]
                    assert stored == len(BAKERY)  # nothing stored while it is being written
                    gate.set()
        kinds = [e for e, _ in seen]
        assert kinds == ["delta"] * (len(seen) - 3) + ["draft", "draft", "done"]
        for platform, text in (("twitter", TWEET), ("mastodon", TOOT)):
            pieces = [d["text"] for e, d in seen if e == "delta" and d["platform"] == platform]
            assert len(pieces) > 5 and "".join(pieces) == text
        drafts = [d for e, d in seen if e == "draft"]
        assert [d["platform"] for d in drafts] == ["twitter", "mastodon"]
        assert drafts[1]["content"]["text"] == TOOT and drafts[1]["content"]["version"] == 1
        assert drafts[0]["length"] == networks.length(TWEET, "twitter") <= 280
        assert seen[-1] == ("done", {"engine": "tiny", "drafts": 2})
        one = await http.get(f"{API}/content/{drafts[0]['content']['id']}", headers=owner)
        assert one.status_code == 200 and one.json()["data"]["status"] == "draft"

    first, second = openai_server.chat_requests
    assert first.body["stream"] is True and "Style card:" in first.body["messages"][0]["content"]
    assert "Platform: twitter" in first.body["messages"][-1]["content"]
    assert "Platform: mastodon" in second.body["messages"][-1]["content"]
    assert "response_format" not in first.body  # plain text: it is shown as it comes


async def test_stream_failures_store_nothing_and_the_local_engine_streams_too(
    make_settings: Any, openai_server: OpenAIServer
) -> None:
    settings = make_settings(
        keel_apps="gym,scribe,segmint", ai_base_url=openai_server.base_url, ai_model="tiny", ai_api_key="sk-1"
    )
    body = {"brief": "rye returns on Friday", "platforms": ["twitter"]}
    async with serve(create_app(settings)) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        owner = await _owner(http)
        # down before the first token (every retry): 503 with Retry-After, no stream
        openai_server.script(*(Reply(status=502, headers={"retry-after-ms": "5"}) for _ in range(3)))
        down = await http.post(f"{API}/content/generate/stream", headers=owner, json=body)
        assert down.status_code == 503 and down.headers["retry-after"]
        assert down.json()["error"]["code"] == "MODEL_UNAVAILABLE"
        # dies after three words: the client saw them, then an error; nothing stored
        openai_server.script(Reply(text=TWEET, cut_after=3))
        async with http.stream("POST", f"{API}/content/generate/stream", headers=owner, json=body) as resp:
            assert resp.status_code == 200
            seen = [item async for item in _events(resp)]
        assert [e for e, _ in seen] == ["delta", "delta", "delta", "error"]
        assert seen[-1][1]["error"]["code"] == "MODEL_UNAVAILABLE"
        # bad input is a 400 before anything streams
        bad = await http.post(f"{API}/content/generate/stream", headers=owner, json={"brief": "x"})
        assert bad.status_code == 400
        assert (await http.get(f"{API}/content", headers=owner)).json()["meta"]["total"] == 0

    local = make_settings(keel_apps="gym,scribe,segmint")
    async with serve(create_app(local)) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        owner = await _owner(http, "local-stream@example.com")
        for text in BAKERY:
            await create_content(http, owner, text=text, tone="friendly")
        async with http.stream(
            "POST",
            f"{API}/content/generate/stream",
            headers=owner,
            json={"brief": "the sourdough loaves are back on Saturday", "platforms": ["bluesky"]},
        ) as resp:
            seen = [item async for item in _events(resp)]
        pieces = "".join(d["text"] for e, d in seen if e == "delta")
        [draft] = [d for e, d in seen if e == "draft"]
        assert pieces == draft["content"]["text"] and len([e for e, _ in seen if e == "delta"]) > 3
        assert seen[-1] == ("done", {"engine": "local", "drafts": 1})
