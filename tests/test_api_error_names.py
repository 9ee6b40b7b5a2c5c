"""Validation errors of the real app routes speak the client's language: a query parameter under the name
the client sent (`from`, `format`, not `date_from`, `fmt`), a missing body field under its own name (not
`data`); and the README's error table lists every code the API documents or can raise."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import msgspec

from keel.app import create_app
from keel.core.errors import all_errors
from keel.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def details(response: Any, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == ("VALIDATION_ERROR" if status == 400 else error["code"])
    return dict(error["details"])


async def test_query_parameters_are_named_as_sent(client: Any, auth_headers: dict[str, str]) -> None:
    sessions = await client.get("/api/v1/gym/sessions", params={"from": "yesterday"}, headers=auth_headers)
    assert list(details(sessions)) == ["from"]
    export = await client.get("/api/v1/gym/export", params={"format": "xml"}, headers=auth_headers)
    assert list(details(export)) == ["format"]
    transcript = await client.get(
        f"/api/v1/scribe/export/{uuid.uuid4()}", params={"format": "exe"}, headers=auth_headers
    )
    assert list(details(transcript)) == ["format"]


async def test_a_missing_body_field_is_reported_under_its_name(
    client: Any, auth_headers: dict[str, str]
) -> None:
    plan = await client.post("/api/v1/gym/workout-plans", json={"days": []}, headers=auth_headers)
    assert "name" in details(plan) and "data" not in details(plan)
    shop = await client.post("/api/v1/market/vendors", json={"description": "no name"}, headers=auth_headers)
    assert list(details(shop)) == ["name"]
    content = await client.post("/api/v1/segmint/content", json={"text": "hi"}, headers=auth_headers)
    assert list(details(content)) == ["tone"]


def test_readme_lists_every_code_the_api_documents_or_raises(settings: Settings) -> None:
    schema = msgspec.to_builtins(create_app(settings).openapi_schema.to_schema())
    documented = set(re.findall(r'"code": "([A-Z][A-Z_]+)"', json.dumps(schema)))
    raised = {error.code for error in all_errors()}
    assert {"UNPROCESSABLE", "VALIDATION_ERROR", "NOT_FOUND"} <= documented <= raised
    readme = (ROOT / "README.md").read_text()
    assert sorted(code for code in documented | raised if f"`{code}`" not in readme) == []
