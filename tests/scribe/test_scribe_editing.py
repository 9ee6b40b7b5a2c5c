"""Editing a finished transcript the way TurboScribe users do: texts (word timings survive), segment
times (validated), split, merge, revisions; and full-text search across my transcripts."""

from __future__ import annotations

from typing import Any

import pytest

from scribe.seeding import seed_transcript

API = "/api/v1/scribe"
MEETING = [
    (0.5, 3.5, "hello world this is a test"),
    (4.0, 7.0, "the budget for next quarter"),
    (7.5, 10.5, "please send the minutes tomorrow"),
]


async def transcript(client: Any, h: dict[str, str], tid: str) -> dict[str, Any]:
    resp = await client.get(f"{API}/transcriptions/{tid}", headers=h)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


def assert_words_sane(segment: dict[str, Any]) -> None:
    """Every word inside its segment, ordered, one timed word per token of the text."""
    words = segment["words"]
    assert [w["word"] for w in words] == segment["text"].split(), segment
    cursor = segment["start"]
    for word in words:
        assert set(word) == {"start", "end", "word", "probability"}, word  # a typed word, not a row
        assert cursor - 1e-6 <= word["start"] <= word["end"] <= segment["end"] + 1e-6, segment
        cursor = word["end"]


def span(word: dict[str, Any]) -> tuple[float, float]:
    return word["start"], word["end"]


