"""segmint content through the API: CRUD, validation, search/filters/sorting, versions, the status machine."""

from __future__ import annotations

import uuid
from typing import Any

from segmint.helpers import API, create_content


async def test_create_read_update_delete_with_versions(client: Any, user_factory: Any) -> None:
    h = (await user_factory()).headers
    # the seed document's minimal body works; the title defaults to the first words
    resp = await client.post(
        f"{API}/content", headers=h, json={"text": "Sample content text", "tone": "friendly"}
    )
    assert resp.status_code == 201, resp.text
    item = resp.json()["data"]
    assert item["title"] == "Sample content text" and item["status"] == "draft" and item["version"] == 1
    assert item["tags"] == [] and item["platforms"] == []

    changed = await client.patch(
        f"{API}/content/{item['id']}",
        headers=h,
        json={
            "text": "Sample content, sharper",
            "tags": ["Launch", "b2b"],
            "platforms": ["linkedin", "twitter"],
        },
    )
    assert changed.status_code == 400  # tags must be lower-case: nothing is half-applied
    assert "tags" in str(changed.json()["error"]["details"])
    changed = await client.patch(
        f"{API}/content/{item['id']}",
        headers=h,
        json={
            "text": "Sample content, sharper",
            "tags": ["launch", "b2b"],
            "platforms": ["twitter", "linkedin"],
        },
    )
    assert changed.status_code == 200, changed.text
    data = changed.json()["data"]
    assert (
        data["version"] == 2
        and data["tags"] == ["b2b", "launch"]
        and data["platforms"] == ["linkedin", "twitter"]
    )
    # a tags-only change keeps the version
    same = (await client.patch(f"{API}/content/{item['id']}", headers=h, json={"tags": ["launch"]})).json()[
        "data"
    ]
    assert same["version"] == 2 and same["tags"] == ["launch"]
    await client.patch(f"{API}/content/{item['id']}", headers=h, json={"tone": "witty"})

    versions = (await client.get(f"{API}/content/{item['id']}/versions", headers=h)).json()
    assert versions["meta"]["total"] == 3
    assert [(v["number"], v["text"], v["tone"]) for v in versions["data"]] == [
        (3, "Sample content, sharper", "witty"),
        (2, "Sample content, sharper", "friendly"),
        (1, "Sample content text", "friendly"),
    ]
    restored = await client.post(f"{API}/content/{item['id']}/versions/1/restore", headers=h)
    assert restored.status_code == 200, restored.text
    assert (
        restored.json()["data"]["text"] == "Sample content text" and restored.json()["data"]["version"] == 4
    )
    again = await client.post(f"{API}/content/{item['id']}/versions/4/restore", headers=h)
    assert again.status_code == 409  # already what it says
    assert (
        await client.post(f"{API}/content/{item['id']}/versions/99/restore", headers=h)
    ).status_code == 404

    got = (await client.get(f"{API}/content/{item['id']}", headers=h)).json()["data"]
    assert got["text"] == "Sample content text" and got["tone"] == "friendly"
    assert (await client.delete(f"{API}/content/{item['id']}", headers=h)).status_code == 204
    assert (await client.get(f"{API}/content/{item['id']}", headers=h)).status_code == 404


async def test_validation_names_the_fields(client: Any, user_factory: Any) -> None:
    h = (await user_factory()).headers
    cases = [
        ({"text": "hi", "tone": "angry"}, "tone"),
        ({"text": "", "tone": "friendly"}, "text"),
        ({"tone": "friendly"}, "text"),
        ({"text": "hi", "tone": "friendly", "platforms": ["myspace"]}, "platforms"),
        ({"text": "hi", "tone": "friendly", "title": "x" * 201}, "title"),
        ({"text": "hi", "tone": "friendly", "surprise": 1}, None),
    ]
    for body, field in cases:
        resp = await client.post(f"{API}/content", headers=h, json=body)
        assert resp.status_code == 400, (body, resp.text)
        error = resp.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        if field:
            assert field in str(error["details"]), (field, error)
    bad_sort = await client.get(f"{API}/content?sort=password", headers=h)
    assert bad_sort.status_code == 400 and "sort" in bad_sort.json()["error"]["details"]
    assert (await client.get(f"{API}/content?status=lost", headers=h)).status_code == 400
    assert (await client.get(f"{API}/content?limit=101", headers=h)).status_code == 400
    assert (await client.get(f"{API}/content", headers=h)).json()["meta"]["total"] == 0
    assert (await client.get(f"{API}/content")).status_code == 401


