"""/api/v1/users/me/api-keys: my personal API keys (create: the secret once; list; revoke)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy.ext.asyncio import AsyncSession

from keel.core.db import reader_of
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed, error_responses
from keel.core.mapping import to_read, to_reads
from keel.identity.guards import Principal, authenticate_connection
from keel.identity.models import ApiKey
from keel.identity.routes.common import NO_STORE, SECURITY, client_info
from keel.identity.schemas import ApiKeyCreate, ApiKeyRead, ApiKeySecretRead, Done
from keel.identity.services import api_keys


async def requires_login_session(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Keys are managed from a login, not with a key: a leaked key cannot mint or hide others."""
    principal = await authenticate_connection(connection)
    if principal.api_key_id is not None:
        raise Forbidden("Manage API keys from a login session, not with an API key")


def api_key_read(key: ApiKey) -> ApiKeyRead:
    return to_read(key, ApiKeyRead, scopes=list(key.scopes or []))


class ApiKeyController(Controller):
    path = "/api/v1/users/me/api-keys"
    tags = ["users"]
    security = SECURITY
    guards = [requires_login_session]

    @post(
        "/",
        status_code=201,
        responses=error_responses(Unauthorized, Forbidden, ValidationFailed, Conflict),
        summary="Create a personal API key (its secret is shown in this answer only)",
        description="Send it as `Authorization: Bearer <secret>` wherever an access token is accepted. "
        'Scopes: permission names you hold, or ["*"] for all of yours; never more than you hold at the '
        "time of each request.",
    )
    async def create_key(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        data: ApiKeyCreate,
    ) -> Response[Envelope[ApiKeySecretRead]]:
        key, secret = await api_keys.create_api_key(
            db_session,
            user_id=principal.user_id,
            permissions=principal.permissions,
            name=data.name,
            scopes=data.scopes,
            expires_at=data.expires_at,
            client=client_info(request),
        )
        body = to_read(key, ApiKeySecretRead, scopes=list(key.scopes), last_used_at=None, secret=secret)
        return Response(ok(body), status_code=201, headers=NO_STORE)

    @get("/", responses=error_responses(Unauthorized, Forbidden), summary="My API keys, newest first")
    async def list_keys(
        self, request: Request[Any, Any, Any], limit: Limit = 20, offset: Offset = 0
    ) -> Response[Page[ApiKeyRead]]:
        principal = await authenticate_connection(request)  # a hot list: no dependency, no session
        rows, total = await api_keys.list_api_keys(
            reader_of(request), principal.user_id, limit=limit, offset=offset
        )
        for row in rows:
            row["scopes"] = row["scopes"] or []
        body = page(to_reads(rows, ApiKeyRead), total=total, limit=limit, offset=offset)
        return Response(body, headers=NO_STORE)

    @delete(
        "/{key_id:uuid}",
        status_code=200,
        responses=error_responses(Unauthorized, Forbidden, NotFound),
        summary="Revoke one of my API keys (refused from the next request on)",
    )
    async def revoke_key(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, key_id: UUID
    ) -> Envelope[Done]:
        await api_keys.revoke_api_key(
            db_session, user_id=principal.user_id, key_id=key_id, client=client_info(request)
        )
        return ok(Done(detail="API key revoked"))
