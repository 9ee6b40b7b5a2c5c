"""Mastodon (docs.joinmastodon.org): per-instance app registration (`POST /api/v1/apps`), OAuth 2.0
authorization code with PKCE (`/oauth/authorize`, `/oauth/token`, `/oauth/revoke`), statuses
(`POST /api/v1/statuses`, threads through `in_reply_to_id`, `Idempotency-Key` honoured) and
`GET /api/v1/accounts/verify_credentials`; images through `POST /api/v2/media` (multipart `file`,
`description` the alt text; videos too: a 202 is still processing, polled with `GET /api/v1/media/:id`
(206 while processing) until it answers 200 with its URL), attached as `media_ids`. Errors answer
`{"error": "..."}`; 429 sends X-RateLimit-Reset (an ISO date) and, behind most proxies, Retry-After."""

from __future__ import annotations

from typing import Any

import httpx

from keel.apps.segmint.networks.base import (
    USER_AGENT,
    Account,
    Attachment,
    Published,
    PublishFailed,
    body,
    call,
    clip,
    failure,
    post_thread,
    unreachable,
    until_processed,
)

NAME = "Mastodon"
SCOPES = "read:accounts write:statuses write:media"


def _error(response: httpx.Response) -> PublishFailed:
    answer = body(response)
    message = answer.get("error_description") or answer.get("error")
    code = answer.get("error") if answer.get("error_description") else None
    return failure(response, NAME, code, str(message) if message else None)


async def _call(client: httpx.AsyncClient, method: str, url: str, **kw: Any) -> dict[str, Any]:
    kw.setdefault("headers", {})["User-Agent"] = USER_AGENT
    return body(await call(client, NAME, _error, method, url, **kw))


async def register_app(
    client: httpx.AsyncClient, instance: str, redirect_uri: str, website: str
) -> dict[str, Any]:
    """The instance's client_id/secret for this redirect URI (the caller caches them per instance)."""
    answer = await _call(
        client,
        "POST",
        f"{instance}/api/v1/apps",
        data={
            "client_name": "Keel segmint",
            "redirect_uris": redirect_uri,
            "scopes": SCOPES,
            "website": website,
        },
    )
    if not answer.get("client_id") or not answer.get("client_secret"):
        raise PublishFailed(f"{NAME} registered no app (no client_id/client_secret)", transient=False)
    return answer


def authorize_url(instance: str) -> str:
    return f"{instance}/oauth/authorize"


def token_url(instance: str) -> str:
    return f"{instance}/oauth/token"


async def whoami(client: httpx.AsyncClient, instance: str, access_token: str) -> tuple[str, str]:
    me = await _call(
        client,
        "GET",
        f"{instance}/api/v1/accounts/verify_credentials",
        headers={"Authorization": f"Bearer {access_token}"},
    )
    return str(me.get("id") or ""), "@" + str(me.get("acct") or me.get("username") or "?")


async def verify(client: httpx.AsyncClient, account: Account) -> str:
    _, acct = await whoami(client, account.base_url, account.tokens["access_token"])
    return f"signed in as {acct}"


async def upload(client: httpx.AsyncClient, account: Account, media: list[Attachment]) -> list[str]:
    headers = {"Authorization": f"Bearer {account.tokens['access_token']}", "User-Agent": USER_AGENT}
    ids = []
    for item in media:
        response: httpx.Response | None = None

        async def check(n: int, item: Attachment = item) -> float | None:
            """202: processed asynchronously; GET answers 206 while still processing, 200 with the URL."""
            nonlocal response
            if response is None:
                with item.path.open("rb") as fh:  # httpx sends a file field in chunks
                    response = await client.post(
                        f"{account.base_url}/api/v2/media",
                        files={"file": ("video" if item.is_video else "image", fh, item.mime_type)},
                        data={"description": item.alt_text[:1500]},
                        headers=headers,
                    )
            else:
                media_id = body(response).get("id")
                response = await client.get(f"{account.base_url}/api/v1/media/{media_id}", headers=headers)
            if not response.is_success:
                raise _error(response)
            ready = response.status_code not in (202, 206) and body(response).get("url")
            return None if ready else 0.5

        try:  # videos take longer
            await until_processed(NAME, "media", check, checks=120 if item.is_video else 20)
        except httpx.HTTPError as exc:
            raise unreachable(NAME, exc) from exc
        assert response is not None
        if not body(response).get("id"):
            raise PublishFailed(f"{NAME} answered the upload without a media id", transient=False)
        ids.append(str(body(response)["id"]))
    return ids


async def publish(
    client: httpx.AsyncClient,
    account: Account,
    parts: list[str],
    key: str,
    done: list[dict[str, Any]],
    media: list[Attachment] | None = None,
) -> Published:
    async def one(text: str, index: int, posted: list[dict[str, Any]]) -> dict[str, Any]:
        payload: dict[str, Any] = {"status": text, "visibility": "public"}
        if index == 0 and media:
            payload["media_ids"] = await upload(client, account, media)
        if posted:
            payload["in_reply_to_id"] = posted[-1]["id"]
        headers = {"Authorization": f"Bearer {account.tokens['access_token']}", "User-Agent": USER_AGENT}
        headers["Idempotency-Key"] = key if index == 0 else f"{key}:{index}"
        try:
            response = await client.post(f"{account.base_url}/api/v1/statuses", json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise unreachable(NAME, exc) from exc
        if not response.is_success:
            raise _error(response)
        answer = body(response)
        if not answer.get("id"):
            raise PublishFailed(
                f"{NAME} answered without a status id", transient=False, status=response.status_code
            )
        return {"id": str(answer["id"]), "url": clip(answer.get("url")), "status": response.status_code}

    return await post_thread(parts, done, one)
