"""Bluesky over the AT Protocol (docs.bsky.app): a session from an app password
(`com.atproto.server.createSession`, renewed with `refreshSession`, ended with `deleteSession`), handles
resolved for mentions (`com.atproto.identity.resolveHandle`), and posts as `app.bsky.feed.post` records
(`com.atproto.repo.createRecord`) with facets and, in a thread, `reply: {root, parent}` strong refs.
Errors answer `{"error": "ExpiredToken" | "InvalidToken" | "RateLimitExceeded" | ..., "message"}`; an
expired access token is renewed once and the call repeated."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx

from keel.apps.segmint.networks.base import (
    USER_AGENT,
    Account,
    Attachment,
    Published,
    PublishFailed,
    body,
    failure,
    post_thread,
    unreachable,
)
from keel.apps.segmint.networks.facets import facets, mentions

NAME = "Bluesky"
_EXPIRED = ("ExpiredToken", "InvalidToken")


def _error(response: httpx.Response) -> PublishFailed:
    answer = body(response)
    code = answer.get("error")
    message = answer.get("message")
    return failure(response, NAME, str(code) if code else None, str(message) if message else None)


def _jwt_expiry(token: str) -> datetime | None:
    """The access JWT's `exp` (read, not verified: only to renew it in time; the PDS verifies it)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (IndexError, KeyError, TypeError, ValueError):
        return None


