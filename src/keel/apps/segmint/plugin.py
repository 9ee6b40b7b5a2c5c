"""segmint: personalised content engine — content with a tone and versions, approval workflows, publishing
integrations, scheduled publishing, idea suggestions and the user's voice profile."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel.apps.segmint import media_store, tasks
from keel.apps.segmint.connect_routes import route_handlers as connect_route_handlers
from keel.apps.segmint.routes import route_handlers
from keel.apps.segmint.seed import seed
from keel.apps.segmint.teams import ensure_roles
from keel.core.components import AppSpec
from keel.identity import on_account_deletion

if TYPE_CHECKING:
    from litestar import Litestar


async def startup(app: Litestar) -> None:
    """Bind the job runner to this app, hook into account deletion (the account's media leave storage)
    and re-queue schedules whose job was lost."""
    tasks.bind(app)
    on_account_deletion(app, media_store.account_deletion_hook(app.state.storage))
    _, sessions = tasks._runtime()
    async with sessions() as db, db.begin():
        await ensure_roles(db)
    await tasks.requeue_lost(app)


spec = AppSpec(
    name="segmint",
    description="Personalised content engine: content, approval workflows, integrations, scheduled "
    "publishing, idea suggestions and voice profile",
    route_handlers=[*route_handlers, *connect_route_handlers],
    seed=seed,
    tasks=tasks.tasks,
    startup=startup,
)
