"""Seed data, loaded idempotently by `keel migrate`, `keel seed` and `make run`."""

from __future__ import annotations

import importlib

import structlog
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from keel.core.components import Seeder
from keel.settings import Settings

log = structlog.get_logger("keel.seed")
# core seeders first (roles before anything that might reference them), then every app's
CORE_SEEDERS = ("keel.identity.seed",)


def _seeders() -> list[tuple[str, Seeder]]:
    from keel.app import KNOWN_APPS

    found: list[tuple[str, Seeder]] = []
    for name in CORE_SEEDERS:
        try:
            found.append((name, importlib.import_module(name).seed))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    for app_name in KNOWN_APPS:
        module_name = f"keel.apps.{app_name}.plugin"
        try:
            spec = importlib.import_module(module_name).spec
        except ModuleNotFoundError as exc:
            if exc.name not in (module_name, f"keel.apps.{app_name}"):
                raise
            continue
        if spec.seed is not None:
            found.append((app_name, spec.seed))
    return found


async def run_seeders(settings: Settings) -> None:
    engine = create_async_engine(settings.database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        for name, seeder in _seeders():
            async with sessions() as session, session.begin():
                await seeder(session, settings)
            log.info("seeded", seeder=name)
    finally:
        await engine.dispose()
