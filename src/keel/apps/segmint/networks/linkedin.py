"""LinkedIn (learn.microsoft.com/linkedin): OAuth 2.0 authorization code (`/oauth/v2/authorization`,
`/oauth/v2/accessToken`, `/oauth/v2/revoke`, client credentials in the form body) with the OpenID scopes
and `w_member_social`; `GET /v2/userinfo` gives the member (`sub`); `POST /rest/posts` with
`LinkedIn-Version` and `X-Restli-Protocol-Version: 2.0.0` answers 201 and the post's URN in
`x-restli-id`; images through the Images API (`POST /rest/images?action=initializeUpload`, then `PUT`
the bytes to the upload URL), one as `content.media`, several as `content.multiImage`; a video through
the Videos API (`POST /rest/videos?action=initializeUpload` with its size, a `PUT` of each part to its
upload URL keeping the ETags, `POST /rest/videos?action=finalizeUpload` with them, then
`GET /rest/videos/{urn}` until its status is AVAILABLE), as `content.media`. Commentary is
"little text": its reserved characters are escaped. Errors answer
`{"status", "serviceErrorCode", "code", "message"}`. No threads."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import regex

from keel.apps.segmint.networks.base import (
    USER_AGENT,
    Account,
    Attachment,
    Published,
    PublishFailed,
    body,
    call,
    failure,
    unreachable,
    until_processed,
)

NAME = "LinkedIn"
VIDEO_CHECKS = 60  # one a second, then the delivery is retried later
SCOPES = "openid profile w_member_social"
_RESERVED = regex.compile(r"([\\|{}@\[\]()<>#*_~])")


def little_text(text: str) -> str:
    """LinkedIn's little-text format treats these characters as markup; escaped, they show as written."""
    return _RESERVED.sub(r"\\\1", text)


def _error(response: httpx.Response) -> PublishFailed:
    answer = body(response)
    code = answer.get("code") or answer.get("serviceErrorCode") or answer.get("error")
    message = answer.get("message") or answer.get("error_description")
    return failure(response, NAME, str(code) if code else None, str(message) if message else None)


async def whoami(client: httpx.AsyncClient, api: str, access_token: str) -> tuple[str, str]:
    headers = {"Authorization": f"Bearer {access_token}", "User-Agent": USER_AGENT}
    me = body(await _rest(client, "GET", f"{api}/v2/userinfo", headers))
    if not me.get("sub"):
        raise PublishFailed(f"{NAME} answered without the member id (sub)", transient=False)
    return str(me["sub"]), str(me.get("name") or me.get("email") or me["sub"])


async def verify(client: httpx.AsyncClient, account: Account) -> str:
    _, name = await whoami(client, account.base_url, account.tokens["access_token"])
    return f"signed in as {name}"


async def upload(
    client: httpx.AsyncClient, account: Account, media: list[Attachment], headers: dict[str, str]
) -> list[str]:
    """Images API: `POST /rest/images?action=initializeUpload` for an upload URL and the image URN, then
    `PUT` the bytes there."""
    urns = []
    for item in media:
        if item.is_video:
            urns.append(await upload_video(client, account, item, headers))
            continue
        start = {"initializeUploadRequest": {"owner": f"urn:li:person:{account.account_id}"}}
        try:
            response = await client.post(
                f"{account.base_url}/rest/images",
                params={"action": "initializeUpload"},
                json=start,
                headers=headers,
            )
            if not response.is_success:
                raise _error(response)
            value = body(response).get("value") or {}
            if not value.get("uploadUrl") or not value.get("image"):
                raise PublishFailed(f"{NAME} answered without an upload URL and image URN", transient=False)
            put = await client.put(
                str(value["uploadUrl"]),
                content=item.whole(),
                headers={"Authorization": headers["Authorization"], "Content-Type": item.mime_type},
            )
        except httpx.HTTPError as exc:
            raise unreachable(NAME, exc) from exc
        if not put.is_success:
            raise _error(put)
        urns.append(str(value["image"]))
    return urns


