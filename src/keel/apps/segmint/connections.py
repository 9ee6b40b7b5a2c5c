"""Connecting accounts on the networks: OAuth 2.0 authorization code with PKCE for Mastodon (an app
registered once per instance), LinkedIn and X; an AT Protocol session from an app password for Bluesky.

`state` is random, stored only as its SHA-256, bound to the user who asked, single use and valid ten
minutes; the PKCE verifier is encrypted at rest, like every token. Tokens are refreshed shortly before
they expire, stored again encrypted, and revoked when the integration is deleted.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

import httpx
import structlog
from sqlalchemy import select, update

from keel.apps.segmint.credentials import decrypt, encrypt, hint, target_problem
from keel.apps.segmint.models import Integration
from keel.apps.segmint.network_models import Connection, OAuthApp, OAuthState
from keel.apps.segmint.networks import bluesky, linkedin, mastodon, oauth, x
from keel.apps.segmint.networks.base import Account, PublishFailed, expiry
from keel.apps.segmint.teams import Seat
from keel.apps.segmint.teams import roles as team_roles
from keel.core.errors import ServiceUnavailable, Unprocessable, ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.settings import Settings

log = structlog.get_logger("keel.segmint.connections")
OAUTH_NETWORKS = ("mastodon", "linkedin", "x")
STATE_LIFETIME = timedelta(minutes=10)
REFRESH_MARGIN = 300.0  # seconds before expiry a token is renewed


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


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


def _http(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=settings.segmint_publish_timeout, follow_redirects=False)


def _unavailable(exc: PublishFailed) -> Exception:
    """A network that is down answers 503 (try later); one that refused says why, as a 400."""
    if exc.transient:
        return ServiceUnavailable(exc.message, headers={"Retry-After": str(int(exc.retry_after or 30))})
    return ValidationFailed(exc.message, details={"network": exc.message})


async def _mastodon_app(db: AsyncSession, settings: Settings, instance: str, redirect: str) -> OAuthApp:
    problem = await target_problem(settings, instance)
    if problem is not None:
        raise ValidationFailed(details={"instance": problem[0]})
    row = await db.scalar(
        select(OAuthApp).where(OAuthApp.instance == instance, OAuthApp.redirect_uri == redirect)
    )
    if row is not None and row.scopes == mastodon.SCOPES:
        return row
    async with _http(settings) as http:
        try:
            answer = await mastodon.register_app(http, instance, redirect, settings.frontend_url)
        except PublishFailed as exc:
            raise _unavailable(exc) from exc
    if row is None:
        row = OAuthApp(
            instance=instance,
            redirect_uri=redirect,
            scopes=mastodon.SCOPES,
            client_id="",
            client_secret_encrypted="",
        )
        db.add(row)
    row.scopes, row.client_id = mastodon.SCOPES, str(answer["client_id"])
    row.client_secret_encrypted = encrypt(settings, str(answer["client_secret"]))
    await db.flush()
    return row


async def authorize(
    db: AsyncSession, settings: Settings, seat: Seat, network: str, name: str, instance: str | None
) -> tuple[str, datetime]:
    """The URL to send the user to, and until when its `state` is valid."""
    from keel.apps.segmint.publishing import _name_taken

    seat.require(team_roles.MANAGE_INTEGRATIONS, "connect integrations")
    owner_id = seat.user_id
    await _name_taken(db, owner_id, name)
    app: OAuthApp | None = None
    base = ""
    if network == "mastodon":
        if not instance:
            raise ValidationFailed(
                details={"instance": "Give your Mastodon instance, e.g. https://mastodon.social"}
            )
        base = instance.rstrip("/")
        app = await _mastodon_app(db, settings, base, redirect_uri(settings, network))
    elif not client_for(settings, network).client_id:
        setting = f"SEGMINT_{network.upper()}_CLIENT_ID"
        raise Unprocessable(
            f"{network} is not set up on this server", details={"network": f"{setting} is not configured"}
        )
    client = client_for(settings, network, app, base)
    state, verifier = secrets.token_urlsafe(32), oauth.verifier()
    expires_at = datetime.now(UTC) + STATE_LIFETIME
    db.add(
        OAuthState(
            owner_id=owner_id,
            state_hash=_sha256(state),
            network=network,
            name=name,
            base_url=base or api_base(settings, network),
            redirect_uri=redirect_uri(settings, network),
            verifier_encrypted=encrypt(settings, verifier),
            app_id=app.id if app else None,
            expires_at=expires_at,
        )
    )
    await db.flush()
    return oauth.authorization_url(client, redirect_uri(settings, network), state, verifier), expires_at


async def _create(
    db: AsyncSession,
    settings: Settings,
    seat: Seat,
    *,
    name: str,
    network: str,
    base_url: str,
    account: Account,
    auth: str,
    scope: str | None = None,
    app_id: UUID | None = None,
) -> Integration:
    from keel.apps.segmint.publishing import _name_taken

    await _name_taken(db, seat.user_id, name)
    secret = json.dumps(account.tokens)
    visible = str(account.tokens.get("access_token") or account.tokens.get("access_jwt") or "")
    integration = Integration(
        owner_id=seat.user_id,
        workspace_id=seat.workspace_id,
        name=name,
        provider=network,
        url=base_url,
        secret_encrypted=encrypt(settings, secret),
        secret_hint=hint(visible),
    )
    db.add(integration)
    await db.flush()
    db.add(
        Connection(
            integration_id=integration.id,
            network=network,
            auth=auth,
            tokens_encrypted=encrypt(settings, secret),
            expires_at=account.expires_at,
            scope=scope,
            account_id=account.account_id,
            account_name=account.account_name,
            app_id=app_id,
        )
    )
    await db.flush()
    return integration


async def complete(
    db: AsyncSession, settings: Settings, seat: Seat, network: str, code: str, state: str
) -> Integration:
    """The callback: the state must be this user's, unused and unexpired (it is spent either way); the
    code is exchanged with the PKCE verifier, and the account behind the token becomes an integration
    of the workspace the callback acts in (send the same `X-Workspace` as when authorizing)."""
    seat.require(team_roles.MANAGE_INTEGRATIONS, "connect integrations")
    owner_id = seat.user_id
    now = datetime.now(UTC)
    spent = await db.execute(
        update(OAuthState)
        .where(
            OAuthState.state_hash == _sha256(state),
            OAuthState.owner_id == owner_id,
            OAuthState.network == network,
            OAuthState.used_at.is_(None),
            OAuthState.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    row = await db.scalar(select(OAuthState).where(OAuthState.state_hash == _sha256(state)))
    if spent.rowcount != 1 or row is None:  # type: ignore[attr-defined]
        raise ValidationFailed(details={"state": "Unknown, already used or expired; start connecting again"})
    await db.commit()  # the state is spent even if the exchange below fails
    app = await db.get(OAuthApp, row.app_id) if row.app_id else None
    client = client_for(settings, network, app, row.base_url)
    async with _http(settings) as http:
        try:
            tokens = await oauth.exchange(
                http, client, code, row.redirect_uri, decrypt(settings, row.verifier_encrypted)
            )
            who = {"x": x.whoami, "linkedin": linkedin.whoami, "mastodon": mastodon.whoami}[network]
            account_id, account_name = await who(http, row.base_url, str(tokens["access_token"]))
        except PublishFailed as exc:
            raise _unavailable(exc) from exc
    keep = {k: tokens[k] for k in ("access_token", "refresh_token", "token_type") if tokens.get(k)}
    account = Account(network, row.base_url, keep, expiry(tokens.get("expires_in")), account_id, account_name)
    return await _create(
        db,
        settings,
        seat,
        name=row.name,
        network=network,
        base_url=row.base_url,
        account=account,
        auth="oauth",
        scope=str(tokens.get("scope") or client.scope),
        app_id=app.id if app else None,
    )


async def connect_bluesky(
    db: AsyncSession,
    settings: Settings,
    seat: Seat,
    *,
    name: str,
    identifier: str,
    app_password: str,
    service: str | None,
) -> Integration:
    from keel.apps.segmint.publishing import _name_taken

    seat.require(team_roles.MANAGE_INTEGRATIONS, "connect integrations")
    await _name_taken(db, seat.user_id, name)
    base = (service or settings.segmint_bluesky_service).rstrip("/")
    problem = await target_problem(settings, base)
    if problem is not None:
        raise ValidationFailed(details={"service": problem[0]})
    account = Account("bluesky", base, {"identifier": identifier, "app_password": app_password})
    async with _http(settings) as http:
        try:
            await bluesky.create_session(http, account)
        except PublishFailed as exc:
            if exc.status in (400, 401) and not exc.transient:
                raise ValidationFailed(details={"app_password": exc.message}) from exc
            raise _unavailable(exc) from exc
    return await _create(
        db,
        settings,
        seat,
        name=name,
        network="bluesky",
        base_url=base,
        account=account,
        auth="app_password",
    )


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
    async with _http(settings) as http:
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
