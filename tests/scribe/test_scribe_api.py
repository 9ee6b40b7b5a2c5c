"""scribe through the API: real speech (espeak-ng + ffmpeg), uploads, jobs in a worker process, exports."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from litestar import Request, post
from litestar.testing import AsyncTestClient

from keel.app import create_app

pytestmark = pytest.mark.slow

API = "/api/v1/scribe"
EXPECTED = {"hello", "world", "this", "is", "a", "test", "of", "the", "transcription", "service"}


@pytest.fixture
def settings(make_settings: Any, request: pytest.FixtureRequest) -> Any:
    """`@pytest.mark.scribe_settings(**overrides)` changes the app's settings for one test (one app per test:
    two apps in one process would share the process-wide job queue)."""
    marker = request.node.get_closest_marker("scribe_settings")
    return make_settings(jobs_poll_interval=0.2, **(marker.kwargs if marker else {}))


@post("/_test/scribe/requeue", status_code=200)
async def _requeue(request: Request[Any, Any, Any]) -> dict[str, int]:
    """What AppSpec.startup runs when the server starts again (inside the app's own event loop)."""
    from keel.apps.scribe import tasks

    return {"requeued": await tasks.requeue_lost(request.app)}


@post("/_test/scribe/sweep", status_code=200)
async def _sweep() -> dict[str, int]:
    """One run of the periodic `scribe:requeue_unqueued` sweep (inside the app's own event loop)."""
    from keel.apps.scribe import tasks

    return {"requeued": await tasks.requeue_stale_rows(tasks.runtime(), older_than=60)}


@post("/_test/scribe/run/{tid:uuid}", status_code=200)
async def _run_again(tid: uuid.UUID) -> dict[str, str]:
    """A duplicate delivery of a transcription's job."""
    from keel.apps.scribe import tasks

    return {"status": await tasks.run_transcription(tid)}


@pytest.fixture
def app(settings: Any) -> Any:
    return create_app(settings, extra_route_handlers=[_requeue, _sweep, _run_again])


def storage_files(settings: Any, user_id: str) -> list[Path]:
    root = Path(settings.storage_url.removeprefix("file://")) / "scribe" / user_id
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def upload(client: Any, headers: dict[str, str], path: Path, name: str | None = None) -> Any:
    with path.open("rb") as fh:
        return await client.post(
            f"{API}/files/upload",
            headers=headers,
            files={"file": (name or path.name, fh, "application/octet-stream")},
        )


async def wait_final(client: Any, headers: dict[str, str], tid: str, limit: float = 90.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        resp = await client.get(f"{API}/transcriptions/{tid}", headers=headers)
        assert resp.status_code == 200, resp.text
        data = resp.json()["data"]
        if data["status"] in ("completed", "failed", "cancelled"):
            return data
        assert asyncio.get_running_loop().time() < deadline, f"still {data['status']} after {limit}s"
        await asyncio.sleep(0.2)


async def wait_status(
    client: Any, headers: dict[str, str], tid: str, status: str, min_progress: float = 0
) -> None:
    for _ in range(600):
        data = (await client.get(f"{API}/transcriptions/{tid}", headers=headers)).json()["data"]
        if data["status"] == status and data["progress"] >= min_progress:
            return
        assert data["status"] not in ("completed", "failed", "cancelled"), data
        await asyncio.sleep(0.1)
    raise AssertionError(f"never {status}")


def check_transcript(data: dict[str, Any], duration: float) -> None:
    assert data["status"] == "completed", data
    assert data["progress"] == 100 and data["error"] is None
    words = {w.lower().strip(".,!?") for w in data["text"].split()}
    assert len(words & EXPECTED) >= 6, data["text"]
    segments = data["segments"]
    assert segments and [s["index"] for s in segments] == list(range(len(segments)))
    previous = 0.0
    for seg in segments:
        assert previous - 0.01 <= seg["start"] < seg["end"] <= duration + 0.1, seg
        previous = seg["start"]
        for word in seg["words"]:
            assert seg["start"] - 0.01 <= word["start"] < word["end"] <= seg["end"] + 0.01
    assert segments[0]["start"] >= 0.1  # the clip starts with 0.5 s of silence (VAD pads speech 0.4 s)


@pytest.mark.scribe_settings(scribe_max_concurrent_jobs=3)
async def test_upload_formats_and_transcribe_each(client: Any, user_factory: Any, speech_dir: Path) -> None:
    user = await user_factory()
    h = user.headers
    engines = (await client.get(f"{API}/engines", headers=h)).json()["data"]
    whisper = next(e for e in engines if e["name"] == "whisper")  # the bundled model, nothing configured
    assert whisper["ready"] and whisper["default"] and whisper["model"] == "tiny.en"
    assert whisper["languages"] == ["en"] and whisper["detects_language"] is False

    jobs = {}
    for ext, ctype, video in (
        ("wav", "audio/wav", False),
        ("mp3", "audio/mpeg", False),
        ("ogg", "audio/ogg", False),
        ("mp4", "video/mp4", True),
    ):
        path = speech_dir / f"speech.{ext}"
        # the name lies on purpose: the type comes from the content
        resp = await upload(client, h, path, name=f"My recording {ext}.bin")
        assert resp.status_code == 201, resp.text
        file = resp.json()["data"]
        assert file["content_type"] == ctype and file["has_video"] is video
        assert file["size"] == path.stat().st_size and file["channels"] >= 1
        assert 4.0 < file["duration"] < 5.5 and file["audio_codec"]
        if video:
            assert file["video_codec"] == "h264"
        download = await client.get(f"{API}/files/{file['id']}/content", headers=h)
        assert download.status_code == 200 and download.content == path.read_bytes()
        assert download.headers["content-type"].startswith(ctype)
        assert "attachment" in download.headers["content-disposition"]
        if ext == "mp3":
            continue  # transcribed in the upload-and-transcribe test
        resp = await client.post(
            f"{API}/transcriptions",
            headers=h,
            json={"file_id": file["id"], "title": f"Clip {ext}", "language": "en"},
        )
        assert resp.status_code == 202, resp.text
        job = resp.json()["data"]
        assert job["status"] == "queued" and job["engine"] == "whisper" and job["title"] == f"Clip {ext}"
        jobs[job["id"]] = file["duration"]

    for tid, duration in jobs.items():  # three jobs at once on the two worker processes
        data = await wait_final(client, h, tid)
        check_transcript(data, duration)
        assert data["detected_language"] == "en" and data["language_note"] is None
        assert data["started_at"] and data["finished_at"]

    listed = (await client.get(f"{API}/files?limit=2", headers=h)).json()
    assert listed["meta"]["total"] == 4 and len(listed["data"]) == 2
    found = (await client.get(f"{API}/transcriptions", headers=h, params={"q": "TRANSCRIPTION"})).json()
    assert found["meta"]["total"] >= 1
    assert (await client.get(f"{API}/transcriptions", headers=h, params={"q": "zebra crossing"})).json()[
        "meta"
    ]["total"] == 0


async def test_upload_and_transcribe_in_one_request_raw_upload_and_sse(
    client: Any, user_factory: Any, speech_dir: Path, settings: Any
) -> None:
    user = await user_factory()
    h = user.headers
    path = speech_dir / "speech.mp3"
    with path.open("rb") as fh:
        resp = await client.post(
            f"{API}/transcriptions/upload",
            headers=h,
            files={"file": ("talk.mp3", fh, "audio/mpeg")},
            data={"language": "auto", "title": "One shot", "word_timestamps": "false"},
        )
    assert resp.status_code == 202, resp.text
    job = resp.json()["data"]
    assert job["title"] == "One shot" and job["word_timestamps"] is False and job["file_id"]

    events = await client.get(f"{API}/transcriptions/{job['id']}/events", headers=h)
    assert events.status_code == 200 and events.headers["content-type"].startswith("text/event-stream")
    payloads = [json.loads(line[5:]) for line in events.text.splitlines() if line.startswith("data:")]
    assert payloads[-1]["status"] == "completed" and payloads[-1]["progress"] == 100
    progress = [p["progress"] for p in payloads]
    assert progress == sorted(progress)
    assert "English only" in job["language_note"]  # said at once: auto will not detect on tiny.en
    data = await wait_final(client, h, job["id"])
    assert all(s["words"] == [] for s in data["segments"])
    assert len({w.lower().strip(".,") for w in data["text"].split()} & EXPECTED) >= 6, data["text"]
    assert data["detected_language"] is None and "WHISPER_MODEL_DIR" in data["language_note"]

    raw = await client.post(
        f"{API}/files/upload/raw",
        headers=h,
        params={"filename": "../../evil/clip.wav"},
        content=(speech_dir / "speech.wav").read_bytes(),
    )
    assert raw.status_code == 201, raw.text
    assert raw.json()["data"]["filename"] == "clip.wav" and raw.json()["data"]["content_type"] == "audio/wav"
    assert len(storage_files(settings, user.id)) == 2


async def test_edit_keeps_timings_and_every_export_shows_edits(
    client: Any, user_factory: Any, speech_dir: Path
) -> None:
    import docx
    import pypdf
    import pysrt
    import webvtt

    h = (await user_factory()).headers
    file = (await upload(client, h, speech_dir / "speech.wav")).json()["data"]
    job = (await client.post(f"{API}/transcriptions", headers=h, json={"file_id": file["id"]})).json()["data"]
    assert job["title"] == "speech"
    before = await wait_final(client, h, job["id"])
    assert before["status"] == "completed"
    first = before["segments"][0]

    resp = await client.put(
        f"{API}/transcriptions/{job['id']}",
        headers=h,
        json={
            "title": "Weekly meeting",
            "segments": [{"index": 0, "text": "Edited opening words", "speaker": "S1"}],
            "speakers": {"S1": "Alice Example"},
        },
    )
    assert resp.status_code == 200, resp.text
    after = resp.json()["data"]
    seg = after["segments"][0]
    assert seg["text"] == "Edited opening words" and seg["speaker_name"] == "Alice Example"
    assert (seg["start"], seg["end"]) == (first["start"], first["end"])
    assert after["text"].startswith("Edited opening words")
    bad = await client.put(
        f"{API}/transcriptions/{job['id']}", headers=h, json={"segments": [{"index": 99, "text": "x"}]}
    )
    assert bad.status_code == 400

    async def export(fmt: str, **params: Any) -> Any:
        resp = await client.get(f"{API}/export/{job['id']}", headers=h, params={"format": fmt, **params})
        assert resp.status_code == 200, resp.text
        assert f'filename="Weekly meeting.{fmt}"' in resp.headers["content-disposition"]
        return resp

    txt = await export("txt")
    assert txt.headers["content-type"].startswith("text/plain")
    assert "Alice Example: Edited opening words" in txt.text
    plain = await export("txt", timestamps="false", speakers="false")
    assert "Alice" not in plain.text and "[00:" not in plain.text and "Edited opening words" in plain.text

    srt = pysrt.from_string((await export("srt")).text)
    assert "Edited opening words" in srt[0].text and "Alice Example" in srt[0].text
    assert abs(srt[0].start.ordinal / 1000 - first["start"]) < 0.01

    vtt_resp = await export("vtt")
    assert vtt_resp.headers["content-type"].startswith("text/vtt")
    vtt = webvtt.from_buffer(io.StringIO(vtt_resp.text))
    assert "Edited opening words" in vtt.captions[0].text
    assert "Alice Example" in vtt.captions[0].raw_text or "Alice Example" in vtt_resp.text

    exported = json.loads((await export("json")).content)
    assert "Alice Example" in json.dumps(exported) and "Edited opening words" in json.dumps(exported)
    csv_text = (await export("csv")).text
    assert "Alice Example" in csv_text and "Edited opening words" in csv_text

    document = docx.Document(io.BytesIO((await export("docx")).content))
    body = "\n".join(p.text for p in document.paragraphs)
    assert "Edited opening words" in body and "Alice Example" in body

    pdf_resp = await export("pdf")
    assert pdf_resp.headers["content-type"] == "application/pdf"
    pdf_text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf_resp.content)).pages)
    assert "Edited opening words" in pdf_text and "Alice Example" in pdf_text

    unknown = await client.get(f"{API}/export/{job['id']}", headers=h, params={"format": "exe"})
    assert unknown.status_code == 400


