"""Batch upload: several files in one multipart request, each its own transcription; all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scribe.test_scribe_api import API, EXPECTED, storage_files, wait_final

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(make_settings: Any) -> Any:
    # room for three files a request, and one minute of audio a day (the three clips use ~14 s of it)
    return make_settings(jobs_poll_interval=0.2, scribe_max_batch_files=3, scribe_max_minutes_per_day=1)


def form(*paths: Path, names: list[str] | None = None) -> list[tuple[str, tuple[str, bytes, str]]]:
    names = names or [p.name for p in paths]
    return [
        ("file", (name, p.read_bytes(), "application/octet-stream"))
        for name, p in zip(names, paths, strict=True)
    ]


async def totals(client: Any, h: dict[str, str]) -> tuple[int, int]:
    files = (await client.get(f"{API}/files", headers=h)).json()["meta"]["total"]
    jobs = (await client.get(f"{API}/transcriptions", headers=h)).json()["meta"]["total"]
    return files, jobs


async def test_a_batch_queues_one_transcription_per_file_or_stores_nothing(
    client: Any, user_factory: Any, settings: Any, speech_dir: Path, long_speech: Path, tmp_path: Path
) -> None:
    user = await user_factory()
    h = user.headers
    clips = [speech_dir / "speech.wav", speech_dir / "speech.ogg", speech_dir / "speech.mp3"]
    resp = await client.post(
        f"{API}/transcriptions/batch",
        headers=h,
        files=form(*clips, names=["Monday standup.wav", "call.ogg", "notes.mp3"]),
        data={"language": "en", "word_timestamps": "true"},
    )
    assert resp.status_code == 202, resp.text
    jobs = resp.json()["data"]
    assert [j["title"] for j in jobs] == ["Monday standup", "call", "notes"]
    assert all(j["status"] == "queued" and j["language"] == "en" for j in jobs)
    assert len({j["file_id"] for j in jobs}) == 3
    for job in jobs:
        done = await wait_final(client, h, job["id"])
        assert done["status"] == "completed", done
        assert len({w.lower().strip(".,") for w in done["text"].split()} & EXPECTED) >= 6, done["text"]
    assert await totals(client, h) == (3, 3)
    stored = len(storage_files(settings, user.id))

    # one file that is not audio: the whole batch is refused, naming it, and nothing is kept
    text = tmp_path / "agenda.mp3"
    text.write_text("not audio, only text that says it is an mp3\n" * 20)
    refused = await client.post(
        f"{API}/transcriptions/batch", headers=h, files=form(clips[0], clips[1], text)
    )
    assert refused.status_code == 415, refused.text
    error = refused.json()["error"]
    assert "files[2]" in error["details"] and "agenda.mp3" in error["details"]["files[2]"]
    assert "File 3" in error["message"]

    too_many = await client.post(f"{API}/transcriptions/batch", headers=h, files=form(*clips, clips[0]))
    assert too_many.status_code == 400 and "file" in too_many.json()["error"]["details"]
    titled = await client.post(
        f"{API}/transcriptions/batch", headers=h, files=form(clips[0]), data={"title": "x"}
    )
    assert titled.status_code == 400 and "title" in titled.json()["error"]["details"]
    german = await client.post(
        f"{API}/transcriptions/batch", headers=h, files=form(clips[0]), data={"language": "de"}
    )
    assert german.status_code == 422 and "language" in german.json()["error"]["details"]
    empty = await client.post(f"{API}/transcriptions/batch", headers=h, data={"language": "en"}, files=[])
    assert empty.status_code in (400, 415)

    # ~14 s used: the long clip and two short ones (~49 s) would pass the minute a day, together
    over = await client.post(f"{API}/transcriptions/batch", headers=h, files=form(long_speech, *clips[:2]))
    assert over.status_code == 429, over.text
    assert "These 3 files" in over.json()["error"]["message"] and over.headers["retry-after"]

    assert await totals(client, h) == (3, 3)
    assert len(storage_files(settings, user.id)) == stored
