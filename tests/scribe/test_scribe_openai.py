"""The OpenAI-compatible endpoints through the official `openai` SDK against a real uvicorn server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core_platform_helpers import free_port, wait_for_health

pytestmark = pytest.mark.slow

CONTENT_WORDS = {"world", "this", "test", "transcription", "service"}


def words_of(text: str) -> set[str]:
    return {"".join(c for c in w.lower() if c.isalnum()) for w in text.split()}


@pytest.fixture
def server(make_settings: Any, tmp_path: Path) -> Iterator[str]:
    settings = make_settings()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        KEEL_ENV="test",
        KEEL_APPS="scribe",
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url or "",
        STORAGE_URL=f"file://{tmp_path / 'storage'}",
        JWT_SECRET="test-only-secret-that-is-long-enough-0123456789",  # noqa: S106
        LOG_LEVEL="WARNING",
        SCRIBE_MAX_UPLOAD_SIZE="150000",  # speech.wav (~200 KB) is refused, the compressed clips are not
        SCRIBE_MAX_CONCURRENT_JOBS="3",
        RATE_LIMIT_MAX="100000",
    )
    command = [sys.executable, "-m", "uvicorn", "keel.asgi:app", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    try:
        wait_for_health(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_openai_sdk_every_format_errors_and_stored_transcriptions(
    server: str, speech_dir: Path, tmp_path: Path
) -> None:
    import openai
    import pysrt

    account = {"email": "sdk@example.com", "password": "Sdk-password-0001-long", "name": "S"}
    registered = httpx.post(f"{server}/api/v1/auth/register", json=account, timeout=30)
    assert registered.status_code == 201, registered.text
    token = registered.json()["data"]["access_token"]
    base_url = f"{server}/api/v1/scribe/v1"
    client = openai.OpenAI(base_url=base_url, api_key=token, max_retries=0, timeout=180)
    clip = speech_dir / "speech.mp3"
    assert clip.stat().st_size < 150_000

    models = {m.id for m in client.models.list()}
    assert {"whisper-1", "whisper"} <= models

    with clip.open("rb") as fh:
        plain = client.audio.transcriptions.create(model="whisper-1", file=fh, language="en")
    assert len(words_of(plain.text) & CONTENT_WORDS) >= 4, plain.text

    with clip.open("rb") as fh:
        text = client.audio.transcriptions.create(model="whisper-1", file=fh, response_format="text")
    assert isinstance(text, str) and len(words_of(text) & CONTENT_WORDS) >= 4, text

    with clip.open("rb") as fh:
        srt = client.audio.transcriptions.create(model="whisper", file=fh, response_format="srt")
    cues = pysrt.from_string(srt)
    assert cues and all(c.start.ordinal < c.end.ordinal for c in cues)
    assert "transcription" in " ".join(c.text for c in cues).lower()

    with clip.open("rb") as fh:
        vtt = client.audio.transcriptions.create(model="whisper-1", file=fh, response_format="vtt")
    assert vtt.startswith("WEBVTT") and "-->" in vtt and "transcription" in vtt.lower()

    with clip.open("rb") as fh:
        raw = client.audio.transcriptions.with_raw_response.create(
            model="whisper-1",
            file=fh,
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
            prompt="Transcription service test.",
            temperature=0.0,
        )
    verbose = raw.parse()
    duration = verbose.duration
    assert verbose.language == "english" and 4.0 < duration < 5.5
    assert verbose.segments and verbose.words
    assert [w.start for w in verbose.words] == sorted(w.start for w in verbose.words)
    assert all(0 <= w.start <= w.end <= duration + 0.05 for w in verbose.words)
    for seg in verbose.segments:
        inside = [w for w in verbose.words if seg.start - 0.01 <= w.start < seg.end]
        assert all(w.end <= seg.end + 0.01 for w in inside)
    assert len(words_of(" ".join(w.word for w in verbose.words)) & CONTENT_WORDS) >= 4

    # every call is a transcription of the caller's, to open, edit and export later
    tid = raw.headers["x-transcription-id"]
    h = {"Authorization": f"Bearer {token}"}
    stored = httpx.get(f"{server}/api/v1/scribe/transcriptions/{tid}", headers=h, timeout=30).json()["data"]
    assert stored["status"] == "completed" and stored["text"] == verbose.text
    assert stored["segments"][0]["words"]  # word timings were asked for
    export = httpx.get(
        f"{server}/api/v1/scribe/export/{tid}", headers=h, params={"format": "txt"}, timeout=30
    )
    assert export.status_code == 200 and "transcription" in export.text.lower()
    listed = httpx.get(f"{server}/api/v1/scribe/transcriptions", headers=h, timeout=30).json()
    assert listed["meta"]["total"] == 5

    # errors arrive as the SDK's error classes, parsed from OpenAI's error shape
    with pytest.raises(openai.AuthenticationError) as unauthorized, clip.open("rb") as fh:
        openai.OpenAI(base_url=base_url, api_key="not-a-token", max_retries=0).audio.transcriptions.create(
            model="whisper-1", file=fh
        )
    assert unauthorized.value.status_code == 401 and unauthorized.value.code == "invalid_api_key"

    with pytest.raises(openai.APIStatusError) as too_large, (speech_dir / "speech.wav").open("rb") as fh:
        client.audio.transcriptions.create(model="whisper-1", file=fh)
    assert too_large.value.status_code == 413 and too_large.value.code == "file_too_large"

    notes = tmp_path / "notes.mp3"
    notes.write_text("plain text that pretends to be an mp3\n" * 20)
    with pytest.raises(openai.APIStatusError) as unsupported, notes.open("rb") as fh:
        client.audio.transcriptions.create(model="whisper-1", file=fh)
    assert unsupported.value.status_code == 415 and unsupported.value.code == "unsupported_file_type"
    assert "audio" in unsupported.value.message

    with pytest.raises(openai.UnprocessableEntityError) as german, clip.open("rb") as fh:
        client.audio.transcriptions.create(model="whisper-1", file=fh, language="de")
    assert "WHISPER_MODEL_DIR" in german.value.message and german.value.param == "language"

    with pytest.raises(openai.BadRequestError) as bad_format, clip.open("rb") as fh:
        client.audio.transcriptions.create(model="whisper-1", file=fh, response_format="mp3")  # type: ignore[arg-type]
    assert bad_format.value.param == "response_format"

    # nothing stored for the refused calls
    listed = httpx.get(f"{server}/api/v1/scribe/transcriptions", headers=h, timeout=30).json()
    files = httpx.get(f"{server}/api/v1/scribe/files", headers=h, timeout=30).json()
    assert listed["meta"]["total"] == 5 and files["meta"]["total"] == 5


def test_openai_sdk_with_a_personal_api_key(server: str, speech_dir: Path) -> None:
    """A long-lived personal API key (not a 15-minute JWT) is what such clients are given: the SDK works
    with it, the call is stored for the key's owner, and a revoked key is the SDK's AuthenticationError."""
    import openai

    account = {"email": "keyed@example.com", "password": "Keyed-password-0001-long", "name": "K"}
    registered = httpx.post(f"{server}/api/v1/auth/register", json=account, timeout=30)
    assert registered.status_code == 201, registered.text
    h = {"Authorization": f"Bearer {registered.json()['data']['access_token']}"}
    created = httpx.post(
        f"{server}/api/v1/users/me/api-keys/",
        headers=h,
        json={"name": "dictation app", "scopes": ["*"]},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    key = created.json()["data"]
    assert key["secret"].startswith("keel_")  # an API key, not a JWT

    base_url = f"{server}/api/v1/scribe/v1"
    client = openai.OpenAI(base_url=base_url, api_key=key["secret"], max_retries=0, timeout=180)
    assert "whisper-1" in {m.id for m in client.models.list()}
    with (speech_dir / "speech.mp3").open("rb") as fh:
        raw = client.audio.transcriptions.with_raw_response.create(model="whisper-1", file=fh, language="en")
    assert len(words_of(raw.parse().text) & CONTENT_WORDS) >= 4
    tid = raw.headers["x-transcription-id"]
    mine = httpx.get(f"{server}/api/v1/scribe/transcriptions/{tid}", headers=h, timeout=30)
    assert mine.status_code == 200 and mine.json()["data"]["status"] == "completed"

    revoked = httpx.delete(f"{server}/api/v1/users/me/api-keys/{key['id']}", headers=h, timeout=30)
    assert revoked.status_code == 200, revoked.text
    with pytest.raises(openai.AuthenticationError), (speech_dir / "speech.mp3").open("rb") as fh:
        client.audio.transcriptions.create(model="whisper-1", file=fh)