async def _xrpc(
    client: httpx.AsyncClient, base: str, method: str, nsid: str, token: str | None = None, **kw: Any
) -> httpx.Response:
    headers = {"User-Agent": USER_AGENT, **kw.pop("headers", {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        return await client.request(method, f"{base}/xrpc/{nsid}", headers=headers, **kw)
    except httpx.HTTPError as exc:
        raise unreachable(NAME, exc) from exc


def _pds(session: dict[str, Any], service: str) -> str:
    """The account's own PDS from its DID document when the entryway names one, else the service."""
    for entry in (session.get("didDoc") or {}).get("service") or []:
        if isinstance(entry, dict) and entry.get("id") == "#atproto_pds" and entry.get("serviceEndpoint"):
            return str(entry["serviceEndpoint"]).rstrip("/")
    return service


def _apply(account: Account, session: dict[str, Any]) -> None:
    if not session.get("accessJwt") or not session.get("did"):
        raise PublishFailed(f"{NAME} answered without a session (accessJwt, did)", transient=False)
    account.tokens |= {
        "access_jwt": session["accessJwt"],
        "refresh_jwt": session.get("refreshJwt") or account.tokens.get("refresh_jwt"),
        "did": session["did"],
        "handle": session.get("handle") or account.tokens.get("handle"),
        "pds": _pds(session, account.base_url),
    }
    account.account_id, account.account_name = session["did"], "@" + str(account.tokens["handle"])
    account.expires_at, account.changed = _jwt_expiry(session["accessJwt"]), True


async def create_session(client: httpx.AsyncClient, account: Account) -> None:
    response = await _xrpc(
        client,
        account.base_url,
        "POST",
        "com.atproto.server.createSession",
        json={"identifier": account.tokens["identifier"], "password": account.tokens["app_password"]},
    )
    if not response.is_success:
        raise _error(response)
    _apply(account, body(response))


async def refresh(client: httpx.AsyncClient, account: Account) -> None:
    """Renew the session with the refresh JWT; when that is expired too, sign in with the app password."""
    if account.tokens.get("refresh_jwt"):
        response = await _xrpc(
            client,
            account.base_url,
            "POST",
            "com.atproto.server.refreshSession",
            account.tokens["refresh_jwt"],
        )
        if response.is_success:
            _apply(account, body(response))
            return
        if body(response).get("error") not in _EXPIRED and response.status_code not in (400, 401):
            raise _error(response)
    await create_session(client, account)


async def _authed(
    client: httpx.AsyncClient, account: Account, method: str, nsid: str, **kw: Any
) -> httpx.Response:
    base = account.tokens.get("pds") or account.base_url
    response = await _xrpc(client, base, method, nsid, account.tokens["access_jwt"], **kw)
    if response.status_code in (400, 401) and body(response).get("error") in _EXPIRED:
        await refresh(client, account)
        response = await _xrpc(client, base, method, nsid, account.tokens["access_jwt"], **kw)
    if not response.is_success:
        raise _error(response)
    return response


async def verify(client: httpx.AsyncClient, account: Account) -> str:
    me = body(await _authed(client, account, "GET", "com.atproto.server.getSession"))
    return f"signed in as @{me.get('handle') or account.tokens.get('handle')}"


async def revoke(client: httpx.AsyncClient, account: Account) -> None:
    if account.tokens.get("refresh_jwt"):
        response = await _xrpc(
            client,
            account.base_url,
            "POST",
            "com.atproto.server.deleteSession",
            account.tokens["refresh_jwt"],
        )
        if not response.is_success:
            raise _error(response)


async def _resolve(client: httpx.AsyncClient, account: Account, text: str) -> dict[str, str]:
    dids: dict[str, str] = {}
    for _, _, handle in mentions(text):
        if handle in dids:
            continue
        response = await _xrpc(
            client, account.base_url, "GET", "com.atproto.identity.resolveHandle", params={"handle": handle}
        )
        if response.is_success and body(response).get("did"):
            dids[handle] = str(body(response)["did"])
        elif response.status_code == 429 or response.status_code >= 500:
            raise _error(response)
    return dids  # a handle that does not resolve stays plain text, as the Bluesky app does


async def upload(client: httpx.AsyncClient, account: Account, media: list[Attachment]) -> dict[str, Any]:
    """Each image as a blob (`com.atproto.repo.uploadBlob`, the raw bytes), as an images embed; a video
    (validation lets it go alone) the same way, as an `app.bsky.embed.video` embed with its alt text."""
    images = []
    for item in media:
        response = await _authed(
            client,
            account,
            "POST",
            "com.atproto.repo.uploadBlob",
            content=item.stream(),
            headers={"Content-Type": item.mime_type, "Content-Length": str(item.size)},
        )
        blob = body(response).get("blob")
        if not isinstance(blob, dict):
            raise PublishFailed(f"{NAME} answered the upload without a blob", transient=False)
        if item.is_video:
            return {"$type": "app.bsky.embed.video", "video": blob, "alt": item.alt_text[:10000]}
        images.append({"alt": item.alt_text, "image": blob})
    return {"$type": "app.bsky.embed.images", "images": images}


async def publish(
    client: httpx.AsyncClient,
    account: Account,
    parts: list[str],
    key: str,
    done: list[dict[str, Any]],
    media: list[Attachment] | None = None,
) -> Published:
    async def one(text: str, index: int, posted: list[dict[str, Any]]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        found = facets(text, await _resolve(client, account, text))
        if found:
            record["facets"] = found
        if index == 0 and media:
            record["embed"] = await upload(client, account, media)
        if posted:
            root, parent = posted[0], posted[-1]
            record["reply"] = {
                "root": {"uri": root["uri"], "cid": root["cid"]},
                "parent": {"uri": parent["uri"], "cid": parent["cid"]},
            }
        response = await _authed(
            client,
            account,
            "POST",
            "com.atproto.repo.createRecord",
            json={"repo": account.tokens["did"], "collection": "app.bsky.feed.post", "record": record},
        )
        answer = body(response)
        if not answer.get("uri") or not answer.get("cid"):
            raise PublishFailed(f"{NAME} answered without the record's uri and cid", transient=False)
        rkey = str(answer["uri"]).rsplit("/", 1)[-1]
        url = f"https://bsky.app/profile/{account.tokens.get('handle') or account.tokens['did']}/post/{rkey}"
        return {
            "id": answer["uri"],
            "uri": answer["uri"],
            "cid": answer["cid"],
            "url": url,
            "status": response.status_code,
        }

    if account.expires_within(60):
        await refresh(client, account)
    return await post_thread(parts, done, one)
