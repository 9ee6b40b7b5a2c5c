"""X (docs.x.com): OAuth 2.0 authorization code with PKCE (`https://x.com/i/oauth2/authorize`,
`POST /2/oauth2/token` with HTTP Basic client authentication, `offline.access` for a refresh token,
`POST /2/oauth2/revoke`), `GET /2/users/me`, and `POST /2/tweets` (threads through
`reply.in_reply_to_tweet_id`; images through `POST /2/media/upload` (multipart `media`, `media_category`)
and their alt text through `POST /2/media/metadata`; a video through the chunked upload on the same
endpoint (multipart `command=INIT` with `total_bytes`, `APPEND` of 4 MB segments, `FINALIZE`, then
`GET ?command=STATUS` while `processing_info.state` is pending or in progress, waiting its
`check_after_secs`); attached as `media.media_ids`). Errors are
problem+json (`title`, `detail`, `type`) or `errors: [{message, code}]`; 429 carries
`x-rate-limit-reset` (epoch seconds)."""

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
    failure,
    post_thread,
    until_processed,
)

NAME = "X"
SCOPES = "tweet.read tweet.write users.read offline.access"
CHUNK_BYTES = 4 * 1024 * 1024  # APPEND segments (X takes at most 5 MB each)
STATUS_CHECKS = 60  # then the delivery is retried later


def _error(response: httpx.Response) -> PublishFailed:
    answer = body(response)
    errors = answer.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    code = answer.get("title") or first.get("code") or answer.get("error")
    message = answer.get("detail") or first.get("message") or answer.get("error_description")
    return failure(response, NAME, str(code) if code else None, str(message) if message else None)


async def _call(client: httpx.AsyncClient, method: str, url: str, token: str, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}
    return await call(client, NAME, _error, method, url, headers=headers, **kw)


async def whoami(client: httpx.AsyncClient, api: str, access_token: str) -> tuple[str, str]:
    data = body(await _call(client, "GET", f"{api}/2/users/me", access_token)).get("data") or {}
    return str(data.get("id") or ""), "@" + str(data.get("username") or "?")


async def verify(client: httpx.AsyncClient, account: Account) -> str:
    _, name = await whoami(client, account.base_url, account.tokens["access_token"])
    return f"signed in as {name}"


async def upload(client: httpx.AsyncClient, account: Account, media: list[Attachment]) -> list[str]:
    """Each image uploaded (and its alt text set); the media ids a post attaches."""
    base, token = account.base_url, account.tokens["access_token"]
    ids = []
    for item in media:
        if item.is_video:
            ids.append(await upload_video(client, base, token, item))
            continue
        category = "tweet_gif" if item.mime_type == "image/gif" else "tweet_image"
        response = await _call(
            client,
            "POST",
            f"{base}/2/media/upload",
            token,
            files={"media": ("media", item.whole(), item.mime_type)},
            data={"media_category": category, "media_type": item.mime_type},
        )
        media_id = str((body(response).get("data") or {}).get("id") or "")
        if not media_id:
            raise PublishFailed(f"{NAME} answered the upload without a media id", transient=False)
        if item.alt_text:
            alt = {"id": media_id, "metadata": {"alt_text": {"text": item.alt_text[:1000]}}}
            await _call(client, "POST", f"{base}/2/media/metadata", token, json=alt)
        ids.append(media_id)
    return ids


def _form(**fields: str) -> dict[str, Any]:
    """Plain multipart fields (X's chunked upload takes multipart/form-data)."""
    return {name: (None, value) for name, value in fields.items()}


async def upload_video(client: httpx.AsyncClient, base: str, token: str, item: Attachment) -> str:
    """Chunked upload: INIT, APPEND each segment, FINALIZE, then STATUS until processing succeeded."""
    url = f"{base}/2/media/upload"
    init = _form(
        command="INIT",
        media_type=item.mime_type,
        total_bytes=str(item.size),
        media_category="tweet_video",
    )
    media_id = str(
        (body(await _call(client, "POST", url, token, files=init)).get("data") or {}).get("id") or ""
    )
    if not media_id:
        raise PublishFailed(f"{NAME} answered INIT without a media id", transient=False)
    for index, at in enumerate(range(0, item.size, CHUNK_BYTES)):
        part = _form(command="APPEND", media_id=media_id, segment_index=str(index))
        part["media"] = ("blob", item.part(at, at + CHUNK_BYTES), "application/octet-stream")
        await _call(client, "POST", url, token, files=part)
    done = _form(command="FINALIZE", media_id=media_id)
    info = (body(await _call(client, "POST", url, token, files=done)).get("data") or {}).get(
        "processing_info"
    )

    async def check(n: int) -> float | None:
        nonlocal info
        if n:  # the first look is FINALIZE's answer
            query = {"command": "STATUS", "media_id": media_id}
            info = (body(await _call(client, "GET", url, token, params=query)).get("data") or {}).get(
                "processing_info"
            )
        state = (info or {}).get("state", "succeeded")
        if state == "succeeded":
            return None
        if state == "failed":
            error = (info or {}).get("error") or {}
            said = error.get("message") or error.get("name") or "failed"
            raise PublishFailed(
                f"{NAME} could not process the video: {said}",
                transient=False,
                code=str(error.get("name") or "") or None,
            )
        return min(max(float((info or {}).get("check_after_secs") or 1), 0.1), 10)

    await until_processed(NAME, "video", check, checks=STATUS_CHECKS)
    return media_id


async def publish(
    client: httpx.AsyncClient,
    account: Account,
    parts: list[str],
    key: str,
    done: list[dict[str, Any]],
    media: list[Attachment] | None = None,
) -> Published:
    async def one(text: str, index: int, posted: list[dict[str, Any]]) -> dict[str, Any]:
        payload: dict[str, Any] = {"text": text}
        if index == 0 and media:  # the images go with the thread's first post
            payload["media"] = {"media_ids": await upload(client, account, media)}
        if posted:
            payload["reply"] = {"in_reply_to_tweet_id": posted[-1]["id"]}
        response = await _call(
            client, "POST", f"{account.base_url}/2/tweets", account.tokens["access_token"], json=payload
        )
        data = body(response).get("data") or {}
        if not data.get("id"):
            raise PublishFailed(
                f"{NAME} answered without a post id", transient=False, status=response.status_code
            )
        handle = (account.account_name or "").lstrip("@") or "i/web"
        url = f"https://x.com/{handle}/status/{data['id']}"
        return {"id": str(data["id"]), "url": url, "status": response.status_code}

    return await post_thread(parts, done, one)
