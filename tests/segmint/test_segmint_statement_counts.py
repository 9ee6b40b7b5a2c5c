"""The statements the bench's create sends are part of the contract (issue 12), like the reads' in
tests/identity/test_identity_query_counts.py: `POST /segmint/content` (a draft, its first version, its
audit event, in one transaction). Counted on the app's engine, every statement included (BEGIN/COMMIT
are not statements on this hook: the driver sends them)."""

from __future__ import annotations

from typing import Any

from core_platform_helpers import StatementCounter
from segmint.helpers import API


async def test_create_content_statements(client: Any, app: Any, user_factory: Any) -> None:
    owner = await user_factory()
    body = {"text": "Bench post 1", "tone": "friendly", "tags": ["bench"]}
    first = await client.post(f"{API}/content", headers=owner.headers, json=body)  # the personal workspace
    assert first.status_code == 201, first.text
    with StatementCounter(app) as counter:
        resp = await client.post(f"{API}/content", headers=owner.headers, json=body)
    assert resp.status_code == 201, resp.text
    kinds = sorted(
        " ".join(sql.replace(" INTO", "").replace(" FROM", "").split()[:2]) for sql in counter.statements
    )
    # the guard's one statement, the seat (workspace membership), then the draft, its tag, its audit event
    # and its first version: one INSERT per table, nothing read back
    assert len(counter.statements) == 6, counter.statements
    assert [k for k in kinds if k.startswith("INSERT")] == [
        "INSERT segmint_content",
        "INSERT segmint_content_event",
        "INSERT segmint_content_tag",
        "INSERT segmint_content_version",
    ], counter.statements
    selects = [sql for sql in counter.statements if sql.startswith("SELECT")]
    assert "user_account" in selects[0] and "segmint_workspace_member" in selects[1], selects
