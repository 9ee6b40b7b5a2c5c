"""Unknown query parameters are a 400 naming them, on every app's lists; known ones keep working."""

from __future__ import annotations


async def test_a_typo_in_a_list_parameter_is_refused_with_its_name(client, auth_headers) -> None:
    headers = auth_headers
    ok = await client.get("/api/v1/gym/sessions", params={"limit": 5, "offset": 0}, headers=headers)
    assert ok.status_code == 200, ok.text

    typo = await client.get("/api/v1/gym/sessions", params={"limt": 5}, headers=headers)
    assert typo.status_code == 400
    body = typo.json()["error"]
    assert body["code"] == "VALIDATION_ERROR"
    assert set(body["details"]) == {"limt"}
    assert "limit" in body["details"]["limt"]  # the message lists what the operation takes


async def test_every_app_refuses_unknown_parameters(client, auth_headers) -> None:
    headers = auth_headers
    for path in (
        "/api/v1/users/me",
        "/api/v1/gym/exercises",
        "/api/v1/scribe/transcriptions",
        "/api/v1/market/chats",
        "/api/v1/segmint/content",
    ):
        response = await client.get(path, params={"sort_by": "name", "pagee": 2}, headers=headers)
        assert response.status_code == 400, (path, response.text)
        assert set(response.json()["error"]["details"]) == {"pagee", "sort_by"}, path


async def test_docs_pages_are_not_api_operations(client) -> None:
    response = await client.get("/schema/openapi.json", params={"v": "1"})
    assert response.status_code == 200
