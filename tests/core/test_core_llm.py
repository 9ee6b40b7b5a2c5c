"""keel.core.llm against a real OpenAI-compatible server (tests/fixtures/openai_server.py): the exact
requests it receives, streaming, tool calls, JSON-schema output and its fallback, retries, a server that
is down or slow (503 + Retry-After through an endpoint), usage rows and the daily quota (429)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from typing import Any

import pytest
from litestar import post
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from fixtures.openai_server import OpenAIServer, Reply
from keel.app import create_app
from keel.core.llm import (
    LanguageModel,
    ModelBadOutput,
    ModelRequestRejected,
    ModelUnavailable,
    TokenQuotaExceeded,
)
from keel.core.llm.models import AiUsage
from keel.identity.guards import Principal
from keel.settings import load_settings

FAST = {"retry-after-ms": "5"}  # the SDK honours it: retries in these tests wait 5 ms, not 0.5 s
SCHEMA = {
    "title": "Post idea",
    "type": "object",
    "properties": {"title": {"type": "string"}, "hashtags": {"type": "array", "items": {"type": "string"}}},
    "required": ["title", "hashtags"],
    "additionalProperties": False,
}


@pytest.fixture
def settings(make_settings: Any, openai_server: OpenAIServer) -> Any:
    return make_settings(
        ai_base_url=openai_server.base_url, ai_api_key="sk-test-key", ai_model="tiny-chat", ai_timeout=5.0
    )


@pytest.fixture
def llm(settings: Any) -> Any:
    return LanguageModel(settings)


@post("/test-llm/complete")
async def complete_route(
    llm: LanguageModel | None, principal: Principal, data: dict[str, Any]
) -> dict[str, Any]:
    assert llm is not None
    answer = await llm.complete(
        [{"role": "user", "content": data["prompt"]}], user_id=principal.user_id, app="testapp"
    )
    return {"text": answer.text, "model": answer.model}


@post("/test-llm/stream")
async def stream_route(
    llm: LanguageModel | None, principal: Principal, data: dict[str, Any]
) -> dict[str, Any]:
    assert llm is not None
    text = ""
    async for event in llm.stream(
        [{"role": "user", "content": data["prompt"]}], user_id=principal.user_id, app="testapp"
    ):
        text += event.delta
    return {"text": text}


@post("/test-llm/which")
async def which_route(llm: LanguageModel | None) -> dict[str, Any]:
    return {"configured": llm is not None}


@pytest.fixture
def app(settings: Any) -> Any:
    return create_app(settings, extra_route_handlers=[complete_route, stream_route, which_route])


async def usage_rows(settings: Any) -> list[AiUsage]:
    engine = create_async_engine(settings.database_url)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(AiUsage.__table__))).all()
    await engine.dispose()
    return rows  # type: ignore[return-value]


async def test_complete_sends_the_exact_request_and_reads_the_answer(
    llm: Any, openai_server: OpenAIServer
) -> None:
    openai_server.script(Reply(text="Fresh bread at 7.", usage={"prompt_tokens": 12, "completion_tokens": 5}))
    messages = [
        {"role": "system", "content": "You write short posts."},
        {"role": "user", "content": "Announce the bread."},
    ]
    answer = await llm.complete(messages, user_id=None, app="segmint", temperature=0.3, max_tokens=60)

    assert answer.text == "Fresh bread at 7."
    assert answer.model == "tiny-chat"
    assert answer.finish_reason == "stop"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.usage.total_tokens) == (
        12,
        5,
        17,
    )
    assert answer.tool_calls == []
    [request] = openai_server.requests
    assert request.method == "POST" and request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test-key"
    assert request.body == {"model": "tiny-chat", "messages": messages, "temperature": 0.3, "max_tokens": 60}
    await llm.close()


async def test_tool_calls_go_out_as_given_and_come_back_parsed(llm: Any, openai_server: OpenAIServer) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "search_listings",
                "description": "Find listings",
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
            },
        }
    ]
    openai_server.script(
        Reply(text="", tool_calls=[{"id": "call_9", "name": "search_listings", "arguments": {"q": "bike"}}])
    )
    answer = await llm.complete(
        [{"role": "user", "content": "find a bike"}], user_id=None, app="market", tools=tools
    )
    assert answer.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in answer.tool_calls] == [
        ("call_9", "search_listings", {"q": "bike"})
    ]
    assert openai_server.requests[0].body["tools"] == tools

    # the tool result goes back in OpenAI format, exactly as the caller wrote it
    follow_up = [
        {"role": "user", "content": "find a bike"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": "search_listings", "arguments": '{"q": "bike"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_9", "content": '[{"title": "Red bike"}]'},
    ]
    openai_server.script("There is one: a red bike.")
    answer = await llm.complete(follow_up, user_id=None, app="market", tools=tools)
    assert answer.text == "There is one: a red bike."
    assert openai_server.requests[1].body["messages"] == follow_up
    await llm.close()


async def test_stream_yields_deltas_then_tool_calls_usage_and_finish(
    llm: Any, openai_server: OpenAIServer
) -> None:
    openai_server.script(
        Reply(
            text="Sourdough is back on Saturday",
            tool_calls=[{"id": "c1", "name": "schedule", "arguments": {"day": "saturday", "hour": 7}}],
            usage={"prompt_tokens": 20, "completion_tokens": 9},
        )
    )
    events = [e async for e in llm.stream([{"role": "user", "content": "hi"}], user_id=None, app="segmint")]
    deltas = [e.delta for e in events if not e.done]
    assert len(deltas) == 5 and "".join(deltas) == "Sourdough is back on Saturday"
    last = events[-1]
    assert last.done and last.delta == ""
    assert [(c.id, c.name, c.arguments) for c in last.tool_calls] == [
        ("c1", "schedule", {"day": "saturday", "hour": 7})
    ]
    assert last.usage is not None and last.usage.total_tokens == 29
    assert last.finish_reason == "tool_calls"
    body = openai_server.requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    await llm.close()


async def test_json_schema_is_asked_for_as_response_format(llm: Any, openai_server: OpenAIServer) -> None:
    openai_server.script('{"title": "Rye week", "hashtags": ["#rye"]}')
    answer = await llm.complete(
        [{"role": "user", "content": "an idea"}], user_id=None, app="segmint", json_schema=SCHEMA
    )
    assert answer.data == {"title": "Rye week", "hashtags": ["#rye"]}
    [request] = openai_server.requests
    assert request.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Post_idea", "schema": SCHEMA, "strict": True},
    }
    await llm.close()


async def test_a_server_refusing_json_schema_gets_a_prompt_and_a_validated_retry(
    llm: Any, openai_server: OpenAIServer
) -> None:
    openai_server.script(
        Reply(status=400, error="response_format json_schema is not supported"),
        'Sure! {"title": "x"}',  # not JSON
        '```json\n{"title": "Rye week", "hashtags": []}\n```',  # fenced but valid
    )
    messages = [{"role": "user", "content": "an idea"}]
    answer = await llm.complete(messages, user_id=None, app="segmint", json_schema=SCHEMA)
    assert answer.data == {"title": "Rye week", "hashtags": []}
    refused, prompted, retried = openai_server.requests
    assert "response_format" in refused.body
    assert "response_format" not in prompted.body
    assert prompted.body["messages"][0]["role"] == "system"
    assert '"required":["title","hashtags"]' in prompted.body["messages"][0]["content"]
    assert prompted.body["messages"][1:] == messages
    # the retry shows the model its own answer and what was wrong with it
    assert retried.body["messages"][-2] == {"role": "assistant", "content": 'Sure! {"title": "x"}'}
    assert "invalid" in retried.body["messages"][-1]["content"]
    await llm.close()


async def test_json_that_fails_the_schema_twice_raises(llm: Any, openai_server: OpenAIServer) -> None:
    openai_server.script('{"title": 3, "hashtags": []}', '{"title": "ok"}')
    with pytest.raises(ModelBadOutput) as caught:
        await llm.complete(
            [{"role": "user", "content": "x"}], user_id=None, app="segmint", json_schema=SCHEMA
        )
    assert "hashtags" in caught.value.details["problem"]
    assert len(openai_server.requests) == 2
    await llm.close()


async def test_429_and_500_are_retried_with_backoff(llm: Any, openai_server: OpenAIServer) -> None:
    openai_server.script(Reply(status=429, headers=FAST), Reply(status=500, headers=FAST), "third time lucky")
    answer = await llm.complete([{"role": "user", "content": "x"}], user_id=None, app="segmint")
    assert answer.text == "third time lucky"
    assert len(openai_server.requests) == 3
    await llm.close()


async def test_5xx_after_the_retries_is_model_unavailable(llm: Any, openai_server: OpenAIServer) -> None:
    openai_server.script(*(Reply(status=503, headers=FAST) for _ in range(3)))
    with pytest.raises(ModelUnavailable) as caught:
        await llm.complete([{"role": "user", "content": "x"}], user_id=None, app="segmint")
    assert caught.value.status_code == 503 and int(caught.value.headers["Retry-After"]) >= 1
    assert len(openai_server.requests) == 3  # the first try and AI_MAX_RETRIES=2
    await llm.close()


async def test_a_stream_is_retried_like_a_completion_and_names_a_refusal(
    llm: Any, openai_server: OpenAIServer
) -> None:
    """`stream` has its own HTTP path (for its first token): the same retries, errors and exact request."""
    openai_server.script(Reply(status=429, headers=FAST), Reply(status=500, headers=FAST), "third time")
    messages = [{"role": "user", "content": "x"}]
    events = [e async for e in llm.stream(messages, user_id=None, app="segmint", max_tokens=9)]
    assert "".join(e.delta for e in events) == "third time" and events[-1].finish_reason == "stop"
    assert len(openai_server.requests) == 3
    assert openai_server.requests[-1].headers["authorization"] == "Bearer sk-test-key"
    assert openai_server.requests[-1].body == {
        "model": "tiny-chat",
        "messages": messages,
        "max_tokens": 9,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    openai_server.script(*(Reply(status=503, headers=FAST) for _ in range(3)))
    with pytest.raises(ModelUnavailable):
        await anext(llm.stream(messages, user_id=None, app="segmint"))
    assert len(openai_server.requests) == 6  # the first try and AI_MAX_RETRIES=2
    openai_server.script(Reply(status=400, error="unknown model tiny-chat"))
    with pytest.raises(ModelRequestRejected) as refused:
        await anext(llm.stream(messages, user_id=None, app="segmint"))
    assert refused.value.details == {"server": "unknown model tiny-chat"}
    assert len(openai_server.requests) == 7  # a refusal is not retried
    await llm.close()


async def test_a_slow_server_times_out_as_model_unavailable(
    make_settings: Any, openai_server: OpenAIServer
) -> None:
    llm = LanguageModel(make_settings(ai_base_url=openai_server.base_url, ai_timeout=0.3, ai_max_retries=0))
    openai_server.script(Reply(delay=2.0))
    with pytest.raises(ModelUnavailable, match=r"0\.3 s"):
        await llm.complete([{"role": "user", "content": "x"}], user_id=None, app="segmint")
    await llm.close()


async def test_a_down_server_answers_503_with_retry_after_through_an_endpoint(
    make_settings: Any, user_factory: Any, client: Any, app: Any
) -> None:
    from fixtures.identity import free_port

    alice = await user_factory()
    down = make_settings(ai_base_url=f"http://127.0.0.1:{free_port()}/v1", ai_max_retries=1)
    app.state.llm = LanguageModel(down, engine=app.state.sa_config.get_engine)
    for path in ("/test-llm/complete", "/test-llm/stream"):
        response = await client.post(path, json={"prompt": "hi"}, headers=alice.headers)
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "30"
        assert response.json()["error"]["code"] == "MODEL_UNAVAILABLE"
    await app.state.llm.close()


async def test_usage_is_recorded_per_user_and_app_and_the_quota_answers_429(
    make_settings: Any, openai_server: OpenAIServer, user_factory: Any, client: Any, app: Any
) -> None:
    alice = await user_factory()
    bob = await user_factory()
    limited = make_settings(ai_base_url=openai_server.base_url, ai_daily_token_quota=100)
    app.state.llm = LanguageModel(limited, engine=app.state.sa_config.get_engine)
    openai_server.script(
        Reply(text="one", usage={"prompt_tokens": 40, "completion_tokens": 30}),
        Reply(text="two", usage={"prompt_tokens": 20, "completion_tokens": 15}),
        Reply(text="bob's", usage={"prompt_tokens": 5, "completion_tokens": 5}),
    )
    first = await client.post("/test-llm/complete", json={"prompt": "a"}, headers=alice.headers)
    assert first.status_code == 201 and first.json()["text"] == "one"
    second = await client.post("/test-llm/stream", json={"prompt": "b"}, headers=alice.headers)
    assert second.status_code == 201 and second.json()["text"] == "two"  # 70 < 100: allowed, now 105

    refused = await client.post("/test-llm/complete", json={"prompt": "c"}, headers=alice.headers)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "TOKEN_QUOTA_EXCEEDED"
    assert refused.json()["error"]["details"] == {"used": 105, "quota": 100}
    assert 1 <= int(refused.headers["retry-after"]) <= 86400
    assert len(openai_server.chat_requests) == 2  # the refused call never reached the model

    other = await client.post("/test-llm/complete", json={"prompt": "d"}, headers=bob.headers)
    assert other.status_code == 201  # the quota is per person

    rows = {(str(r.user_id), r.app): r for r in await usage_rows(limited)}
    assert rows[(alice.id, "testapp")].prompt_tokens == 60
    assert rows[(alice.id, "testapp")].completion_tokens == 45
    assert rows[(alice.id, "testapp")].requests == 2
    assert rows[(bob.id, "testapp")].requests == 1
    await app.state.llm.close()


async def test_quota_error_names_the_reset(make_settings: Any) -> None:
    error = TokenQuotaExceeded("x", retry_after=120)
    assert error.status_code == 429 and error.headers["Retry-After"] == "120"


async def test_without_ai_base_url_there_is_no_model(make_settings: Any) -> None:
    from litestar.testing import AsyncTestClient

    app = create_app(make_settings(ai_base_url=""), extra_route_handlers=[which_route])
    assert app.state.llm is None
    async with AsyncTestClient(app=app) as client:
        assert (await client.post("/test-llm/which")).json() == {"configured": False}


async def test_the_model_component_is_provided_when_configured(client: Any) -> None:
    assert (await client.post("/test-llm/which")).json() == {"configured": True}


def test_old_segmint_ideas_names_still_work_with_a_deprecation_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        settings = load_settings(
            None, segmint_ideas_url="http://127.0.0.1:9/v1", segmint_ideas_key="k", segmint_ideas_model="m"
        )
    assert (settings.ai_base_url, settings.ai_api_key, settings.ai_model) == (
        "http://127.0.0.1:9/v1",
        "k",
        "m",
    )
    messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert "SEGMINT_IDEAS_URL is deprecated; set AI_BASE_URL instead" in messages
    # the new name wins when both are set
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        both = load_settings(None, segmint_ideas_url="http://old/v1", ai_base_url="http://new/v1")
    assert both.ai_base_url == "http://new/v1"


def test_the_sdk_is_imported_on_first_use_only() -> None:
    code = (
        "import sys; from keel.app import create_app; from keel.settings import load_settings;"
        "create_app(load_settings(None, ai_base_url='http://127.0.0.1:9/v1', keel_apps=''));"
        "print('openai' in sys.modules)"
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "False"
