"""An OWASP ASVS (V2 authentication, V3 sessions) walk through the identity API, one check per item."""

from __future__ import annotations

import base64
import json
import math
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import jwt
import time_machine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from fixtures.identity import DEFAULT_PASSWORD, login
from keel.identity.models import User

A = "/api/v1/auth"
ME = "/api/v1/users/me"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(client, email: str, password: str):
    return await client.post(f"{A}/register", json={"email": email, "password": password})


async def test_password_length_bounds(client):
    assert (await register(client, "a@example.com", "Sh0rt!x")).status_code == 400  # 7
    assert (await register(client, "b@example.com", "qz8#Lm2v")).status_code == 201  # 8
    assert (await register(client, "c@example.com", "k" * 127 + "Q")).status_code == 201  # 128
    assert (await register(client, "d@example.com", "k" * 256)).status_code == 201  # 256 allowed
    assert (await register(client, "e@example.com", "k" * 257)).status_code == 400


async def test_no_truncation_of_long_passwords(client):
    prefix = "p" * 80  # past bcrypt's 72 bytes
    assert (await register(client, "long@example.com", prefix + "-one")).status_code == 201
    assert (await login(client, "long@example.com", prefix + "-two")).status_code == 401
    assert (await login(client, "long@example.com", prefix + "-one")).status_code == 200


async def test_breached_password_refused_and_list_is_large():
    from keel.identity.passwords import common_passwords

    assert len(common_passwords()) >= 10_000


async def test_breached_password_refused(client):
    for weak in ("password", "12345678", "iloveyou", "Qwertyuiop", "baseball"):
        resp = await register(client, "w@example.com", weak)
        assert resp.status_code == 400 and "password" in resp.json()["error"]["details"]


async def test_change_needs_current_password(client, user_factory):
    user = await user_factory()
    resp = await client.post(
        f"{A}/password",
        headers=user.headers,
        json={"current_password": "not my password", "new_password": "Fresh passphrase 99"},
    )
    assert resp.status_code == 400
    assert (await login(client, user.email, user.password)).status_code == 200


async def test_throttling(client, settings, user_factory):
    user = await user_factory()
    codes = [
        (await login(client, user.email, "guessing wrong")).status_code
        for _ in range(settings.login_max_failures + 1)
    ]
    assert codes[-1] == 429 and set(codes[:-1]) == {401}


async def test_same_answer_for_unknown_user(client, app, user_factory):
    """Unknown account and wrong password answer alike, and both pay one full argon2id verification with the
    real cost parameters (the dummy-hash defence), so response time does not reveal which accounts exist."""
    user = await user_factory()
    context = app.state.identity.passwords.context
    verified: list[str] = []
    real_verify = context.verify_and_update

    def recording_verify(password: str, hashed: str):  # a spy: the real verification still runs
        verified.append(hashed)
        return real_verify(password, hashed)

    context.verify_and_update = recording_verify
    try:
        wrong = await login(client, user.email, "wrong password x")
        unknown = await login(client, "nobody@example.com", "wrong password x")
    finally:
        context.verify_and_update = real_verify
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"] == unknown.json()["error"]
    assert len(verified) == 2, "each login attempt verifies exactly one hash"
    real_params, dummy_params = (h.rsplit("$", 2)[0] for h in verified)
    assert real_params.startswith("$argon2id$") and dummy_params == real_params


async def test_token_entropy(client, user_factory):
    """Refresh tokens carry at least 256 random bits. The character entropy is measured over 24 rotated
    tokens together: one 43-character token is too short a sample (its own entropy varies 4.2-5.3 bits
    by chance), while 1,032 characters of a uniform base64 draw sit at 5.9-6.0 bits out of 6."""
    user = await user_factory()
    tokens = [user.refresh_token]
    for _ in range(23):
        resp = await client.post(f"{A}/refresh", json={"refresh_token": tokens[-1]})
        assert resp.status_code == 200
        tokens.append(resp.json()["data"]["refresh_token"])
    for token in tokens:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) * 8 >= 256
    assert len(set(tokens)) == len(tokens)
    sample = "".join(tokens)
    counts = Counter(sample)
    entropy = -sum(c / len(sample) * math.log2(c / len(sample)) for c in counts.values())
    assert entropy > 5.8
    other = await user_factory()
    assert other.refresh_token not in tokens


async def test_new_session_at_login(client, user_factory):
    user = await user_factory()
    again = (await login(client, user.email, user.password)).json()["data"]
    assert again["session_id"] != user.session_id
    sessions = (await client.get(f"{A}/sessions", headers=user.headers)).json()
    assert sessions["meta"]["total"] == 2


async def test_idle_timeout(client, settings, user_factory):
    user = await user_factory()
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=settings.refresh_idle_ttl + 60)):
        assert (
            await client.post(f"{A}/refresh", json={"refresh_token": user.refresh_token})
        ).status_code == 401