@pytest.mark.scribe_settings(scribe_max_upload_size=120_000, scribe_max_minutes_per_day=0)
async def test_refused_uploads_leave_no_file_and_no_row(
    client: Any, settings: Any, user_factory: Any, speech_dir: Path, tmp_path: Path
) -> None:
    user = await user_factory()
    h = user.headers  # another app on the same database: the token is valid here
    text = tmp_path / "notes.mp3"
    text.write_text("this is not audio at all, just text pretending to be an mp3\n" * 10)
    resp = await upload(client, h, text)
    assert resp.status_code == 415 and resp.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    fake = tmp_path / "fake.wav"
    fake.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64)  # a WAV header and nothing decodable
    assert (await upload(client, h, fake)).status_code == 422

    big = speech_dir / "speech.wav"  # ~200 KB > 120 KB
    assert (await upload(client, h, big)).status_code == 413
    raw = await client.post(f"{API}/files/upload/raw", headers=h, content=big.read_bytes())
    assert raw.status_code == 413
    raw = await client.post(f"{API}/files/upload/raw", headers=h, content=text.read_bytes())
    assert raw.status_code == 415

    small = speech_dir / "speech.ogg"
    assert small.stat().st_size < 120_000 < big.stat().st_size
    with small.open("rb") as fh:
        limited = await client.post(f"{API}/transcriptions/upload", headers=h, files={"file": ("a.ogg", fh)})
    assert limited.status_code == 429, limited.text
    assert "daily limit" in limited.json()["error"]["message"] and limited.headers["retry-after"]

    assert storage_files(settings, user.id) == []
    assert (await client.get(f"{API}/files", headers=h)).json()["meta"]["total"] == 0
    assert (await client.get(f"{API}/transcriptions", headers=h)).json()["meta"]["total"] == 0


