"""/api/v1/auth/password…: change my password, and reset a forgotten one by a mailed link."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from sqlalchemy.ext.asyncio import AsyncSession

from keel.core.envelope import Envelope, ok
from keel.core.errors import Unauthorized, ValidationFailed, error_responses
from keel.identity import services as svc
from keel.identity.guards import Principal
from keel.identity.routes.common import (
    SECURITY,
    client_info,
    durable,
    identity_of,
    link_confirm_route,
    link_confirmed,
    mail_link,
    mail_link_route,
)
from keel.identity.schemas import Done, PasswordChange, PasswordResetConfirm, PasswordResetRequest


class PasswordController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post(
        "/password",
        status_code=200,
        security=SECURITY,
        responses=error_responses(Unauthorized, ValidationFailed),
        summary="Change my password (ends my other sessions)",
    )
    async def change_password(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        data: PasswordChange,
    ) -> Envelope[Done]:
        await durable(
            db_session,
            svc.change_password(
                identity_of(request),
                db_session,
                user_id=principal.user_id,
                session_id=principal.session_id,
                current=data.current_password,
                new=data.new_password,
                client=client_info(request),
            ),
        )
        return ok(Done(detail="password changed"))

    @mail_link_route("/password-reset", "Mail a reset link (same answer whether or not the account exists)")
    async def password_reset(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, data: PasswordResetRequest
    ) -> Response[Envelope[Done]]:
        detail = "If the account exists, a reset link is on its way"
        return await mail_link(request, db_session, svc.request_password_reset, detail, email=data.email)

    @link_confirm_route(
        "/password-reset/confirm", "Set a new password with a reset link's token (ends every session)"
    )
    async def password_reset_confirm(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, data: PasswordResetConfirm
    ) -> Envelope[Done]:
        return await link_confirmed(
            request,
            db_session,
            svc.confirm_password_reset,
            "password reset",
            token=data.token,
            new_password=data.new_password,
        )
