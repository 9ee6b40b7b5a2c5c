"""The statements the bench's create sends are part of the contract (issue 12), like the reads' in
tests/identity/test_identity_query_counts.py: `POST /segmint/content` (a draft, its first version, its
audit event, in one transaction). Counted on the app's engine, every statement included (BEGIN/COMMIT
are not statements on this hook: the driver sends them)."""

from __future__ import annotations

from typing import Any

from core_platform_helpers import StatementCounter
from keel.apps.segmint import notifications
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


async def test_content_list_page_is_one_statement(client: Any, app: Any, user_factory: Any) -> None:
    """`GET /segmint/content`: the guard's statement and one page carrying its total, its rows' tags and
    the caller's membership; the body is what each piece's own read says (tags sorted, `[]` for none)."""
    owner, approver, other = await user_factory(), await user_factory(), await user_factory()
    workflow = await client.post(
        f"{API}/workflow", headers=owner.headers, json={"name": "w", "approver_emails": [approver.email]}
    )
    assert workflow.status_code == 201, workflow.text
    made = []
    for n, tags in enumerate((["zeta", "beta"], [], ["mid"])):
        body = {"text": f"Post {n}", "tone": "witty", "tags": tags, "platforms": ["twitter", "linkedin"]}
        made.append((await client.post(f"{API}/content", headers=owner.headers, json=body)).json()["data"])
    # a tag added later (a newer row) still lists in order; a submitted piece has its workflow
    patched = await client.patch(
        f"{API}/content/{made[0]['id']}", headers=owner.headers, json={"tags": ["alpha", "zeta", "beta"]}
    )
    assert patched.status_code == 200, patched.text
    submitted = await client.post(
        f"{API}/content/{made[2]['id']}/submit",
        headers=owner.headers,
        json={"workflow_id": workflow.json()["data"]["id"]},
    )
    assert submitted.status_code == 200, submitted.text
    await client.post(f"{API}/content", headers=other.headers, json={"text": "Not yours", "tone": "witty"})
    await notifications.deliveries_done()  # the approver's notice reads preferences after the submit

    with StatementCounter(app) as counter:
        resp = await client.get(f"{API}/content?limit=2", headers=owner.headers)
    assert resp.status_code == 200, resp.text
    assert len(counter.statements) == 2, counter.statements
    assert "user_account" in counter.statements[0], counter.statements
    listed = counter.statements[1]
    assert "count(*)" in listed and "segmint_workspace_member" in listed, listed
    body = resp.json()
    assert body["meta"]["total"] == 3
    assert [c["id"] for c in body["data"]] == [made[2]["id"], made[1]["id"]]  # newest first
    everything = (await client.get(f"{API}/content?limit=10", headers=owner.headers)).json()["data"]
    assert [c["id"] for c in everything] == [m["id"] for m in reversed(made)]  # the other user's is absent
    for item in everything:
        alone = (await client.get(f"{API}/content/{item['id']}", headers=owner.headers)).json()["data"]
        assert item == alone, (item, alone)
    assert [c["tags"] for c in everything] == [["mid"], [], ["alpha", "beta", "zeta"]]
    assert everything[0]["workflow_id"] == workflow.json()["data"]["id"]
    assert everything[0]["status"] == "in_review" and everything[2]["platforms"] == ["linkedin", "twitter"]

    # past the last page: the COUNT, and the seat (no row proved the membership)
    with StatementCounter(app) as counter:
        beyond = await client.get(f"{API}/content?offset=3", headers=owner.headers)
    assert beyond.json()["data"] == [] and beyond.json()["meta"]["total"] == 3
    assert len(counter.statements) == 4, counter.statements
    # a filter and a sort run the same one statement, from their own prebuilt variant
    with StatementCounter(app) as counter:
        found = await client.get(f"{API}/content?tag=BETA&q=post&sort=title", headers=owner.headers)
    assert [c["id"] for c in found.json()["data"]] == [made[0]["id"]], found.text
    assert found.json()["meta"]["total"] == 1 and len(counter.statements) == 2, counter.statements