async def test_other_users_get_404_on_every_route(client: Any, user_factory: Any, speech_dir: Path) -> None:
    alice, bob = await user_factory(), await user_factory()
    file = (await upload(client, alice.headers, speech_dir / "speech.wav")).json()["data"]
    job = (
        await client.post(f"{API}/transcriptions", headers=alice.headers, json={"file_id": file["id"]})
    ).json()["data"]
    await wait_final(client, alice.headers, job["id"])
    f, t, b = file["id"], job["id"], bob.headers
    for method, url, kwargs in (
        ("GET", f"/files/{f}", {}),
        ("GET", f"/files/{f}/content", {}),
        ("DELETE", f"/files/{f}", {}),
        ("POST", "/transcriptions", {"json": {"file_id": f}}),
        ("GET", f"/transcriptions/{t}", {}),
        ("GET", f"/transcriptions/{t}/events", {}),
        ("POST", f"/transcriptions/{t}/cancel", {}),
        ("PUT", f"/transcriptions/{t}", {"json": {"title": "x"}}),
        ("DELETE", f"/transcriptions/{t}", {}),
        ("GET", f"/export/{t}", {"params": {"format": "txt"}}),
    ):
        resp = await client.request(method, f"{API}{url}", headers=b, **kwargs)
        assert resp.status_code == 404, (method, url, resp.status_code, resp.text)
    assert (await client.get(f"{API}/files", headers=b)).json()["meta"]["total"] == 0
    assert (await client.get(f"{API}/transcriptions", headers=b)).json()["meta"]["total"] == 0
    assert (await client.get(f"{API}/files")).status_code == 401
    # the owner still has everything, and deleting removes the stored object
    assert (await client.get(f"{API}/export/{t}", headers=alice.headers)).status_code == 200
    assert (await client.delete(f"{API}/files/{f}", headers=alice.headers)).status_code == 204
    assert (await client.get(f"{API}/files/{f}", headers=alice.headers)).status_code == 404
    assert (await client.get(f"{API}/transcriptions/{t}", headers=alice.headers)).json()["data"][
        "file_id"
    ] is None
    assert (await client.delete(f"{API}/transcriptions/{t}", headers=alice.headers)).status_code == 204
    assert (await client.get(f"{API}/transcriptions/{t}", headers=alice.headers)).status_code == 404


