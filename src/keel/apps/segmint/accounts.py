"""The accounts integrations post as: each network's OAuth client and API base, the token set to post
with (decrypted), refreshing it shortly before it expires and storing it again, revoking it on disconnect."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from uuid import UUID

import httpx
import structlog
from sqlalchemy import select

from keel.apps.segmint.credentials import decrypt, encrypt, hint
from keel.apps.segmint.models import Integration
from keel.apps.segmint.network_models import Connection, OAuthApp
from keel.apps.segmint.networks import bluesky, linkedin, mastodon, oauth, x
from keel.apps.segmint.networks.base import Account, PublishFailed, expiry

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.settings import Settings

log = structlog.get_logger("keel.segmint.connections")
REFRESH_MARGIN = 300.0  # seconds before expiry a token is renewed


def redirect_uri(settings: Settings, network: str) -> str:
    base = settings.segmint_oauth_redirect_base or f"{settings.frontend_url.rstrip('/')}/segmint/connect"
    return f"{base.rstrip('/')}/{network}"


def client_for(
    settings: Settings, network: str, app: OAuthApp | None = None, instance: str = ""
) -> oauth.Client:
    if network == "x":
        api = settings.segmint_x_api_url.rstrip("/")
        return oauth.Client(
            "X",
            settings.segmint_x_client_id,
            settings.segmint_x_client_secret,
            settings.segmint_x_authorize_url,
            f"{api}/2/oauth2/token",
            f"{api}/2/oauth2/revoke",
            x.SCOPES,
            basic_auth=True,
        )
    if network == "linkedin":
        base = settings.segmint_linkedin_oauth_url.rstrip("/")
        return oauth.Client(
            "LinkedIn",
            settings.segmint_linkedin_client_id,
            settings.segmint_linkedin_client_secret,
            f"{base}/authorization",
            f"{base}/accessToken",
            f"{base}/revoke",
            linkedin.SCOPES,
        )
    assert app is not None
    return oauth.Client(
        "Mastodon",
        app.client_id,
        decrypt(settings, app.client_secret_encrypted),
        mastodon.authorize_url(instance),
        mastodon.token_url(instance),
        f"{instance}/oauth/revoke",
        app.scopes,
    )


def api_base(settings: Settings, network: str, instance: str = "") -> str:
    if network == "x":
        return settings.segmint_x_api_url.rstrip("/")
    if network == "linkedin":
        return settings.segmint_linkedin_api_url.rstrip("/")
    return instance


def http_client(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=settings.segmint_publish_timeout, follow_redirects=False)


# --------------------------------------------------------------------------- use at delivery time


def account_of(settings: Settings, integration: Integration, connection: Connection | None) -> Account:
    """The account to post as: a connection's token set, or a token pasted into a Mastodon integration."""
    if connection is None:
        return Account(
            integration.provider,
            integration.url,
            {"access_token": decrypt(settings, integration.secret_encrypted)},
        )
    tokens = json.loads(decrypt(settings, connection.tokens_encrypted))
    return Account(
        connection.network,
        integration.url,
        tokens,
        connection.expires_at,
        connection.account_id,
        connection.account_name,
    )


async def renew_if_due(
    http: httpx.AsyncClient, settings: Settings, account: Account, app: OAuthApp | None
) -> None:
    """Refresh a token that expires within REFRESH_MARGIN (X, LinkedIn, Mastodon with refresh tokens;
    Bluesky's session). Without a refresh token an expired token fails as the network answers."""
    if not account.expires_within(REFRESH_MARGIN):
        return
    if account.network == "bluesky":
        await bluesky.refresh(http, account)
        return
    refresh_token = account.tokens.get("refresh_token")
    if not refresh_token:
        return
    tokens = await oauth.refresh(
        http, client_for(settings, account.network, app, account.base_url), str(refresh_token)
    )
    account.tokens["access_token"] = tokens["access_token"]
    if tokens.get("refresh_token"):  # X rotates refresh tokens: the old one is spent
        account.tokens["refresh_token"] = tokens["refresh_token"]
    account.expires_at, account.changed = expiry(tokens.get("expires_in")), True


def store(settings: Settings, integration: Integration, connection: Connection, account: Account) -> None:
    secret = json.dumps(account.tokens)
    connection.tokens_encrypted = integration.secret_encrypted = encrypt(settings, secret)
    integration.secret_hint = hint(
        str(account.tokens.get("access_token") or account.tokens.get("access_jwt") or "")
    )
    connection.expires_at = account.expires_at
    connection.account_id, connection.account_name = (
        account.account_id or connection.account_id,
        account.account_name or connection.account_name,
    )


async def revoke(db: AsyncSession, settings: Settings, integration: Integration) -> str | None:
    """Best effort on disconnect: the network forgets the token. Why it could not, or None."""
    connection = await db.scalar(select(Connection).where(Connection.integration_id == integration.id))
    if connection is None:
        return None
    account = account_of(settings, integration, connection)
    app = await db.get(OAuthApp, connection.app_id) if connection.app_id else None
    async with http_client(settings) as http:
        try:
            if account.network == "bluesky":
                await bluesky.revoke(http, account)
            elif account.network != "mastodon" or app is not None:
                client = client_for(settings, account.network, app, account.base_url)
                if account.tokens.get("refresh_token") and account.network == "x":
                    await oauth.revoke(http, client, str(account.tokens["refresh_token"]), "refresh_token")
                await oauth.revoke(http, client, str(account.tokens["access_token"]))
        except PublishFailed as exc:
            log.warning("segmint_revoke_failed", integration_id=str(integration.id), error=exc.message)
            return exc.message
    return None


def connection_app(
    connections: dict[UUID, Connection], apps: dict[UUID, OAuthApp], integration_id: UUID
) -> tuple[Connection | None, OAuthApp | None]:
    connection = connections.get(integration_id)
    app = apps.get(connection.app_id) if connection is not None and connection.app_id else None
    return connection, app
