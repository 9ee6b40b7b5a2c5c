"""Writing in the user's voice: generate per platform, rewrite, score, the voice's features, the
network counts, and ideas that stay on the user's topics; the local engine and the real client against
a real OpenAI-compatible server (tests/fixtures/openai_server.py)."""

from __future__ import annotations

import json
import re
from typing import Any

from fixtures.openai_server import OpenAIServer, Reply
from keel.apps.segmint import networks, style
from keel.core.llm import LanguageModel
from segmint.helpers import API, create_content

BAKERY = [
    "Sourdough is back this Saturday! We bake from 5am, first loaves out at 7. Come early, they go fast 🥖 "
    "#sourdough #bakery",
    "Our croissants take three days: mix, laminate, proof. Worth every minute. Fresh from the oven, as "
    "always 🥐 #croissants #bakery",
    "We tried a rye and caraway loaf this week. Dense, dark, a little sour. Would you want it every week? "
    "Fresh from the oven, as always 🥖 #rye #bakery",
    "Rainy Tuesday, warm ovens. Cinnamon buns are on the counter until they run out. #bakery",
    "We're closed Monday for the oven service. Back Tuesday with sourdough, croissants and buns. Fresh "
    "from the oven, as always 🥐 #bakery",
    "Flour, water, salt, time. That's all our sourdough needs. We feed the starter twice a day. #sourdough",
]
PLACEHOLDERS = re.compile(r"\b(content|sample)\b", re.I)


