"""Core knows no app: the factory loads the enabled apps' specs first and core reads what they declare
(permissions, seeds, tasks, models) from that one registry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

import keel.core
from keel.app import app_seeders, create_app, enabled_apps, register_app_permissions
from keel.core.components import AppSpec
from keel.core.seed import run_seeders
from keel.identity import rbac
from keel.identity.models import Permission, Role
from keel.settings import Settings

CORE = Path(keel.core.__file__).resolve().parent


def test_core_names_no_app_nor_identity() -> None:
    """The same check as `grep -rn "keel.app\\b\\|keel.apps\\|keel.identity" src/keel/core`."""
    pattern = re.compile(r"keel.app\b|keel.apps|keel.identity")
    hits = [
        f"{path.relative_to(CORE)}:{number}: {line.strip()}"
        for path in sorted(CORE.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert hits == []


def test_only_enabled_apps_are_loaded_and_seeded(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(keel_apps="market")
    apps = enabled_apps(settings)
    assert [spec.name for spec in apps] == ["market"]
    assert [name for name, _ in app_seeders(apps)] == ["identity", "market"]
    assert apps[0].package.endswith(".market") and apps[0].model_modules == (f"{apps[0].package}.models",)


def test_unknown_app_names_the_setting(make_settings) -> None:  # type: ignore[no-untyped-def]
    from keel.settings import SettingsError

    with pytest.raises(SettingsError, match=r"KEEL_APPS names an unknown app 'gmy'; use any of gym"):
        enabled_apps(make_settings(keel_apps="gym,gmy"))


@pytest.fixture
def lab_permissions():  # type: ignore[no-untyped-def]
    """A spec's permissions join the shared registry; taken out again so other tests see the real set."""
    names = ("lab.widgets.manage", "lab.widgets.read")
    yield names
    for name in names:
        rbac.PERMISSIONS.pop(name, None)
        for grants in rbac.ROLE_GRANTS.values():
            grants.discard(name)


async def test_declared_permissions_and_seed_reach_the_database(
    settings: Settings, lab_permissions: tuple[str, str]
) -> None:
    seeded: list[str] = []

    async def seed_lab(session, _settings) -> None:  # type: ignore[no-untyped-def]
        seeded.append("lab")

    manage, read = lab_permissions
    spec = AppSpec(
        name="lab",
        description="a test app",
        route_handlers=[],
        seed=seed_lab,
        permissions={manage: "Change widgets", read: "See widgets"},
        role_grants={"user": [read]},
    )
    register_app_permissions([spec])
    await run_seeders(settings, app_seeders([spec]))
    assert seeded == ["lab"]

    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            stored = set((await conn.scalars(select(Permission.name))).all())
        assert {manage, read} <= stored
        from sqlalchemy.ext.asyncio import async_sessionmaker
        from sqlalchemy.orm import selectinload

        async with async_sessionmaker(engine)() as session:
            roles = {
                r.name: {p.name for p in r.permissions}
                for r in (await session.scalars(select(Role).options(selectinload(Role.permissions)))).all()
            }
    finally:
        await engine.dispose()
    assert {manage, read} <= roles["admin"]
    assert read in roles["user"] and manage not in roles["user"]


async def test_realtime_authenticates_through_the_installed_hook(settings: Settings) -> None:
    """Identity installs `authenticate_connection`; without any authenticator the stream answers 401."""
    app = create_app(settings)
    assert app.state.authenticate_connection is not None
    del app.state["authenticate_connection"]
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        response = await client.get("/api/v1/events")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
