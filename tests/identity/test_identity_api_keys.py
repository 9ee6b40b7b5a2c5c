"""Personal API keys: created with scopes and an optional expiry, shown once, stored hashed, listed with
last use, revocable, accepted wherever an access token is, audited."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from keel.identity.models import ApiKey, AuditEvent

KEYS = "/api/v1/users/me/api-keys"


async def _rows(settings, query):
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(query)).all()
    finally:
        await engine.dispose()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def create_key(client, headers, **body):
    body.setdefault("name", "laptop script")
    body.setdefault("scopes", ["*"])
    resp = await client.post(f"{KEYS}/", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


async def test_a_key_is_shown_once_stored_hashed_and_works_on_users_me(client, settings, user_factory):
    alice = await user_factory(name="Alice")
    created = await create_key(client, alice.headers, name="  transcribe cron  ")
    secret = created["secret"]
    assert secret.startswith("keel_") and len(secret) >= 40
    assert created["prefix"] == secret[:12] and created["name"] == "transcribe cron"
    assert created["last_used_at"] is None

    me = await client.get("/api/v1/users/me", headers=bearer(secret))
    assert me.status_code == 200, me.text
    assert me.json()["data"]["email"] == alice.email and me.headers["cache-control"] == "no-store"

    listed = (await client.get(f"{KEYS}/", headers=alice.headers)).json()
    assert listed["meta"]["total"] == 1 and listed["data"][0]["id"] == created["id"]
    assert "secret" not in listed["data"][0] and secret not in str(listed)
    assert listed["data"][0]["last_used_at"] is not None  # the use just made

    stored = await _rows(settings, select(ApiKey.key_hash, ApiKey.prefix))
    assert [tuple(r) for r in stored] == [(hashlib.sha256(secret.encode()).hexdigest(), secret[:12])]
    events = await _rows(settings, select(AuditEvent.event).where(AuditEvent.event.like("api_key.%")))
    assert [e for (e,) in events] == ["api_key.created"]


async def test_scopes_limit_permission_guarded_routes(client, user_factory):
    admin = await user_factory(roles=["admin"])
    reader = await create_key(client, admin.headers, scopes=["users.read"])
    assert (await client.get("/api/v1/users/", headers=bearer(reader["secret"]))).status_code == 200
    assert (await client.get("/api/v1/audit/", headers=bearer(reader["secret"]))).status_code == 403
    everything = await create_key(client, admin.headers, scopes=["*"])
    assert (await client.get("/api/v1/audit/", headers=bearer(everything["secret"]))).status_code == 200


async def test_scopes_must_be_permissions_i_hold(client, user_factory):
    alice = await user_factory()
    resp = await client.post(f"{KEYS}/", json={"name": "x", "scopes": ["audit.read"]}, headers=alice.headers)
    assert resp.status_code == 400 and "scopes" in resp.json()["error"]["details"]
    resp = await client.post(
        f"{KEYS}/", json={"name": "x", "scopes": ["*", "audit.read"]}, headers=alice.headers
    )
    assert resp.status_code == 400
    listed = (await client.get(f"{KEYS}/", headers=alice.headers)).json()
    assert listed["meta"]["total"] == 0  # nothing stored on refusal


async def test_revoking_takes_effect_at_the_next_request_and_is_audited(client, settings, user_factory):
    alice = await user_factory()
    key = await create_key(client, alice.headers)
    assert (await client.get("/api/v1/users/me", headers=bearer(key["secret"]))).status_code == 200
    resp = await client.delete(f"{KEYS}/{key['id']}", headers=alice.headers)
    assert resp.status_code == 200
    assert (await client.get("/api/v1/users/me", headers=bearer(key["secret"]))).status_code == 401
    assert (await client.get(f"{KEYS}/", headers=alice.headers)).json()["meta"]["total"] == 0
    events = await _rows(settings, select(AuditEvent.event).where(AuditEvent.event.like("api_key.%")))
    assert sorted(e for (e,) in events) == ["api_key.created", "api_key.revoked", "api_key.revoked_used"]
    # revoking twice: nothing left to revoke
    assert (await client.delete(f"{KEYS}/{key['id']}", headers=alice.headers)).status_code == 404


async def test_a_key_stops_at_its_expiry(client, user_factory):
    alice = await user_factory()
    expires = datetime.now(UTC) + timedelta(hours=1)
    key = await create_key(client, alice.headers, expires_at=expires.isoformat())
    assert (await client.get("/api/v1/users/me", headers=bearer(key["secret"]))).status_code == 200
    with time_machine.travel(expires + timedelta(seconds=5), tick=True):
        resp = await client.get("/api/v1/users/me", headers=bearer(key["secret"]))
    assert resp.status_code == 401
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    resp = await client.post(
        f"{KEYS}/", json={"name": "x", "scopes": ["*"], "expires_at": past}, headers=alice.headers
    )
    assert resp.status_code == 400 and "expires_at" in resp.json()["error"]["details"]


async def test_someone_else_cannot_list_or_revoke_my_keys(client, user_factory):
    alice, bob = await user_factory(), await user_factory()
    key = await create_key(client, alice.headers)
    assert (await client.get(f"{KEYS}/", headers=bob.headers)).json()["meta"]["total"] == 0
    assert (await client.delete(f"{KEYS}/{key['id']}", headers=bob.headers)).status_code == 404
    assert (await client.get("/api/v1/users/me", headers=bearer(key["secret"]))).status_code == 200


async def test_a_deactivated_accounts_keys_stop_at_once(client, user_factory, admin_headers):
    alice = await user_factory()
    key = await create_key(client, alice.headers)
    resp = await client.patch(f"/api/v1/users/{alice.id}", json={"is_active": False}, headers=admin_headers)
    assert resp.status_code == 200
    assert (await client.get("/api/v1/users/me", headers=bearer(key["secret"]))).status_code == 401


async def test_keys_are_managed_from_a_login_not_with_a_key(client, user_factory):
    alice = await user_factory()
    key = await create_key(client, alice.headers)
    resp = await client.post(f"{KEYS}/", json={"name": "y", "scopes": ["*"]}, headers=bearer(key["secret"]))
    assert resp.status_code == 403
    assert (await client.get(f"{KEYS}/", headers=bearer(key["secret"]))).status_code == 403
    assert (await client.get("/api/v1/users/me", headers=bearer("keel_not-a-key"))).status_code == 401


async def test_my_keys_list_is_one_statement_a_page_newest_first(app, client, user_factory):
    from core_platform_helpers import StatementCounter

    alice, bob = await user_factory(), await user_factory()
    expires = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    first = await create_key(client, alice.headers, name="first", scopes=["*"])
    await create_key(client, alice.headers, name="second", scopes=["*"], expires_at=expires.isoformat())
    third = await create_key(client, alice.headers, name="third", scopes=["*"])
    await create_key(client, bob.headers, name="bob's")
    with StatementCounter(app) as counter:
        resp = await client.get(f"{KEYS}/", params={"limit": 2}, headers=alice.headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert len(counter.statements) == 2, counter.statements  # the guard's, and the page with its total
    assert body["meta"]["total"] == 3 and [k["name"] for k in body["data"]] == ["third", "second"]
    newest, second = body["data"]
    assert newest == {key: third[key] for key in newest} and "secret" not in newest
    assert second["scopes"] == ["*"] and datetime.fromisoformat(second["expires_at"]) == expires
    last = (await client.get(f"{KEYS}/", params={"limit": 2, "offset": 2}, headers=alice.headers)).json()
    assert [k["id"] for k in last["data"]] == [first["id"]] and last["meta"]["total"] == 3
    past = (await client.get(f"{KEYS}/", params={"offset": 5}, headers=alice.headers)).json()
    assert past["data"] == [] and past["meta"]["total"] == 3