async def test_absolute_timeout(client, settings, user_factory):
    user = await user_factory()
    token, start = user.refresh_token, datetime.now(UTC)
    step = timedelta(seconds=settings.refresh_idle_ttl - 3600)  # always within the idle lifetime
    at = start
    while at + step < start + timedelta(seconds=settings.refresh_absolute_ttl):
        at += step
        with time_machine.travel(at):
            resp = await client.post(f"{A}/refresh", json={"refresh_token": token})
            assert resp.status_code == 200
            token = resp.json()["data"]["refresh_token"]
    with time_machine.travel(start + timedelta(seconds=settings.refresh_absolute_ttl + 60)):
        assert (await client.post(f"{A}/refresh", json={"refresh_token": token})).status_code == 401


async def test_logout_kills_refresh_and_access_token(client, user_factory):
    user = await user_factory()
    assert (await client.post(f"{A}/logout", headers=user.headers)).status_code == 200
    assert (await client.get(ME, headers=user.headers)).status_code == 401
    assert (await client.post(f"{A}/refresh", json={"refresh_token": user.refresh_token})).status_code == 401


async def test_deactivation_kills_all_sessions(client, user_factory, admin_headers):
    user = await user_factory()
    other = (await login(client, user.email, user.password)).json()["data"]
    await client.patch(f"/api/v1/users/{user.id}", json={"is_active": False}, headers=admin_headers)
    for token in (user.access_token, other["access_token"]):
        assert (await client.get(ME, headers=bearer(token))).status_code == 401
    assert (
        await client.post(f"{A}/refresh", json={"refresh_token": other["refresh_token"]})
    ).status_code == 401


async def test_jwt_forgeries_refused(client, settings, user_factory):
    user = await user_factory()
    claims = jwt.decode(user.access_token, options={"verify_signature": False})
    head = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    secret = settings.jwt_secret
    now = int(time.time())
    forgeries = [
        f"{head}.{body}.",  # alg=none
        user.access_token[:-4] + ("AAAA" if not user.access_token.endswith("AAAA") else "BBBB"),  # tampered
        jwt.encode({**claims, "aud": "someone-else"}, secret, algorithm="HS256"),
        jwt.encode({**claims, "iss": "evil"}, secret, algorithm="HS256"),
        jwt.encode({**claims, "exp": now - 10}, secret, algorithm="HS256"),  # expired
        jwt.encode({**claims, "nbf": now + 3600}, secret, algorithm="HS256"),  # not yet valid
        jwt.encode(
            {**claims, "roles": ["admin"]}, "another-secret-that-is-long-enough-000", algorithm="HS256"
        ),
        jwt.encode({**claims, "typ": "refresh"}, secret, algorithm="HS256"),
        jwt.encode(claims, secret, algorithm="HS512"),  # algorithm not pinned
    ]
    for token in forgeries:
        assert (await client.get(ME, headers=bearer(token))).status_code == 401, token


async def test_refresh_not_usable_as_access(client, user_factory):
    user = await user_factory()
    assert (await client.get(ME, headers=bearer(user.refresh_token))).status_code == 401


async def test_cookie_flags(client, make_settings, user_factory):
    user = await user_factory()
    resp = await login(client, user.email, user.password, transport="cookie")
    cookies = resp.headers.get_list("set-cookie")
    for name in ("keel_access", "keel_refresh"):
        cookie = next(c for c in cookies if c.startswith(name + "="))
        assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert make_settings(keel_env="production").cookie_secure
    from keel.identity.guards import cookie_names

    assert cookie_names(True).access == "__Host-keel_access"


async def test_stored_hash_is_argon2id_with_enough_memory(client, settings, user_factory):
    await user_factory()
    engine = create_async_engine(settings.database_url)
    async with engine.connect() as conn:
        stored = (await conn.execute(select(User.password_hash))).scalar_one()
    await engine.dispose()
    assert stored.startswith("$argon2id$")
    params = dict(p.split("=") for p in stored.split("$")[3].split(","))
    assert int(params["m"]) >= 19456


async def test_reuse_revokes_the_family(client, settings, user_factory):
    user = await user_factory()
    rotated = (await client.post(f"{A}/refresh", json={"refresh_token": user.refresh_token})).json()["data"]
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=settings.refresh_reuse_grace + 1)):
        assert (
            await client.post(f"{A}/refresh", json={"refresh_token": user.refresh_token})
        ).status_code == 401
        assert (
            await client.post(f"{A}/refresh", json={"refresh_token": rotated["refresh_token"]})
        ).status_code == 401
        assert (await client.get(ME, headers=bearer(rotated["access_token"]))).status_code == 401


async def test_default_password_fixture_is_acceptable():
    from keel.identity.passwords import password_problem

    assert password_problem(DEFAULT_PASSWORD) is None
