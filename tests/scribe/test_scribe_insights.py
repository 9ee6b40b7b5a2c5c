"""A transcript's summary and translations: offline (an extractive summary, labelled so; no translation
without a model: 503) and through a real OpenAI-compatible server; stored beside the transcript and
carried into its exports."""

from __future__ import annotations

import io
import json
from typing import Any

import docx
import pypdf
import pysrt

from fixtures.openai_server import OpenAIServer, Reply
from keel.core.llm import LanguageModel
from scribe.seeding import seed_transcript

API = "/api/v1/scribe"
TALK = [
    (0.5, 4.0, "Welcome to the planning meeting."),
    (4.5, 8.0, "The budget for the next quarter is the first topic."),
    (8.5, 12.0, "Marketing asked for a bigger budget this quarter."),
    (12.5, 16.0, "The weather was nice on Monday."),
    (16.5, 20.0, "We agreed the budget stays as it is for the next quarter."),
    (20.5, 24.0, "Please send the minutes tomorrow."),
]
GERMAN = [
    "Willkommen zur Planungssitzung.",
    "Das Budget für das nächste Quartal ist das erste Thema.",
    "Das Marketing bat um ein größeres Budget in diesem Quartal.",
    "Am Montag war das Wetter schön.",
    "Wir haben vereinbart, dass das Budget für das nächste Quartal bleibt.",
    "Bitte schicken Sie morgen das Protokoll.",
]


def use_model(app: Any, make_settings: Any, server: OpenAIServer) -> LanguageModel:
    llm = LanguageModel(
        make_settings(ai_base_url=server.base_url, ai_model="tiny", ai_api_key="sk-1", ai_max_retries=0),
        engine=app.state.sa_config.get_engine,
    )
    app.state.llm = llm
    return llm


async def export(client: Any, h: dict[str, str], tid: str, fmt: str, **params: Any) -> Any:
    resp = await client.get(f"{API}/export/{tid}", headers=h, params={"format": fmt, **params})
    assert resp.status_code == 200, resp.text
    return resp


async def test_without_a_model_the_summary_is_extractive_and_translation_is_503(
    client: Any, user_factory: Any, settings: Any
) -> None:
    user = await user_factory()
    h = user.headers
    tid = await seed_transcript(settings, user.id, TALK, title="Planning")
    assert (await client.get(f"{API}/transcriptions/{tid}/summary", headers=h)).status_code == 404

    resp = await client.post(f"{API}/transcriptions/{tid}/summary", headers=h)
    assert resp.status_code == 201, resp.text
    summary = resp.json()["data"]
    assert summary["engine"] == "extractive" and summary["outdated"] is False
    sentences = [t for _, _, t in TALK]
    picked = [s for s in sentences if s in summary["text"]]
    assert picked and summary["text"] == " ".join(picked)  # whole sentences of the transcript, in order
    assert "budget" in summary["text"] and "The weather was nice on Monday." not in summary["text"]
    assert len(picked) < len(sentences)

    txt = (await export(client, h, tid, "txt")).text
    assert txt.startswith("Summary (extractive)") and txt.index(summary["text"]) < txt.index("Transcript")
    assert summary["text"] not in (await export(client, h, tid, "txt", summary="false")).text
    doc = json.loads((await export(client, h, tid, "json")).content)
    assert doc["summary"] == {"text": summary["text"], "engine": "extractive"}
    body = "\n".join(
        p.text for p in docx.Document(io.BytesIO((await export(client, h, tid, "docx")).content)).paragraphs
    )
    assert "Summary (extractive)" in body
    pdf = pypdf.PdfReader(io.BytesIO((await export(client, h, tid, "pdf")).content))
    assert "Summary (extractive)" in "".join(page.extract_text() for page in pdf.pages)

    edit = {"segments": [{"index": 3, "text": "The weather was cold on Monday."}]}
    assert (await client.put(f"{API}/transcriptions/{tid}", headers=h, json=edit)).status_code == 200
    assert (await client.get(f"{API}/transcriptions/{tid}/summary", headers=h)).json()["data"][
        "outdated"
    ] is True

    refused = await client.post(
        f"{API}/transcriptions/{tid}/translations", headers=h, json={"language": "de"}
    )
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "MODEL_UNAVAILABLE" and int(refused.headers["retry-after"]) > 0
    assert "AI_BASE_URL" in refused.json()["error"]["message"]
    assert (await client.get(f"{API}/transcriptions/{tid}/translations", headers=h)).json()["meta"][
        "total"
    ] == 0
    missing = await client.get(
        f"{API}/export/{tid}", headers=h, params={"format": "srt", "translation": "de"}
    )
    assert missing.status_code == 404


