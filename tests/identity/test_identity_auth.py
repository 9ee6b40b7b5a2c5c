"""Identity behaviours, one test each: accounts, tokens, sessions, cookies, throttling, mail, admin, RBAC."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import time_machine
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine

from fixtures.identity import DEFAULT_PASSWORD, grant_roles, login
from keel.identity.models import AuditEvent, User

A = "/api/v1/auth"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Mobile/15E148 Safari/604.1"
)


async def _rows(settings, query):
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(query)).all()
    finally:
        await engine.dispose()


async def _exec(settings, statement):
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(statement)
    finally:
        await engine.dispose()


# --- registration and bad input ---


async def test_register_creates_account_with_user_role_and_tokens(client):
    resp = await client.post(f"{A}/register", json={"email": "New@Example.COM", "password": DEFAULT_PASSWORD})
    assert resp.status_code == 201
    data = resp.json()["data"]
    assert data["user"]["email"] == "new@example.com" and data["user"]["roles"] == ["user"]
    assert data["access_token"] and data["refresh_token"] and data["transport"] == "bearer"


async def test_email_is_unique_case_insensitively(client, settings, user_factory):
    await user_factory(email="dup@example.com")
    resp = await client.post(f"{A}/register", json={"email": "DUP@example.com", "password": DEFAULT_PASSWORD})
    # answered like a new address (no enumeration), but no second account exists
    assert resp.status_code == 201
    rows = await _rows(settings, select(User.id).where(User.email == "dup@example.com"))
    assert len(rows) == 1 and str(rows[0][0]) != resp.json()["data"]["user"]["id"]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": DEFAULT_PASSWORD},
        {"email": "a@b", "password": DEFAULT_PASSWORD},
        {"email": "x" * 400 + "@example.com", "password": DEFAULT_PASSWORD},
        {"email": "ok@example.com", "password": DEFAULT_PASSWORD, "name": "n" * 101},
        {"email": "ok@example.com", "password": DEFAULT_PASSWORD, "is_admin": True},
        {"email": "ok@example.com", "password": "x" * 2000},
        {"email": "ok@example.com"},
    ],
)
async def test_bad_registration_input_is_4xx_and_creates_nothing(client, settings, body):
    resp = await client.post(f"{A}/register", json=body)
    assert 400 <= resp.status_code < 500 and resp.json()["status"] == "error"
    assert await _rows(settings, select(User.id)) == []


# --- login ---


async def test_login_returns_access_token_with_required_claims(client, settings, user_factory):
    user = await user_factory()
    resp = await login(client, user.email, user.password)
    token = resp.json()["data"]["access_token"]
    claims = jwt.decode(token, settings.jwt_secret, algorithms=["HS256"], audience=settings.jwt_audience)
    assert {"sub", "sid", "jti", "typ", "iss", "aud", "exp", "iat", "roles"} <= set(claims)
    assert claims["typ"] == "access" and claims["iss"] == settings.jwt_issuer and claims["roles"] == ["user"]
    assert claims["exp"] - claims["iat"] == settings.jwt_expires_in == 900


async def test_login_failure_and_success_are_audited(client, settings, user_factory):
    user = await user_factory()
    assert (await login(client, user.email, "wrong password here")).status_code == 401
    assert (await login(client, user.email, user.password)).status_code == 200
    events = [r[0] for r in await _rows(settings, select(AuditEvent.event))]
    assert "login.failure" in events and "login.success" in events


async def test_inactive_account_cannot_log_in(client, settings, user_factory):
    user = await user_factory()
    await _exec(settings, update(User).values(is_active=False))
    resp = await login(client, user.email, user.password)
    assert resp.status_code == 401 and resp.json()["error"]["message"] == "Invalid email or password"


async def test_old_bcrypt_hash_verifies_and_is_upgraded_on_login(client, settings, user_factory):
    from pwdlib.hashers.bcrypt import BcryptHasher

    user = await user_factory()
    await _exec(settings, update(User).values(password_hash=BcryptHasher(rounds=4).hash(user.password)))
    assert (await login(client, user.email, user.password)).status_code == 200
    [(stored,)] = await _rows(settings, select(User.password_hash))
    assert stored.startswith("$argon2id$")
    assert (await login(client, user.email, user.password)).status_code == 200


async def test_login_lockout_after_max_failures_answers_429_with_retry_after(client, settings, user_factory):
    user = await user_factory()
    for _ in range(settings.login_max_failures):
        assert (await login(client, user.email, "not the password!")).status_code == 401
    resp = await login(client, user.email, user.password)  # even the right password waits
    assert resp.status_code == 429 and int(resp.headers["retry-after"]) >= 1
    assert resp.json()["error"]["code"] == "RATE_LIMITED"


async def test_lockout_delay_grows(make_settings):
    from keel.core.stores import Stores
    from keel.identity.services import Identity, email_key

    settings = make_settings(redis_url="")
    identity = Identity(settings, Stores(settings))
    key = email_key("someone@example.com")
    first = second = 0
    for _ in range(settings.login_max_failures):
        first = await identity.record_login_failure(key) or first
    await identity.kv.delete(f"lock:{key}")
    for _ in range(settings.login_max_failures):
        second = await identity.record_login_failure(key) or second
    assert second == 2 * first > 0
    assert await identity.lockout_remaining(key) > 0


async def test_login_is_throttled_per_ip(app, client, user_factory):
    from limits import parse

    app.state.identity.login_ip_limit = parse("3/minute")
    user = await user_factory()
    for _ in range(3):
        await login(client, f"nobody{uuid.uuid4().hex[:6]}@example.com", "whatever pass")
    resp = await login(client, user.email, user.password)
    assert resp.status_code == 429 and "retry-after" in resp.headers


async def test_registration_is_throttled_per_ip(app, client):
    from limits import parse

    app.state.identity.register_limit = parse("2/hour")
    for i in range(2):
        r = await client.post(
            f"{A}/register", json={"email": f"r{i}@example.com", "password": DEFAULT_PASSWORD}
        )
        assert r.status_code == 201
    r = await client.post(f"{A}/register", json={"email": "r9@example.com", "password": DEFAULT_PASSWORD})
    assert r.status_code == 429


# --- refresh rotation ---


async def test_refresh_rotates_tokens(client, user_factory):
    user = await user_factory()
    resp = await client.post(f"{A}/refresh", json={"refresh_token": user.refresh_token})
    assert resp.status_code == 200
    data = resp.json()["data"]
    assert data["refresh_token"] != user.refresh_token and data["session_id"] == user.session_id
    assert (
        await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {data['access_token']}"})
    ).status_code == 200


async def test_refresh_token_stored_only_as_sha256_with_parent_link(client, settings, user_factory):
    import hashlib

    from keel.identity.models import RefreshToken

    user = await user_factory()
    new = (await client.post(f"{A}/refresh", json={"refresh_token": user.refresh_token})).json()["data"]
    rows = await _rows(
        settings,
        select(RefreshToken.token_hash, RefreshToken.parent_id, RefreshToken.id, RefreshToken.used_at),
    )
    hashes = {r[0] for r in rows}
    assert hashlib.sha256(new["refresh_token"].encode()).hexdigest() in hashes
    assert user.refresh_token not in hashes and new["refresh_token"] not in hashes
    by_hash = {r[0]: r for r in rows}
    child = by_hash[hashlib.sha256(new["refresh_token"].encode()).hexdigest()]
    parent = by_hash[hashlib.sha256(user.refresh_token.encode()).hexdigest()]
    assert child[1] == parent[2] and parent[3] is not None


async def test_reuse_within_grace_window_returns_the_current_pair(client, user_factory):
    user = await user_factory()
    first = (await client.post(f"{A}/refresh", json={"refresh_token": user.refresh_token})).json()["data"]
    again = await client.post(f"{A}/refresh", json={"refresh_token": user.refresh_token})
    assert again.status_code == 200
    assert again.json()["data"]["refresh_token"] == first["refresh_token"]
    assert (
        await client.post(f"{A}/refresh", json={"refresh_token": first["refresh_token"]})
    ).status_code == 200


async def test_reuse_outside_grace_revokes_the_family_and_is_audited(client, settings, user_factory):
    user = await user_factory()
    first = (await client.post(f"{A}/refresh", json={"refresh_token": user.refresh_token})).json()["data"]
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=settings.refresh_reuse_grace + 5)):
        replay = await client.post(f"{A}/refresh", json={"refresh_token": user.refresh_token})
        assert replay.status_code == 401
        assert (
            await client.post(f"{A}/refresh", json={"refresh_token": first["refresh_token"]})
        ).status_code == 401
    assert (
        await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {first['access_token']}"})
    ).status_code == 401
    assert ("refresh.reuse",) in await _rows(settings, select(AuditEvent.event))


async def test_concurrent_refreshes_consume_once(client, user_factory):
    user = await user_factory()
    results = await asyncio.gather(
        *[client.post(f"{A}/refresh", json={"refresh_token": user.refresh_token}) for _ in range(4)]
    )
    ok = [r.json()["data"]["refresh_token"] for r in results if r.status_code == 200]
    assert ok and len(set(ok)) == 1  # one rotation; the others got the same pair inside the grace window


async def test_unknown_refresh_token_is_401(client):
    resp = await client.post(f"{A}/refresh", json={"refresh_token": "x" * 43})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "UNAUTHORIZED"


# --- logout, sessions ---


async def test_logout_all_ends_every_session(client, user_factory):
    user = await user_factory()
    second = (await login(client, user.email, user.password)).json()["data"]
    assert (await client.post(f"{A}/logout-all", headers=user.headers)).status_code == 200
    assert (
        await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    ).status_code == 401
    assert (
        await client.post(f"{A}/refresh", json={"refresh_token": second["refresh_token"]})
    ).status_code == 401


async def test_sessions_list_shows_parsed_device_ip_and_current(client, user_factory):
    user = await user_factory(user_agent=IPHONE)
    resp = await client.get(f"{A}/sessions", headers=user.headers)
    assert resp.status_code == 200
    body = resp.json()
    assert body["meta"]["total"] == 1
    [s] = body["data"]
    assert s["browser"] == "Mobile Safari" and s["os"] == "iOS" and s["device_type"] == "mobile"
    assert s["ip"] and s["current"] is True and s["created_at"] and s["last_seen_at"]


async def test_only_the_callers_own_session_is_current_on_every_page(client, user_factory):
    user = await user_factory()
    others = [(await login(client, user.email, user.password)).json()["data"] for _ in range(3)]
    pages = []
    for offset in (0, 2):
        resp = await client.get(f"{A}/sessions", params={"limit": 2, "offset": offset}, headers=user.headers)
        pages.append(resp.json())
    listed = [s for body in pages for s in body["data"]]
    assert [body["meta"]["total"] for body in pages] == [4, 4]
    assert {s["id"] for s in listed} == {user.session_id, *(o["session_id"] for o in others)}
    assert [s["id"] for s in listed if s["current"]] == [user.session_id]
    assert all(s["created_at"].endswith("Z") and str(uuid.UUID(s["id"])) == s["id"] for s in listed)


async def test_user_revokes_own_session_and_its_token_dies(client, user_factory):
    user = await user_factory()
    other = (await login(client, user.email, user.password)).json()["data"]
    resp = await client.delete(f"{A}/sessions/{other['session_id']}", headers=user.headers)
    assert resp.status_code == 200
    assert (
        await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {other['access_token']}"})
    ).status_code == 401
    assert (await client.get("/api/v1/users/me", headers=user.headers)).status_code == 200


async def test_cannot_see_or_revoke_someone_elses_session(client, user_factory):
    alice, bob = await user_factory(), await user_factory()
    resp = await client.delete(f"{A}/sessions/{bob.session_id}", headers=alice.headers)
    assert resp.status_code == 404
    listed = (await client.get(f"{A}/sessions", headers=alice.headers)).json()["data"]
    assert bob.session_id not in {s["id"] for s in listed}
    assert (await client.get("/api/v1/users/me", headers=bob.headers)).status_code == 200


async def test_last_seen_updates_at_most_once_a_minute(client, settings, user_factory):
    from keel.identity.models import LoginSession

    user = await user_factory()
    [(before,)] = await _rows(settings, select(LoginSession.last_seen_at))
    await client.get("/api/v1/users/me", headers=user.headers)
    [(same,)] = await _rows(settings, select(LoginSession.last_seen_at))
    assert same == before
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=61)):
        await client.get("/api/v1/users/me", headers=user.headers)
    [(later,)] = await _rows(settings, select(LoginSession.last_seen_at))
    assert later > before


# --- passwords ---


async def test_password_change_ends_other_sessions_but_keeps_this_one(client, settings, user_factory):
    user = await user_factory()
    other = (await login(client, user.email, user.password)).json()["data"]
    resp = await client.post(
        f"{A}/password",
        headers=user.headers,
        json={"current_password": user.password, "new_password": "A brand new passphrase 42"},
    )
    assert resp.status_code == 200
    assert (await client.get("/api/v1/users/me", headers=user.headers)).status_code == 200
    assert (
        await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {other['access_token']}"})
    ).status_code == 401
    assert (await login(client, user.email, "A brand new passphrase 42")).status_code == 200
    assert ("password.changed",) in await _rows(settings, select(AuditEvent.event))


async def test_password_hashing_is_bounded_by_the_semaphore(make_settings):
    import threading
    import time

    from keel.identity.passwords import Passwords

    passwords = Passwords(make_settings(password_hash_concurrency=2))
    active = peak = 0
    lock = threading.Lock()

    def slow_hash(password):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return "$argon2id$fake"

    passwords.context.hash = slow_hash  # type: ignore[method-assign]
    await asyncio.gather(*[passwords.hash("whatever password") for _ in range(6)])
    assert peak == 2


# --- cookies and CSRF ---


async def test_cookie_transport_sets_flags_and_needs_csrf_for_unsafe_requests(client, user_factory):
    user = await user_factory()
    resp = await login(client, user.email, user.password, transport="cookie")
    assert resp.status_code == 200
    data = resp.json()["data"]
    assert data["access_token"] is None and data["refresh_token"] is None and data["csrf_token"]
    cookies = resp.headers.get_list("set-cookie")
    access = next(c for c in cookies if c.startswith("keel_access="))
    refresh = next(c for c in cookies if c.startswith("keel_refresh="))
    csrf = next(c for c in cookies if c.startswith("keel_csrf="))
    assert "HttpOnly" in access and "SameSite=lax" in access.replace("Lax", "lax") and "Path=/" in access
    assert "HttpOnly" in refresh and "Path=/api/v1/auth/refresh" in refresh
    assert "HttpOnly" not in csrf
    assert (await client.get("/api/v1/users/me")).status_code == 200  # GET: the cookie alone
    no_csrf = await client.patch("/api/v1/users/me", json={"name": "X"})
    assert no_csrf.status_code == 403 and no_csrf.json()["error"]["code"] == "CSRF_FAILED"
    ok = await client.patch(
        "/api/v1/users/me", json={"name": "X"}, headers={"X-CSRF-Token": data["csrf_token"]}
    )
    assert ok.status_code == 200
    refreshed = await client.post(f"{A}/refresh", headers={"X-CSRF-Token": data["csrf_token"]})
    assert refreshed.status_code == 200 and refreshed.json()["data"]["transport"] == "cookie"


async def test_cookie_transport_chosen_by_header(client, user_factory):
    user = await user_factory()
    resp = await client.post(
        f"{A}/login",
        json={"email": user.email, "password": user.password},
        headers={"X-Auth-Transport": "cookie"},
    )
    assert resp.json()["data"]["transport"] == "cookie"


async def test_cookies_are_secure_with_host_prefix_in_production(make_settings):
    from keel.identity.guards import cookie_names

    assert make_settings(keel_env="production").cookie_secure is True
    assert cookie_names(True).access.startswith("__Host-") and cookie_names(True).csrf.startswith("__Host-")
    assert make_settings(keel_env="test", auth_cookie_secure=True).cookie_secure is True


async def test_bearer_requests_need_no_csrf(client, user_factory):
    user = await user_factory()
    assert (
        await client.patch("/api/v1/users/me", json={"name": "Y"}, headers=user.headers)
    ).status_code == 200


# --- profile ---


async def test_me_update_and_delete(client, settings, user_factory):
    user = await user_factory()
    resp = await client.patch("/api/v1/users/me", json={"name": "  Ada  "}, headers=user.headers)
    assert resp.json()["data"]["name"] == "Ada"
    assert (
        await client.patch("/api/v1/users/me", json={"email": "x@y.z"}, headers=user.headers)
    ).status_code == 400
    wrong = await client.request(
        "DELETE", "/api/v1/users/me", json={"password": "not my password"}, headers=user.headers
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["details"] == {"password": "does not match"}
    assert (await client.delete("/api/v1/users/me", headers=user.headers)).status_code == 400  # no body
    assert (await client.get("/api/v1/users/me", headers=user.headers)).status_code == 200  # still there
    gone = await client.request(
        "DELETE", "/api/v1/users/me", json={"password": user.password}, headers=user.headers
    )
    assert gone.status_code == 200
    assert (await client.get("/api/v1/users/me", headers=user.headers)).status_code == 401
    assert (await login(client, user.email, user.password)).status_code == 401
    assert await _rows(settings, select(User.id)) == []


# --- admin ---


async def test_admin_lists_users_paginated_and_searchable(client, user_factory, admin_headers):
    for i in range(3):
        await user_factory(email=f"findme{i}@example.com")
    resp = await client.get("/api/v1/users", params={"q": "FINDME", "limit": 2}, headers=admin_headers)
    body = resp.json()
    assert (
        resp.status_code == 200
        and body["meta"] == {"limit": 2, "offset": 0, "total": 3}
        and len(body["data"]) == 2
    )
    assert (
        await client.get("/api/v1/users", params={"limit": 101}, headers=admin_headers)
    ).status_code == 400
    admins = (await client.get("/api/v1/users", params={"role": "admin"}, headers=admin_headers)).json()
    assert admins["meta"]["total"] == 1


async def test_admin_search_matches_wildcards_literally(client, user_factory, admin_headers):
    """`%` and `_` in the search are the characters themselves (escaped, not stripped nor wildcards)."""
    await user_factory(email="sale@example.com", name="50% Off")
    await user_factory(email="five@example.com", name="5000 Off")
    await user_factory(email="a_b@example.com", name="Under")
    await user_factory(email="axb@example.com", name="Cross")

    async def emails(q: str) -> list[str]:
        resp = await client.get("/api/v1/users", params={"q": q}, headers=admin_headers)
        assert resp.status_code == 200, resp.text
        return sorted(u["email"] for u in resp.json()["data"])

    assert await emails("50%") == ["sale@example.com"]
    assert await emails("a_b") == ["a_b@example.com"]
    assert await emails("off") == ["five@example.com", "sale@example.com"]


async def test_non_admin_gets_403_on_admin_routes_and_401_without_token(client, auth_headers):
    assert (await client.get("/api/v1/users", headers=auth_headers)).status_code == 403
    assert (await client.get("/api/v1/audit", headers=auth_headers)).status_code == 403
    assert (await client.get("/api/v1/users")).status_code == 401


async def test_admin_gets_updates_and_deletes_a_user(client, user_factory, admin_headers):
    user = await user_factory()
    assert (await client.get(f"/api/v1/users/{user.id}", headers=admin_headers)).json()["data"][
        "email"
    ] == user.email
    assert (await client.get(f"/api/v1/users/{uuid.uuid4()}", headers=admin_headers)).status_code == 404
    resp = await client.patch(f"/api/v1/users/{user.id}", json={"name": "Renamed"}, headers=admin_headers)
    assert resp.json()["data"]["name"] == "Renamed"
    assert (await client.delete(f"/api/v1/users/{user.id}", headers=admin_headers)).status_code == 200
    assert (await client.get("/api/v1/users/me", headers=user.headers)).status_code == 401


async def test_role_assignment_takes_effect_and_is_audited(client, settings, user_factory, admin_headers):
    user = await user_factory()
    resp = await client.put(
        f"/api/v1/users/{user.id}/roles", json={"roles": ["user", "admin"]}, headers=admin_headers
    )
    assert resp.status_code == 200 and resp.json()["data"]["roles"] == ["admin", "user"]
    assert (await client.get("/api/v1/users", headers=user.headers)).status_code == 200
    assert ("role.changed",) in await _rows(settings, select(AuditEvent.event))


async def test_the_last_active_admin_cannot_be_removed(client, user_factory):
    """Demoting, deactivating or deleting the only active admin is 409 (nobody could manage accounts after);
    with another active admin each works."""
    first = await user_factory(roles=["admin"])
    second = await user_factory(roles=["admin"])
    users = "/api/v1/users"

    async def set_roles(actor, target, roles):
        return await client.put(f"{users}/{target.id}/roles", json={"roles": roles}, headers=actor.headers)

    async def set_active(actor, target, active):
        return await client.patch(f"{users}/{target.id}", json={"is_active": active}, headers=actor.headers)

    async def delete_own_account(actor):
        body = {"password": actor.password}
        return await client.request("DELETE", f"{users}/me", json=body, headers=actor.headers)

    assert (await set_roles(first, second, ["user"])).status_code == 200  # two admins: fine
    last = await delete_own_account(first)  # first is now the only admin
    assert last.status_code == 409 and "last active admin" in last.json()["error"]["message"]
    assert (await client.get(f"{users}/me", headers=first.headers)).status_code == 200

    assert (await set_roles(first, second, ["admin"])).status_code == 200
    assert (await set_active(first, second, False)).status_code == 200
    assert (await delete_own_account(first)).status_code == 409  # an inactive admin does not count
    assert (await set_active(first, second, True)).status_code == 200
    assert (await delete_own_account(first)).status_code == 200


async def test_unknown_role_is_refused_and_changes_nothing(client, user_factory, admin_headers):
    user = await user_factory()
    resp = await client.put(
        f"/api/v1/users/{user.id}/roles", json={"roles": ["user", "wizard"]}, headers=admin_headers
    )
    assert resp.status_code == 400 and "roles" in resp.json()["error"]["details"]
    assert (await client.get(f"/api/v1/users/{user.id}", headers=admin_headers)).json()["data"]["roles"] == [
        "user"
    ]


async def test_deactivation_revokes_every_session_at_once(client, settings, user_factory, admin_headers):
    user = await user_factory()
    resp = await client.patch(f"/api/v1/users/{user.id}", json={"is_active": False}, headers=admin_headers)
    assert resp.status_code == 200
    assert (await client.get("/api/v1/users/me", headers=user.headers)).status_code == 401
    assert (await client.post(f"{A}/refresh", json={"refresh_token": user.refresh_token})).status_code == 401
    assert ("user.deactivated",) in await _rows(settings, select(AuditEvent.event))


async def test_audit_is_paginated_and_filterable(client, user_factory, admin_headers):
    user = await user_factory()
    await login(client, user.email, "wrong password!!")
    resp = await client.get("/api/v1/audit", params={"event": "login.failure"}, headers=admin_headers)
    body = resp.json()
    assert resp.status_code == 200 and body["meta"]["total"] == 1 and body["data"][0]["email"] == user.email
    scoped = await client.get("/api/v1/audit", params={"user_id": user.id, "limit": 1}, headers=admin_headers)
    assert scoped.json()["meta"]["limit"] == 1 and scoped.json()["meta"]["total"] >= 2
    assert (await client.get("/api/v1/audit", params={"event": "login.*"}, headers=admin_headers)).json()[
        "meta"
    ]["total"] >= 2


# --- RBAC for apps ---


async def test_registered_permissions_guard_routes(make_settings):
    from litestar import get
    from litestar.testing import AsyncTestClient

    from keel.app import create_app
    from keel.core.envelope import ok
    from keel.identity import rbac
    from keel.identity.guards import Principal, requires_permission, requires_role

    rbac.register_permissions({"demo.things.manage": "Manage demo things"}, roles={"user": []})

    @get("/demo/things", guards=[requires_permission("demo.things.manage")])
    async def things(principal: Principal) -> dict:
        return ok(sorted(principal.permissions)).data  # type: ignore[return-value]

    @get("/demo/admin", guards=[requires_role("admin")])
    async def admin_only() -> dict:
        return {"ok": True}

    app = create_app(make_settings(), extra_route_handlers=[things, admin_only])
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as c:
        r = await c.post(f"{A}/register", json={"email": "p@example.com", "password": DEFAULT_PASSWORD})
        headers = {"Authorization": f"Bearer {r.json()['data']['access_token']}"}
        assert (await c.get("/demo/things", headers=headers)).status_code == 403
        assert (await c.get("/demo/admin", headers=headers)).status_code == 403
        await grant_roles(make_settings(), r.json()["data"]["user"]["id"], ["admin"])
        resp = await c.get("/demo/things", headers=headers)
        assert resp.status_code == 200 and "demo.things.manage" in resp.json()
        assert (await c.get("/demo/admin", headers=headers)).status_code == 200


async def test_create_admin_creates_then_promotes(settings):
    from keel.identity.services import create_admin

    await create_admin(settings, email="Root@Example.com", name="Root", password=DEFAULT_PASSWORD)
    await create_admin(settings, email="root@example.com", name="Root", password=DEFAULT_PASSWORD)
    rows = await _rows(settings, select(User.email, User.is_verified))
    assert rows == [("root@example.com", True)]


async def test_seed_is_idempotent(settings):
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from keel.identity.models import Role
    from keel.identity.seed import seed

    engine = create_async_engine(settings.database_url)
    for _ in range(2):
        async with async_sessionmaker(engine)() as session, session.begin():
            await seed(session, settings)
    await engine.dispose()
    names = sorted(r[0] for r in await _rows(settings, select(Role.name)))
    assert "admin" in names and "user" in names and len(names) == len(set(names))


# --- JWKS ---


@pytest.mark.parametrize("algorithm", ["RS256", "EdDSA"])
async def test_asymmetric_keys_publish_jwks_and_verify(tmp_path, make_settings, algorithm):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    from litestar.testing import AsyncTestClient

    from keel.app import create_app

    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if algorithm == "RS256"
        else ed25519.Ed25519PrivateKey.generate()
    )
    priv, pub = tmp_path / "key.pem", tmp_path / "pub.pem"
    priv.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    settings = make_settings(
        jwt_algorithm=algorithm, jwt_private_key_file=str(priv), jwt_public_key_file=str(pub)
    )
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as c:
        jwks = (await c.get(f"{A}/.well-known/jwks.json")).json()
        assert jwks["keys"][0]["alg"] == algorithm and jwks["keys"][0]["kid"]
        r = await c.post(f"{A}/register", json={"email": "k@example.com", "password": DEFAULT_PASSWORD})
        token = r.json()["data"]["access_token"]
        assert jwt.get_unverified_header(token)["alg"] == algorithm
        assert (
            await c.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        ).status_code == 200
        forged = jwt.encode(
            jwt.decode(token, options={"verify_signature": False}), "secret", algorithm="HS256"
        )
        assert (
            await c.get("/api/v1/users/me", headers={"Authorization": f"Bearer {forged}"})
        ).status_code == 401


async def test_jwks_is_404_with_a_shared_secret(client):
    assert (await client.get(f"{A}/.well-known/jwks.json")).status_code == 404


async def test_identify_gives_the_user_id_without_database(app, user_factory):
    user = await user_factory()
    scope = {"type": "http", "headers": [(b"authorization", f"Bearer {user.access_token}".encode())]}
    assert app.state.identify(scope) == user.id
    assert app.state.identify({"type": "http", "headers": [(b"authorization", b"Bearer junk")]}) is None


async def test_an_offset_past_any_database_integer_is_a_field_error(client, user_factory) -> None:
    user = await user_factory()
    resp = await client.get("/api/v1/auth/sessions", params={"offset": 10**36}, headers=user.headers)
    assert resp.status_code == 400, resp.text
    assert "offset" in resp.json()["error"]["details"]
