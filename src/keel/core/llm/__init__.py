"""The language-model component: one OpenAI-compatible chat-completions client for every app.

`app.state.llm` is a `LanguageModel` when AI_BASE_URL is set, else None (apps then use their local,
offline engines and say so). Handlers declare `llm: LanguageModel | None`.

    completion = await llm.complete(messages, user_id=principal.user_id, app="segmint",
                                    json_schema=schema)   # -> Completion(text, tool_calls, usage, data)
    async for event in llm.stream(messages, user_id=..., app="market"):
        event.delta ...                                            # last event: done, tool_calls, usage
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.di import Provide

from keel.core.llm.client import LanguageModel, first_event, validate_json
from keel.core.llm.types import (
    Completion,
    ModelBadOutput,
    ModelRequestRejected,
    ModelUnavailable,
    StreamEvent,
    TokenQuotaExceeded,
    ToolCall,
    Usage,
)

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.datastructures import State

    from keel.core.components import AppBuilder

__all__ = [
    "Completion",
    "LanguageModel",
    "ModelBadOutput",
    "ModelRequestRejected",
    "ModelUnavailable",
    "StreamEvent",
    "TokenQuotaExceeded",
    "ToolCall",
    "Usage",
    "first_event",
    "install",
    "validate_json",
]


def _provide_llm(state: State) -> LanguageModel | None:
    return state.get("llm")


def install(builder: AppBuilder) -> None:
    settings = builder.settings
    llm: LanguageModel | None = None
    if settings.ai_base_url:
        sa_config = builder.state["sa_config"]
        llm = LanguageModel(settings, engine=sa_config.get_engine)

        async def close(_: Litestar) -> None:
            await llm.close()

        builder.on_shutdown.append(close)
    builder.state["llm"] = llm
    builder.dependencies["llm"] = Provide(_provide_llm, sync_to_thread=False)
    builder.signature_namespace["LanguageModel"] = LanguageModel
