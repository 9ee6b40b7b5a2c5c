"""scribe routes under /api/v1/scribe, one module per area (files, transcriptions, editing and search,
summaries/translations/exports/engines, the OpenAI-compatible API); `route_handlers` is all of them."""

from __future__ import annotations

from litestar import Router

from keel.apps.scribe import openai_api
from keel.apps.scribe.routes import editing, files, insights, transcriptions
from keel.apps.scribe.routes.common import SECURITY, TAG

route_handlers = [
    # the tag and the bearer lock stated once for the app's own API (the OpenAI-compatible one has its own)
    Router(
        path="/",
        tags=TAG,
        security=SECURITY,
        route_handlers=[
            *files.route_handlers,
            *transcriptions.route_handlers,
            *editing.route_handlers,
            *insights.route_handlers,
        ],
    ),
    *openai_api.route_handlers,
]

__all__ = ["route_handlers"]
