"""scribe: upload audio/video, transcribe it (local Whisper or a remote API), edit, export."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel.apps.scribe import tasks
from keel.apps.scribe.routes import route_handlers
from keel.core.components import AppSpec

if TYPE_CHECKING:
    from litestar import Litestar


async def startup(app: Litestar) -> None:
    """Bind the job runner to this app and re-queue transcriptions whose job was lost."""
    tasks.bind(app)
    await tasks.requeue_lost(app)


spec = AppSpec(
    name="scribe",
    description="Transcription: upload audio or video, transcribe, follow progress, edit and export",
    route_handlers=route_handlers,
    tasks=tasks.tasks,
    startup=startup,
)
