"""The OpenAI HTTP protocol as `LanguageModel` speaks it: server-sent event data, error statuses in Keel's
terms, and the SDK's retry rules (Retry-After, x-should-retry, backoff with jitter), shared by the SDK's
path and the streaming one so both back off and fail alike."""

from __future__ import annotations

import json
import random
import time
from collections.abc import AsyncIterator
from typing import Any

from keel.core.errors import KeelError
from keel.core.llm.types import UNAVAILABLE_RETRY_AFTER, ModelRequestRejected, ModelUnavailable

# the SDK's retry timing (openai._constants), so both paths back off alike
INITIAL_RETRY_DELAY, MAX_RETRY_DELAY, MAX_RETRY_AFTER_DELAY = 0.5, 8.0, 120.0


async def sse_data(response: Any) -> AsyncIterator[str]:
    """The `data` of each server-sent event (its data lines joined), in order."""
    data: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield "\n".join(data)
                data = []
        elif line.startswith("data:"):
            data.append(line[6:] if line.startswith("data: ") else line[5:])
    if data:
        yield "\n".join(data)


def status_error(status: int, headers: Any, server_message: str) -> KeelError:
    """A model server's error status in Keel's terms (the same for the SDK's and the streaming path)."""
    retry_after = headers.get("retry-after", "")
    wait = int(float(retry_after)) if retry_after.replace(".", "", 1).isdigit() else None
    if status in (401, 403):
        return ModelUnavailable("The language model server refused our API key (AI_API_KEY)")
    if status == 429:
        return ModelUnavailable(
            "The language model server is overloaded", retry_after=wait or UNAVAILABLE_RETRY_AFTER
        )
    if status >= 500 or status in (408, 409):
        return ModelUnavailable(
            f"The language model server answered {status}",
            retry_after=wait or UNAVAILABLE_RETRY_AFTER,
        )
    return ModelRequestRejected(
        f"The language model server answered {status}", details={"server": server_message}
    )


def retry_after_seconds(headers: Any) -> float | None:
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000), ("retry-after", 1)):
        value = headers.get(name)
        if value is not None:
            try:
                return float(value) / divisor
            except ValueError:
                continue
    import email.utils

    try:
        when = email.utils.parsedate_tz(headers.get("retry-after"))
        return None if when is None else float(email.utils.mktime_tz(when) - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def should_retry(status: int, headers: Any) -> bool:
    wait = retry_after_seconds(headers)
    if wait is not None and wait > MAX_RETRY_AFTER_DELAY:
        return False
    told = headers.get("x-should-retry")
    if told in ("true", "false"):
        return bool(told == "true")
    return status in (408, 409, 429) or status >= 500


def retry_delay(attempt: int, headers: Any) -> float:
    wait = retry_after_seconds(headers)
    if wait is not None and 0 < wait <= MAX_RETRY_AFTER_DELAY:
        return wait
    return min(INITIAL_RETRY_DELAY * 2.0**attempt, MAX_RETRY_DELAY) * (1 - 0.25 * random.random())  # noqa: S311


def error_text(text: str) -> str:
    """The server's own message from an error body (`{"error": {"message": ...}}` or plain text)."""
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:500]
    return str(body)[:500] if not isinstance(body, dict) else _message_of(body)


def server_message(exc: Any) -> str:
    """The server's own message from an SDK error."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        return _message_of(body)
    return str(getattr(exc, "message", exc))[:500]


def _message_of(body: dict[str, Any]) -> str:
    error = body.get("error", body)
    if isinstance(error, dict):
        return str(error.get("message") or error)[:500]
    return str(error)[:500]
