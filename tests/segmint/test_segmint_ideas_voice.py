"""segmint ideas (local engine from the user's own content; remote OpenAI-compatible engine against a local
fake server) and the voice profile."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from keel.app import create_app
from segmint.helpers import API, create_content


async def test_local_ideas_come_from_my_content_in_my_tone(client: Any, user_factory: Any) -> None:
    me, other = await user_factory(), await user_factory()
    h = me.headers
    empty = await client.post(f"{API}/ideas", headers=h, json={"tone": "witty", "count": 2})
    assert empty.status_code == 201 and len(empty.json()["data"]) == 2  # no content yet: generic topics
    for text in (
        "Sourdough starters need patience. Feed your sourdough daily.",
        "My sourdough crumb finally opened up. Hydration matters.",
        "Cold fermentation makes better sourdough flavour.",
    ):
        await create_content(client, h, text=text, tone="casual")
    await create_content(
        client, other.headers, text="Kubernetes kubernetes kubernetes clusters", tone="formal"
    )

    resp = await client.post(f"{API}/ideas", headers=h, json={"tone": "professional", "count": 3})
    assert resp.status_code == 201, resp.text
    ideas = resp.json()["data"]
    assert len(ideas) == 3 and all(i["tone"] == "professional" and i["engine"] == "local" for i in ideas)
    assert ideas[0]["topics"][0] == "sourdough"  # the user's most used term leads
    assert "sourdough" in ideas[0]["title"].lower()
    assert not any("kubernetes" in json.dumps(i) for i in ideas)  # never another user's content
    # asking again suggests different titles (none repeated)
    more = (await client.post(f"{API}/ideas", headers=h, json={"tone": "professional", "count": 3})).json()[
        "data"
    ]
    assert not {i["title"] for i in more} & {i["title"] for i in ideas}
    # without a tone: the user's own usual one (all three pieces above are casual; the other user is formal)
    usual = (await client.post(f"{API}/ideas", headers=h, json={"count": 1})).json()["data"]
    assert usual[0]["tone"] == "casual"
    steered = (
        await client.post(
            f"{API}/ideas", headers=h, json={"tone": "playful", "count": 1, "topic": "croissants"}
        )
    ).json()
    assert "croissants" in steered["data"][0]["title"].lower()

    listed = await client.get(f"{API}/ideas?limit=5", headers=h)
    assert listed.json()["meta"]["total"] == 10 and len(listed.json()["data"]) == 5
    idea = ideas[0]
    accepted = await client.post(f"{API}/ideas/{idea['id']}/accept", headers=h)
    assert accepted.status_code == 201, accepted.text
    draft = accepted.json()["data"]
    assert draft["status"] == "draft" and draft["title"] == idea["title"] and draft["tone"] == "professional"
    assert "sourdough" in draft["tags"]
    assert (await client.post(f"{API}/ideas/{idea['id']}/accept", headers=h)).status_code == 409
    assert (
        await client.post(f"{API}/ideas/{ideas[1]['id']}/dismiss", headers=other.headers)
    ).status_code == 404
    assert (await client.post(f"{API}/ideas/{ideas[1]['id']}/dismiss", headers=h)).json()["data"][
        "status"
    ] == "dismissed"
    assert (await client.get(f"{API}/ideas?status=accepted", headers=h)).json()["data"][0][
        "content_id"
    ] == draft["id"]
    assert (await client.get(f"{API}/ideas", headers=other.headers)).json()["meta"]["total"] == 0
    bad = await client.post(f"{API}/ideas", headers=h, json={"tone": "angry", "count": 50})
    assert bad.status_code == 400 and {"tone", "count"} & set(
        str(bad.json()["error"]["details"]).replace("`", " ").replace("'", " ").split()
    )


async def test_voice_profile_and_its_months(client: Any, user_factory: Any, settings: Any) -> None:
    me, other = await user_factory(), await user_factory()
    h = me.headers
    empty = (await client.get(f"{API}/voice", headers=h)).json()["data"]
    assert empty["pieces"] == 0 and empty["months"] == [] and empty["dominant_tone"] is None
    old = await create_content(client, h, text="Short one. Another short one.", tone="witty")
    await create_content(
        client, h, text="Growth needs patience and growth needs focus every single day.", tone="professional"
    )
    await create_content(client, h, text="Focus on growth.", tone="professional")
    await create_content(client, other.headers, text="Not mine at all.", tone="casual")
    from keel.apps.segmint.models import Content

    engine = create_async_engine(settings.database_url)
    async with engine.begin() as conn:  # the first piece was written in an earlier month
        await conn.execute(
            update(Content)
            .where(Content.title == old["title"])
            .values(created_at=datetime(2026, 1, 15, 10, tzinfo=UTC))
        )
    await engine.dispose()

    voice = (await client.get(f"{API}/voice", headers=h)).json()["data"]
    assert voice["pieces"] == 3 and voice["words"] == 5 + 10 + 3
    assert (
        voice["tone_mix"] == {"professional": 0.667, "witty": 0.333}
        and voice["dominant_tone"] == "professional"
    )
    assert voice["average_sentence_length"] == round(18 / 4, 2)  # 2 + 1 + 1 sentences
    terms = {t["term"]: t["count"] for t in voice["top_terms"]}
    assert terms["growth"] == 3 and terms["focus"] == 2 and "and" not in terms
    assert voice["months"][0]["month"] == "2026-01"
    january = voice["months"][0]
    assert (
        january["pieces"] == 1
        and january["tone_mix"] == {"witty": 1.0}
        and january["average_sentence_length"] == 2.5
    )
    assert january["vocabulary_richness"] == round(3 / 5, 3)  # short, one, another
    assert voice["months"][-1]["tone_mix"] == {"professional": 1.0}


async def test_model_idea_engine_against_a_real_openai_compatible_server(
    make_settings: Any, openai_server: Any
) -> None:
    """Its own app (no `client` fixture): one app per process shares the job queue."""
    from fixtures.identity import DEFAULT_PASSWORD
    from fixtures.openai_server import Reply

    settings = make_settings(
        keel_apps="gym,scribe,segmint",
        ai_base_url=openai_server.base_url,
        ai_api_key="sk-test",
        ai_model="tiny",
    )
    answer = {
        "ideas": [
            {"title": "Sourdough myths", "text": "Bust three myths.", "topics": ["sourdough"]},
            {"title": "Crumb shots", "text": "Show the crumb.", "topics": ["crumb"]},
        ]
    }
    openai_server.script(json.dumps(answer))
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as client:
        reg = await client.post(
            "/api/v1/auth/register",
            json={"email": "ideas@example.com", "password": DEFAULT_PASSWORD, "name": "I"},
        )
        h = {"Authorization": f"Bearer {reg.json()['data']['access_token']}"}
        await create_content(client, h, text="Sourdough every weekend. Sourdough forever.")
        resp = await client.post(f"{API}/ideas", headers=h, json={"tone": "witty", "count": 2})
        assert resp.status_code == 201, resp.text
        ideas = resp.json()["data"]
        assert [(i["title"], i["engine"], i["tone"]) for i in ideas] == [
            ("Sourdough myths", "tiny", "witty"),
            ("Crumb shots", "tiny", "witty"),
        ]
        request = openai_server.chat_requests[0]
        assert request.headers["authorization"] == "Bearer sk-test"
        sent = request.body
        assert sent["model"] == "tiny" and "witty" in sent["messages"][1]["content"]
        assert "sourdough" in sent["messages"][1]["content"]  # the user's topics go to the engine
        assert sent["response_format"]["type"] == "json_schema"

        openai_server.script(*(Reply(status=500, headers={"retry-after-ms": "5"}) for _ in range(3)))
        failed = await client.post(f"{API}/ideas", headers=h, json={"tone": "witty"})
        assert failed.status_code == 503 and failed.json()["error"]["code"] == "MODEL_UNAVAILABLE"
        assert failed.headers["retry-after"]
        openai_server.script("I cannot do JSON today", "Still no JSON")
        garbled = await client.post(f"{API}/ideas", headers=h, json={"tone": "witty"})
        assert garbled.status_code == 502 and garbled.json()["error"]["code"] == "MODEL_BAD_OUTPUT"
        # failures stored nothing
        assert (await client.get(f"{API}/ideas", headers=h)).json()["meta"]["total"] == 2
