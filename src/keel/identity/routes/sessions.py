"""/api/v1/auth/sessions: my login sessions, and ending one of them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get
from sqlalchemy.ext.asyncio import AsyncSession

from keel.core.db import reader_of
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.errors import NotFound, Unauthorized, error_responses
from keel.core.mapping import to_reads
from keel.identity import services as svc
from keel.identity.guards import Principal, authenticate_connection
from keel.identity.routes.common import NO_STORE, SECURITY, client_info, identity_of
from keel.identity.schemas import Done, SessionRead


class SessionController(Controller):
    path = "/api/v1/auth/sessions"
    tags = ["auth"]
    security = SECURITY

    @get("/", responses=error_responses(Unauthorized), summary="My active sessions")
    async def sessions(
        self, request: Request[Any, Any, Any], limit: Limit = 20, offset: Offset = 0
    ) -> Response[Page[SessionRead]]:
        principal = await authenticate_connection(request)  # a hot list: no dependency, no session
        rows, total = await svc.list_sessions(
            reader_of(request),
            principal.user_id,
            limit=limit,
            offset=offset,
            current_session=principal.session_id,
        )
        body = page(to_reads(rows, SessionRead), total=total, limit=limit, offset=offset)
        return Response(body, headers=NO_STORE)

    @delete(
        "/{session_id:uuid}",
        status_code=200,
        responses=error_responses(Unauthorized, NotFound),
        summary="Revoke one of my sessions",
    )
    async def revoke_session(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        session_id: UUID,
    ) -> Envelope[Done]:
        await svc.revoke_own_session(
            identity_of(request), db_session, principal.user_id, session_id, client_info(request)
        )
        return ok(Done(detail="session revoked"))
