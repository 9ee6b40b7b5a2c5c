"""segmint approval workflows: definition, submission, approvers' limited access, decisions, audit trail."""

from __future__ import annotations

from typing import Any

from segmint.helpers import API, create_content


async def make_workflow(
    client: Any, headers: dict[str, str], emails: list[str], required: int = 1
) -> dict[str, Any]:
    resp = await client.post(
        f"{API}/workflow",
        headers=headers,
        json={"name": f"review by {len(emails)}", "approver_emails": emails, "required_approvals": required},
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


async def test_workflow_validation(client: Any, user_factory: Any) -> None:
    owner = await user_factory()
    editor = await user_factory()
    h = owner.headers
    for body, field in (
        ({"name": "w", "approver_emails": ["nobody@example.com"]}, "approver_emails"),
        ({"name": "w", "approver_emails": [owner.email]}, "approver_emails"),
        ({"name": "w", "approver_emails": [editor.email], "required_approvals": 2}, "required_approvals"),
        ({"name": "w", "approver_emails": []}, "approver_emails"),
        ({"name": "", "approver_emails": [editor.email]}, "name"),
        ({"name": "w", "approver_emails": ["not-an-email"]}, "approver_emails"),
    ):
        resp = await client.post(f"{API}/workflow", headers=h, json=body)
        assert resp.status_code == 400, (body, resp.text)
        assert field in str(resp.json()["error"]["details"]), (field, resp.json())
    created = await make_workflow(client, h, [editor.email.upper()])
    assert [a["email"] for a in created["approvers"]] == [editor.email] and created["required_approvals"] == 1
    duplicate = await client.post(
        f"{API}/workflow", headers=h, json={"name": created["name"], "approver_emails": [editor.email]}
    )
    assert duplicate.status_code == 409
    listed = (await client.get(f"{API}/workflow", headers=h)).json()
    assert listed["meta"]["total"] == 1 and listed["data"][0]["id"] == created["id"]
    assert (await client.get(f"{API}/workflow/{created['id']}", headers=editor.headers)).status_code == 404
    assert (await client.delete(f"{API}/workflow/{created['id']}", headers=editor.headers)).status_code == 404


async def test_two_approvals_needed_then_approved_with_audit_trail(client: Any, user_factory: Any) -> None:
    owner, first, second, outsider = [await user_factory() for _ in range(4)]
    workflow = await make_workflow(client, owner.headers, [first.email, second.email], required=2)
    item = await create_content(client, owner.headers, text="Launch post. Short and sweet.", tags=["launch"])
    cid = item["id"]

    # before submission the approvers have nothing to review and cannot see the draft
    assert (await client.get(f"{API}/workflow/reviews", headers=first.headers)).json()["meta"]["total"] == 0
    assert (await client.get(f"{API}/content/{cid}", headers=first.headers)).status_code == 404

    submitted = await client.post(
        f"{API}/content/{cid}/submit",
        headers=owner.headers,
        json={"workflow_id": workflow["id"], "comment": "please"},
    )
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["data"]["status"] == "in_review"
    resubmit = await client.post(
        f"{API}/content/{cid}/submit", headers=owner.headers, json={"workflow_id": workflow["id"]}
    )
    assert (
        resubmit.status_code == 409
        and "'in_review' cannot become 'in_review'" in resubmit.json()["error"]["message"]
    )
    # the owner cannot edit while it is in review
    assert (
        await client.patch(f"{API}/content/{cid}", headers=owner.headers, json={"text": "x"})
    ).status_code == 409

    waiting = (await client.get(f"{API}/workflow/reviews", headers=first.headers)).json()
    assert waiting["meta"]["total"] == 1
    review = waiting["data"][0]
    assert review["content"]["id"] == cid and review["approvals"] == 0 and review["required_approvals"] == 2

    # approvers read, never write; the outsider sees nothing
    assert (await client.get(f"{API}/content/{cid}", headers=first.headers)).json()["data"]["text"] == item[
        "text"
    ]
    assert (
        await client.patch(f"{API}/content/{cid}", headers=first.headers, json={"text": "x"})
    ).status_code == 403
    assert (await client.delete(f"{API}/content/{cid}", headers=first.headers)).status_code == 403
    assert (await client.get(f"{API}/content/{cid}/history", headers=first.headers)).status_code == 403
    for path in (f"/content/{cid}", f"/workflow/reviews/{cid}"):
        assert (await client.get(f"{API}{path}", headers=outsider.headers)).status_code == 404
    decision = {"decision": "approve"}
    assert (
        await client.post(f"{API}/workflow/reviews/{cid}/decision", headers=outsider.headers, json=decision)
    ).status_code == 404
    assert (
        await client.post(f"{API}/workflow/reviews/{cid}/decision", headers=owner.headers, json=decision)
    ).status_code == 404

    one = await client.post(
        f"{API}/workflow/reviews/{cid}/decision", headers=first.headers, json={**decision, "comment": "nice"}
    )
    assert one.status_code == 200, one.text
    assert one.json()["data"]["approvals"] == 1 and one.json()["data"]["content"]["status"] == "in_review"
    twice = await client.post(f"{API}/workflow/reviews/{cid}/decision", headers=first.headers, json=decision)
    assert twice.status_code == 409
    assert (await client.get(f"{API}/workflow/reviews", headers=first.headers)).json()["meta"]["total"] == 0
    assert (await client.get(f"{API}/workflow/reviews/{cid}", headers=first.headers)).json()["data"][
        "my_decision"
    ] == "approved"

    two = await client.post(f"{API}/workflow/reviews/{cid}/decision", headers=second.headers, json=decision)
    assert two.json()["data"]["approvals"] == 2 and two.json()["data"]["content"]["status"] == "approved"
    late = await client.post(
        f"{API}/workflow/reviews/{cid}/decision",
        headers=second.headers,
        json={"decision": "reject", "comment": "no"},
    )
    assert late.status_code == 409

    trail = (await client.get(f"{API}/content/{cid}/history", headers=owner.headers)).json()
    actions = [(e["action"], e["actor_email"], e["to_status"]) for e in trail["data"]]
    assert actions == [
        ("created", None, None),
        ("submitted", None, "in_review"),
        ("approved", first.email, None),
        ("approved", second.email, None),
        ("approval_complete", None, "approved"),
    ]
    assert trail["data"][1]["comment"] == "please" and trail["data"][2]["comment"] == "nice"
    # the workflow is busy no more; deleting it keeps the content (and its history)
    assert (await client.delete(f"{API}/workflow/{workflow['id']}", headers=owner.headers)).status_code == 204
    assert (await client.get(f"{API}/content/{cid}", headers=owner.headers)).json()["data"][
        "workflow_id"
    ] is None


async def test_rejection_goes_back_to_draft_and_resubmission_starts_a_new_round(
    client: Any, user_factory: Any
) -> None:
    owner, approver = await user_factory(), await user_factory()
    workflow = await make_workflow(client, owner.headers, [approver.email])
    cid = (await create_content(client, owner.headers))["id"]
    await client.post(
        f"{API}/content/{cid}/submit", headers=owner.headers, json={"workflow_id": workflow["id"]}
    )
    assert (await client.delete(f"{API}/workflow/{workflow['id']}", headers=owner.headers)).status_code == 409

    no_reason = await client.post(
        f"{API}/workflow/reviews/{cid}/decision", headers=approver.headers, json={"decision": "reject"}
    )
    assert no_reason.status_code == 400 and "comment" in no_reason.json()["error"]["details"]
    rejected = await client.post(
        f"{API}/workflow/reviews/{cid}/decision",
        headers=approver.headers,
        json={"decision": "reject", "comment": "Too long for twitter"},
    )
    assert rejected.json()["data"]["content"]["status"] == "rejected"
    again = await client.post(
        f"{API}/content/{cid}/submit", headers=owner.headers, json={"workflow_id": workflow["id"]}
    )
    assert again.status_code == 409 and "back to draft" in again.json()["error"]["message"]

    # editing rejected content reopens it as a draft with a new version
    edited = await client.patch(f"{API}/content/{cid}", headers=owner.headers, json={"text": "Shorter."})
    assert edited.json()["data"]["status"] == "draft" and edited.json()["data"]["version"] == 2
    # a draft being reworked is not the approver's to read until it is resubmitted
    assert (await client.get(f"{API}/content/{cid}", headers=approver.headers)).status_code == 404
    await client.post(
        f"{API}/content/{cid}/submit", headers=owner.headers, json={"workflow_id": workflow["id"]}
    )
    assert (await client.get(f"{API}/content/{cid}", headers=approver.headers)).json()["data"][
        "text"
    ] == "Shorter."
    # a new round: the approver decides again
    assert (await client.get(f"{API}/workflow/reviews", headers=approver.headers)).json()["meta"][
        "total"
    ] == 1
    ok = await client.post(
        f"{API}/workflow/reviews/{cid}/decision", headers=approver.headers, json={"decision": "approve"}
    )
    assert ok.json()["data"]["content"]["status"] == "approved"
    trail = [
        e["action"]
        for e in (await client.get(f"{API}/content/{cid}/history", headers=owner.headers)).json()["data"]
    ]
    assert trail == [
        "created",
        "submitted",
        "rejected",
        "reopened",
        "submitted",
        "approved",
        "approval_complete",
    ]
    # someone else's workflow cannot be used
    other = await user_factory()
    foreign = await make_workflow(client, other.headers, [approver.email])
    cid2 = (await create_content(client, owner.headers))["id"]
    resp = await client.post(
        f"{API}/content/{cid2}/submit", headers=owner.headers, json={"workflow_id": foreign["id"]}
    )
    assert resp.status_code == 404


async def test_changing_a_workflow(client: Any, user_factory: Any) -> None:
    owner, first, second = [await user_factory() for _ in range(3)]
    workflow = await make_workflow(client, owner.headers, [first.email])
    wid = workflow["id"]
    url = f"{API}/workflow/{wid}"
    bad = await client.patch(url, headers=owner.headers, json={"required_approvals": 2})
    assert bad.status_code == 400 and "required_approvals" in bad.json()["error"]["details"]
    changed = await client.patch(
        url,
        headers=owner.headers,
        json={"approver_emails": [first.email, second.email], "required_approvals": 2},
    )
    assert changed.status_code == 200, changed.text
    data = changed.json()["data"]
    assert data["required_approvals"] == 2 and [a["email"] for a in data["approvers"]] == sorted(
        [first.email, second.email]
    )
    assert (await client.patch(url, headers=first.headers, json={"name": "mine"})).status_code == 404

    cid = (await create_content(client, owner.headers))["id"]
    await client.post(f"{API}/content/{cid}/submit", headers=owner.headers, json={"workflow_id": wid})
    busy = await client.patch(
        url, headers=owner.headers, json={"approver_emails": [second.email], "required_approvals": 1}
    )
    assert busy.status_code == 409
    renamed = await client.patch(url, headers=owner.headers, json={"name": "Legal review"})
    assert renamed.status_code == 200 and renamed.json()["data"]["name"] == "Legal review"
    assert renamed.json()["data"]["required_approvals"] == 2  # the running review kept its rules