async def bakery(client: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
    # two arrive with the placeholder title a form prefilled from the API's own example
    return [
        await create_content(
            client, headers, text=text, tone="friendly", **({"title": "Sample content"} if i < 2 else {})
        )
        for i, text in enumerate(BAKERY)
    ]


def test_networks_count_the_way_each_network_counts() -> None:
    url = "https://example.com/a/very/long/path/that/is/longer/than/twenty-three"
    assert networks.length(f"{'a' * 10} {url}", "twitter") == 10 + 1 + 23
    assert networks.length(f"{'a' * 10} {url}", "mastodon") == 10 + 1 + 23
    assert networks.length(f"{'a' * 10} {url}", "bluesky") == 11 + len(url)
    family = "👨\u200d👩\u200d👧"  # one grapheme, five code points
    assert networks.length(family, "bluesky") == 1 and networks.length(family, "twitter") == 2
    assert networks.length("e\u0301", "bluesky") == 1  # e + combining acute: one grapheme
    assert networks.length("パン屋", "twitter") == 6  # CJK counts double on X
    assert networks.length("@anna@bakers.social hi", "mastodon") == len("@anna hi")
    long = " ".join(["Sourdough is back this Saturday morning at the bakery."] * 12) + f" {url} #bakery"
    for platform, limit in (("twitter", 280), ("bluesky", 300), ("mastodon", 500)):
        fitted = networks.fit(long, platform)
        assert networks.length(fitted, platform) <= limit and fitted.startswith("Sourdough is back")
    assert networks.fit("short", "linkedin") == "short"


async def test_ideas_stay_on_the_bakers_topics_never_placeholders(
    client: Any, auth_headers: dict[str, str]
) -> None:
    await bakery(client, auth_headers)
    resp = await client.post(f"{API}/ideas", headers=auth_headers, json={"count": 10, "tone": "witty"})
    assert resp.status_code == 201, resp.text
    ideas = resp.json()["data"]
    assert ideas and all(i["engine"] == "local" for i in ideas)
    vocabulary = {w for t in BAKERY for w in style.topic_terms(t)}
    for idea in ideas:
        assert not PLACEHOLDERS.search(idea["title"] + " " + idea["text"]), idea
        assert set(idea["topics"]) <= vocabulary, idea
    assert "sourdough" in {t for i in ideas for t in i["topics"]}


async def test_the_voice_has_features_a_baker_recognises(client: Any, auth_headers: dict[str, str]) -> None:
    await bakery(client, auth_headers)
    voice = (await client.get(f"{API}/voice", headers=auth_headers)).json()["data"]["style"]
    assert voice["point_of_view"] == "we"
    assert voice["hashtags"][0] == "bakery" and "sourdough" in voice["hashtags"]
    assert voice["hashtags_per_post"] == round(9 / 6, 2)
    assert voice["emoji_per_post"] == round(4 / 6, 2) and voice["emojis"][0] in ("🥖", "🥐")
    assert "fresh from the oven as always" in voice["recurring_phrases"]
    assert voice["sign_offs"] == ["Fresh from the oven, as always"]
    assert "sourdough" in voice["topics"][:3]
    assert not {"content", "sample"} & set(voice["topics"])
    assert 0 < voice["question_share"] < 0.2
    assert "Point of view: first person plural (we)" in voice["card"]


async def test_generate_with_the_local_engine_writes_drafts_per_platform(
    client: Any, auth_headers: dict[str, str], user_factory: Any
) -> None:
    await bakery(client, auth_headers)
    body = {
        "brief": "the sourdough loaves are back on Saturday morning",
        "platforms": ["twitter", "mastodon", "bluesky", "linkedin"],
        "length": "long",
    }
    resp = await client.post(f"{API}/content/generate", headers=auth_headers, json=body)
    assert resp.status_code == 201, resp.text
    result = resp.json()["data"]
    assert result["engine"] == "local"
    assert [d["platform"] for d in result["drafts"]] == body["platforms"]
    own_sentences = {s for t in BAKERY for s in style.sentences_of(t)}
    for draft in result["drafts"]:
        text = draft["content"]["text"]
        assert draft["limit"] == networks.LIMITS[draft["platform"]]
        assert draft["length"] == networks.length(text, draft["platform"]) <= draft["limit"]
        assert text.startswith("The sourdough loaves are back on Saturday morning")
        assert any(s in text for s in own_sentences), text  # composed from the baker's own material
        assert not PLACEHOLDERS.search(text)
        assert 0 <= draft["score"] <= 100
        assert draft["content"]["status"] == "draft" and draft["content"]["version"] == 1
        assert draft["content"]["platforms"] == [draft["platform"]]
    linkedin = result["drafts"][-1]["content"]["text"]
    assert "#sourdough" in linkedin or "#bakery" in linkedin  # the baker's hashtag habit
    assert "Fresh from the oven, as always" in linkedin  # and sign-off

    stored = await client.get(f"{API}/content/{result['drafts'][0]['content']['id']}", headers=auth_headers)
    assert stored.status_code == 200
    other = await user_factory()
    assert (
        await client.get(f"{API}/content/{result['drafts'][0]['content']['id']}", headers=other.headers)
    ).status_code == 404


async def test_generate_refuses_bad_input_with_nothing_stored(
    client: Any, auth_headers: dict[str, str]
) -> None:
    for body in (
        {"brief": "x", "platforms": ["twitter"]},
        {"brief": "bread news", "platforms": []},
        {"brief": "bread news", "platforms": ["myspace"]},
        {"brief": "bread news", "platforms": ["twitter"], "length": "epic"},
    ):
        resp = await client.post(f"{API}/content/generate", headers=auth_headers, json=body)
        assert resp.status_code == 400, body
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert (await client.get(f"{API}/content", headers=auth_headers)).json()["meta"]["total"] == 0


async def test_rewrite_makes_new_versions(
    client: Any, auth_headers: dict[str, str], user_factory: Any
) -> None:
    await bakery(client, auth_headers)
    draft = await create_content(
        client,
        auth_headers,
        text="i think  the the rye loaf is ready . We're baking more tomorrow! It's dense and dark 🥖",
        tone="casual",
    )
    url = f"{API}/content/{draft['id']}/rewrite"
    fixed = await client.post(url, headers=auth_headers, json={"operation": "fix_grammar"})
    assert fixed.status_code == 200, fixed.text
    data = fixed.json()["data"]
    assert data["engine"] == "local" and data["content"]["version"] == 2
    assert data["content"]["text"].startswith("I think the rye loaf is ready. We're baking more tomorrow!")

    formal = (
        await client.post(url, headers=auth_headers, json={"operation": "tone", "tone": "formal"})
    ).json()["data"]
    assert formal["content"]["tone"] == "formal" and formal["content"]["version"] == 3
    assert "We are baking" in formal["content"]["text"] and "🥖" not in formal["content"]["text"]
    assert "!" not in formal["content"]["text"]

    shorter = (await client.post(url, headers=auth_headers, json={"operation": "shorter"})).json()["data"]
    assert len(shorter["content"]["text"]) < len(formal["content"]["text"])

    longer = (await client.post(url, headers=auth_headers, json={"operation": "longer"})).json()["data"]
    assert len(longer["content"]["text"]) > len(shorter["content"]["text"])
    assert "rye" in longer["content"]["text"].lower()

    versions = (await client.get(f"{API}/content/{draft['id']}/versions", headers=auth_headers)).json()
    assert versions["meta"]["total"] == 5

    missing = await client.post(url, headers=auth_headers, json={"operation": "tone"})
    assert missing.status_code == 400 and "tone" in missing.json()["error"]["details"]
    other = await user_factory()
    assert (await client.post(url, headers=other.headers, json={"operation": "shorter"})).status_code == 404


async def test_rewrite_for_a_platform_fits_its_limit(client: Any, auth_headers: dict[str, str]) -> None:
    text = " ".join(f"Sentence number {i} about our sourdough and the morning bake." for i in range(20))
    draft = await create_content(client, auth_headers, text=text)
    resp = await client.post(
        f"{API}/content/{draft['id']}/rewrite",
        headers=auth_headers,
        json={"operation": "platform", "platform": "bluesky"},
    )
    content = resp.json()["data"]["content"]
    assert networks.length(content["text"], "bluesky") <= 300 and content["platforms"] == ["bluesky"]


async def test_score_ranks_the_bakers_voice_above_a_memo(client: Any, auth_headers: dict[str, str]) -> None:
    await bakery(client, auth_headers)
    mine = "We bake rye on Friday. Come early, it goes fast 🥖 #bakery"
    memo = (
        "Pursuant to organisational requirements, stakeholders should familiarise themselves with the "
        "comprehensive quarterly documentation regarding procurement methodologies and compliance "
        "obligations."
    )
    ours = (
        await client.post(
            f"{API}/voice/score", headers=auth_headers, json={"text": mine, "platform": "twitter"}
        )
    ).json()["data"]
    theirs = (await client.post(f"{API}/voice/score", headers=auth_headers, json={"text": memo})).json()[
        "data"
    ]
    assert ours["score"] > theirs["score"] + 20
    assert ours["length"] == networks.length(mine, "twitter") and ours["fits"] is True
    features = {d["feature"]: d for d in theirs["differences"]}
    assert {"sentence_length", "formality", "topics"} <= set(features)
    assert features["formality"]["note"] == "more formal than you write"


# --------------------------------------------------------------------------- with a language model


def _use_model(app: Any, make_settings: Any, server: OpenAIServer) -> LanguageModel:
    llm = LanguageModel(
        make_settings(ai_base_url=server.base_url, ai_model="tiny", ai_api_key="sk-1"),
        engine=app.state.sa_config.get_engine,
    )
    app.state.llm = llm
    return llm


async def test_generate_with_a_model_sends_style_card_and_exemplars(
    client: Any, app: Any, auth_headers: dict[str, str], make_settings: Any, openai_server: OpenAIServer
) -> None:
    await bakery(client, auth_headers)
    llm = _use_model(app, make_settings, openai_server)
    too_long = "Rye is back! " * 40
    openai_server.script(
        json.dumps(
            {
                "variants": [
                    {"platform": "twitter", "text": too_long},
                    {"platform": "mastodon", "text": "Rye is back on Friday 🥖 #bakery"},
                ]
            }
        )
    )
    body = {
        "brief": "rye returns on Friday",
        "platforms": ["twitter", "mastodon"],
        "tone": "friendly",
        "length": "short",
    }
    resp = await client.post(f"{API}/content/generate", headers=auth_headers, json=body)
    assert resp.status_code == 201, resp.text
    result = resp.json()["data"]
    assert result["engine"] == "tiny"
    twitter, mastodon = result["drafts"]
    assert twitter["length"] <= 280 and twitter["content"]["text"].startswith("Rye is back!")
    assert mastodon["content"]["text"] == "Rye is back on Friday 🥖 #bakery"

    [request] = openai_server.chat_requests
    messages = request.body["messages"]
    assert messages[0]["role"] == "system" and "Style card:" in messages[0]["content"]
    assert "first person plural (we)" in messages[0]["content"] and "#bakery" in messages[0]["content"]
    shots = [m["content"] for m in messages[1:-1] if m["role"] == "assistant"]
    assert len(shots) == 3 and all(s in BAKERY for s in shots)
    assert any("rye" in s.lower() for s in shots)  # exemplars chosen by relevance to the brief
    assert (
        "Brief: rye returns on Friday" in messages[-1]["content"]
        and "twitter (max 280)" in messages[-1]["content"]
    )
    assert request.body["response_format"]["json_schema"]["name"] == "variants"
    await llm.close()


async def test_a_model_that_is_down_is_503_and_stores_nothing(
    client: Any, app: Any, auth_headers: dict[str, str], make_settings: Any, openai_server: OpenAIServer
) -> None:
    llm = _use_model(app, make_settings, openai_server)
    openai_server.script(*(Reply(status=502, headers={"retry-after-ms": "5"}) for _ in range(3)))
    resp = await client.post(
        f"{API}/content/generate",
        headers=auth_headers,
        json={"brief": "bread news", "platforms": ["twitter"]},
    )
    assert resp.status_code == 503 and resp.headers["retry-after"]
    assert resp.json()["error"]["code"] == "MODEL_UNAVAILABLE"
    assert (await client.get(f"{API}/content", headers=auth_headers)).json()["meta"]["total"] == 0
    await llm.close()


async def test_rewrite_with_a_model(
    client: Any, app: Any, auth_headers: dict[str, str], make_settings: Any, openai_server: OpenAIServer
) -> None:
    draft = await create_content(
        client, auth_headers, text="Our rye is back this Friday, come and try a slice."
    )
    llm = _use_model(app, make_settings, openai_server)
    openai_server.script(json.dumps({"text": "Rye's back Friday."}))
    resp = await client.post(
        f"{API}/content/{draft['id']}/rewrite", headers=auth_headers, json={"operation": "shorter"}
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert (
        data["engine"] == "tiny"
        and data["content"]["text"] == "Rye's back Friday."
        and data["content"]["version"] == 2
    )
    ask = openai_server.chat_requests[0].body["messages"][-1]["content"]
    assert ask.startswith("Make it noticeably shorter") and draft["text"] in ask
    await llm.close()