@pytest.mark.scribe_settings(scribe_max_concurrent_jobs=1)
async def test_beyond_the_concurrency_limit_jobs_wait_and_a_cancel_answers_cancelled(
    client: Any, user_factory: Any, long_speech: Path, speech_dir: Path
) -> None:
    h = (await user_factory()).headers
    long_file = (await upload(client, h, long_speech)).json()["data"]
    short_file = (await upload(client, h, speech_dir / "speech.wav")).json()["data"]
    job = (await client.post(f"{API}/transcriptions", headers=h, json={"file_id": long_file["id"]})).json()[
        "data"
    ]
    waiting = []
    for _ in range(2):  # over the limit of one running job: accepted, and they wait their turn
        resp = await client.post(f"{API}/transcriptions", headers=h, json={"file_id": short_file["id"]})
        assert resp.status_code == 202, resp.text
        waiting.append(resp.json()["data"]["id"])

    await wait_status(client, h, job["id"], "processing")
    usage = (await client.get(f"{API}/usage", headers=h)).json()["data"]
    assert (usage["jobs_running"], usage["jobs_waiting"], usage["max_running_jobs"]) == (1, 2, 1)
    expected_minutes = (long_file["duration"] + 2 * short_file["duration"]) / 60
    assert usage["minutes_used_today"] == pytest.approx(expected_minutes, abs=0.01)
    assert usage["minutes_left_today"] == pytest.approx(usage["minutes_per_day"] - expected_minutes, abs=0.01)
    for tid in waiting:
        assert (await client.get(f"{API}/transcriptions/{tid}", headers=h)).json()["data"][
            "status"
        ] == "queued"

    # cancel while it runs: the answer, and every read after it, says cancelled
    resp = await client.post(f"{API}/transcriptions/{job['id']}/cancel", headers=h)
    assert resp.status_code == 200 and resp.json()["data"]["status"] == "cancelled"
    assert (await client.get(f"{API}/transcriptions/{job['id']}", headers=h)).json()["data"][
        "status"
    ] == "cancelled"
    data = await wait_final(client, h, job["id"], limit=20)
    assert data["status"] == "cancelled" and data["segments"] == [] and data["progress"] < 100
    assert (await client.post(f"{API}/transcriptions/{job['id']}/cancel", headers=h)).status_code == 409

    # the waiting ones run once the slot is free, one after the other, oldest first
    first, second = [await wait_final(client, h, tid) for tid in waiting]
    assert first["status"] == second["status"] == "completed"
    at = datetime.fromisoformat
    assert at(first["started_at"]) >= at(data["finished_at"])
    assert at(second["started_at"]) >= at(first["finished_at"])
    usage = (await client.get(f"{API}/usage", headers=h)).json()["data"]
    assert (usage["jobs_running"], usage["jobs_waiting"]) == (0, 0)

    # a queued job cancelled before it starts never runs
    resp = await client.post(f"{API}/transcriptions", headers=h, json={"file_id": short_file["id"]})
    third = resp.json()["data"]
    cancelled = (await client.post(f"{API}/transcriptions/{third['id']}/cancel", headers=h)).json()["data"]
    assert cancelled["status"] == "cancelled"
    assert (await wait_final(client, h, third["id"]))["status"] == "cancelled"


