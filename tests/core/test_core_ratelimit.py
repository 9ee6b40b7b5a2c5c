"""Rate limits: the default per client, per-route limits, exemptions, keys, headers and failing open."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from litestar import get, post
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from keel.app import create_app


@get("/t/rl/ping", sync_to_thread=False)
def ping() -> dict[str, int]:
    return {"ok": 1}


@get("/t/rl/other", sync_to_thread=False)
def other() -> dict[str, int]:
    return {"ok": 2}


@post("/t/rl/login", opt={"rate_limit": "auth"}, sync_to_thread=False)
def login() -> dict[str, int]:
    return {"ok": 3}


@get("/t/rl/strict", opt={"rate_limit": "2/minute"}, sync_to_thread=False)
def strict() -> dict[str, int]:
    return {"ok": 4}


@get("/t/rl/free", opt={"rate_limit": None}, sync_to_thread=False)
def free() -> dict[str, int]:
    return {"ok": 5}


HANDLERS = [ping, other, login, strict, free]


@pytest.fixture
def limited(make_settings):
    def build(**overrides: Any) -> AsyncTestClient:
        overrides.setdefault("rate_limit_max", 3)
        overrides.setdefault("rate_limit_window", 60)
        app = create_app(make_settings(**overrides), extra_route_handlers=HANDLERS)
        return AsyncTestClient(app=app, base_url="http://testserver.local")

    return build


def _refused(route: str) -> float:
    return REGISTRY.get_sample_value("keel_rate_limited_total", {"route": route}) or 0.0


async def test_default_limit_counts_down_then_refuses_with_envelope_and_retry_after(limited) -> None:
    before = _refused("/t/rl/ping")
    async with limited() as client:
        remaining = []
        for _ in range(3):
            response = await client.get("/t/rl/ping")
            assert response.status_code == 200
            assert response.headers["ratelimit-limit"] == "3"
            assert 0 < int(response.headers["ratelimit-reset"]) <= 60
            remaining.append(response.headers["ratelimit-remaining"])
        assert remaining == ["2", "1", "0"]

        refused = await client.get("/t/rl/ping", headers={"X-Request-ID": "rl-1"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.json() == {
        "status": "error",
        "error": {"code": "RATE_LIMITED", "message": refused.json()["error"]["message"], "details": None},
        "request_id": "rl-1",
    }
    assert refused.headers["x-content-type-options"] == "nosniff"  # the edge still wraps refusals
    assert _refused("/t/rl/ping") == before + 1


async def test_default_limit_is_shared_by_every_route_of_a_client(limited) -> None:
    async with limited() as client:
        assert (await client.get("/t/rl/ping")).status_code == 200
        assert (await client.get("/t/rl/other")).status_code == 200
        assert (await client.get("/t/rl/ping")).status_code == 200
        assert (await client.get("/t/rl/other")).status_code == 429


async def test_route_limit_has_its_own_bucket(limited) -> None:
    async with limited() as client:
        codes = [(await client.get("/t/rl/strict")).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert (await client.get("/t/rl/strict")).headers["ratelimit-limit"] == "2"
        assert (await client.get("/t/rl/ping")).status_code == 200  # default bucket untouched


async def test_auth_limit_comes_from_settings(limited) -> None:
    async with limited(rate_limit_auth="1/minute") as client:
        first = await client.post("/t/rl/login")
        second = await client.post("/t/rl/login")
    assert first.status_code == 201
    assert first.headers["ratelimit-limit"] == "1"
    assert second.status_code == 429


async def test_exempt_routes_have_no_limit_and_no_headers(limited) -> None:
    async with limited(rate_limit_max=1) as client:
        for path in ("/t/rl/free", "/health"):
            for _ in range(3):
                response = await client.get(path)
                assert response.status_code == 200
                assert "ratelimit-limit" not in response.headers


async def test_anonymous_clients_are_keyed_by_ip(make_settings) -> None:
    app = create_app(make_settings(rate_limit_max=1), extra_route_handlers=HANDLERS)

    def from_ip(ip: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(ip, 40000)), base_url="http://t"
        )

    async with from_ip("203.0.113.1") as first, from_ip("203.0.113.2") as second:
        assert (await first.get("/t/rl/ping")).status_code == 200
        assert (await first.get("/t/rl/ping")).status_code == 429
        assert (await second.get("/t/rl/ping")).status_code == 200
        # X-Forwarded-For from an untrusted peer does not buy a fresh bucket
        spoofed = await first.get("/t/rl/ping", headers={"X-Forwarded-For": "198.51.100.7"})
        assert spoofed.status_code == 429


async def test_authenticated_clients_are_keyed_by_user(limited) -> None:
    async with limited(rate_limit_max=1) as client:
        client.app.state["identify"] = lambda scope: next(
            (v.decode() for k, v in scope["headers"] if k == b"x-test-user"), None
        )
        assert (await client.get("/t/rl/ping", headers={"X-Test-User": "alice"})).status_code == 200
        assert (await client.get("/t/rl/ping", headers={"X-Test-User": "alice"})).status_code == 429
        assert (await client.get("/t/rl/ping", headers={"X-Test-User": "bob"})).status_code == 200
        assert (await client.get("/t/rl/ping")).status_code == 200  # anonymous: the IP bucket


async def test_disabled_limiter_adds_nothing(limited) -> None:
    async with limited(rate_limit_max=1, rate_limit_enabled=False) as client:
        for _ in range(3):
            response = await client.get("/t/rl/ping")
            assert response.status_code == 200
            assert "ratelimit-limit" not in response.headers


async def test_preflight_is_not_counted(limited) -> None:
    async with limited(rate_limit_max=1) as client:
        headers = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"}
        for _ in range(3):
            assert (await client.options("/t/rl/ping", headers=headers)).status_code in (200, 204)
        assert (await client.get("/t/rl/ping")).status_code == 200


async def test_redis_outage_falls_back_to_a_local_limiter_without_500(limited) -> None:
    """Redis unreachable: the limit is still enforced, by this process alone (never a 500)."""
    from keel.core.stores import degraded_components

    async with limited(rate_limit_max=1, redis_url="redis://127.0.0.1:1/0") as client:
        codes = [(await client.get("/t/rl/ping")).status_code for _ in range(4)]
        assert "ratelimit" in degraded_components()
    assert codes == [200, 429, 429, 429]


@pytest.mark.services
async def test_limits_are_shared_by_app_instances_on_one_redis(make_settings, settings) -> None:
    apps = [create_app(make_settings(rate_limit_max=4), extra_route_handlers=HANDLERS) for _ in range(2)]

    def client_of(app: Any) -> httpx.AsyncClient:  # no lifespan needed: only the limiter and a plain handler
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    async with client_of(apps[0]) as one, client_of(apps[1]) as two:
        codes = [(await (one if i % 2 else two).get("/t/rl/ping")).status_code for i in range(8)]
    assert codes.count(200) == 4
    assert codes.count(429) == 4
