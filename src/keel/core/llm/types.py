"""What the language-model client answers with and the errors it raises (in Keel's envelope)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from keel.core.errors import KeelError, ServiceUnavailable, TooManyRequests

UNAVAILABLE_RETRY_AFTER = 30  # seconds a client is told to wait when the model server is down


class ModelUnavailable(ServiceUnavailable):
    """The model server is down, too slow, overloaded or refuses our key: 503 with Retry-After."""

    code = "MODEL_UNAVAILABLE"
    default_message = "The language model is unavailable; try again later"

    def __init__(self, message: str | None = None, *, retry_after: int = UNAVAILABLE_RETRY_AFTER, **kw: Any):
        headers = {"Retry-After": str(max(1, int(retry_after)))}
        headers.update(kw.pop("headers", {}) or {})
        super().__init__(message, headers=headers, **kw)


class ModelBadOutput(KeelError):
    """The model answered, but not what was asked (JSON that does not match the schema, twice)."""

    status_code = 502
    code = "MODEL_BAD_OUTPUT"
    default_message = "The language model gave an answer that could not be used"


class ModelRequestRejected(KeelError):
    """The model server refused the request itself (400/404/422: unknown model, context too long)."""

    status_code = 502
    code = "MODEL_REQUEST_REJECTED"
    default_message = "The language model server refused the request"


class TokenQuotaExceeded(TooManyRequests):
    code = "TOKEN_QUOTA_EXCEEDED"
    default_message = "Your daily language-model token quota is used up"


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Completion:
    text: str
    tool_calls: list[ToolCall]
    usage: Usage
    model: str
    finish_reason: str | None
    data: Any = None  # the parsed, schema-valid JSON when `json_schema` was given


@dataclass(frozen=True)
class StreamEvent:
    delta: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)  # on the last event only
    usage: Usage | None = None  # on the last event only
    finish_reason: str | None = None  # on the last event only
    model: str = ""
    done: bool = False
