"""segmint routes for the networks: connect an account (OAuth authorize + callback; Bluesky app password)
and check a text against each network's rules before scheduling it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, get, post
from litestar.params import Parameter
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.segmint import connections, publishing
from keel.apps.segmint.network_models import Connection
from keel.apps.segmint.networks import validation
from keel.apps.segmint.routes.common import SEAT
from keel.apps.segmint.schemas import HttpUrl, IntegrationRead, Name
from keel.apps.segmint.teams import Seat
from keel.core.envelope import Envelope, ok
from keel.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unprocessable,
    ValidationFailed,
    error_responses,
)
from keel.identity import Principal

# the seat dependency creates the personal workspace the new integration belongs to
CONTENT = {"tags": ["segmint"], "security": [{"BearerToken": []}], "dependencies": SEAT}
OAuthNetwork = Literal["mastodon", "linkedin", "x"]
Network = Literal["x", "mastodon", "bluesky", "linkedin", "webhook"]
# NotFound: an X-Workspace the caller is not a member of; Forbidden: a role that cannot manage integrations
CONNECT_ERRORS = error_responses(
    NotFound, Forbidden, ValidationFailed, Conflict, Unprocessable, ServiceUnavailable
)


class Authorization(msgspec.Struct, kw_only=True):
    url: str  # send the user's browser here
    redirect_uri: str  # where the network sends them back with ?code=&state=
    expires_at: datetime  # the state is valid until then, once


class CallbackBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, Meta(min_length=1, max_length=2000)]
    state: Annotated[str, Meta(min_length=16, max_length=200)]


class BlueskyConnect(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    identifier: Annotated[str, Meta(min_length=3, max_length=253)]  # handle (alice.bsky.social), DID or email
    app_password: Annotated[
        str, Meta(min_length=8, max_length=100)
    ]  # Settings > App passwords, not the password
    service: HttpUrl | None = None  # the PDS or entryway; default SEGMINT_BLUESKY_SERVICE


class MediaItem(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    mime_type: Annotated[str, Meta(min_length=3, max_length=100)]
    size: Annotated[int, Meta(ge=0)]
    duration: Annotated[float, Meta(ge=0, le=86_400)] | None = None  # seconds, for a video


class ValidateBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    text: Annotated[str, Meta(max_length=100_000)]
    networks: Annotated[list[Network], Meta(min_length=1, max_length=5)]
    thread: bool = False
    media: Annotated[list[MediaItem], Meta(max_length=30)] = []


class NetworkCheck(msgspec.Struct, kw_only=True):
    network: str
    ok: bool
    length: int  # as that network counts
    limit: int | None
    parts: list[str]  # the posts it would make (more than one: a thread)
    problems: list[str]


async def _connected(db: AsyncSession, row: Any) -> Envelope[IntegrationRead]:
    """The integration a connect flow created, with the account it connected."""
    from sqlalchemy import select

    link = await db.scalar(select(Connection).where(Connection.integration_id == row.id))
    return ok(publishing.integration_read(row, link))


@get(
    "/connections/{network:str}/authorize",
    summary="Start connecting an account: the network's authorization URL (OAuth 2.0 with PKCE)",
    responses=CONNECT_ERRORS,
    **CONTENT,
)
async def authorize(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    principal: Principal,
    seat: Seat,
    network: Annotated[
        str, Parameter(pattern="^(mastodon|linkedin|x)$", description="mastodon, linkedin or x")
    ],
    name: Annotated[str, Parameter(min_length=1, max_length=100, description="Name of the integration")],
    instance: Annotated[
        str | None, Parameter(pattern=r"^https?://[^\s/?#]+/?$", description="Mastodon: the instance URL")
    ] = None,
) -> Envelope[Authorization]:
    settings = request.app.state.settings
    url, expires_at = await connections.authorize(db_session, settings, seat, network, name, instance)
    return ok(
        Authorization(
            url=url, redirect_uri=connections.redirect_uri(settings, network), expires_at=expires_at
        )
    )


@post(
    "/connections/{network:str}/callback",
    status_code=201,
    summary="Finish connecting: exchange the code the network sent back (with its state) for tokens",
    responses=CONNECT_ERRORS,
    **CONTENT,
)
async def callback(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    seat: Seat,
    network: Annotated[str, Parameter(pattern="^(mastodon|linkedin|x)$")],
    data: CallbackBody,
) -> Envelope[IntegrationRead]:
    settings = request.app.state.settings
    return await _connected(
        db_session, await connections.complete(db_session, settings, seat, network, data.code, data.state)
    )


@post(
    "/connections/bluesky",
    status_code=201,
    summary="Connect a Bluesky account with an app password (AT Protocol session)",
    responses=CONNECT_ERRORS,
    **CONTENT,
)
async def connect_bluesky(
    request: Request[Any, Any, Any], db_session: AsyncSession, seat: Seat, data: BlueskyConnect
) -> Envelope[IntegrationRead]:
    login = {"identifier": data.identifier, "app_password": data.app_password, "service": data.service}
    settings = request.app.state.settings
    row = await connections.connect_bluesky(db_session, settings, seat, name=data.name, **login)
    return await _connected(db_session, row)


@post(
    "/networks/validate",
    status_code=200,
    summary="Check a text (and media) against each network's rules; the thread it would post",
    responses=error_responses(ValidationFailed),
    **CONTENT,
)
async def validate(principal: Principal, data: ValidateBody) -> Envelope[list[NetworkCheck]]:
    media = [validation.Media(m.mime_type, m.size, m.duration) for m in data.media]
    checks = []
    for network in dict.fromkeys(data.networks):
        result = validation.check(data.text, network, thread=data.thread, media=media)
        checks.append(
            NetworkCheck(
                network=network,
                ok=result.ok,
                length=result.length,
                limit=result.limit,
                parts=result.parts,
                problems=result.problems,
            )
        )
    return ok(checks)


route_handlers = [authorize, callback, connect_bluesky, validate]