async def _rest(
    client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], **kw: Any
) -> httpx.Response:
    return await call(client, NAME, _error, method, url, headers=headers, **kw)


async def upload_video(
    client: httpx.AsyncClient, account: Account, item: Attachment, headers: dict[str, str]
) -> str:
    """Videos API: initializeUpload (the parts' upload URLs and byte ranges), a `PUT` of each part (its
    ETag kept), finalizeUpload with the ETags in order, then the video's status until AVAILABLE."""
    videos = f"{account.base_url}/rest/videos"
    start = {
        "initializeUploadRequest": {
            "owner": f"urn:li:person:{account.account_id}",
            "fileSizeBytes": item.size,
            "uploadCaptions": False,
            "uploadThumbnail": False,
        }
    }
    value = body(
        await _rest(client, "POST", videos, headers, params={"action": "initializeUpload"}, json=start)
    )
    value = value.get("value") or {}
    urn, parts = value.get("video"), value.get("uploadInstructions")
    if not urn or not isinstance(parts, list) or not parts:
        raise PublishFailed(f"{NAME} answered without a video URN and upload instructions", transient=False)
    etags = []
    for part in parts:
        chunk = item.part(int(part["firstByte"]), int(part["lastByte"]) + 1)
        put = await _rest(
            client,
            "PUT",
            str(part["uploadUrl"]),
            {"Authorization": headers["Authorization"], "Content-Type": "application/octet-stream"},
            content=chunk,
        )
        etags.append(put.headers.get("etag", ""))
    finish = {
        "finalizeUploadRequest": {
            "video": urn,
            "uploadToken": value.get("uploadToken") or "",
            "uploadedPartIds": etags,
        }
    }
    await _rest(client, "POST", videos, headers, params={"action": "finalizeUpload"}, json=finish)
    where = f"{videos}/{quote(str(urn), safe='')}"

    async def check(_: int) -> float | None:
        status = body(await _rest(client, "GET", where, headers)).get("status")
        if status == "AVAILABLE":
            return None
        if status == "PROCESSING_FAILED":
            raise PublishFailed(f"{NAME} could not process the video", transient=False, code=status)
        return 1.0

    await until_processed(NAME, "video", check, checks=VIDEO_CHECKS)
    return str(urn)


async def publish(
    client: httpx.AsyncClient,
    account: Account,
    parts: list[str],
    key: str,
    done: list[dict[str, Any]],
    *,
    version: str,
    media: list[Attachment] | None = None,
) -> Published:
    if done:  # a post that already went out (the caller never retries a delivered one)
        head = done[0]
        return Published(str(head["id"]), head.get("url"), head.get("status"), done)
    headers = {
        "Authorization": f"Bearer {account.tokens['access_token']}",
        "User-Agent": USER_AGENT,
        "LinkedIn-Version": version,
        "X-Restli-Protocol-Version": "2.0.0",
    }
    payload = {
        "author": f"urn:li:person:{account.account_id}",
        "commentary": little_text("\n\n".join(parts)),
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
    if media:  # one image, or several as a multi-image post (LinkedIn's organic carousel)
        urns = await upload(client, account, media, headers)
        if media[0].is_video:  # alone (validation): a video post, its alt text as the title
            payload["content"] = {"media": {"id": urns[0], "title": media[0].alt_text[:200]}}
        else:
            images = [{"id": urn, "altText": m.alt_text[:4086]} for urn, m in zip(urns, media, strict=True)]
            one = len(images) == 1
            payload["content"] = {"media": images[0]} if one else {"multiImage": {"images": images}}
    response = await _rest(client, "POST", f"{account.base_url}/rest/posts", headers, json=payload)
    urn = response.headers.get("x-restli-id") or str(body(response).get("id") or "")
    if not urn:
        raise PublishFailed(f"{NAME} answered without the post's URN (x-restli-id)", transient=False)
    part = {"id": urn, "url": f"https://www.linkedin.com/feed/update/{urn}/", "status": response.status_code}
    return Published(urn[:200], part["url"], response.status_code, [part])
