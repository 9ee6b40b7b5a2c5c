"""How core components and apps plug into the application factory.

A component is a module with `install(builder: AppBuilder) -> None`. It adds routes, middleware, plugins,
dependencies and lifespan hooks to the builder; `keel.app.create_app` turns the builder into one Litestar
app. Apps additionally expose an `AppSpec` named `spec` in `keel.apps.<name>.plugin`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from litestar import Litestar
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.settings import Settings


@dataclass
class AppBuilder:
    settings: Settings
    route_handlers: list[Any] = field(default_factory=list)
    middleware: list[Any] = field(default_factory=list)
    plugins: list[Any] = field(default_factory=list)
    dependencies: dict[str, Any] = field(default_factory=dict)
    lifespan: list[Callable[[Litestar], AbstractAsyncContextManager[Any]]] = field(default_factory=list)
    on_startup: list[Callable[[Litestar], Awaitable[None] | None]] = field(default_factory=list)
    on_shutdown: list[Callable[[Litestar], Awaitable[None] | None]] = field(default_factory=list)
    signature_namespace: dict[str, Any] = field(default_factory=dict)
    tags: list[dict[str, str]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    # name -> async check raising on failure; /ready answers 503 naming each failing one
    readiness_checks: dict[str, Callable[[Litestar], Awaitable[None]]] = field(default_factory=dict)


Seeder = Callable[["AsyncSession", "Settings"], Awaitable[None]]


@dataclass
class AppSpec:
    """What an app contributes: its routes under /api/v1/<name>, its seed data and its jobs."""

    name: str
    description: str
    route_handlers: list[Any]
    seed: Seeder | None = None
    task_modules: tuple[str, ...] = ()
    tasks: Any = None  # a procrastinate.Blueprint; its tasks are named `<app name>:<task name>`
    install: Callable[[AppBuilder], None] | None = None
    startup: Callable[[Litestar], Awaitable[None]] | None = None


LifespanFactory = Callable[["Litestar"], AsyncIterator[None]]