async def test_simultaneous_requests_cannot_both_pass_the_concurrency_limit(
    settings: Any, speech_dir: Path, tmp_path: Path
) -> None:
    """Twelve requests at once against a real server (the in-process test client runs requests one after
    another, so it cannot show the race): with room for three queued jobs, exactly three are accepted."""
    import os
    import subprocess
    import sys

    import httpx

    from core_platform_helpers import free_port, wait_for_health

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
        JOBS_IN_SERVER="false",  # jobs stay queued, and queued ones count against the limit
        SCRIBE_MAX_CONCURRENT_JOBS="1",
        SCRIBE_MAX_QUEUED_JOBS="3",
        RATE_LIMIT_MAX="100000",
    )
    server = [sys.executable, "-m", "uvicorn", "keel.asgi:app", "--host", "127.0.0.1", "--port", str(port)]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    proc = subprocess.Popen(server, env=env, cwd=tmp_path, **quiet)  # noqa: S603, ASYNC220 - a server, not awaited
    try:
        wait_for_health(port, proc)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            account = {"email": "racer@example.com", "password": "Racing-password-0001", "name": "R"}
            token = (await http.post("/api/v1/auth/register", json=account)).json()["data"]["access_token"]
            h = {"Authorization": f"Bearer {token}"}
            with (speech_dir / "speech.wav").open("rb") as fh:
                files = {"file": ("s.wav", fh, "audio/wav")}
                up = await http.post(f"{API}/files/upload", headers=h, files=files)
            file_id = up.json()["data"]["id"]
            responses = await asyncio.gather(
                *(http.post(f"{API}/transcriptions", headers=h, json={"file_id": file_id}) for _ in range(12))
            )
            codes = sorted(r.status_code for r in responses)
            assert codes == [202] * 3 + [429] * 9, [r.text for r in responses]
            assert (await http.get(f"{API}/transcriptions", headers=h)).json()["meta"]["total"] == 3
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def test_lost_jobs_are_requeued_at_startup_and_give_one_transcript(
    client: Any, user_factory: Any, speech_dir: Path, settings: Any
) -> None:
    from sqlalchemy import func, select, update
    from sqlalchemy.ext.asyncio import create_async_engine

    from keel.apps.scribe.models import Segment, Transcription

    h = (await user_factory()).headers
    file = (await upload(client, h, speech_dir / "speech.wav")).json()["data"]
    job = (await client.post(f"{API}/transcriptions", headers=h, json={"file_id": file["id"]})).json()["data"]
    done = await wait_final(client, h, job["id"])
    segments = len(done["segments"])

    # pretend the server died mid-job: the row says processing, with a job id the queue has never seen
    engine = create_async_engine(settings.database_url)
    tid = uuid.UUID(job["id"])
    async with engine.begin() as conn:
        await conn.execute(
            update(Transcription)
            .where(Transcription.id == tid)
            .values(status="processing", progress=40.0, job_id=987654321)
        )
    assert (await client.post("/_test/scribe/requeue")).json() == {"requeued": 1}
    data = await wait_final(client, h, job["id"])
    assert data["status"] == "completed" and len(data["segments"]) == segments
    # a duplicate delivery of the same job is a no-op
    assert (await client.post(f"/_test/scribe/run/{tid}")).json() == {"status": "completed"}
    async with engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(Segment).where(Segment.transcription_id == tid)
        )
        attempts = await conn.scalar(select(Transcription.attempts).where(Transcription.id == tid))
    await engine.dispose()
    assert count == segments and attempts == 2


