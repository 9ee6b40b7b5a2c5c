"""What a job runs with: the database, storage and (in the server) the app; `bind` at app start-up,
`runtime()` anywhere (it builds its own in `keel worker`). Also the blueprint the scribe tasks are on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from procrastinate import Blueprint
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

if TYPE_CHECKING:
    from litestar import Litestar

    from keel.apps.scribe.models import Transcription
    from keel.core.storage import Storage
    from keel.settings import Settings

log = structlog.get_logger("keel.scribe.tasks")

blueprint = Blueprint()


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    storage: Storage
    app: Litestar | None = None

    @property
    def sessions(self) -> async_sessionmaker[Any]:
        return async_sessionmaker(self.engine, expire_on_commit=False)


_runtime: Runtime | None = None


def bind(app: Litestar) -> Runtime:
    """Called at app start-up: jobs run by this process use this app's database, storage and channels."""
    global _runtime
    from keel.apps.scribe.services import get_storage

    settings = app.state.settings
    _runtime = Runtime(settings, app.state.sa_config.get_engine(), get_storage(app, settings), app)
    return _runtime


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:  # `keel worker`: no Litestar app in this process
        from keel.core.storage import Storage
        from keel.settings import get_settings

        settings = get_settings()
        _runtime = Runtime(
            settings,
            create_async_engine(settings.database_url, pool_pre_ping=True),
            Storage(settings.storage_url, max_size=settings.scribe_max_upload_size),
        )
    return _runtime


async def publish(rt: Runtime, owner_id: uuid.UUID, event: dict[str, Any]) -> None:
    """Progress to the owner's `user:<id>:scribe` channel when realtime is installed; never fails a job."""
    if rt.app is None:
        return
    try:
        from keel.core import realtime  # type: ignore[attr-defined]

        await realtime.publish(rt.app, f"user:{owner_id}:scribe", event)
    except Exception:
        log.debug("scribe_publish_skipped", exc_info=True)


def _event(row: Transcription) -> dict[str, Any]:
    return {
        "type": "scribe.transcription",
        "id": str(row.id),
        "status": row.status,
        "progress": round(row.progress, 1),
        "error": row.error,
    }
