"""Redis outage: a real redis-server owned by the test is killed mid-test. Requests keep answering (the
revocation check falls back to the database, limits to a local limiter, the cache to its loader), never
with a 5xx; `keel_degraded` and `/ready` say so; when Redis is back, open SSE streams resume within 5 s."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from core_platform_helpers import OwnRedis
from keel.app import create_app
from keel.core.realtime import publish, user_channel

PASSWORD = "Outage test pass 1 with spaces!"  # noqa: S105 - test data


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    try:
        yield server
    finally:
        server.kill()


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    from core_platform_helpers import serve_address

    async with (
        serve_address(app) as address,
        httpx.AsyncClient(base_url=f"http://{address}", timeout=10) as http,
    ):
        yield http


class Recorder:
    """Every response of the test, so it can assert that none was a 5xx."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.statuses: list[tuple[str, int]] = []

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        # a request stuck on the dead Redis ends in the client's timeout (10 s): an error, not an answer
        response = await self.http.request(method, url, **kwargs)
        self.statuses.append((f"{method} {url}", response.status_code))
        return response

    def server_errors(self) -> list[tuple[str, int]]:
        return [s for s in self.statuses if s[1] >= 500]


async def register(rec: Recorder) -> tuple[str, str]:
    email = f"outage-{uuid.uuid4().hex[:10]}@example.com"
    response = await rec.request(
        "POST", "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "Outage"}
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return email, data["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def degraded_gauge(metrics_text: str, component: str) -> float | None:
    for line in metrics_text.splitlines():
        if line.startswith(f'keel_degraded{{component="{component}"}}'):
            return float(line.split()[-1])
    return None


async def test_requests_keep_working_while_redis_is_down(make_settings, own_redis: OwnRedis) -> None:
    settings = make_settings(redis_url=own_redis.url, rate_limit_max=1000)
    gym = "gym" in settings.keel_apps.split(",")
    async with serve(create_app(settings)) as http:
        rec = Recorder(http)
        alice_email, alice = await register(rec)
        _, bob = await register(rec)
        assert (await rec.request("POST", "/api/v1/auth/logout", headers=bearer(bob))).status_code == 200
        assert (await rec.request("GET", "/api/v1/users/me", headers=bearer(bob))).status_code == 401
        if gym:
            assert (
                await rec.request("GET", "/api/v1/gym/exercises", headers=bearer(alice))
            ).status_code == 200

        own_redis.kill()
        for _ in range(5):
            assert (await rec.request("GET", "/api/v1/users/me", headers=bearer(alice))).status_code == 200
            # the revocation marker is out of reach; the database still knows bob's session ended
            assert (await rec.request("GET", "/api/v1/users/me", headers=bearer(bob))).status_code == 401
        if gym:  # served by the loader
            response = await rec.request("GET", "/api/v1/gym/exercises", headers=bearer(alice))
            assert response.status_code == 200
        wrong = await rec.request(
            "POST", "/api/v1/auth/login", json={"email": alice_email, "password": "nope" * 3}
        )
        assert wrong.status_code == 401
        relogin = await rec.request(
            "POST", "/api/v1/auth/login", json={"email": alice_email, "password": PASSWORD}
        )
        assert relogin.status_code == 200, relogin.text
        carol_email, carol = await register(rec)
        ready = await rec.request("GET", "/ready")
        assert ready.status_code == 200  # still serving: degraded, not down
        checks = ready.json()["data"]["checks"]
        assert checks["redis"].startswith("degraded"), checks
        assert checks["database"] == "ok"
        assert "ratelimit" in ready.json()["data"]["degraded"]
        metrics_text = (await rec.request("GET", "/metrics")).text
        assert degraded_gauge(metrics_text, "ratelimit") == 1.0
        # a logout during the outage still ends the session (the database decides)
        assert (await rec.request("POST", "/api/v1/auth/logout", headers=bearer(carol))).status_code == 200
        assert (await rec.request("GET", "/api/v1/users/me", headers=bearer(carol))).status_code == 401

        own_redis.start()
        deadline = time.monotonic() + 10
        while True:
            assert (await rec.request("GET", "/api/v1/users/me", headers=bearer(alice))).status_code == 200
            metrics_text = (await rec.request("GET", "/metrics")).text
            if degraded_gauge(metrics_text, "ratelimit") == 0.0:
                break
            assert time.monotonic() < deadline, "Redis came back but the app still runs degraded"
            await asyncio.sleep(0.2)
        ready = await rec.request("GET", "/ready")
        assert ready.json()["data"]["checks"]["redis"] == "ok"
        assert (await rec.request("GET", "/api/v1/users/me", headers=bearer(bob))).status_code == 401
        assert carol_email
    assert rec.server_errors() == []


async def test_sse_streams_resume_within_5s_after_redis_restarts(make_settings, own_redis: OwnRedis) -> None:
    app = create_app(make_settings(redis_url=own_redis.url, realtime_keepalive=0.3))
    async with serve(app) as http:
        rec = Recorder(http)
        _, token = await register(rec)
        user_id = (await rec.request("GET", "/api/v1/users/me", headers=bearer(token))).json()["data"]["id"]
        channel = user_channel(user_id)
        received: list[int] = []

        async def listen() -> None:
            async with http.stream("GET", "/api/v1/events", headers=bearer(token), timeout=None) as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        import json

                        received.append(json.loads(line[5:])["event"]["n"])

        listener = asyncio.create_task(listen())
        try:

            async def wait_for(n: int, within: float) -> float:
                started = time.monotonic()
                while n not in received:
                    assert time.monotonic() - started < within, f"event {n} not delivered (got {received})"
                    assert not listener.done(), "the stream ended"
                    await publish(app, channel, {"type": "tick", "n": n})
                    await asyncio.sleep(0.1)
                return time.monotonic() - started

            await wait_for(1, 5)
            assert (await rec.request("GET", "/ready")).json()["data"]["checks"]["realtime"] == "ok"

            own_redis.kill()
            await asyncio.sleep(0.5)
            await publish(app, channel, {"type": "tick", "n": 2})  # dropped, but never raises
            ready = await rec.request("GET", "/ready")
            assert ready.json()["data"]["checks"]["realtime"].startswith("degraded"), ready.json()

            own_redis.start()
            resumed_after = await wait_for(3, 5)
            print(f"SSE resumed {resumed_after:.2f} s after Redis restarted")
            assert (await rec.request("GET", "/ready")).json()["data"]["checks"]["realtime"] == "ok"
            assert not listener.done()
        finally:
            listener.cancel()
            with contextlib.suppress(BaseException):
                await listener
    assert rec.server_errors() == []
