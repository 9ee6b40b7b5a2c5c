"""What a job runs with: the database, storage and (in the server) the app; `bind` at app start-up,
`runtime()` anywhere (it builds its own in `keel worker`). Also the blueprint the scribe tasks are on."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import structlog

from keel.core.jobs_context import TaskContext, TaskContextSlot
from keel.core.jobs_spec import TaskBlueprint

if TYPE_CHECKING:
    from litestar import Litestar

    from keel.apps.scribe.models import Transcription
    from keel.core.storage import Storage
    from keel.settings import Settings

log = structlog.get_logger("keel.scribe.tasks")

blueprint = TaskBlueprint()  # procrastinate loads when the tasks are bound (the first job deferred)


def _storage(settings: Settings, app: Litestar | None) -> Storage:
    from keel.apps.scribe.services import get_storage

    return get_storage(app, settings)  # scribe's upload limit when the app has no storage of its own


Runtime = TaskContext  # what a scribe job runs with (keel.core.jobs_context)
_context = TaskContextSlot(_storage)
bind = _context.bind  # app start-up: jobs run by this process use this app's database, storage, channels
runtime = _context.get  # anywhere; `keel worker` builds its own


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