async def test_a_row_whose_job_could_not_be_queued_is_swept_up_without_a_restart(
    client: Any, user_factory: Any, speech_dir: Path, settings: Any
) -> None:
    """The route defers the job after commit; when the queue was unreachable then, the row stays queued with
    no job id. The periodic sweep queues it once it is older than the grace period, and only then."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update
    from sqlalchemy.ext.asyncio import create_async_engine

    from keel.apps.scribe.models import Transcription

    h = (await user_factory()).headers
    file = (await upload(client, h, speech_dir / "speech.wav")).json()["data"]
    job = (await client.post(f"{API}/transcriptions", headers=h, json={"file_id": file["id"]})).json()["data"]
    await wait_final(client, h, job["id"])
    tid = uuid.UUID(job["id"])

    engine = create_async_engine(settings.database_url)

    async def lose_job(age: timedelta) -> None:
        async with engine.begin() as conn:
            await conn.execute(
                update(Transcription)
                .where(Transcription.id == tid)
                .values(status="queued", progress=0.0, job_id=None, updated_at=datetime.now(UTC) - age)
            )

    try:
        await lose_job(timedelta(seconds=5))  # too recent: the route may still be deferring it
        assert (await client.post("/_test/scribe/sweep")).json() == {"requeued": 0}
        await lose_job(timedelta(minutes=5))
        assert (await client.post("/_test/scribe/sweep")).json() == {"requeued": 1}
        assert (await client.post("/_test/scribe/sweep")).json() == {"requeued": 0}  # it has a job id now
        data = await wait_final(client, h, job["id"])
        assert data["status"] == "completed" and set(data["text"].lower().split()) & EXPECTED
    finally:
        await engine.dispose()


async def test_speaker_turns_on_request_and_renamed_speakers_in_exports(
    client: Any, user_factory: Any, conversation: Any
) -> None:
    """diarize=true labels a two-voice conversation's turns; renaming "Speaker 2" shows in the SRT. Without
    it, segments carry no speaker."""
    path, turns = conversation
    h = (await user_factory()).headers
    file = (await upload(client, h, path)).json()["data"]
    plain = (await client.post(f"{API}/transcriptions", headers=h, json={"file_id": file["id"]})).json()
    job = await client.post(f"{API}/transcriptions", headers=h, json={"file_id": file["id"], "diarize": True})
    assert job.status_code == 202 and job.json()["data"]["diarize"] is True
    done = await wait_final(client, h, job.json()["data"]["id"])
    assert done["status"] == "completed"

    def turn_of(segment: dict[str, Any]) -> int:  # the synthesized turn a segment's middle falls in
        middle = (segment["start"] + segment["end"]) / 2
        return min(range(len(turns)), key=lambda i: abs((turns[i][0] + turns[i][1]) / 2 - middle))

    by_turn = {turn_of(s): s["speaker"] for s in done["segments"]}
    assert len(by_turn) >= 3, done["segments"]  # the engine found most turns
    voices = {i % 2: set() for i in range(2)}
    for turn, speaker in by_turn.items():
        voices[turn % 2].add(speaker)
    assert all(len(v) == 1 for v in voices.values() if v) and not (voices[0] & voices[1]), by_turn

    second = next(iter(voices[1]))
    renamed = await client.put(
        f"{API}/transcriptions/{done['id']}", headers=h, json={"speakers": {second: "Bea"}}
    )
    assert renamed.status_code == 200
    srt = await client.get(f"{API}/export/{done['id']}", headers=h, params={"format": "srt"})
    assert "Bea:" in srt.text and f"{second}:" not in srt.text

    undiarized = await wait_final(client, h, plain["data"]["id"])
    assert undiarized["diarize"] is False and {s["speaker"] for s in undiarized["segments"]} == {None}


async def test_bad_requests(client: Any, user_factory: Any, speech_dir: Path) -> None:
    h = (await user_factory()).headers
    file = (await upload(client, h, speech_dir / "speech.wav")).json()["data"]
    german = await client.post(
        f"{API}/transcriptions", headers=h, json={"file_id": file["id"], "language": "de"}
    )
    assert german.status_code == 422, german.text  # a real language the English-only model cannot do
    error = german.json()["error"]
    assert (
        "'de'" in error["message"]
        and "WHISPER_MODEL_DIR" in error["message"]
        and "language" in error["details"]
    )
    for body, field in (
        ({"file_id": file["id"], "engine": "nope"}, "engine"),
        ({"file_id": file["id"], "language": "xx"}, "language"),
        ({"file_id": file["id"], "temperature": 3}, None),
        ({"file_id": file["id"], "surprise": 1}, None),
    ):
        resp = await client.post(f"{API}/transcriptions", headers=h, json=body)
        assert resp.status_code == 400, resp.text
        if field:
            assert field in resp.json()["error"]["details"]
    missing = await client.post(f"{API}/transcriptions", headers=h, json={"file_id": str(uuid.uuid4())})
    assert missing.status_code == 404
    nofile = await client.post(f"{API}/files/upload", headers=h, files={"other": ("a.wav", b"RIFF")})
    assert nofile.status_code == 400
    assert (await client.get(f"{API}/transcriptions", headers=h)).json()["meta"]["total"] == 0


@pytest.fixture
def fake_openai() -> Any:
    from scribe.unit.test_scribe_engines import _FakeOpenAI

    server = _FakeOpenAI()
    yield server
    server.close()


async def test_remote_engine_end_to_end(make_settings: Any, fake_openai: Any, speech_dir: Path) -> None:
    """The remote engine against a local OpenAI-compatible server, through its own app (no `client` fixture
    here, so only one app runs in this process)."""
    from fixtures.identity import DEFAULT_PASSWORD

    server = fake_openai
    settings = make_settings(
        jobs_poll_interval=0.2, scribe_remote_url=server.url, scribe_remote_key="sk-test"
    )
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as client:
        reg = await client.post(
            "/api/v1/auth/register",
            json={"email": "remote@example.com", "password": DEFAULT_PASSWORD, "name": "R"},
        )
        assert reg.status_code == 201, reg.text
        h = {"Authorization": f"Bearer {reg.json()['data']['access_token']}"}
        engines = {e["name"]: e for e in (await client.get(f"{API}/engines", headers=h)).json()["data"]}
        remote = engines["remote"]
        assert remote["ready"] and not remote["default"] and engines["whisper"]["default"]
        assert "de" in remote["languages"] and remote["detects_language"] and remote["model"] == "whisper-1"
        file = (await upload(client, h, speech_dir / "speech.m4a")).json()["data"]
        job = (
            await client.post(
                f"{API}/transcriptions",
                headers=h,
                json={"file_id": file["id"], "language": "de", "engine": "remote"},
            )
        ).json()["data"]
        assert job["engine"] == "remote"
        data = await wait_final(client, h, job["id"])
        assert data["status"] == "completed", data
        assert data["text"] == "chunk 1" and data["detected_language"] == "en"
        assert data["segments"][0]["words"][0]["word"] == "chunk"
        assert server.requests[0]["auth"] == "Bearer sk-test" and server.requests[0]["fields"][
            "language"
        ] == ["de"]

        server.statuses = [401]
        job = (
            await client.post(
                f"{API}/transcriptions", headers=h, json={"file_id": file["id"], "engine": "remote"}
            )
        ).json()["data"]
        data = await wait_final(client, h, job["id"])
        assert data["status"] == "failed" and "API key" in data["error"]


@pytest.mark.parametrize("path", ["/files", "/transcriptions"])
async def test_an_offset_past_any_database_integer_is_a_field_error(
    client: Any, auth_headers: Any, path: str
) -> None:
    resp = await client.get(f"/api/v1/scribe{path}", params={"offset": 10**36}, headers=auth_headers)
    assert resp.status_code == 400, resp.text
    assert "offset" in resp.json()["error"]["details"]
