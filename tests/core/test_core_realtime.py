"""Realtime: SSE and WebSocket deliver the caller's own channels only; with Redis, an event published on
one server process reaches a client connected to another."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from core_platform_helpers import serve_address as serve
from keel.app import create_app
from keel.core.errors import Forbidden
from keel.core.realtime import _channels_for, notify, publish, user_channel

ROOT = Path(__file__).resolve().parents[2]


async def register(http: httpx.AsyncClient) -> tuple[str, str]:
    email = f"rt-{uuid.uuid4().hex[:10]}@example.com"
    response = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": "Realtime test pass 1!", "name": "RT"}
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return data["user"]["id"], data["access_token"]


@pytest.fixture
async def live(make_settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:  # type: ignore[no-untyped-def]
    app = create_app(make_settings(realtime_keepalive=0.3))
    async with serve(app) as host, httpx.AsyncClient(base_url=f"http://{host}", timeout=10) as http:
        yield app, http


async def test_sse_delivers_own_events_only_with_keepalive(live) -> None:  # type: ignore[no-untyped-def]
    app, http = live
    alice_id, alice_token = await register(http)
    bob_id, _ = await register(http)
    headers = {"Authorization": f"Bearer {alice_token}"}
    async with http.stream("GET", "/api/v1/events?topics=transcripts", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        assert (await anext(lines)).startswith(": connected")
        await asyncio.sleep(0.1)  # subscribed
        await publish(app, user_channel(bob_id), {"type": "secret", "n": 0})
        await publish(app, user_channel(bob_id, "transcripts"), {"type": "secret", "n": 0})
        await publish(app, user_channel(alice_id), {"type": "hello", "n": 1})
        await publish(app, user_channel(alice_id, "transcripts"), {"type": "progress", "n": 2})
        await publish(app, user_channel(alice_id, "other"), {"type": "not-subscribed", "n": 3})
        seen: list[str] = []
        while len([s for s in seen if s.startswith("data:")]) < 2:
            seen.append(await asyncio.wait_for(anext(lines), 5))
        await asyncio.sleep(0.8)  # idle: keep-alive comments flow
        with contextlib.suppress(asyncio.TimeoutError):
            while True:
                seen.append(await asyncio.wait_for(anext(lines), 0.2))
    data = [json.loads(s[5:]) for s in seen if s.startswith("data:")]
    assert data == [
        {"channel": f"user:{alice_id}", "event": {"type": "hello", "n": 1}},
        {"channel": f"user:{alice_id}:transcripts", "event": {"type": "progress", "n": 2}},
    ]
    assert "event: hello" in seen and "event: progress" in seen
    assert any(s.startswith(": keep-alive") for s in seen)


async def test_notify_from_code_without_the_app(live, settings) -> None:  # type: ignore[no-untyped-def]
    """Job tasks call `notify`: through the app serving in this process, or Redis when there is none."""
    import keel.core.realtime as realtime

    _app, http = live
    user_id, token = await register(http)
    async with http.stream("GET", "/api/v1/events", headers={"Authorization": f"Bearer {token}"}) as response:
        lines = response.aiter_lines()
        assert (await anext(lines)).startswith(": connected")
        await asyncio.sleep(0.1)
        await notify(user_channel(user_id), {"type": "via-app"})
        if settings.redis_url:  # as a `keel worker` would: no app in the process, straight to Redis
            serving, realtime._process_app = realtime._process_app, None
            try:
                await notify(user_channel(user_id), {"type": "via-redis"}, settings=settings)
            finally:
                realtime._process_app = serving
        wanted = 2 if settings.redis_url else 1
        received: list[dict[str, Any]] = []
        while len(received) < wanted:
            line = await asyncio.wait_for(anext(lines), 5)
            if line.startswith("data:"):
                received.append(json.loads(line[5:]))
    assert [r["event"]["type"] for r in received] == ["via-app", "via-redis"][:wanted]


async def test_sse_refuses_anonymous_and_foreign_channels(live) -> None:  # type: ignore[no-untyped-def]
    _, http = live
    _alice_id, alice_token = await register(http)
    bob_id, _ = await register(http)
    assert (await http.get("/api/v1/events")).status_code == 401
    headers = {"Authorization": f"Bearer {alice_token}"}
    response = await http.get(f"/api/v1/events?topics=user:{bob_id}", headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    response = await http.get("/api/v1/events?topics=bad%20topic!", headers=headers)
    assert response.status_code == 400


async def test_websocket_delivers_own_events_only(live) -> None:  # type: ignore[no-untyped-def]
    app, http = live
    alice_id, alice_token = await register(http)
    bob_id, bob_token = await register(http)
    base = str(http.base_url).replace("http://", "ws://").rstrip("/")
    async with connect(f"{base}/api/v1/ws?topics=jobs&access_token={alice_token}") as ws:
        await asyncio.sleep(0.2)
        await publish(app, user_channel(bob_id), {"type": "secret"})
        await publish(app, user_channel(alice_id, "jobs"), {"type": "done", "id": 7})
        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert message == {"channel": f"user:{alice_id}:jobs", "event": {"type": "done", "id": 7}}
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.5)

    async with connect(f"{base}/api/v1/ws?topics=user:{alice_id}&access_token={bob_token}") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403

    async with connect(f"{base}/api/v1/ws") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_channel_selection() -> None:
    me = uuid.uuid4()
    assert _channels_for(me, None) == [f"user:{me}"]
    assert _channels_for(me, f"a, user:{me}:b ,a") == [f"user:{me}", f"user:{me}:a", f"user:{me}:b"]
    with pytest.raises(Forbidden):
        _channels_for(me, f"user:{uuid.uuid4()}")
    with pytest.raises(Forbidden):
        _channels_for(me, f"user:{me}:x:y")


@pytest.mark.services
async def test_event_published_on_one_instance_reaches_a_client_on_another(settings, tmp_path: Path) -> None:
    from core_platform_helpers import free_port, wait_for_health

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "KEEL_ENV": "test",
        "KEEL_APPS": "",  # the core alone: apps' own start-up is not under test here
        "JWT_SECRET": settings.jwt_secret,
        "JOBS_IN_SERVER": "false",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_MAX": "100000",
        "SHUTDOWN_TIMEOUT": "3",
    }
    ports = [free_port(), free_port()]
    procs = [
        subprocess.Popen(  # noqa: S603, ASYNC220
            [sys.executable, "-m", "core_platform_helpers", "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
        )
        for port in ports
    ]
    try:
        for port, proc in zip(ports, procs, strict=True):
            await asyncio.to_thread(wait_for_health, port, proc)
        user_id = str(uuid.uuid4())
        event = {"type": "progress", "percent": 50}
        async with httpx.AsyncClient(timeout=10) as http:
            url = f"http://127.0.0.1:{ports[0]}/api/v1/events?topics=progress"
            async with http.stream("GET", url, headers={"X-Test-User": user_id}) as response:
                assert response.status_code == 200
                lines = response.aiter_lines()
                assert (await anext(lines)).startswith(": connected")
                await asyncio.sleep(0.3)
                published = await http.post(
                    f"http://127.0.0.1:{ports[1]}/test/publish",
                    json={"channel": f"user:{user_id}:progress", "event": event},
                )
                assert published.status_code == 200, published.text
                data = None
                while data is None:
                    line = await asyncio.wait_for(anext(lines), 5)
                    if line.startswith("data:"):
                        data = json.loads(line[5:])
        assert data == {"channel": f"user:{user_id}:progress", "event": event}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
