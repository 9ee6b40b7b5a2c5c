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

from sqlalchemy import select, update

from keel.apps.segmint.accounts import (
    REFRESH_MARGIN,
    account_of,
    api_base,
    client_for,
    connection_app,
    http_client,
    redirect_uri,
    renew_if_due,
    revoke,
    store,
)
from keel.apps.segmint.credentials import decrypt, encrypt, hint, target_problem
from keel.apps.segmint.models import Integration
from keel.apps.segmint.network_models import Connection, OAuthApp, OAuthState
from keel.apps.segmint.networks import bluesky, linkedin, mastodon, oauth, x
from keel.apps.segmint.networks.base import Account, PublishFailed, expiry
from keel.apps.segmint.teams import Seat, seat_for
from keel.apps.segmint.teams import roles as team_roles
from keel.core.errors import ServiceUnavailable, Unprocessable, ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.settings import Settings

__all__ = [  # the delivery-time half lives in accounts; callers keep importing it from here
    "REFRESH_MARGIN",
    "account_of",
    "api_base",
    "authorize",
    "client_for",
    "complete",
    "connect_bluesky",
    "connection_app",
    "redirect_uri",
    "renew_if_due",
    "revoke",
    "store",
]
OAUTH_NETWORKS = ("mastodon", "linkedin", "x")
STATE_LIFETIME = timedelta(minutes=10)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


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
    async with http_client(settings) as http:
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
    await _name_taken(db, seat.workspace_id, name)
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
            owner_id=seat.user_id,
            workspace_id=seat.workspace_id,  # the callback lands the integration here
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

    await _name_taken(db, seat.workspace_id, name)
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
    of the workspace the authorization was started in (the state records it, whatever X-Workspace the
    callback page sends), if the user may still manage integrations there."""
    now = datetime.now(UTC)
    spent = await db.execute(
        update(OAuthState)
        .where(
            OAuthState.state_hash == _sha256(state),
            OAuthState.owner_id == seat.user_id,
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
    if row.workspace_id != seat.workspace_id:  # removed from it since: 404, like any foreign workspace
        seat = await seat_for(db, seat, row.workspace_id)
    seat.require(team_roles.MANAGE_INTEGRATIONS, "connect integrations")
    app = await db.get(OAuthApp, row.app_id) if row.app_id else None
    client = client_for(settings, network, app, row.base_url)
    async with http_client(settings) as http:
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
    await _name_taken(db, seat.workspace_id, name)
    base = (service or settings.segmint_bluesky_service).rstrip("/")
    problem = await target_problem(settings, base)
    if problem is not None:
        raise ValidationFailed(details={"service": problem[0]})
    account = Account("bluesky", base, {"identifier": identifier, "app_password": app_password})
    async with http_client(settings) as http:
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
