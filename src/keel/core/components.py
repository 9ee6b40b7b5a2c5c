"""How core components and apps plug into the application factory.

A component is a module with `install(builder: AppBuilder) -> None`. It adds routes, middleware, plugins,
dependencies and lifespan hooks to the builder; the application factory turns the builder into one
Litestar app. An app describes itself with an `AppSpec`; the factory loads the specs of the enabled apps
*before* any component is installed and keeps them on the builder (`builder.apps`), so core reads what
apps declare (tasks, seeds, permissions, models) from that one registry and never imports an app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from litestar import Litestar
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.settings import Settings


Seeder = Callable[["AsyncSession", "Settings"], Awaitable[None]]


@dataclass
class AppSpec:
    """What an app contributes: its routes under /api/v1/<name>, its permissions, models, seed data and jobs.

    `permissions` (name -> description) are registered with the access-control registry before the app
    is built; `role_grants` (role -> permission names) gives roles other than admin some of them (admin
    always gets all). `models` names the modules defining the app's tables (empty: `<package>.models`,
    where `package` is the app's import package, filled in by the loader).
    """

    name: str
    description: str
    route_handlers: list[Any]
    seed: Seeder | None = None
    # a keel.core.jobs_spec.TaskBlueprint (or a procrastinate.Blueprint); tasks named `<app>:<task>`
    tasks: Any = None
    permissions: dict[str, str] = field(default_factory=dict)
    role_grants: dict[str, list[str]] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    install: Callable[[AppBuilder], None] | None = None
    startup: Callable[[Litestar], Awaitable[None]] | None = None
    package: str = ""

    @property
    def model_modules(self) -> tuple[str, ...]:
        if self.models:
            return self.models
        return (f"{self.package}.models",) if self.package else ()


@dataclass
class AppBuilder:
    settings: Settings
    # the enabled apps, loaded before any component is installed: the one registry core reads
    apps: list[AppSpec] = field(default_factory=list)
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
