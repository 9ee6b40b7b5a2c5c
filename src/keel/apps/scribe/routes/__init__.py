"""scribe routes under /api/v1/scribe, one module per area (files, transcriptions, editing and search,
summaries/translations/exports/engines, the OpenAI-compatible API); `route_handlers` is all of them."""

from __future__ import annotations

from keel.apps.scribe import openai_api
from keel.apps.scribe.routes import editing, files, insights, transcriptions

route_handlers = [
    *files.route_handlers,
    *transcriptions.route_handlers,
    *editing.route_handlers,
    *insights.route_handlers,
    *openai_api.route_handlers,
]

__all__ = ["route_handlers"]