async def test_list_search_filters_sorting_pagination(client: Any, user_factory: Any) -> None:
    h = (await user_factory()).headers
    other = (await user_factory()).headers
    await create_content(
        client, h, title="Bravo launch", text="Launch day notes", tone="witty", tags=["launch"]
    )
    await create_content(client, h, title="Alpha recap", text="Quarterly 100% recap", tone="professional")
    await create_content(
        client, h, title="Charlie", text="A launch teaser", tone="witty", tags=["teaser", "launch"]
    )
    await create_content(client, other, title="Other launch", text="not yours", tone="witty", tags=["launch"])

    async def titles(query: str) -> tuple[list[str], int]:
        body = (await client.get(f"{API}/content?{query}", headers=h)).json()
        return [c["title"] for c in body["data"]], body["meta"]["total"]

    assert await titles("sort=title") == (["Alpha recap", "Bravo launch", "Charlie"], 3)
    assert await titles("sort=-title&limit=2") == (["Charlie", "Bravo launch"], 3)
    assert await titles("sort=title&limit=2&offset=2") == (["Charlie"], 3)
    assert await titles("q=LAUNCH&sort=title") == (["Bravo launch", "Charlie"], 2)
    assert await titles("q=100%25") == (["Alpha recap"], 1)  # % is searched literally
    assert await titles("q=%25") == (["Alpha recap"], 1)
    assert await titles("tone=witty&sort=title") == (["Bravo launch", "Charlie"], 2)
    assert await titles("tag=teaser") == (["Charlie"], 1)
    assert await titles("tag=launch&tone=witty&sort=-title") == (["Charlie", "Bravo launch"], 2)
    assert await titles("status=approved") == ([], 0)


async def test_other_users_get_404_everywhere(client: Any, user_factory: Any) -> None:
    owner = (await user_factory()).headers
    stranger = (await user_factory()).headers
    item = await create_content(client, owner)
    cid = item["id"]
    for method, path, body in (
        ("GET", f"/content/{cid}", None),
        ("PATCH", f"/content/{cid}", {"text": "mine now"}),
        ("DELETE", f"/content/{cid}", None),
        ("GET", f"/content/{cid}/versions", None),
        ("GET", f"/content/{cid}/history", None),
        ("POST", f"/content/{cid}/versions/1/restore", None),
        ("POST", f"/content/{cid}/reopen", {}),
        ("POST", f"/content/{cid}/submit", {"workflow_id": str(uuid.uuid4())}),
        (
            "POST",
            f"/content/{cid}/schedules",
            {"publish_at": "2099-01-01T00:00:00Z", "integration_ids": [str(uuid.uuid4())]},
        ),
    ):
        resp = await client.request(method, f"{API}{path}", headers=stranger, json=body)
        assert resp.status_code == 404, (method, path, resp.text)
    assert (await client.get(f"{API}/content", headers=stranger)).json()["meta"]["total"] == 0
    unchanged = (await client.get(f"{API}/content/{cid}", headers=owner)).json()["data"]
    assert unchanged["text"] == item["text"] and unchanged["version"] == 1


async def test_illegal_transitions_answer_409_with_what_is_allowed(client: Any, user_factory: Any) -> None:
    h = (await user_factory()).headers
    item = await create_content(client, h)
    cid = item["id"]
    # a draft cannot be scheduled (it is not approved) and cannot be "reopened" (it already is a draft)
    resp = await client.post(f"{API}/content/{cid}/reopen", headers=h, json={})
    assert resp.status_code == 409
    error = resp.json()["error"]
    assert "'draft' cannot become 'draft'" in error["message"] and error["details"]["allowed"] == [
        "in_review"
    ]
    integration = await client.post(
        f"{API}/integration",
        headers=h,
        json={"name": "hook", "provider": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "s" * 20},
    )
    resp = await client.post(
        f"{API}/content/{cid}/schedules",
        headers=h,
        json={"publish_at": "2099-01-01T00:00:00Z", "integration_ids": [integration.json()["data"]["id"]]},
    )
    assert resp.status_code == 409 and "cannot become 'scheduled'" in resp.json()["error"]["message"]
    assert (await client.get(f"{API}/content/{cid}", headers=h)).json()["data"]["status"] == "draft"
