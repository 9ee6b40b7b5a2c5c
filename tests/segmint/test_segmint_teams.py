"""segmint teams: workspaces picked with X-Workspace, invitations by email accepted by the invitee,
roles refusing what they may not do, another workspace's rows answering 404, and notifications."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fixtures.identity import Mailbox, link_token
from segmint.helpers import API, create_content


@pytest.fixture
def settings(make_settings: Any, smtp_server: Mailbox) -> Any:
    return make_settings(
        keel_apps="gym,scribe,segmint",
        jobs_poll_interval=0.2,
        segmint_allow_private_targets=True,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
    )


async def _mail(mailbox: Mailbox, to: str, subject: str, count: int = 1) -> Any:
    """The `count`-th segmint mail to `to` whose subject names `subject` (sign-up mails come first)."""
    for _ in range(250):
        found = [m for m in mailbox.to(to) if f"[segmint] {subject}" in str(m["Subject"])]
        if len(found) >= count:
            return found[count - 1]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {subject!r} mail to {to}")


async def _team(client: Any, owner: Any, smtp_server: Mailbox, **people: Any) -> str:
    """A workspace of `owner` with each person (role name -> user) invited by mail and accepted."""
    ws = await client.post(f"{API}/workspaces", headers=owner.headers, json={"name": "Bakery team"})
    assert ws.status_code == 201, ws.text
    ws_id = ws.json()["data"]["id"]
    for role, user in people.items():
        invited = await client.post(
            f"{API}/workspaces/current/invitations",
            headers={**owner.headers, "X-Workspace": ws_id},
            json={"email": user.email, "role": role},
        )
        assert invited.status_code == 201, invited.text
        token = link_token(await _mail(smtp_server, user.email, "Join"))
        accepted = await client.post(
            f"{API}/workspaces/invitations/accept", headers=user.headers, json={"token": token}
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["data"]["my_role"] == role
    return ws_id


async def test_workspace_rows_are_invisible_elsewhere(
    client: Any, user_factory: Any, smtp_server: Mailbox
) -> None:
    owner, editor, outsider = await user_factory(), await user_factory(), await user_factory()
    ws = await _team(client, owner, smtp_server, editor=editor)
    team = {**editor.headers, "X-Workspace": ws}
    item = await create_content(client, team, text="Rye loaves are back on Friday.")
    personal = await create_content(client, editor.headers, text="My own sourdough notes.")
    # the team sees the team's content, not the editor's personal one, and the other way round
    listed = (await client.get(f"{API}/content", headers={**owner.headers, "X-Workspace": ws})).json()
    assert [c["id"] for c in listed["data"]] == [item["id"]]
    mine = (await client.get(f"{API}/content", headers=editor.headers)).json()
    assert [c["id"] for c in mine["data"]] == [personal["id"]]
    assert (await client.get(f"{API}/content/{item['id']}", headers=editor.headers)).status_code == 404
    # a non-member naming the workspace, or reading its rows: 404
    for headers in ({**outsider.headers, "X-Workspace": ws}, outsider.headers):
        assert (await client.get(f"{API}/content/{item['id']}", headers=headers)).status_code == 404
    assert (
        await client.get(f"{API}/content", headers={**outsider.headers, "X-Workspace": ws})
    ).status_code == 404
    workflow = await client.post(
        f"{API}/workflow",
        headers={**owner.headers, "X-Workspace": ws},
        json={"name": "w", "approver_emails": [owner.email]},
    )
    assert workflow.status_code == 201, workflow.text
    wid = workflow.json()["data"]["id"]
    assert (await client.get(f"{API}/workflow/{wid}", headers=team)).status_code == 200
    assert (await client.get(f"{API}/workflow/{wid}", headers=outsider.headers)).status_code == 404
    assert (await client.get(f"{API}/workflow/{wid}", headers=editor.headers)).status_code == 404
    ideas = await client.post(f"{API}/ideas", headers=team, json={"count": 2})
    assert ideas.status_code == 201, ideas.text
    idea_id = ideas.json()["data"][0]["id"]
    assert (await client.post(f"{API}/ideas/{idea_id}/dismiss", headers=editor.headers)).status_code == 404
    assert (await client.get(f"{API}/ideas", headers=editor.headers)).json()["meta"]["total"] == 0
    voice = (await client.get(f"{API}/voice", headers={**owner.headers, "X-Workspace": ws})).json()["data"]
    assert "rye" in str(voice).lower() and "sourdough" not in str(voice).lower()
    bad = await client.get(f"{API}/content", headers={**owner.headers, "X-Workspace": "not-a-uuid"})
    assert bad.status_code == 400


async def test_each_role_is_allowed_and_refused(client: Any, user_factory: Any, smtp_server: Mailbox) -> None:
    owner, editor, approver, viewer = (
        (await user_factory() for _ in range(4))
        if False
        else (
            await user_factory(),
            await user_factory(),
            await user_factory(),
            await user_factory(),
        )
    )
    ws = await _team(client, owner, smtp_server, editor=editor, approver=approver, viewer=viewer)

    def h(u: Any) -> dict[str, str]:
        return {**u.headers, "X-Workspace": ws}

    # viewer and approver read but cannot write; the editor writes
    assert (
        await client.post(f"{API}/content", headers=h(viewer), json={"text": "x", "tone": "friendly"})
    ).status_code == 403
    assert (
        await client.post(f"{API}/content", headers=h(approver), json={"text": "x", "tone": "friendly"})
    ).status_code == 403
    item = await create_content(client, h(editor), text="Croissant class on Saturday morning.")
    assert (await client.get(f"{API}/content/{item['id']}", headers=h(viewer))).status_code == 200
    assert (
        await client.patch(f"{API}/content/{item['id']}", headers=h(viewer), json={"text": "y"})
    ).status_code == 403
    # only owner/admin define workflows; approvers must be members whose role approves
    body = {"name": "review", "approver_emails": [approver.email]}
    assert (await client.post(f"{API}/workflow", headers=h(editor), json=body)).status_code == 403
    refused = await client.post(
        f"{API}/workflow", headers=h(owner), json={"name": "r", "approver_emails": [viewer.email]}
    )
    assert refused.status_code == 400 and viewer.email in str(refused.json()["error"]["details"])
    wid = (
        await client.post(
            f"{API}/workflow",
            headers=h(owner),
            json={**body, "approver_emails": [approver.email, owner.email]},
        )
    ).json()["data"]["id"]
    # the owner submits their own draft: they cannot approve it; the approver can
    own = await create_content(client, h(owner), text="Owner's post about baguettes.")
    await client.post(f"{API}/content/{own['id']}/submit", headers=h(owner), json={"workflow_id": wid})
    decision = await client.post(
        f"{API}/workflow/reviews/{own['id']}/decision", headers=owner.headers, json={"decision": "approve"}
    )
    assert decision.status_code == 403
    submitted = await client.post(
        f"{API}/content/{item['id']}/submit", headers=h(editor), json={"workflow_id": wid}
    )
    assert submitted.status_code == 200, submitted.text
    assert (
        await client.post(
            f"{API}/workflow/reviews/{item['id']}/decision",
            headers=editor.headers,
            json={"decision": "approve"},
        )
    ).status_code == 404
    approved = await client.post(
        f"{API}/workflow/reviews/{item['id']}/decision",
        headers=approver.headers,
        json={"decision": "approve"},
    )
    assert approved.status_code == 200 and approved.json()["data"]["content"]["status"] == "approved", (
        approved.text
    )
    # members: editors cannot change roles or invite; an admin cannot touch the owner
    assert (
        await client.post(
            f"{API}/workspaces/current/invitations", headers=h(editor), json={"email": "x@example.com"}
        )
    ).status_code == 403
    assert (
        await client.patch(
            f"{API}/workspaces/current/members/{viewer.id}", headers=h(editor), json={"role": "admin"}
        )
    ).status_code == 403
    assert (
        await client.patch(
            f"{API}/workspaces/current/members/{viewer.id}", headers=h(owner), json={"role": "admin"}
        )
    ).status_code == 200
    assert (
        await client.patch(
            f"{API}/workspaces/current/members/{owner.id}", headers=h(viewer), json={"role": "viewer"}
        )
    ).status_code == 403
    members = (await client.get(f"{API}/workspaces/current/members", headers=h(viewer))).json()
    assert members["meta"]["total"] == 4


async def test_invitations_expire_are_revocable_and_belong_to_their_address(
    client: Any, user_factory: Any, smtp_server: Mailbox, settings: Any
) -> None:
    from sqlalchemy import update
    from sqlalchemy.ext.asyncio import create_async_engine

    from keel.apps.segmint.models import Invitation

    owner, invitee, other = await user_factory(), await user_factory(), await user_factory()
    ws = (await client.post(f"{API}/workspaces", headers=owner.headers, json={"name": "T"})).json()["data"][
        "id"
    ]
    team = {**owner.headers, "X-Workspace": ws}
    first = (
        await client.post(
            f"{API}/workspaces/current/invitations", headers=team, json={"email": invitee.email}
        )
    ).json()["data"]
    token = link_token(await _mail(smtp_server, invitee.email, "Join"))
    assert (
        await client.post(
            f"{API}/workspaces/invitations/accept", headers=other.headers, json={"token": token}
        )
    ).status_code == 403
    assert (
        await client.delete(f"{API}/workspaces/current/invitations/{first['id']}", headers=team)
    ).status_code == 204
    assert (
        await client.post(
            f"{API}/workspaces/invitations/accept", headers=invitee.headers, json={"token": token}
        )
    ).status_code == 404
    await client.post(f"{API}/workspaces/current/invitations", headers=team, json={"email": invitee.email})
    token = link_token(await _mail(smtp_server, invitee.email, "Join", count=2))
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.execute(update(Invitation).values(expires_at=Invitation.created_at))
    await engine.dispose()
    expired = await client.post(
        f"{API}/workspaces/invitations/accept", headers=invitee.headers, json={"token": token}
    )
    assert expired.status_code == 409 and "expired" in expired.text
    assert (
        await client.get(f"{API}/content", headers={**invitee.headers, "X-Workspace": ws})
    ).status_code == 404
    personal = await client.post(
        f"{API}/workspaces/current/invitations", headers=owner.headers, json={"email": invitee.email}
    )
    assert personal.status_code == 409


async def test_notifications_on_submit_and_decision_with_opt_in_mail(
    client: Any, user_factory: Any, smtp_server: Mailbox
) -> None:
    author, approver = await user_factory(), await user_factory()
    wid = (
        await client.post(
            f"{API}/workflow", headers=author.headers, json={"name": "w", "approver_emails": [approver.email]}
        )
    ).json()["data"]["id"]
    assert (
        await client.put(
            f"{API}/notifications/preferences", headers=author.headers, json={"email": ["rejected"]}
        )
    ).status_code == 200
    bad = await client.put(
        f"{API}/notifications/preferences", headers=author.headers, json={"email": ["sometimes"]}
    )
    assert bad.status_code == 400
    item = await create_content(client, author.headers, text="Seeded rye, now with caraway.")
    await client.post(f"{API}/content/{item['id']}/submit", headers=author.headers, json={"workflow_id": wid})
    inbox = (await client.get(f"{API}/notifications", headers=approver.headers)).json()
    assert [n["kind"] for n in inbox["data"]] == ["submitted"] and inbox["data"][0]["read"] is False
    assert (await client.get(f"{API}/notifications", headers=author.headers)).json()["meta"]["total"] == 0
    await client.post(
        f"{API}/workflow/reviews/{item['id']}/decision",
        headers=approver.headers,
        json={"decision": "reject", "comment": "Say which bakery"},
    )
    await _mail(smtp_server, author.email, "Rejected")
    assert [m for m in smtp_server.to(approver.email) if "[segmint]" in str(m["Subject"])] == []  # no opt-in
    mine = (await client.get(f"{API}/notifications?unread=true", headers=author.headers)).json()
    assert [n["kind"] for n in mine["data"]] == ["rejected"] and "Say which bakery" in mine["data"][0]["body"]
    nid = mine["data"][0]["id"]
    assert (await client.post(f"{API}/notifications/{nid}/read", headers=approver.headers)).status_code == 404
    assert (await client.post(f"{API}/notifications/{nid}/read", headers=author.headers)).json()["data"][
        "read"
    ] is True
    assert (await client.get(f"{API}/notifications?unread=true", headers=author.headers)).json()["meta"][
        "total"
    ] == 0
    marked = (await client.post(f"{API}/notifications/read-all", headers=approver.headers)).json()["data"]
    assert marked["marked"] == 1