async def test_summary_and_translation_through_a_model_are_stored_and_exported(
    client: Any, app: Any, user_factory: Any, settings: Any, make_settings: Any, openai_server: OpenAIServer
) -> None:
    user = await user_factory()
    h = user.headers
    tid = await seed_transcript(settings, user.id, TALK, title="Planning")
    llm = use_model(app, make_settings, openai_server)
    try:
        openai_server.script(Reply(text="The team kept the budget for next quarter."))
        resp = await client.post(f"{API}/transcriptions/{tid}/summary", headers=h)
        assert resp.status_code == 201, resp.text
        assert resp.json()["data"]["engine"] == "tiny"
        assert resp.json()["data"]["text"] == "The team kept the budget for next quarter."
        [asked] = openai_server.chat_requests
        assert "Marketing asked for a bigger budget" in asked.body["messages"][-1]["content"]

        bad = await client.post(
            f"{API}/transcriptions/{tid}/translations", headers=h, json={"language": "xx"}
        )
        assert bad.status_code == 400 and "language" in bad.json()["error"]["details"]
        openai_server.script(Reply(text=json.dumps({"segments": GERMAN})))
        resp = await client.post(
            f"{API}/transcriptions/{tid}/translations", headers=h, json={"language": "de"}
        )
        assert resp.status_code == 201, resp.text
        translation = resp.json()["data"]
        assert translation["segments"] == GERMAN and translation["engine"] == "tiny"
        assert translation["language"] == "de" and translation["text"].startswith("Willkommen")
        sent = openai_server.chat_requests[-1].body
        assert "German" in sent["messages"][0]["content"]
        assert json.loads(sent["messages"][-1]["content"])["segments"] == [t for _, _, t in TALK]
        listed = (await client.get(f"{API}/transcriptions/{tid}/translations", headers=h)).json()
        assert listed["meta"]["total"] == 1 and listed["data"][0]["segments"] == GERMAN

        srt = pysrt.from_string((await export(client, h, tid, "srt", translation="de")).text)
        assert [c.text.replace("\n", " ") for c in srt] == GERMAN  # subtitle lines wrap at 42 characters
        assert [round(c.start.ordinal / 1000, 1) for c in srt] == [
            s for s, _, _ in TALK
        ]  # the original times
        txt = await export(client, h, tid, "txt", translation="de")
        assert 'filename="Planning.de.txt"' in txt.headers["content-disposition"]
        assert (
            txt.text.startswith("Summary (tiny)") and "Bitte schicken Sie morgen das Protokoll." in txt.text
        )

        # a model that is down: 503 with Retry-After, and what was stored stays
        openai_server.script(Reply(status=503, headers={"retry-after": "7"}))
        down = await client.post(f"{API}/transcriptions/{tid}/summary", headers=h)
        assert down.status_code == 503 and down.headers["retry-after"] == "7"
        kept = (await client.get(f"{API}/transcriptions/{tid}/summary", headers=h)).json()["data"]
        assert kept["text"] == "The team kept the budget for next quarter."

        # after a split the stored translation no longer lines up: export says so instead of guessing
        split = await client.post(
            f"{API}/transcriptions/{tid}/segments/1/split", headers=h, json={"word_index": 3}
        )
        assert split.status_code == 200, split.text
        stale = await client.get(
            f"{API}/export/{tid}", headers=h, params={"format": "srt", "translation": "de"}
        )
        assert stale.status_code == 409
    finally:
        await llm.close()
