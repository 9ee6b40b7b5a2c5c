"""segmint integrations and schedules belong to a workspace: members see them, roles decide who manages
or schedules, and another workspace's integration or schedule answers 404."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fixtures.identity import Mailbox
from segmint.helpers import API, FakeServer, create_content
from segmint.test_segmint_teams import _team

WEBHOOK_SECRET = "webhook-signing-secret-abcdef"  # noqa: S105 - test data


@pytest.fixture
def settings(make_settings: Any, smtp_server: Mailbox) -> Any:
    return make_settings(
        keel_apps="gym,scribe,segmint",
        jobs_poll_interval=0.2,
        segmint_allow_private_targets=True,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
    )


def _hook(server: FakeServer, name: str) -> dict[str, str]:
    return {"name": name, "provider": "webhook", "url": f"{server.url}/hook", "secret": WEBHOOK_SECRET}


async def test_integrations_and_schedules_belong_to_the_workspace(
    client: Any, user_factory: Any, smtp_server: Mailbox, fake_server: FakeServer
) -> None:
    owner, editor, approver, viewer, outsider = [await user_factory() for _ in range(5)]
    ws = await _team(client, owner, smtp_server, editor=editor, approver=approver, viewer=viewer)

    def h(user: Any) -> dict[str, str]:
        return {**user.headers, "X-Workspace": ws}

    # only owner/admin connect integrations; every member sees the workspace's ones
    refused = await client.post(f"{API}/integration", headers=h(editor), json=_hook(fake_server, "e"))
    assert refused.status_code == 403 and refused.json()["error"]["details"]["role"] == "editor"
    made = await client.post(f"{API}/integration", headers=h(owner), json=_hook(fake_server, "team hook"))
    assert made.status_code == 201, made.text
    hook_id = made.json()["data"]["id"]
    listed = (await client.get(f"{API}/integration", headers=h(viewer))).json()
    assert [i["id"] for i in listed["data"]] == [hook_id]
    assert (await client.get(f"{API}/integration", headers=editor.headers)).json()["meta"]["total"] == 0
    for headers in (editor.headers, outsider.headers):  # outside the workspace: 404
        assert (await client.get(f"{API}/integration/{hook_id}", headers=headers)).status_code == 404
        assert (await client.delete(f"{API}/integration/{hook_id}", headers=headers)).status_code == 404
    assert (
        await client.patch(f"{API}/integration/{hook_id}", headers=h(editor), json={"name": "mine"})
    ).status_code == 403
    mine = await client.post(f"{API}/integration", headers=editor.headers, json=_hook(fake_server, "own"))
    assert mine.status_code == 201, mine.text

    # approved team content: the editor schedules it to the team's integration, never to a personal one
    workflow = await client.post(
        f"{API}/workflow", headers=h(owner), json={"name": "review", "approver_emails": [approver.email]}
    )
    item = await create_content(client, h(editor), text="Rye loaves are back on Friday.")
    await client.post(
        f"{API}/content/{item['id']}/submit",
        headers=h(editor),
        json={"workflow_id": workflow.json()["data"]["id"]},
    )
    review = f"{API}/workflow/reviews/{item['id']}/decision"
    decided = await client.post(review, headers=approver.headers, json={"decision": "approve"})
    assert decided.json()["data"]["content"]["status"] == "approved", decided.text
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    url = f"{API}/content/{item['id']}/schedules"
    assert (
        await client.post(url, headers=h(viewer), json={"publish_at": at, "integration_ids": [hook_id]})
    ).status_code == 403
    other = await client.post(
        url, headers=h(editor), json={"publish_at": at, "integration_ids": [mine.json()["data"]["id"]]}
    )
    assert other.status_code == 404, other.text
    scheduled = await client.post(
        url, headers=h(editor), json={"publish_at": at, "integration_ids": [hook_id]}
    )
    assert scheduled.status_code == 201, scheduled.text
    sid = scheduled.json()["data"]["id"]
    assert (await client.get(f"{API}/schedules/{sid}", headers=h(owner))).status_code == 200
    assert (await client.get(f"{API}/schedules", headers=h(viewer))).json()["meta"]["total"] == 1
    for headers in (editor.headers, outsider.headers, {**outsider.headers, "X-Workspace": ws}):
        assert (await client.get(f"{API}/schedules/{sid}", headers=headers)).status_code == 404
    assert (await client.get(f"{API}/schedules", headers=editor.headers)).json()["meta"]["total"] == 0
    assert (await client.post(f"{API}/schedules/{sid}/cancel", headers=h(viewer))).status_code == 403
    assert (await client.delete(f"{API}/integration/{hook_id}", headers=h(owner))).status_code == 409
    cancelled = await client.post(f"{API}/schedules/{sid}/cancel", headers=h(editor))
    assert cancelled.status_code == 200 and cancelled.json()["data"]["status"] == "cancelled"
    assert (await client.delete(f"{API}/integration/{hook_id}", headers=h(editor))).status_code == 403
    assert (await client.delete(f"{API}/integration/{hook_id}", headers=h(owner))).status_code == 204


async def _approved(client: Any, h: Any, author: Any, approver: Any, workflow_id: str, text: str) -> str:
    item = await create_content(client, h(author), text=text)
    await client.post(
        f"{API}/content/{item['id']}/submit", headers=h(author), json={"workflow_id": workflow_id}
    )
    review = f"{API}/workflow/reviews/{item['id']}/decision"
    decided = await client.post(review, headers=approver.headers, json={"decision": "approve"})
    assert decided.json()["data"]["content"]["status"] == "approved", decided.text
    return str(item["id"])


async def _inbox(client: Any, user: Any, kind: str) -> list[dict[str, Any]]:
    for _ in range(100):  # the job settles on its own time
        found = [
            n
            for n in (await client.get(f"{API}/notifications", headers=user.headers)).json()["data"]
            if n["kind"] == kind
        ]
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {kind!r} notification for {user.email}")


async def test_published_and_failed_notify_the_author_and_the_scheduler(
    client: Any, user_factory: Any, smtp_server: Mailbox, fake_server: FakeServer
) -> None:
    owner, editor, approver, viewer = [await user_factory() for _ in range(4)]
    ws = await _team(client, owner, smtp_server, editor=editor, approver=approver, viewer=viewer)

    def h(user: Any) -> dict[str, str]:
        return {**user.headers, "X-Workspace": ws}

    hook = await client.post(f"{API}/integration", headers=h(owner), json=_hook(fake_server, "team hook"))
    hook_id = hook.json()["data"]["id"]
    wid = (
        await client.post(
            f"{API}/workflow", headers=h(owner), json={"name": "r", "approver_emails": [approver.email]}
        )
    ).json()["data"]["id"]
    good = await _approved(client, h, editor, approver, wid, "Rye loaves are back on Friday.")
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    scheduled = await client.post(
        f"{API}/content/{good}/schedules",
        headers=h(owner),  # the owner schedules the editor's post
        json={"publish_at": soon, "integration_ids": [hook_id]},
    )
    assert scheduled.status_code == 201, scheduled.text
    for person in (editor, owner):
        [note] = await _inbox(client, person, "published")
        assert note["content_id"] == good and "team hook: delivered" in note["body"], note
    assert await _kinds(client, viewer) == set()  # not concerned

    fake_server.statuses = [400]  # the receiver refuses: not worth retrying
    bad = await _approved(client, h, editor, approver, wid, "Croissant class on Saturday morning.")
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    scheduled = await client.post(
        f"{API}/content/{bad}/schedules",
        headers=h(editor),
        json={"publish_at": soon, "integration_ids": [hook_id]},
    )
    assert scheduled.status_code == 201, scheduled.text
    [note] = await _inbox(client, editor, "failed")
    assert note["content_id"] == bad and "team hook: failed" in note["body"] and "400" in note["body"], note
    assert "failed" not in await _kinds(client, owner)  # the owner neither wrote nor scheduled it


async def _kinds(client: Any, user: Any) -> set[str]:
    listed = (await client.get(f"{API}/notifications", headers=user.headers)).json()["data"]
    return {n["kind"] for n in listed if n["kind"] in ("published", "failed")}
