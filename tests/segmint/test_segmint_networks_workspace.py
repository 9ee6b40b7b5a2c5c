"""An account connected in a team workspace lands in that workspace (the OAuth state records where the
authorization was started), and integration names are unique per workspace, not per person."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
import pytest

from fixtures.identity import Mailbox
from keel.app import create_app
from segmint.helpers import API, FakeServer
from segmint.test_segmint_teams import _team


@pytest.fixture
def settings(network_settings: Any, smtp_server: Mailbox) -> Any:
    return msgspec.structs.replace(network_settings, smtp_host="127.0.0.1", smtp_port=smtp_server.port)


@pytest.fixture
def app(settings: Any) -> Any:
    return create_app(settings)


async def _authorize(client: Any, headers: dict[str, str], server: Any, name: str) -> tuple[str, str]:
    started = await client.get(f"{API}/connections/x/authorize", headers=headers, params={"name": name})
    assert started.status_code == 200, started.text
    url = started.json()["data"]["url"]
    return parse_qs(urlsplit(url).query)["state"][0], server.approve(url)


async def test_a_connection_started_in_a_team_workspace_lands_there(
    client: Any, user_factory: Any, smtp_server: Mailbox, network_server: Any, fake_server: FakeServer
) -> None:
    owner, admin, editor = await user_factory(), await user_factory(), await user_factory()
    ws = await _team(client, owner, smtp_server, admin=admin, editor=editor)
    team = {**owner.headers, "X-Workspace": ws}

    state, code = await _authorize(client, team, network_server, "bakery x")
    # the page the network redirects to does not know the workspace: it calls back without X-Workspace
    done = await client.post(
        f"{API}/connections/x/callback", headers=owner.headers, json={"code": code, "state": state}
    )
    assert done.status_code == 201, done.text
    made = done.json()["data"]["id"]
    in_team = (await client.get(f"{API}/integration", headers=team)).json()
    assert [i["id"] for i in in_team["data"]] == [made]
    assert (await client.get(f"{API}/integration", headers=owner.headers)).json()["meta"]["total"] == 0
    assert (await client.get(f"{API}/integration/{made}", headers=editor.headers)).status_code == 404

    # names are unique per workspace: the admin cannot add a second "bakery x" there, but may elsewhere
    hook = {"name": "bakery x", "provider": "webhook", "url": f"{fake_server.url}/hook"}
    clash = await client.post(f"{API}/integration", headers={**admin.headers, "X-Workspace": ws}, json=hook)
    assert clash.status_code == 409 and clash.json()["error"]["details"]["name"]
    again = await client.get(f"{API}/connections/x/authorize", headers=team, params={"name": "bakery x"})
    assert again.status_code == 409
    mine = await client.post(f"{API}/integration", headers=admin.headers, json=hook)
    assert mine.status_code == 201, mine.text
    own = await client.post(f"{API}/integration", headers=owner.headers, json=hook)  # same person, other ws
    assert own.status_code == 201, own.text

    # an editor cannot start connecting in the team; a state started there is refused to a demoted admin
    refused = await client.get(
        f"{API}/connections/x/authorize",
        headers={**editor.headers, "X-Workspace": ws},
        params={"name": "editor x"},
    )
    assert refused.status_code == 403
    state, code = await _authorize(client, {**admin.headers, "X-Workspace": ws}, network_server, "admin x")
    demoted = await client.patch(
        f"{API}/workspaces/current/members/{admin.id}", headers=team, json={"role": "viewer"}
    )
    assert demoted.status_code == 200, demoted.text
    late = await client.post(
        f"{API}/connections/x/callback", headers=admin.headers, json={"code": code, "state": state}
    )
    assert late.status_code == 403 and late.json()["error"]["details"]["role"] == "viewer"
    assert (await client.get(f"{API}/integration", headers=team)).json()["meta"]["total"] == 1
