"""AUTH_REQUIRE_VERIFIED_EMAIL (on in production): registration signs nobody in and answers a new and a
taken address alike; login waits until a mailed link (verification or reset) proves the address."""

from __future__ import annotations

from typing import Any

import pytest

from fixtures.identity import DEFAULT_PASSWORD, link_token, login

A = "/api/v1/auth"
NEW = "Another long passphrase 7"


@pytest.fixture
def settings(make_settings, smtp_server):
    return make_settings(smtp_host="127.0.0.1", smtp_port=smtp_server.port, auth_require_verified_email=True)


async def register(client: Any, email: str, password: str = DEFAULT_PASSWORD) -> Any:
    return await client.post(f"{A}/register", json={"email": email, "password": password})


def error_of(response: Any) -> tuple[int, Any]:
    """What a client sees of a failure: status and the error (the request id differs every time)."""
    return response.status_code, response.json()["error"]


def test_the_setting_defaults_to_on_in_production_only(make_settings) -> None:
    from keel.settings import Settings

    assert Settings(keel_env="development").require_verified_email is False
    assert Settings(keel_env="test").require_verified_email is False
    assert Settings(keel_env="production", jwt_secret="x" * 40).require_verified_email is True
    assert Settings(keel_env="production", auth_require_verified_email=False).require_verified_email is False
    assert make_settings(auth_require_verified_email=True).require_verified_email is True


async def test_a_new_and_a_taken_address_answer_alike_without_tokens(client, smtp_server):
    new = await register(client, "owner@example.com")
    taken = await register(client, "OWNER@example.com", "Some other passphrase 9")
    other = await register(client, "newcomer@example.com")
    assert new.status_code == taken.status_code == other.status_code == 202
    assert new.json() == taken.json()
    assert new.json()["data"] == {"email": "owner@example.com", "verification": "sent"}
    assert other.json()["data"] == {"email": "newcomer@example.com", "verification": "sent"}
    for answer in (new, taken, other):
        assert "token" not in answer.text.lower()
        assert not answer.cookies
        assert answer.headers["cache-control"] == "no-store"

    first = await smtp_server.wait_for("owner@example.com", count=1)
    second = await smtp_server.wait_for("owner@example.com", count=2)
    assert str(first["Subject"]) == "Confirm your email address"
    assert str(second["Subject"]) == "Someone tried to register with your address"
    newcomer = await smtp_server.wait_for("newcomer@example.com")
    assert str(newcomer["Subject"]) == "Confirm your email address"


async def test_login_before_verification_answers_as_a_wrong_password(client, smtp_server):
    await register(client, "ada@example.com")
    unverified = await login(client, "ada@example.com", DEFAULT_PASSWORD)
    wrong = await login(client, "ada@example.com", "Not the passphrase at all 3")
    unknown = await login(client, "nobody@example.com", DEFAULT_PASSWORD)
    assert error_of(unverified) == error_of(wrong) == error_of(unknown)
    status, error = error_of(unverified)
    assert status == 401 and error["code"] == "UNAUTHORIZED"
    assert "open the link we mailed you" in error["message"]

    token = link_token(await smtp_server.wait_for("ada@example.com"))
    assert (await client.post(f"{A}/verify-email/confirm", json={"token": token})).status_code == 200
    resp = await login(client, "ada@example.com", DEFAULT_PASSWORD)
    assert resp.status_code == 200
    assert resp.json()["data"]["user"]["is_verified"] is True
    me = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {resp.json()['data']['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["data"]["email"] == "ada@example.com"


async def test_a_password_reset_by_mail_proves_the_address(client, smtp_server):
    await register(client, "grace@example.com")
    await smtp_server.wait_for("grace@example.com")  # the verification mail, left unopened
    assert (await client.post(f"{A}/password-reset", json={"email": "grace@example.com"})).status_code == 202
    token = link_token(await smtp_server.wait_for("grace@example.com", count=2))
    resp = await client.post(f"{A}/password-reset/confirm", json={"token": token, "new_password": NEW})
    assert resp.status_code == 200
    assert (await login(client, "grace@example.com", NEW)).status_code == 200


async def test_createadmin_users_log_in_at_once(client, settings):
    from keel.identity.services import create_admin

    await create_admin(settings, email="root@example.com", name="Root", password=DEFAULT_PASSWORD)
    resp = await login(client, "root@example.com", DEFAULT_PASSWORD)
    assert resp.status_code == 200
    assert "admin" in resp.json()["data"]["user"]["roles"]


async def test_an_unverified_account_promoted_by_createadmin_is_verified(client, settings, smtp_server):
    from keel.identity.services import create_admin

    await register(client, "later-admin@example.com")
    await create_admin(settings, email="later-admin@example.com", name="", password=DEFAULT_PASSWORD)
    assert (await login(client, "later-admin@example.com", DEFAULT_PASSWORD)).status_code == 200


async def test_a_new_and_a_taken_address_cost_one_password_hash_each(client, monkeypatch):
    """About the same time: each answer hashes the password once (timing them is too noisy under load)."""
    from keel.identity.passwords import Passwords

    hashed: list[str] = []
    real_hash = Passwords.hash

    async def counting_hash(self: Passwords, password: str) -> str:
        hashed.append(password)
        return await real_hash(self, password)

    monkeypatch.setattr(Passwords, "hash", counting_hash)
    assert (await register(client, "first@example.com")).status_code == 202
    assert hashed == [DEFAULT_PASSWORD]
    assert (await register(client, "first@example.com", NEW)).status_code == 202
    assert hashed == [DEFAULT_PASSWORD, NEW]
