"""The statements the hot authenticated requests send are part of the contract (issue 12).

`GET /users/me` with a bearer token: one statement (the guard's, which also loads what /me answers);
my sessions, a page with its total: two (the guard's and one window-counted page). Counted with
SQLAlchemy's `before_cursor_execute` on the app's engine, every statement included.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from core_platform_helpers import StatementCounter
from fixtures.identity import login

A = "/api/v1/auth"


async def test_users_me_costs_one_statement(app, client, user_factory):
    alice = await user_factory(name="Alice")  # just logged in: the once-a-minute last-seen update is not due
    with StatementCounter(app) as counter:
        resp = await client.get("/api/v1/users/me", headers=alice.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["name"] == "Alice" and resp.json()["data"]["roles"] == ["user"]
    assert len(counter.statements) == 1, counter.statements


async def test_owner_scoped_page_with_total_costs_two_statements(app, client, user_factory):
    alice = await user_factory()
    for _ in range(3):
        assert (await login(client, alice.email, alice.password)).status_code == 200
    with StatementCounter(app) as counter:
        resp = await client.get(f"{A}/sessions", params={"limit": 2}, headers=alice.headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["meta"]["total"] == 4 and len(body["data"]) == 2
    assert len(counter.statements) == 2, counter.statements
    # past the last page the total is still right (one more statement: nothing to count the window on)
    with StatementCounter(app) as counter:
        resp = await client.get(f"{A}/sessions", params={"limit": 2, "offset": 10}, headers=alice.headers)
    assert resp.json()["meta"]["total"] == 4 and resp.json()["data"] == []
    assert len(counter.statements) == 3, counter.statements


async def test_the_access_token_is_verified_once_per_request(app, client, user_factory):
    """The rate limiter keys by user and the guard authenticates: one signature check between them."""
    alice = await user_factory()
    keys = app.state.identity.keys
    calls = 0
    original = keys.decode_access

    def counting(token: str) -> Any:
        nonlocal calls
        calls += 1
        return original(token)

    keys.decode_access = counting
    try:
        resp = await client.get("/api/v1/users/me", headers=alice.headers)
    finally:
        keys.decode_access = original
    assert resp.status_code == 200 and calls == 1


async def test_a_token_verified_before_still_expires(client, settings, user_factory):
    """Verified tokens are remembered per process (no signature check per request), never past `exp`."""
    alice = await user_factory()
    assert (await client.get("/api/v1/users/me", headers=alice.headers)).status_code == 200
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=settings.jwt_expires_in + 5)):
        resp = await client.get("/api/v1/users/me", headers=alice.headers)
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"]["code"] == "UNAUTHORIZED"
