"""segmint routes under /api/v1/segmint, one Controller per concept: content, writing (generate and
rewrite), schedules, workflows and reviews, integrations, ideas, voice."""

from __future__ import annotations

from typing import Any

from keel.apps.segmint.routes.content import ContentController
from keel.apps.segmint.routes.ideas import IdeaController
from keel.apps.segmint.routes.integrations import IntegrationController
from keel.apps.segmint.routes.media import MediaController
from keel.apps.segmint.routes.notifications import NotificationController
from keel.apps.segmint.routes.schedules import ScheduleController
from keel.apps.segmint.routes.voice import VoiceController
from keel.apps.segmint.routes.workflows import WorkflowController
from keel.apps.segmint.routes.workspaces import WorkspaceController
from keel.apps.segmint.routes.writing import WritingController

route_handlers: list[Any] = [
    WritingController,
    VoiceController,
    ContentController,
    MediaController,
    ScheduleController,
    WorkflowController,
    IntegrationController,
    IdeaController,
    WorkspaceController,
    NotificationController,
]
