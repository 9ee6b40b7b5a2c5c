"""The statements the bench's create sends are part of the contract (issue 12), like the reads' in
tests/identity/test_identity_query_counts.py: `POST /segmint/content` (a draft, its first version, its
audit event, in one transaction). Counted on the app's engine, every statement included (BEGIN/COMMIT
are not statements on this hook: the driver sends them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from segmint.helpers import API


class Statements:
    """The SQL text of every statement the app's engine runs inside the `with` block."""

    def __init__(self, app: Any) -> None:
        self.engine = app.state.sa_config.get_engine().sync_engine
        self.sent: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.sent.append(" ".join(statement.split())[:100])

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *_: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self)


async def test_create_content_statements(client: Any, app: Any, user_factory: Any) -> None:
    owner = await user_factory()
    body = {"text": "Bench post 1", "tone": "friendly", "tags": ["bench"]}
    first = await client.post(f"{API}/content", headers=owner.headers, json=body)  # the personal workspace
    assert first.status_code == 201, first.text
    with Statements(app) as counter:
        resp = await client.post(f"{API}/content", headers=owner.headers, json=body)
    assert resp.status_code == 201, resp.text
    kinds = sorted(
        " ".join(sql.replace(" INTO", "").replace(" FROM", "").split()[:2]) for sql in counter.sent
    )
    # the guard's one statement, the seat (workspace membership), then the draft, its tag, its audit event
    # and its first version: one INSERT per table, nothing read back
    assert len(counter.sent) == 6, counter.sent
    assert [k for k in kinds if k.startswith("INSERT")] == [
        "INSERT segmint_content",
        "INSERT segmint_content_event",
        "INSERT segmint_content_tag",
        "INSERT segmint_content_version",
    ], counter.sent
    selects = [sql for sql in counter.sent if sql.startswith("SELECT")]
    assert "user_account" in selects[0] and "segmint_workspace_member" in selects[1], selects