async def test_a_text_edit_keeps_the_timings_of_unchanged_words(
    client: Any, user_factory: Any, settings: Any
) -> None:
    user = await user_factory()
    tid = await seed_transcript(settings, user.id, MEETING)
    before = (await transcript(client, user.headers, tid))["segments"][0]
    kept = {w["word"]: w for w in before["words"]}

    resp = await client.put(
        f"{API}/transcriptions/{tid}",
        headers=user.headers,
        json={"segments": [{"index": 0, "text": "Hello world, this was a test today"}], "revision": 0},
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    seg = data["segments"][0]
    assert seg["text"] == "Hello world, this was a test today" and data["revision"] == 1
    assert_words_sane(seg)
    by_word = {w["word"]: w for w in seg["words"]}
    for word in ("this", "a"):  # unchanged: same timing and the model's probability
        assert by_word[word] == kept[word]
    assert (
        span(by_word["Hello"]) == span(kept["hello"]) and by_word["Hello"]["probability"] is None
    )  # re-cased: timing kept
    assert span(by_word["world,"]) == span(kept["world"])
    assert (
        kept["is"]["start"] <= by_word["was"]["start"] < by_word["was"]["end"] <= kept["is"]["end"]
    )  # in the replaced word's time
    # a new last word where the segment had no time left: it shares the time of the word before it
    assert by_word["test"]["start"] == kept["test"]["start"] and by_word["test"]["probability"] == 0.9
    assert by_word["test"]["end"] <= by_word["today"]["start"] < by_word["today"]["end"] == seg["end"]
    assert data["text"].startswith("Hello world, this was a test today the budget")

    # an edit made on an older revision is refused and changes nothing
    stale = await client.put(
        f"{API}/transcriptions/{tid}",
        headers=user.headers,
        json={"segments": [{"index": 0, "text": "overwritten"}], "revision": 0},
    )
    assert stale.status_code == 409 and stale.json()["error"]["details"]["revision"] == 1
    assert (await transcript(client, user.headers, tid))["segments"][0]["text"].startswith("Hello world,")


async def test_segment_times_are_validated_and_words_follow(
    client: Any, user_factory: Any, settings: Any
) -> None:
    user = await user_factory()
    h = user.headers
    tid = await seed_transcript(settings, user.id, MEETING, duration=11.0)
    url = f"{API}/transcriptions/{tid}/segments/1"
    for body, field in (
        ({"start": 3.0}, "segments[1].start"),  # overlaps segment 0 (ends 3.5)
        ({"end": 8.0}, "segments[1].end"),  # overlaps segment 2 (starts 7.5)
        ({"start": 6.0, "end": 5.0}, "segments[1].end"),  # out of order
    ):
        resp = await client.patch(url, headers=h, json=body)
        assert resp.status_code == 422, resp.text
        assert field in resp.json()["error"]["details"], resp.json()
    past = await client.patch(f"{API}/transcriptions/{tid}/segments/2", headers=h, json={"end": 12.0})
    assert past.status_code == 422 and "within the audio" in str(past.json()["error"]["details"])
    assert (await client.patch(url, headers=h, json={"start": -1})).status_code == 400
    assert (
        await client.patch(f"{API}/transcriptions/{tid}/segments/9", headers=h, json={"end": 1})
    ).status_code == 404
    unchanged = await transcript(client, h, tid)
    assert unchanged["revision"] == 0 and unchanged["segments"][1]["start"] == 4.0

    # shrinking the segment: its words are fitted into the new bounds, in order, none lost
    resp = await client.patch(url, headers=h, json={"start": 4.5, "end": 6.5, "speaker": "S2"})
    assert resp.status_code == 200, resp.text
    seg = resp.json()["data"]["segments"][1]
    assert (seg["start"], seg["end"], seg["speaker"]) == (4.5, 6.5, "S2")
    assert_words_sane(seg)
    assert seg["words"][0]["start"] == 4.5 and seg["words"][-1]["end"] == 6.5
    # widening it up to the neighbours: the words keep their times
    resp = await client.patch(url, headers=h, json={"start": 3.5, "end": 7.5, "revision": 1})
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["segments"][1]["words"] == seg["words"]


async def test_split_at_a_word_and_at_a_time_then_merge(
    client: Any, user_factory: Any, settings: Any
) -> None:
    user = await user_factory()
    h = user.headers
    tid = await seed_transcript(settings, user.id, MEETING)
    original = await transcript(client, h, tid)
    words = original["segments"][0]["words"]

    resp = await client.post(
        f"{API}/transcriptions/{tid}/segments/0/split", headers=h, json={"word_index": 2}
    )
    assert resp.status_code == 200, resp.text
    segs = resp.json()["data"]["segments"]
    assert [s["index"] for s in segs] == [0, 1, 2, 3]
    assert [s["text"] for s in segs[:2]] == ["hello world", "this is a test"]
    assert segs[0]["end"] == segs[1]["start"] == words[2]["start"]
    assert segs[0]["words"] + segs[1]["words"] == words  # every word kept, with its timing
    for seg in segs:
        assert_words_sane(seg)

    at = (
        words[4]["start"] + words[4]["end"]
    ) / 2 + 0.01  # just past the middle of "a": "a" stays in the first part
    resp = await client.post(f"{API}/transcriptions/{tid}/segments/1/split", headers=h, json={"time": at})
    assert resp.status_code == 200, resp.text
    segs = resp.json()["data"]["segments"]
    assert [s["text"] for s in segs[1:3]] == ["this is a", "test"] and segs[1]["end"] == pytest.approx(at)
    assert resp.json()["data"]["revision"] == 2

    for body in ({}, {"word_index": 1, "time": 1.0}, {"word_index": 3}, {"time": 0.1}):
        bad = await client.post(f"{API}/transcriptions/{tid}/segments/2/split", headers=h, json=body)
        assert bad.status_code in (400, 422), (body, bad.text)

    resp = await client.post(f"{API}/transcriptions/{tid}/segments/1/merge", headers=h, json={})
    assert resp.status_code == 200, resp.text
    resp = await client.post(f"{API}/transcriptions/{tid}/segments/0/merge", headers=h, json={"revision": 3})
    assert resp.status_code == 200, resp.text
    merged = resp.json()["data"]
    assert [s["text"] for s in merged["segments"]] == [t for _, _, t in MEETING]

    def without_end(ws: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(w["start"], w["word"], w["probability"]) for w in ws]

    assert without_end(merged["segments"][0]["words"]) == without_end(words)
    assert_words_sane(merged["segments"][0])
    assert merged["revision"] == 4
    last = await client.post(f"{API}/transcriptions/{tid}/segments/2/merge", headers=h, json={})
    assert last.status_code == 422

    srt = await client.get(f"{API}/export/{tid}", headers=h, params={"format": "srt"})
    assert srt.status_code == 200 and "hello world this is a test" in srt.text


async def test_search_finds_my_segments_only_with_their_times(
    client: Any, user_factory: Any, settings: Any
) -> None:
    alice, bob = await user_factory(), await user_factory()
    mine = await seed_transcript(settings, alice.id, MEETING, title="Planning")
    other = await seed_transcript(settings, alice.id, [(1.0, 4.0, "the budget was approved")], title="Board")
    await seed_transcript(settings, bob.id, [(0.0, 2.0, "bob talks about the budget too")], title="Bob's")

    found = await client.get(f"{API}/search", headers=alice.headers, params={"q": "BUDGET"})
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["meta"]["total"] == 2
    hits = {(h["transcription_id"], h["segment_index"]): h for h in body["data"]}
    assert set(hits) == {(mine, 1), (other, 0)}
    assert hits[(mine, 1)]["start"] == 4.0 and hits[(mine, 1)]["end"] == 7.0
    assert hits[(mine, 1)]["text"] == "the budget for next quarter" and hits[(mine, 1)]["title"] == "Planning"

    page = await client.get(f"{API}/search", headers=alice.headers, params={"q": "budget", "limit": 1})
    assert page.json()["meta"]["total"] == 2 and len(page.json()["data"]) == 1
    prefix = await client.get(f"{API}/search", headers=alice.headers, params={"q": "quart budg"})
    assert [(h["transcription_id"], h["segment_index"]) for h in prefix.json()["data"]] == [(mine, 1)]
    theirs = await client.get(f"{API}/search", headers=bob.headers, params={"q": "budget"})
    assert theirs.json()["meta"]["total"] == 1 and theirs.json()["data"][0]["title"] == "Bob's"
    for hostile in ('"', "budget*", "NEAR(budget", "a OR", "-budget", "^_^"):
        resp = await client.get(f"{API}/search", headers=alice.headers, params={"q": hostile})
        assert resp.status_code in (200, 400), (hostile, resp.text)

    # the index follows edits and deletions
    edit = {"segments": [{"index": 1, "text": "the forecast for next quarter"}]}
    assert (
        await client.put(f"{API}/transcriptions/{mine}", headers=alice.headers, json=edit)
    ).status_code == 200
    after = await client.get(f"{API}/search", headers=alice.headers, params={"q": "budget"})
    assert [h["transcription_id"] for h in after.json()["data"]] == [other]
    forecast = await client.get(f"{API}/search", headers=alice.headers, params={"q": "forecast"})
    assert forecast.json()["meta"]["total"] == 1
    assert (await client.delete(f"{API}/transcriptions/{other}", headers=alice.headers)).status_code == 204
    assert (await client.get(f"{API}/search", headers=alice.headers, params={"q": "budget"})).json()["meta"][
        "total"
    ] == 0
    empty = await client.get(f"{API}/search", headers=alice.headers, params={"q": "!!"})
    assert empty.status_code == 400 and "q" in empty.json()["error"]["details"]


async def test_another_user_cannot_edit_or_find_my_transcript(
    client: Any, user_factory: Any, settings: Any
) -> None:
    alice, bob = await user_factory(), await user_factory()
    tid = await seed_transcript(settings, alice.id, MEETING)
    b = bob.headers
    for method, url, body in (
        ("PATCH", f"/transcriptions/{tid}/segments/0", {"text": "mine now"}),
        ("POST", f"/transcriptions/{tid}/segments/0/split", {"word_index": 1}),
        ("POST", f"/transcriptions/{tid}/segments/0/merge", {}),
        ("PUT", f"/transcriptions/{tid}", {"segments": [{"index": 0, "text": "x"}]}),
        ("POST", f"/transcriptions/{tid}/summary", None),
        ("GET", f"/transcriptions/{tid}/summary", None),
        ("POST", f"/transcriptions/{tid}/translations", {"language": "de"}),
        ("GET", f"/transcriptions/{tid}/translations", None),
    ):
        kwargs = {"json": body} if body is not None else {}
        resp = await client.request(method, f"{API}{url}", headers=b, **kwargs)
        assert resp.status_code == 404, (method, url, resp.status_code, resp.text)
    assert (await client.get(f"{API}/search", headers=b, params={"q": "hello"})).json()["meta"]["total"] == 0
    assert (await transcript(client, alice.headers, tid))["segments"][0]["text"] == MEETING[0][2]
