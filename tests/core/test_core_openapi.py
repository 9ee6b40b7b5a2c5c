"""The OpenAPI document and its docs pages: `keel openapi` writes it, operation ids and component names a
generated client can live with, a real example for every error code, and Swagger UI that renders offline
(packaged assets, CSP 'self') in headless Chromium."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from core_platform_helpers import serve
from keel.app import create_app
from keel.core.errors import all_errors
from keel.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAS_CHROMIUM = Path(CHROMIUM).exists()


@pytest.fixture
def schema(settings: Settings) -> dict[str, Any]:
    return msgspec.to_builtins(create_app(settings).openapi_schema.to_schema())  # examples are structs


def operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for item in schema["paths"].values() for op in item.values() if isinstance(op, dict)]


def test_operation_ids_are_app_and_handler(schema: dict[str, Any]) -> None:
    ids = [op["operationId"] for op in operations(schema)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), [i for i in ids if not i.islower()]
    assert {"auth_login", "users_me", "gym_list_sessions", "market_list_products"} <= set(ids)


def test_component_names_carry_no_module_path(schema: dict[str, Any]) -> None:
    names = list(schema["components"]["schemas"])
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", n) for n in names), [
        n for n in names if "." in n or "_" in n
    ]
    assert {"ErrorEnvelope", "EnvelopeExerciseRead", "GymPageSessionRead"} <= set(names)
    # a page is named for what it lists: identity's sessions, not core (where Page is defined)
    assert {"IdentityPageSessionRead", "IdentitySessionRead", "GymSessionRead"} <= set(names)
    assert not [n for n in names if n.startswith("CorePage")]
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(schema)))
    assert refs <= set(names)  # every reference was renamed with its component


def test_error_responses_have_real_examples(schema: dict[str, Any]) -> None:
    codes = {e.code for e in all_errors()}
    seen: set[str] = set()
    for op in operations(schema):
        for status, response in op["responses"].items():
            if int(status) < 400:  # success examples (register's 201 and 202) are not errors
                continue
            content = response.get("content", {}).get("application/json", {})
            for example in (content.get("examples") or {}).values():
                error = example["value"]["error"]
                assert error["code"] in codes
                seen.add(error["code"])
                assert str(next(e for e in all_errors() if e.code == error["code"]).status_code) == status
    assert {"VALIDATION_ERROR", "UNAUTHORIZED", "NOT_FOUND", "RATE_LIMITED", "CSRF_FAILED"} <= seen


def test_register_documents_both_answers_with_examples(schema: dict[str, Any]) -> None:
    """201 with tokens (the default) and 202 without (AUTH_REQUIRE_VERIFIED_EMAIL), each with an example."""
    responses = schema["paths"]["/api/v1/auth/register"]["post"]["responses"]
    created = responses["201"]["content"]["application/json"]
    pending = responses["202"]["content"]["application/json"]
    [tokens] = created["examples"].values()
    [sent] = pending["examples"].values()
    assert tokens["value"]["data"]["access_token"]
    assert sent["value"]["data"] == {"email": "ada@example.com", "verification": "sent"}
    assert pending["schema"]["$ref"].endswith("RegistrationPending")


BINARY = {"type": "string", "format": "binary"}
DOWNLOADS = {  # route -> the media types its 200 answers
    "/api/v1/scribe/export/{transcription_id}": {
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "text/plain",
        "application/x-subrip",
        "text/vtt",
        "application/json",
        "text/csv",
    },
    "/api/v1/scribe/files/{file_id}/content": {"audio/*", "video/*"},
    "/api/v1/gym/exercises/{item_id}/chart": {"image/png", "image/svg+xml"},
    "/api/v1/gym/exercises/{item_id}/chart.png": {"image/png"},
    "/api/v1/gym/exercises/{item_id}/chart.svg": {"image/svg+xml"},
    "/api/v1/segmint/voice/evolution/chart": {"image/png", "image/svg+xml"},
}


def test_binary_downloads_are_typed_as_binary(schema: dict[str, Any]) -> None:
    for path, media_types in DOWNLOADS.items():
        content = schema["paths"][path]["get"]["responses"]["200"]["content"]
        assert set(content) == media_types, path
        assert all(media["schema"] == BINARY for media in content.values()), path
    # the first media type is one a generator reads as bytes, not text (a pdf decoded as text is garbage)
    first = next(
        iter(
            schema["paths"]["/api/v1/scribe/export/{transcription_id}"]["get"]["responses"]["200"]["content"]
        )
    )
    assert first == "application/pdf"


UPLOADS = {  # route -> the request media types it documents
    "/api/v1/scribe/files/upload": {"multipart/form-data"},
    "/api/v1/scribe/files/upload/raw": {"audio/*", "video/*", "application/octet-stream"},
    "/api/v1/scribe/transcriptions/upload": {"multipart/form-data"},
    "/api/v1/scribe/transcriptions/batch": {"multipart/form-data"},
    "/api/v1/scribe/v1/audio/transcriptions": {"multipart/form-data"},
    "/api/v1/gym/import": {"multipart/form-data", "text/csv"},
    "/api/v1/market/chats/{chat_id}/media": {"multipart/form-data"},
}


def test_uploads_document_their_request_body(schema: dict[str, Any]) -> None:
    """Routes that stream their upload themselves still say what they take, so a client can send it."""
    for path, media_types in UPLOADS.items():
        body = schema["paths"][path]["post"]["requestBody"]
        assert body["required"] is True and set(body["content"]) == media_types, path
        form = body["content"].get("multipart/form-data")
        if form:
            file = form["schema"]["properties"]["file"]
            assert "file" in form["schema"]["required"], path
            assert BINARY in (file, file.get("items")), path
            assert list(form["schema"]["properties"])[-1] == "file", path  # the fields come first
    batch = schema["paths"]["/api/v1/scribe/transcriptions/batch"]["post"]["requestBody"]
    assert batch["content"]["multipart/form-data"]["schema"]["properties"]["file"]["type"] == "array"


MAIN_BODIES = {  # operation -> the component of its request body, which shows a real example
    ("/api/v1/auth/register", "post"): "AccountCreate",
    ("/api/v1/auth/login", "post"): "SessionCreate",
    ("/api/v1/gym/sessions", "post"): "SessionStart",
    ("/api/v1/gym/workout-plans", "post"): "PlanCreate",
    ("/api/v1/gym/sessions/{session_id}/sets", "post"): "SetCreate",
    ("/api/v1/scribe/transcriptions", "post"): "TranscriptionCreate",
    ("/api/v1/market/vendors", "post"): "VendorCreate",
    ("/api/v1/market/chats", "post"): "ChatCreate",
    ("/api/v1/segmint/content", "post"): "ContentCreate",
    ("/api/v1/segmint/content/generate", "post"): "GenerateRequest",
}


def test_main_request_bodies_show_an_example(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    for (path, method), name in MAIN_BODIES.items():
        body = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{name}"}, path
        (example,) = components[name]["examples"]
        required = set(components[name].get("required", []))
        assert required <= set(example), (name, required - set(example))  # every required field shown


async def test_the_register_and_login_examples_work_as_sent(client: Any) -> None:
    """A reader who pastes the documented bodies gets an account and a session."""
    components = msgspec.to_builtins(client.app.openapi_schema.to_schema())["components"]["schemas"]
    (account,) = components["AccountCreate"]["examples"]
    (login,) = components["SessionCreate"]["examples"]
    assert (await client.post("/api/v1/auth/register", json=account)).status_code == 201
    answer = await client.post("/api/v1/auth/login", json=login)
    assert answer.status_code == 200 and answer.json()["data"]["access_token"]


def test_transcript_words_are_a_typed_struct(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    words = components["SegmentRead"]["properties"]["words"]
    assert words == {"type": "array", "items": {"$ref": "#/components/schemas/WordRead"}}
    word = components["WordRead"]
    assert word["type"] == "object" and set(word["required"]) == {"start", "end", "word", "probability"}
    assert word["properties"]["start"] == word["properties"]["end"] == {"type": "number"}
    assert word["properties"]["word"] == {"type": "string"}
    assert word["properties"]["probability"] == {"oneOf": [{"type": "number"}, {"type": "null"}]}


def test_optional_choices_are_one_enum_or_null(schema: dict[str, Any]) -> None:
    """`Literal[...] | None` reads like every other optional (generators made three enums of the old form)."""

    def nullable_enums(node: Any) -> list[Any]:
        if isinstance(node, list):
            return [hit for item in node for hit in nullable_enums(item)]
        if not isinstance(node, dict):
            return []
        here = [node] if isinstance(node.get("type"), list) and None in (node.get("enum") or []) else []
        return here + [hit for item in node.values() for hit in nullable_enums(item)]

    assert nullable_enums(schema) == []
    transport = schema["components"]["schemas"]["SessionCreate"]["properties"]["transport"]
    assert transport == {"oneOf": [{"type": "string", "enum": ["bearer", "cookie"]}, {"type": "null"}]}


def test_readme_lists_every_error_code() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [e.code for e in all_errors() if f"`{e.code}`" not in readme]
    assert missing == []


@pytest.mark.slow
def test_keel_openapi_writes_the_schema(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "KEEL_APPS", "CI")}
    result = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "keel.cli", "openapi", str(tmp_path / "openapi.json")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    written = json.loads((tmp_path / "openapi.json").read_text())
    assert written["openapi"].startswith("3.") and "/api/v1/auth/login" in written["paths"]
    assert f"wrote {tmp_path / 'openapi.json'}" in result.stdout


async def rendered_dom(url: str, profile: Path) -> str:
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=20000",
        "--dump-dom",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 180)
    return out.decode()


@pytest.mark.slow
async def test_docs_pages_render_offline_in_chromium(settings: Settings, tmp_path: Path) -> None:
    assert HAS_CHROMIUM, "needs the chromium Debian package (.ci/run installs it)"
    async with serve(create_app(settings)) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            page = await http.get("/schema")
            asset = await http.get("/schema/assets/swagger-ui-bundle.js")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "http" not in csp  # only this server's own assets
        assert "cdn" not in page.text and "https://" not in page.text
        assert asset.status_code == 200 and len(asset.content) > 100_000
        for path in ("/schema", "/schema/swagger"):
            dom = await rendered_dom(base + path, tmp_path / path.strip("/").replace("/", "-"))
            assert 'class="opblock' in dom, dom[:2000]
            assert "/api/v1/auth/login" in dom and "/api/v1/gym/sessions" in dom
