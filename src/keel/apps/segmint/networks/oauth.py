"""OAuth 2.0 authorization code with PKCE (RFC 6749, RFC 7636 S256) and refresh/revocation (RFC 7009),
over httpx: the three networks differ only in endpoints and in how the client authenticates (X: HTTP
Basic for confidential clients; LinkedIn and Mastodon: client_id/client_secret in the form body)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from keel.apps.segmint.networks.base import USER_AGENT, PublishFailed, body, failure, unreachable


@dataclass(frozen=True)
class Client:
    network: str  # for messages: "X", "LinkedIn", "Mastodon"
    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    revoke_url: str | None
    scope: str
    basic_auth: bool = False


def verifier() -> str:
    """A code verifier: 64 random bytes, base64url (86 characters, within RFC 7636's 43-128)."""
    return secrets.token_urlsafe(64)


def challenge(code_verifier: str) -> str:
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorization_url(client: Client, redirect_uri: str, state: str, code_verifier: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "scope": client.scope,
        "state": state,
        "code_challenge": challenge(code_verifier),
        "code_challenge_method": "S256",
    }
    return f"{client.authorize_url}?{urlencode(query)}"


async def _token_request(
    http: httpx.AsyncClient, client: Client, url: str, form: dict[str, str]
) -> httpx.Response:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    auth: Any = None
    if client.basic_auth and client.client_secret:
        auth = httpx.BasicAuth(client.client_id, client.client_secret)
    else:
        form = form | {"client_id": client.client_id}
        if client.client_secret:
            form["client_secret"] = client.client_secret
    try:
        return await http.post(url, data=form, headers=headers, auth=auth)
    except httpx.HTTPError as exc:
        raise unreachable(client.network, exc) from exc


def _refused(response: httpx.Response, client: Client) -> PublishFailed:
    answer = body(response)
    code = answer.get("error")
    message = answer.get("error_description") or answer.get("message") or code
    return failure(response, client.network, str(code) if code else None, str(message) if message else None)


async def _tokens(http: httpx.AsyncClient, client: Client, form: dict[str, str]) -> dict[str, Any]:
    response = await _token_request(http, client, client.token_url, form)
    if not response.is_success:
        raise _refused(response, client)
    answer = body(response)
    if not answer.get("access_token"):
        raise PublishFailed(f"{client.network} answered without an access token", transient=False)
    return answer


async def exchange(
    http: httpx.AsyncClient, client: Client, code: str, redirect_uri: str, code_verifier: str
) -> dict[str, Any]:
    return await _tokens(
        http,
        client,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        },
    )


async def refresh(http: httpx.AsyncClient, client: Client, refresh_token: str) -> dict[str, Any]:
    return await _tokens(http, client, {"grant_type": "refresh_token", "refresh_token": refresh_token})


async def revoke(http: httpx.AsyncClient, client: Client, token: str, hint: str = "access_token") -> None:
    if client.revoke_url is None:
        return
    response = await _token_request(
        http, client, client.revoke_url, {"token": token, "token_type_hint": hint}
    )
    if not response.is_success:
        raise _refused(response, client)
