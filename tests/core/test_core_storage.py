"""Storage: streaming round trips with flat memory, limits that leave nothing behind, multipart and raw
uploads through routes, download headers, and S3 against a moto server."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Request, get, post
from litestar.response import Stream
from litestar.testing import AsyncTestClient

from keel.app import create_app
from keel.core.errors import PayloadTooLarge
from keel.core.storage import (
    Storage,
    StoredObject,
    content_disposition,
    read_multipart,
    stream_request_body,
)

MB = 1024 * 1024


async def generated(total: int, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    block = bytes(range(256)) * (chunk // 256)
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        sent += len(piece)
        yield piece


def expected_sha(total: int, chunk: int = 64 * 1024) -> str:
    digest = hashlib.sha256()
    block = bytes(range(256)) * (chunk // 256)
    sent = 0
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        digest.update(piece)
        sent += len(piece)
    return digest.hexdigest()


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


async def test_local_round_trip_of_50_mb_with_flat_memory(tmp_path: Path) -> None:
    storage = Storage(f"file://{tmp_path}/store", max_size=100 * MB)
    tracemalloc.start()
    try:
        stored = await storage.put_stream("media/big.bin", generated(50 * MB), "application/octet-stream")
        digest, size = hashlib.sha256(), 0
        async for chunk in storage.open_stream("media/big.bin"):
            digest.update(chunk)
            size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.size == size == 50 * MB
    assert stored.sha256 == digest.hexdigest() == expected_sha(50 * MB)
    assert peak < 10 * MB, f"peak {peak / MB:.1f} MiB"
    async with storage.local_copy("media/big.bin") as path:
        assert path.stat().st_size == 50 * MB
    await storage.delete("media/big.bin")
    assert not await storage.exists("media/big.bin")
    await storage.delete("media/big.bin")  # idempotent


async def test_oversize_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    storage = Storage(f"file://{tmp_path}/store", max_size=1 * MB)
    with pytest.raises(PayloadTooLarge):
        await storage.put_stream("up/too-big.bin", generated(3 * MB))
    assert _files(tmp_path / "store") == []
    assert not await storage.exists("up/too-big.bin")


async def test_listing_a_folder_gives_its_objects_only(tmp_path: Path) -> None:
    storage = Storage(f"file://{tmp_path}/store", max_size=MB)
    for key in ("app/a/1.bin", "app/b/2.bin", "apples/3.bin", "other/4.bin"):
        await storage.put_stream(key, generated(10 + len(key)))
    listed = [o async for o in storage.listing("app/")]
    assert sorted((o.key, o.size) for o in listed) == [("app/a/1.bin", 21), ("app/b/2.bin", 21)]
    assert all(o.modified > 0 for o in listed)
    assert [o async for o in storage.listing("nothing")] == []


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "a/../b", "dir/", ""])
async def test_bad_keys_are_refused(tmp_path: Path, key: str) -> None:
    from keel.core.errors import BadRequest

    storage = Storage(f"file://{tmp_path}/store", max_size=MB)
    with pytest.raises(BadRequest):
        await storage.put_stream(key, generated(10))


def test_content_disposition_is_rfc_6266() -> None:
    value = content_disposition('Résumé "final".pdf')
    assert value.startswith("attachment; filename=\"R_sum_ 'final'.pdf\"; ")
    assert value.endswith("filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22.pdf")


# --- routes ---------------------------------------------------------------------------------------

NO_LIMIT = {"rate_limit": None}


@post("/test/storage/raw/{key:path}", request_max_body_size=64 * MB, status_code=201, opt=NO_LIMIT)
async def raw_upload(key: str, request: Request[Any, Any, Any], storage: Storage) -> StoredObject:
    return await storage.put_stream(key.lstrip("/"), stream_request_body(request, 2 * MB), "audio/mpeg")


@post("/test/storage/form", request_max_body_size=64 * MB, status_code=201, opt={"rate_limit": None})
async def form_upload(request: Request[Any, Any, Any], storage: Storage) -> dict[str, Any]:
    upload = await read_multipart(request, file_field="file", max_size=8 * MB)
    stored = await storage.put_stream(f"forms/{upload.filename}", upload.chunks, upload.content_type)
    return {
        "size": stored.size,
        "sha256": stored.sha256,
        "filename": upload.filename,
        "content_type": upload.content_type,
        "fields": upload.fields,
    }


@get("/test/storage/download/{key:path}", opt={"rate_limit": None, "skip_compression": True})
async def download(key: str, storage: Storage) -> Stream:
    return await storage.download_response(key.lstrip("/"), "Bericht März.mp3", "audio/mpeg")


@pytest.fixture
async def routes_client(settings) -> AsyncIterator[tuple[AsyncTestClient, Storage]]:  # type: ignore[no-untyped-def]
    app = create_app(settings)
    for handler in (raw_upload, form_upload, download):
        app.register(handler)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        yield client, app.state.storage


async def test_multipart_upload_streams_through_a_route(routes_client) -> None:  # type: ignore[no-untyped-def]
    client, storage = routes_client
    payload = os.urandom(3 * MB + 17)
    response = await client.post(
        "/test/storage/form",
        data={"title": "Interview", "language": "de"},
        files={"file": ("talk.mp3", payload, "audio/mpeg")},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["size"] == len(payload)
    assert body["sha256"] == hashlib.sha256(payload).hexdigest()
    assert body["filename"] == "talk.mp3" and body["content_type"] == "audio/mpeg"
    assert body["fields"] == {"title": "Interview", "language": "de"}
    chunks = [c async for c in storage.open_stream("forms/talk.mp3")]
    assert b"".join(chunks) == payload
    await storage.delete("forms/talk.mp3")


async def test_multipart_without_file_or_wrong_type(routes_client) -> None:  # type: ignore[no-untyped-def]
    client, _ = routes_client
    response = await client.post("/test/storage/form", data={"title": "x"}, files={"other": ("a", b"1")})
    assert response.status_code == 400
    json_type = {"content-type": "application/json"}
    response = await client.post("/test/storage/form", content=b"{}", headers=json_type)
    assert response.status_code == 415


async def test_raw_upload_limits_and_download_headers(routes_client) -> None:  # type: ignore[no-untyped-def]
    client, storage = routes_client
    payload = os.urandom(MB)
    response = await client.post("/test/storage/raw/a/voice.mp3", content=payload)
    assert response.status_code == 201, response.text
    assert response.json()["size"] == MB

    # over the helper's limit: refused early from Content-Length, and while streaming without one
    response = await client.post("/test/storage/raw/a/huge.mp3", content=os.urandom(3 * MB))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

    # a Content-Length that understates the body: the limit still applies to the bytes streamed
    response = await client.post(
        "/test/storage/raw/a/huge2.mp3", content=b"z" * 4_000_000, headers={"content-length": "100"}
    )
    assert response.status_code == 413
    assert not await storage.exists("a/huge.mp3") and not await storage.exists("a/huge2.mp3")

    response = await client.get("/test/storage/download/a/voice.mp3", headers={"accept-encoding": "gzip, br"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("audio/mpeg")
    assert response.headers["content-length"] == str(MB), dict(response.headers)
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"Bericht M_rz.mp3\"; filename*=UTF-8''Bericht%20M%C3%A4rz.mp3"
    )
    assert response.content == payload
    assert (await client.get("/test/storage/download/a/missing.mp3")).status_code == 404


async def test_app_wide_dependency_and_state(app) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(app.state.storage, Storage)
    assert "storage" in app.dependencies


# --- S3 ---------------------------------------------------------------------------------------------


@pytest.fixture
def moto_endpoint(tmp_path: Path) -> Any:
    from core_platform_helpers import free_port

    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        httpx.put(f"{endpoint}/keel-test", timeout=5).raise_for_status()  # create the bucket
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.slow
async def test_s3_round_trip_against_moto(moto_endpoint: str) -> None:
    url = (
        f"s3://keel-test/uploads?endpoint={moto_endpoint}&region=us-east-1"
        "&access_key_id=test&secret_access_key=test"
    )
    storage = Storage(url, max_size=64 * MB)
    stored = await storage.put_stream("media/clip.bin", generated(12 * MB), "application/octet-stream")
    assert stored.size == 12 * MB and stored.sha256 == expected_sha(12 * MB)
    digest = hashlib.sha256()
    async for chunk in storage.open_stream("media/clip.bin"):
        digest.update(chunk)
    assert digest.hexdigest() == stored.sha256
    assert (await storage.stat("media/clip.bin")).size == 12 * MB
    async with storage.local_copy("media/clip.bin") as path:
        assert path.stat().st_size == 12 * MB
    assert not path.exists()
    with pytest.raises(PayloadTooLarge):
        await storage.put_stream("media/big.bin", generated(12 * MB), max_size=6 * MB)
    assert not await storage.exists("media/big.bin")
    assert [o.key async for o in storage.listing("media")] == ["media/clip.bin"]
    await storage.delete("media/clip.bin")
    assert not await storage.exists("media/clip.bin")
