"""Managing a workspace: the owner renames or deletes it (not the personal one), owners/admins remove
members and list or revoke pending invitations (paginated); another workspace's rows answer 404."""

from __future__ import annotations

from typing import Any

import pytest

from fixtures.identity import Mailbox
from segmint.helpers import API, create_content
from segmint.test_segmint_teams import _team


@pytest.fixture
def settings(make_settings: Any, smtp_server: Mailbox) -> Any:
    return make_settings(keel_apps="gym,scribe,segmint", smtp_host="127.0.0.1", smtp_port=smtp_server.port)


def _in(user: Any, ws: str) -> dict[str, str]:
    return {**user.headers, "X-Workspace": ws}


async def test_the_owner_renames_and_deletes_a_workspace(
    client: Any, user_factory: Any, smtp_server: Mailbox
) -> None:
    owner, admin, outsider = await user_factory(), await user_factory(), await user_factory()
    ws = await _team(client, owner, smtp_server, admin=admin)
    rename = {"name": "Bakery & co"}
    refused = await client.patch(f"{API}/workspaces/current", headers=_in(admin, ws), json=rename)
    assert refused.status_code == 403 and refused.json()["error"]["details"]["needs"] == "workspace.manage"
    foreign = await client.patch(f"{API}/workspaces/current", headers=_in(outsider, ws), json=rename)
    assert foreign.status_code == 404
    blank = await client.patch(f"{API}/workspaces/current", headers=_in(owner, ws), json={"name": " "})
    assert blank.status_code == 400 and "name" in str(blank.json()["error"]["details"])
    renamed = await client.patch(f"{API}/workspaces/current", headers=_in(owner, ws), json=rename)
    assert renamed.status_code == 200 and renamed.json()["data"]["name"] == "Bakery & co"
    listed = (await client.get(f"{API}/workspaces", headers=admin.headers)).json()["data"]
    assert {w["id"]: w["name"] for w in listed}[ws] == "Bakery & co"

    cid = (await create_content(client, _in(owner, ws), text="Team loaf"))["id"]
    assert (await client.delete(f"{API}/workspaces/current", headers=_in(admin, ws))).status_code == 403
    assert (await client.delete(f"{API}/workspaces/current", headers=_in(outsider, ws))).status_code == 404
    personal = await client.delete(f"{API}/workspaces/current", headers=owner.headers)
    assert personal.status_code == 409
    assert (await client.delete(f"{API}/workspaces/current", headers=_in(owner, ws))).status_code == 204
    assert (await client.get(f"{API}/content/{cid}", headers=_in(owner, ws))).status_code == 404
    assert (await client.get(f"{API}/content/{cid}", headers=owner.headers)).status_code == 404
    left = (await client.get(f"{API}/workspaces", headers=admin.headers)).json()
    assert [w["personal"] for w in left["data"]] == [True] and left["meta"]["total"] == 1
    # the personal workspace is still there and still works
    assert (await client.get(f"{API}/content", headers=owner.headers)).status_code == 200


async def test_members_are_removed_and_may_leave_but_one_owner_stays(
    client: Any, user_factory: Any, smtp_server: Mailbox
) -> None:
    owner, admin, editor, viewer = [await user_factory() for _ in range(4)]
    ws = await _team(client, owner, smtp_server, admin=admin, editor=editor, viewer=viewer)
    other = (await client.post(f"{API}/workspaces", headers=owner.headers, json={"name": "Other"})).json()[
        "data"
    ]["id"]

    def remove(by: Any, who: Any, where: str = ws) -> Any:
        return client.delete(f"{API}/workspaces/current/members/{who.id}", headers=_in(by, where))

    assert (await remove(editor, viewer)).status_code == 403
    assert (await remove(admin, owner)).status_code == 403  # an admin cannot remove an owner
    assert (await remove(owner, editor, other)).status_code == 404  # not a member of that workspace
    assert (await remove(owner, owner)).status_code == 409  # the last owner
    assert (await remove(admin, editor)).status_code == 204
    assert (await client.get(f"{API}/content", headers=_in(editor, ws))).status_code == 404
    assert (await remove(admin, editor)).status_code == 404
    assert (await remove(viewer, viewer)).status_code == 204  # leaving needs no right
    members = (await client.get(f"{API}/workspaces/current/members", headers=_in(owner, ws))).json()
    assert sorted(m["role"] for m in members["data"]) == ["admin", "owner"] and members["meta"]["total"] == 2
    assert (await remove(owner, owner, owner.id)).status_code == 409  # the personal workspace keeps its owner


async def test_pending_invitations_are_listed_paginated_and_revoked_per_workspace(
    client: Any, user_factory: Any, smtp_server: Mailbox
) -> None:
    owner, editor, outsider = await user_factory(), await user_factory(), await user_factory()
    ws = await _team(client, owner, smtp_server, editor=editor)
    other = (await client.post(f"{API}/workspaces", headers=owner.headers, json={"name": "Other"})).json()[
        "data"
    ]["id"]
    sent = []
    for n in range(3):
        made = await client.post(
            f"{API}/workspaces/current/invitations",
            headers=_in(owner, ws),
            json={"email": f"baker{n}@example.com", "role": "viewer"},
        )
        assert made.status_code == 201, made.text
        sent.append(made.json()["data"]["id"])
    url = f"{API}/workspaces/current/invitations"
    first = (await client.get(url, headers=_in(owner, ws), params={"limit": 2})).json()
    assert first["meta"]["total"] == 3 and len(first["data"]) == 2  # the accepted one is not pending
    rest = (await client.get(url, headers=_in(owner, ws), params={"limit": 2, "offset": 2})).json()
    assert {i["id"] for i in first["data"] + rest["data"]} == set(sent)
    assert all(i["status"] == "pending" for i in first["data"] + rest["data"])
    assert (await client.get(url, headers=_in(editor, ws))).status_code == 403
    assert (await client.get(url, headers=_in(outsider, ws))).status_code == 404
    assert (await client.get(url, headers=_in(owner, other))).json()["meta"]["total"] == 0

    # revoking needs the invitation's own workspace
    assert (await client.delete(f"{url}/{sent[0]}", headers=_in(owner, other))).status_code == 404
    assert (await client.delete(f"{url}/{sent[0]}", headers=_in(editor, ws))).status_code == 403
    assert (await client.delete(f"{url}/{sent[0]}", headers=_in(owner, ws))).status_code == 204
    assert (await client.delete(f"{url}/{sent[0]}", headers=_in(owner, ws))).status_code == 409
    after = (await client.get(url, headers=_in(owner, ws))).json()
    assert after["meta"]["total"] == 2 and sent[0] not in {i["id"] for i in after["data"]}
