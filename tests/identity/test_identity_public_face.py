"""keel.identity's public face: the names apps use instead of identity's models and services."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

import keel.identity
from keel.identity import (
    UserSummary,
    ensure_user,
    find_user,
    find_user_id,
    find_users,
    lock_user,
    user_names,
    user_summaries,
)
from keel.settings import Settings


def test_every_exported_name_resolves() -> None:
    for name in keel.identity.__all__:
        assert getattr(keel.identity, name) is not None, name


async def test_seeded_accounts_are_found_by_address_and_id(settings: Settings, client) -> None:  # type: ignore[no-untyped-def]
    from keel.identity.models import User

    engine = create_async_engine(settings.database_url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as db, db.begin():
            ada = await ensure_user(db, email=" Ada@Example.com ", name="Ada", settings=settings)
            bob = await ensure_user(db, email="bob@example.com", name="Bob", settings=settings)
            # a second call finds the same account instead of creating another
            assert await ensure_user(db, email="ada@example.com", settings=settings) == ada
            await db.execute(update(User).where(User.id == bob).values(is_active=False))

        async with async_sessionmaker(engine)() as db, db.begin():
            await lock_user(db, ada)  # takes the row lock; the account is unchanged
            stranger = uuid.uuid4()
            assert await user_names(db, [ada, bob, stranger]) == {ada: "Ada", bob: "Bob"}
            everyone = await user_summaries(db, [ada, bob, stranger])
            assert everyone == {
                ada: UserSummary(id=ada, name="Ada", email="ada@example.com", is_active=True),
                bob: UserSummary(id=bob, name="Bob", email="bob@example.com", is_active=False),
            }
            assert set(await user_summaries(db, [ada, bob], active_only=True)) == {ada}
            assert await user_summaries(db, []) == {}

            assert await find_user_id(db, "ADA@example.com") == ada
            assert await find_user_id(db, "not an address") is None
            found = await find_user(db, "Bob@Example.com")
            assert found is not None and found.id == bob and not found.is_active
            assert await find_user(db, "bob@example.com", active_only=True) is None
            by_address = await find_users(db, ["Ada@Example.com", "bob@example.com", "nobody@example.com"])
            ids = {address: summary.id for address, summary in by_address.items()}
            assert ids == {"ada@example.com": ada, "bob@example.com": bob}
            active = await find_users(db, ["ada@example.com", "bob@example.com"], active_only=True)
            assert list(active) == ["ada@example.com"]
    finally:
        await engine.dispose()

    # an account made by ensure_user has no password anyone can log in with
    response = await client.post(
        "/api/v1/auth/login", json={"email": "ada@example.com", "password": "!no-login"}
    )
    assert response.status_code == 401
