"""`LanguageModel`: the one client for OpenAI-compatible chat completions (OpenAI, Ollama, vLLM,
llama.cpp server, LM Studio).

The official `openai` SDK does the HTTP work (connection pool, SSE parsing, retries with exponential
backoff and jitter on 408/409/429/5xx and connection errors, honouring Retry-After); it is imported on
first use so a process that never calls a model never pays for the import. This module adds what the
SDK does not: the per-user daily token quota, usage rows per user and app, JSON-schema output with a
validated fallback for servers that refuse `response_format`, and errors in Keel's envelope.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any
from uuid import UUID

import structlog

from keel.core.errors import KeelError
from keel.core.llm import usage as usage_store
from keel.core.llm.types import (
    UNAVAILABLE_RETRY_AFTER,
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
    from sqlalchemy.ext.asyncio import AsyncEngine

    from keel.settings import Settings

log = structlog.get_logger("keel.llm")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


def _parse_arguments(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"_raw": raw}  # a model that wrote broken JSON: keep what it said for the caller to judge
    return value if isinstance(value, dict) else {"_value": value}


def _json_instruction(schema: dict[str, Any]) -> str:
    return (
        "Answer with one JSON value only, no prose and no code fence, that validates against this JSON "
        f"Schema:\n{json.dumps(schema, separators=(',', ':'))}"
    )


def _schema_name(schema: dict[str, Any]) -> str:
    title = str(schema.get("title") or "answer")
    return re.sub(r"[^A-Za-z0-9_-]+", "_", title)[:64] or "answer"


def validate_json(text: str, schema: dict[str, Any]) -> Any:
    """The parsed value, or ValueError saying what is wrong with it."""
    import jsonschema  # type: ignore[import-untyped]

    try:
        value = json.loads(_FENCE.sub("", text.strip()))
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(value))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise ValueError(f"{where}: {error.message}")
    return value


class LanguageModel:
    """One per process (`app.state.llm`); safe to share between requests and tasks."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine | Callable[[], AsyncEngine] | None = None,
    ) -> None:
        self.settings = settings
        self.model = settings.ai_model
        self.base_url = settings.ai_base_url.rstrip("/")
        self._engine = engine
        self._client: Any = None

    # -- plumbing ---------------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            import openai  # first use only: the SDK and its HTTP stack cost ~0.3 s to import

            self._client = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=self.settings.ai_api_key or "not-needed",  # local servers take any key
                timeout=self.settings.ai_timeout,
                max_retries=self.settings.ai_max_retries,
            )
        return self._client

    def _db(self) -> AsyncEngine | None:
        if callable(self._engine):
            self._engine = self._engine()
        return self._engine

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _check_quota(self, user_id: UUID | None) -> None:
        quota = self.settings.ai_daily_token_quota
        engine = self._db()
        if user_id is None or quota <= 0 or engine is None:
            return
        used = await usage_store.tokens_today(engine, user_id)
        if used >= quota:
            raise TokenQuotaExceeded(
                f"You used {used} of your {quota} language-model tokens today; the quota resets at 00:00 UTC",
                retry_after=usage_store.seconds_until_tomorrow(),
                details={"used": used, "quota": quota},
            )

    async def _record(self, user_id: UUID | None, app: str, used: Usage) -> None:
        engine = self._db()
        if user_id is None or engine is None:
            return
        try:
            await usage_store.record(engine, user_id, app, used.prompt_tokens, used.completion_tokens)
        except Exception:
            log.warning("ai_usage_not_recorded", app=app, exc_info=True)

    def _translate(self, exc: Exception) -> KeelError:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return ModelUnavailable(
                f"The language model did not answer within {self.settings.ai_timeout:g} s"
            )
        if isinstance(exc, openai.APIConnectionError):
            return ModelUnavailable("The language model server could not be reached")
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            retry_after = exc.response.headers.get("retry-after", "")
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
                f"The language model server answered {status}", details={"server": _server_message(exc)}
            )
        if isinstance(exc, openai.OpenAIError):
            return ModelUnavailable(f"The language model failed ({type(exc).__name__})")
        raise exc

    def _params(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        temperature: float | None,
        max_tokens: int | None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.model, "messages": messages}
        if tools:
            params["tools"] = tools
        if temperature is not None:
            params["temperature"] = temperature
        if max_tokens is not None:
            params["max_tokens"] = max_tokens
        return params

    async def _call(self, params: dict[str, Any]) -> Any:
        import openai

        try:
            return await self.client.chat.completions.create(**params)
        except openai.OpenAIError as exc:
            raise self._translate(exc) from exc

    # -- API --------------------------------------------------------------------------------------------
    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        user_id: UUID | str | None,
        app: str,
        tools: list[dict[str, Any]] | None = None,
        json_schema: dict[str, Any] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        """One chat completion. With `json_schema`, `Completion.data` is the validated value: asked for
        as `response_format` json_schema, or (server said 400 to that) by instruction, retried once with
        the validation error, else ModelBadOutput."""
        uid = usage_store.as_uuid(user_id) if user_id is not None else None
        await self._check_quota(uid)
        params = self._params(messages, tools, temperature, max_tokens)
        if json_schema is None:
            return await self._complete_once(params, uid, app)

        structured = dict(params)
        structured["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": _schema_name(json_schema), "schema": json_schema, "strict": True},
        }
        try:
            first = await self._complete_once(structured, uid, app)
        except ModelRequestRejected:
            log.info("llm_json_schema_refused", model=self.model)
            prompted = dict(params)
            prompted["messages"] = [{"role": "system", "content": _json_instruction(json_schema)}, *messages]
            first = await self._complete_once(prompted, uid, app)
            params = prompted
        try:
            return _with_data(first, validate_json(first.text, json_schema))
        except ValueError as problem:
            retry = dict(params)
            retry["messages"] = [
                *params["messages"],
                {"role": "assistant", "content": first.text},
                {
                    "role": "user",
                    "content": f"That answer is invalid ({problem}). {_json_instruction(json_schema)}",
                },
            ]
            second = await self._complete_once(retry, uid, app)
            try:
                return _with_data(second, validate_json(second.text, json_schema))
            except ValueError as again:
                raise ModelBadOutput(
                    "The language model did not answer in the requested JSON shape",
                    details={"problem": str(again)},
                ) from again

    async def _complete_once(self, params: dict[str, Any], uid: UUID | None, app: str) -> Completion:
        response = await self._call(params)
        choice = response.choices[0] if response.choices else None
        message = choice.message if choice else None
        used = Usage(
            prompt_tokens=getattr(response.usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(response.usage, "completion_tokens", 0) or 0,
        )
        await self._record(uid, app, used)
        calls = [
            ToolCall(id=c.id, name=c.function.name, arguments=_parse_arguments(c.function.arguments))
            for c in (getattr(message, "tool_calls", None) or [])
            if getattr(c, "function", None) is not None
        ]
        return Completion(
            text=(message.content if message else None) or "",
            tool_calls=calls,
            usage=used,
            model=response.model or self.model,
            finish_reason=choice.finish_reason if choice else None,
        )

    async def stream(
        self,
        messages: list[dict[str, Any]],
        *,
        user_id: UUID | str | None,
        app: str,
        tools: list[dict[str, Any]] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """Text deltas as they arrive, then one last event (`done=True`) with the assembled tool calls,
        usage and finish reason. Failures before the first token raise ModelUnavailable/429 from the
        first `__anext__`, so a route can await it before it starts its response."""
        import openai

        uid = usage_store.as_uuid(user_id) if user_id is not None else None
        await self._check_quota(uid)
        params = self._params(messages, tools, temperature, max_tokens)
        params["stream"] = True
        params["stream_options"] = {"include_usage": True}
        stream = await self._call(params)
        parts: dict[int, dict[str, str]] = {}
        text_chars = 0
        finish: str | None = None
        model = self.model
        used: Usage | None = None
        try:
            async for chunk in stream:
                model = chunk.model or model
                if chunk.usage is not None:
                    used = Usage(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0)
                for choice in chunk.choices or ():
                    finish = choice.finish_reason or finish
                    delta = choice.delta
                    for call in delta.tool_calls or ():
                        slot = parts.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                        slot["id"] = call.id or slot["id"]
                        if call.function is not None:
                            slot["name"] += call.function.name or ""
                            slot["arguments"] += call.function.arguments or ""
                    if delta.content:
                        text_chars += len(delta.content)
                        yield StreamEvent(delta=delta.content, model=model)
        except openai.OpenAIError as exc:
            raise self._translate(exc) from exc
        finally:
            # a server that does not report usage in streams is charged an estimate (≈4 characters a token)
            charged = used or Usage(
                prompt_tokens=sum(len(str(m.get("content") or "")) for m in messages) // 4,
                completion_tokens=text_chars // 4,
            )
            await self._record(uid, app, charged)
        calls = [
            ToolCall(id=p["id"], name=p["name"], arguments=_parse_arguments(p["arguments"]))
            for _, p in sorted(parts.items())
        ]
        yield StreamEvent(tool_calls=calls, usage=charged, finish_reason=finish, model=model, done=True)


def _with_data(completion: Completion, data: Any) -> Completion:
    from dataclasses import replace

    return replace(completion, data=data)


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message") or error)[:500]
        return str(error)[:500]
    return str(getattr(exc, "message", exc))[:500]


async def first_event(events: AsyncIterator[StreamEvent]) -> tuple[StreamEvent, AsyncIterator[StreamEvent]]:
    """Await the first event (where connection, quota and server errors surface), then hand back an
    iterator that yields it again followed by the rest: for routes that must fail with a proper status
    before they start streaming."""
    first = await anext(events)

    async def rest() -> AsyncIterator[StreamEvent]:
        yield first
        async for event in events:
            yield event

    return first, rest()
