"""Reset and verification links travel through a real SMTP server on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from fixtures.identity import link_token, login

A = "/api/v1/auth"
NEW = "Another long passphrase 7"


@pytest.fixture
def settings(mail_settings):
    return mail_settings


async def test_password_reset_via_mailed_link_ends_sessions_and_is_single_use(
    client, smtp_server, user_factory
):
    user = await user_factory()
    resp = await client.post(f"{A}/password-reset", json={"email": user.email.upper()})
    assert resp.status_code == 202
    token = link_token(await smtp_server.wait_for(user.email, count=2))  # 1: verification at register
    done = await client.post(f"{A}/password-reset/confirm", json={"token": token, "new_password": NEW})
    assert done.status_code == 200
    assert (await client.get("/api/v1/users/me", headers=user.headers)).status_code == 401
    assert (await login(client, user.email, NEW)).status_code == 200
    replay = await client.post(
        f"{A}/password-reset/confirm", json={"token": token, "new_password": NEW + "x"}
    )
    assert replay.status_code == 400 and replay.json()["error"]["details"]["token"]


async def test_reset_answers_the_same_for_unknown_email(client, smtp_server, user_factory):
    user = await user_factory()
    known = await client.post(f"{A}/password-reset", json={"email": user.email})
    unknown = await client.post(f"{A}/password-reset", json={"email": "ghost@example.com"})
    assert known.status_code == unknown.status_code == 202 and known.json() == unknown.json()
    await smtp_server.wait_for(user.email, count=2)
    assert smtp_server.to("ghost@example.com") == []


async def test_expired_or_forged_reset_link_is_refused(client, smtp_server, user_factory):
    user = await user_factory()
    await client.post(f"{A}/password-reset", json={"email": user.email})
    token = link_token(await smtp_server.wait_for(user.email, count=2))
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert (
        await client.post(f"{A}/password-reset/confirm", json={"token": forged, "new_password": NEW})
    ).status_code == 400
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=2)):
        late = await client.post(f"{A}/password-reset/confirm", json={"token": token, "new_password": NEW})
    assert late.status_code == 400
    assert (await login(client, user.email, user.password)).status_code == 200


async def test_weak_password_does_not_burn_the_link(client, smtp_server, user_factory):
    user = await user_factory()
    await client.post(f"{A}/password-reset", json={"email": user.email})
    token = link_token(await smtp_server.wait_for(user.email, count=2))
    assert (
        await client.post(f"{A}/password-reset/confirm", json={"token": token, "new_password": "password"})
    ).status_code == 400
    assert (
        await client.post(f"{A}/password-reset/confirm", json={"token": token, "new_password": NEW})
    ).status_code == 200


async def test_email_verification_link(client, smtp_server, user_factory):
    user = await user_factory()
    token = link_token(await smtp_server.wait_for(user.email))
    assert (await client.post(f"{A}/verify-email/confirm", json={"token": token})).status_code == 200
    me = (await client.get("/api/v1/users/me", headers=user.headers)).json()["data"]
    assert me["is_verified"] is True
    assert (await client.post(f"{A}/verify-email/confirm", json={"token": token})).status_code == 400
    assert (await client.post(f"{A}/verify-email", headers=user.headers)).status_code == 202


async def test_reset_requests_are_throttled(app, client, smtp_server, user_factory):
    from limits import parse

    app.state.identity.email_limit = parse("2/hour")
    user = await user_factory()
    codes = [
        (await client.post(f"{A}/password-reset", json={"email": user.email})).status_code for _ in range(3)
    ]
    assert codes == [202, 202, 429]


def _shape(value):
    """The keys of a JSON answer, recursively: what a client parses, without the values."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    return type(value).__name__


async def test_registering_a_taken_address_answers_alike_and_mails_its_owner(
    client, settings, smtp_server, monkeypatch
):
    from sqlalchemy import func, select
    from sqlalchemy.ext.asyncio import create_async_engine

    from fixtures.identity import DEFAULT_PASSWORD
    from keel.identity.models import AuditEvent, User
    from keel.identity.passwords import Passwords

    # count the real argon2 hashes each answer spends (timing the two is too noisy under load)
    hashed: list[str] = []
    real_hash = Passwords.hash

    async def counting_hash(self, password):
        hashed.append(password)
        return await real_hash(self, password)

    monkeypatch.setattr(Passwords, "hash", counting_hash)
    new = await client.post(
        f"{A}/register", json={"email": "owner@example.com", "password": DEFAULT_PASSWORD}
    )
    new_hashes, hashed[:] = len(hashed), []
    again = await client.post(
        f"{A}/register", json={"email": "OWNER@example.com", "password": "Some other passphrase 9"}
    )
    assert new.status_code == again.status_code == 201
    assert _shape(new.json()) == _shape(again.json())
    assert again.json()["data"]["user"]["email"] == "owner@example.com"
    assert again.headers["cache-control"] == "no-store"
    # the password is hashed either way, so the taken address does not answer in a fraction of the time
    assert new_hashes == 1
    assert hashed == ["Some other passphrase 9"]

    mails = [await smtp_server.wait_for("owner@example.com", count=n) for n in (1, 2)]
    subjects = sorted(str(m["Subject"]) for m in mails)
    assert subjects == ["Confirm your email address", "Someone tried to register with your address"]
    # the answer to the taken address opens nothing, and the account is unchanged
    fake = {"Authorization": f"Bearer {again.json()['data']['access_token']}"}
    assert (await client.get("/api/v1/users/me", headers=fake)).status_code == 401
    assert (await login(client, "owner@example.com", DEFAULT_PASSWORD)).status_code == 200
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(User)) == 1
            events = (await conn.execute(select(AuditEvent.event))).scalars().all()
    finally:
        await engine.dispose()
    assert "user.register_existing" in events
