"""/api/v1/auth: register, log in, rotate, log out, verify the email address, publish the signing keys."""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from sqlalchemy.ext.asyncio import AsyncSession

from keel.core.envelope import Envelope, ok
from keel.core.errors import (
    CsrfFailed,
    NotFound,
    Unauthorized,
    ValidationFailed,
    error_responses,
    merge_error_responses,
)
from keel.identity import services as svc
from keel.identity.guards import Principal
from keel.identity.routes.common import (
    AUTH_RATE,
    NO_STORE,
    SECURITY,
    TOKEN_ERRORS,
    client_info,
    cookie_names_of,
    durable,
    identity_of,
    link_confirm_route,
    link_confirmed,
    logged_out,
    mail_link,
    mail_link_route,
    mail_task,
    session_route,
    token_response,
    transport_of,
)
from keel.identity.schemas import (
    AccountCreate,
    Done,
    EmailLinkConfirm,
    RegistrationPending,
    SessionCreate,
    TokenRead,
    TokenRefresh,
)

PENDING_MESSAGE = "Open the link we mailed to this address, then log in"
_USER = {
    "id": "0193f6c2-7d4e-7a51-9f0e-2b8c4d6e8a10",
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "is_active": True,
    "is_verified": False,
    "roles": ["user"],
    "created_at": "2026-12-03T13:30:00Z",
}
_TOKENS = {
    "transport": "bearer",
    "token_type": "Bearer",
    "expires_in": 900,
    "session_id": "0193f6c2-7d4e-7a51-9f0e-2b8c4d6e8a11",
    "user": _USER,
    "access_token": "eyJhbGciOiJIUzI1NiJ9.…",
    "refresh_token": "rt_…",
}
REGISTER_RESPONSES = merge_error_responses(
    {
        201: ResponseSpec(
            data_container=Envelope[TokenRead],
            generate_examples=False,
            description="Created and logged in (AUTH_REQUIRE_VERIFIED_EMAIL off, the default outside "
            "production); a taken address gets the same shape",
            examples=[Example(summary="created", value={"status": "success", "data": _TOKENS})],
        ),
        202: ResponseSpec(
            data_container=Envelope[RegistrationPending],
            generate_examples=False,
            description="Verification mailed, nobody logged in (AUTH_REQUIRE_VERIFIED_EMAIL on); "
            "the same for a taken address",
            examples=[
                Example(
                    summary="verification sent",
                    value={
                        "status": "success",
                        "data": {"email": "ada@example.com", "verification": "sent"},
                        "message": PENDING_MESSAGE,
                    },
                )
            ],
        ),
    },
    error_responses(ValidationFailed),
)


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post(
        "/register",
        status_code=201,
        opt=AUTH_RATE,
        responses=REGISTER_RESPONSES,
        summary="Create an account (and log in, unless the address must be verified first)",
        description="201 with tokens by default; with AUTH_REQUIRE_VERIFIED_EMAIL (on in production) 202 "
        "without tokens: log in after opening the mailed link. An address that already has an account "
        "gets the same answer (with 201 its tokens open nothing) and its owner a mail: registration does "
        "not tell who has an account.",
    )
    async def register(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, data: AccountCreate
    ) -> Response[Any]:
        identity = identity_of(request)
        issued, mail = await svc.register(
            identity,
            db_session,
            email=data.email,
            password=data.password,
            name=data.name,
            client=client_info(request),
        )
        response: Response[Any]
        if issued is None:  # the same answer for a new and a taken address
            pending = RegistrationPending(email=svc.normalize_email(data.email))
            response = Response(ok(pending, PENDING_MESSAGE), status_code=202, headers=NO_STORE)
        else:
            response = token_response(request, issued, transport_of(request, data.transport), 201)
        if mail:
            response.background = mail_task(identity, *mail)
        return response

    @post(
        "/login",
        status_code=200,
        opt=AUTH_RATE,
        responses=TOKEN_ERRORS,
        summary="Log in: a new session with an access and a refresh token",
        description="Unknown email and wrong password answer the same 401. Repeated failures lock the "
        "account out (429 with Retry-After).",
    )
    async def login(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, data: SessionCreate
    ) -> Response[Envelope[TokenRead]]:
        issued = await durable(
            db_session,
            svc.login(
                identity_of(request),
                db_session,
                email=data.email,
                password=data.password,
                client=client_info(request),
            ),
        )
        return token_response(request, issued, transport_of(request, data.transport))

    @post(
        "/refresh",
        status_code=200,
        responses=TOKEN_ERRORS,
        summary="Rotate the refresh token; a reused one revokes its whole family",
    )
    async def refresh(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, data: TokenRefresh | None = None
    ) -> Response[Envelope[TokenRead]]:
        data = data or TokenRefresh()
        names = cookie_names_of(request)
        token, transport = data.refresh_token, transport_of(request, data.transport)
        if not token:
            token = request.cookies.get(names.refresh)
            if not token:
                raise Unauthorized("No refresh token")
            transport = "cookie"
            sent = request.headers.get("x-csrf-token", "")
            expected = request.cookies.get(names.csrf, "")
            if not sent or not expected or not secrets.compare_digest(sent, expected):
                raise CsrfFailed()
        issued = await durable(
            db_session,
            svc.refresh(identity_of(request), db_session, token=token, client=client_info(request)),
        )
        return token_response(request, issued, transport)

    @session_route("/logout", "End this session")
    async def logout(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal
    ) -> Response[Envelope[Done]]:
        await svc.logout(
            identity_of(request), db_session, principal.user_id, principal.session_id, client_info(request)
        )
        return logged_out(request, "logged out")

    @session_route("/logout-all", "End every session")
    async def logout_all(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal
    ) -> Response[Envelope[Done]]:
        count = await svc.logout_all(
            identity_of(request), db_session, principal.user_id, client_info(request)
        )
        return logged_out(request, f"{count} sessions ended")

    @mail_link_route("/verify-email", "Mail me a verification link", Unauthorized, security=SECURITY)
    async def verify_email(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal
    ) -> Response[Envelope[Done]]:
        detail = "If the address is not verified yet, a link is on its way"
        return await mail_link(
            request, db_session, svc.request_verification, detail, user_id=principal.user_id
        )

    @link_confirm_route("/verify-email/confirm", "Confirm an email address with a verification link's token")
    async def verify_email_confirm(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, data: EmailLinkConfirm
    ) -> Envelope[Done]:
        return await link_confirmed(
            request, db_session, svc.confirm_verification, "email verified", token=data.token
        )

    @get(
        "/.well-known/jwks.json",
        responses=error_responses(NotFound),
        summary="Public signing keys (JWKS)",
        description="Only with RS256/EdDSA keys; a plain JWK Set, as verifiers expect, not the envelope.",
        opt={"rate_limit": None},
    )
    async def jwks(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        jwks = identity_of(request).keys.jwks
        if jwks is None:
            raise NotFound("No public keys: tokens are signed with a shared secret")
        return jwks
