"""HTTP surface of identity: /api/v1/auth, /api/v1/users, /api/v1/audit. Thin: parse, call, shape."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.background_tasks import BackgroundTask
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from keel.core.envelope import MAX_OFFSET, Envelope, Page, ok, page
from keel.core.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed, error_responses
from keel.identity import services as svc
from keel.identity.guards import CookieNames, Principal, requires_permission
from keel.identity.models import AuditEvent, LoginSession, User
from keel.identity.schemas import (
    AdminUserUpdateIn,
    AuditOut,
    Done,
    LoginIn,
    MeUpdateIn,
    PasswordChangeIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    RefreshIn,
    RegisterIn,
    RolesIn,
    SessionOut,
    TokenIn,
    TokenOut,
    UserOut,
)
from keel.identity.services import ClientInfo, DurableFailure, Identity, IssuedTokens

T = TypeVar("T")
REFRESH_PATH = "/api/v1/auth/refresh"
Limit = Annotated[int, Parameter(ge=1, le=100, description="Page size (1-100)")]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET, description="Items to skip")]
AUTH_RATE = {"rate_limit": "auth"}


def _identity(request: Request[Any, Any, Any]) -> Identity:
    return request.app.state.identity


def _client(request: Request[Any, Any, Any]) -> ClientInfo:
    ip = request.scope.get("state", {}).get("client_ip") or (
        request.client.host if request.client else "unknown"
    )
    return ClientInfo(ip=str(ip), user_agent=request.headers.get("user-agent", "")[:512])


async def _durable(db: AsyncSession, work: Awaitable[T]) -> T:
    """Run a service call; on DurableFailure keep what it wrote (audit, revocations), then fail."""
    try:
        return await work
    except DurableFailure as failure:
        await db.commit()
        raise failure.error from None


def user_out(user: User, roles: list[str] | None = None) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        name=user.name,
        is_active=user.is_active,
        is_verified=user.is_verified,
        roles=roles if roles is not None else sorted(r.name for r in user.roles),
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


def _transport(request: Request[Any, Any, Any], chosen: str | None) -> str:
    if chosen:
        return chosen
    header = request.headers.get("x-auth-transport", "").strip().lower()
    return "cookie" if header == "cookie" else "bearer"


def _cookie_names(request: Request[Any, Any, Any]) -> CookieNames:
    return request.app.state.identity_cookies


def _token_response(
    request: Request[Any, Any, Any], issued: IssuedTokens, transport: str, status_code: int = 200
) -> Response[Envelope[TokenOut]]:
    settings = _identity(request).settings
    body = TokenOut(
        transport=transport,
        expires_in=issued.expires_in,
        session_id=issued.session_id,  # type: ignore[arg-type]
        user=user_out(issued.user, issued.roles),
    )
    if transport == "bearer":
        body.access_token, body.refresh_token = issued.access_token, issued.refresh_token
        return Response(ok(body), status_code=status_code, headers={"Cache-Control": "no-store"})
    names = _cookie_names(request)
    csrf = secrets.token_urlsafe(32)
    body.csrf_token = csrf
    response = Response(ok(body), status_code=status_code, headers={"Cache-Control": "no-store"})
    common: dict[str, Any] = {"secure": settings.cookie_secure, "samesite": "lax"}
    response.set_cookie(
        names.access, issued.access_token, max_age=settings.jwt_expires_in, path="/", httponly=True, **common
    )
    response.set_cookie(
        names.refresh,
        issued.refresh_token,
        max_age=settings.refresh_idle_ttl,
        path=REFRESH_PATH,
        httponly=True,
        **common,
    )
    response.set_cookie(
        names.csrf, csrf, max_age=settings.refresh_absolute_ttl, path="/", httponly=False, **common
    )
    return response


def _clear_cookies(request: Request[Any, Any, Any], response: Response[Any]) -> Response[Any]:
    names = _cookie_names(request)
    secure = _identity(request).settings.cookie_secure
    for name, path in ((names.access, "/"), (names.refresh, REFRESH_PATH), (names.csrf, "/")):
        response.set_cookie(
            name, "", max_age=0, path=path, secure=secure, httponly=name != names.csrf, samesite="lax"
        )
    return response


def _mail(identity: Identity, to: str, subject: str, body: str) -> BackgroundTask:
    return BackgroundTask(identity.mailer.send, to, subject, body)


TOKEN_ERRORS = error_responses(Unauthorized, ValidationFailed)


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post(
        "/register",
        status_code=201,
        opt=AUTH_RATE,
        responses=error_responses(Conflict, ValidationFailed),
        summary="Create an account and log in",
    )
    async def register(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, data: RegisterIn
    ) -> Response[Envelope[TokenOut]]:
        identity = _identity(request)
        issued = await svc.register(
            identity,
            db_session,
            email=data.email,
            password=data.password,
            name=data.name,
            client=_client(request),
        )
        response = _token_response(request, issued, _transport(request, data.transport), 201)
        mail = await svc.request_verification(
            identity, db_session, user_id=issued.user.id, client=_client(request)
        )
        if mail:
            response.background = _mail(
                identity, mail[0], "Confirm your email address", f"Confirm your address for Keel: {mail[1]}\n"
            )
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
        self, request: Request[Any, Any, Any], db_session: AsyncSession, data: LoginIn
    ) -> Response[Envelope[TokenOut]]:
        issued = await _durable(
            db_session,
            svc.login(
                _identity(request),
                db_session,
                email=data.email,
                password=data.password,
                client=_client(request),
            ),
        )
        return _token_response(request, issued, _transport(request, data.transport))

    @post(
        "/refresh",
        status_code=200,
        responses=TOKEN_ERRORS,
        summary="Rotate the refresh token; a reused one revokes its whole family",
    )
    async def refresh(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, data: RefreshIn | None = None
    ) -> Response[Envelope[TokenOut]]:
        data = data or RefreshIn()
        names = _cookie_names(request)
        token, transport = data.refresh_token, _transport(request, data.transport)
        if not token:
            token = request.cookies.get(names.refresh)
            if not token:
                raise Unauthorized("No refresh token")
            transport = "cookie"
            sent = request.headers.get("x-csrf-token", "")
            expected = request.cookies.get(names.csrf, "")
            if not sent or not expected or not secrets.compare_digest(sent, expected):
                raise Unauthorized("Missing or invalid CSRF token")
        issued = await _durable(
            db_session, svc.refresh(_identity(request), db_session, token=token, client=_client(request))
        )
        return _token_response(request, issued, transport)

    @post("/logout", status_code=200, responses=error_responses(Unauthorized), summary="End this session")
    async def logout(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal
    ) -> Response[Envelope[Done]]:
        await svc.logout(
            _identity(request), db_session, principal.user_id, principal.session_id, _client(request)
        )
        return _clear_cookies(request, Response(ok(Done(detail="logged out"))))

    @post(
        "/logout-all", status_code=200, responses=error_responses(Unauthorized), summary="End every session"
    )
    async def logout_all(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal
    ) -> Response[Envelope[Done]]:
        count = await svc.logout_all(_identity(request), db_session, principal.user_id, _client(request))
        return _clear_cookies(request, Response(ok(Done(detail=f"{count} sessions ended"))))

    @get("/sessions", responses=error_responses(Unauthorized), summary="My active sessions")
    async def sessions(
        self, db_session: AsyncSession, principal: Principal, limit: Limit = 20, offset: Offset = 0
    ) -> Page[SessionOut]:
        rows, total = await svc.list_sessions(db_session, principal.user_id, limit=limit, offset=offset)
        return page([_session_out(s, principal) for s in rows], total=total, limit=limit, offset=offset)

    @delete(
        "/sessions/{session_id:uuid}",
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
            _identity(request), db_session, principal.user_id, session_id, _client(request)
        )
        return ok(Done(detail="session revoked"))

    @post(
        "/password",
        status_code=200,
        responses=error_responses(Unauthorized, ValidationFailed),
        summary="Change my password (ends my other sessions)",
    )
    async def change_password(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        data: PasswordChangeIn,
    ) -> Envelope[Done]:
        await _durable(
            db_session,
            svc.change_password(
                _identity(request),
                db_session,
                user_id=principal.user_id,
                session_id=principal.session_id,
                current=data.current_password,
                new=data.new_password,
                client=_client(request),
            ),
        )
        return ok(Done(detail="password changed"))

    @post(
        "/password-reset",
        status_code=202,
        opt=AUTH_RATE,
        responses=error_responses(ValidationFailed),
        summary="Mail a reset link (same answer whether or not the account exists)",
    )
    async def password_reset(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, data: PasswordResetIn
    ) -> Response[Envelope[Done]]:
        identity = _identity(request)
        mail = await svc.request_password_reset(
            identity, db_session, email=data.email, client=_client(request)
        )
        response = Response(
            ok(Done(detail="If the account exists, a reset link is on its way")), status_code=202
        )
        if mail:
            response.background = _mail(
                identity,
                mail[0],
                "Reset your password",
                f"Reset your Keel password within an hour: {mail[1]}\n"
                "If you did not ask for this, ignore this message.\n",
            )
        return response

    @post(
        "/password-reset/confirm",
        status_code=200,
        opt=AUTH_RATE,
        responses=error_responses(ValidationFailed),
        summary="Set a new password with a reset link's token (ends every session)",
    )
    async def password_reset_confirm(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, data: PasswordResetConfirmIn
    ) -> Envelope[Done]:
        await svc.confirm_password_reset(
            _identity(request),
            db_session,
            token=data.token,
            new_password=data.new_password,
            client=_client(request),
        )
        return ok(Done(detail="password reset"))

    @post(
        "/verify-email",
        status_code=202,
        opt=AUTH_RATE,
        responses=error_responses(Unauthorized),
        summary="Mail me a verification link",
    )
    async def verify_email(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal
    ) -> Response[Envelope[Done]]:
        identity = _identity(request)
        mail = await svc.request_verification(
            identity, db_session, user_id=principal.user_id, client=_client(request)
        )
        response = Response(
            ok(Done(detail="If the address is not verified yet, a link is on its way")), status_code=202
        )
        if mail:
            response.background = _mail(
                identity, mail[0], "Confirm your email address", f"Confirm your address for Keel: {mail[1]}\n"
            )
        return response

    @post(
        "/verify-email/confirm",
        status_code=200,
        opt=AUTH_RATE,
        responses=error_responses(ValidationFailed),
        summary="Confirm an email address with a verification link's token",
    )
    async def verify_email_confirm(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, data: TokenIn
    ) -> Envelope[Done]:
        await svc.confirm_verification(
            _identity(request), db_session, token=data.token, client=_client(request)
        )
        return ok(Done(detail="email verified"))

    @get(
        "/.well-known/jwks.json",
        responses=error_responses(NotFound),
        summary="Public signing keys (JWKS)",
        description="Only with RS256/EdDSA keys; a plain JWK Set, as verifiers expect, not the envelope.",
        opt={"rate_limit": None},
    )
    async def jwks(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        jwks = _identity(request).keys.jwks
        if jwks is None:
            raise NotFound("No public keys: tokens are signed with a shared secret")
        return jwks


def _session_out(s: LoginSession, principal: Principal) -> SessionOut:
    return SessionOut(
        id=s.id,
        browser=s.browser,
        os=s.os,
        device_type=s.device_type,
        ip=s.ip,
        created_at=s.created_at,
        last_seen_at=s.last_seen_at,
        expires_at=s.expires_at,
        current=s.id == principal.session_id,
    )


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["users"]

    @get("/me", responses=error_responses(Unauthorized), summary="My account")
    async def me(self, db_session: AsyncSession, principal: Principal) -> Envelope[UserOut]:
        return ok(user_out(await svc.get_user(db_session, principal.user_id)))

    @patch("/me", responses=error_responses(Unauthorized, ValidationFailed), summary="Change my profile")
    async def update_me(
        self, db_session: AsyncSession, principal: Principal, data: MeUpdateIn
    ) -> Envelope[UserOut]:
        user = await svc.get_user(db_session, principal.user_id)
        if isinstance(data.name, str):
            user.name = data.name.strip()
        await db_session.flush()
        return ok(user_out(user))

    @delete("/me", status_code=200, responses=error_responses(Unauthorized), summary="Delete my account")
    async def delete_me(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal
    ) -> Response[Envelope[Done]]:
        user = await svc.get_user(db_session, principal.user_id)
        await svc.delete_user(
            _identity(request), db_session, user, actor_id=principal.user_id, client=_client(request)
        )
        return _clear_cookies(request, Response(ok(Done(detail="account deleted"))))

    @get(
        "/",
        guards=[requires_permission("users.read")],
        responses=error_responses(Unauthorized, Forbidden),
        summary="List accounts (admin)",
    )
    async def list_users(
        self,
        db_session: AsyncSession,
        q: Annotated[str | None, Parameter(max_length=100, description="Search email and name")] = None,
        role: Annotated[str | None, Parameter(max_length=50)] = None,
        is_active: bool | None = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[UserOut]:
        rows, total = await svc.list_users(
            db_session, q=q, role=role, is_active=is_active, limit=limit, offset=offset
        )
        return page([user_out(u) for u in rows], total=total, limit=limit, offset=offset)

    @get(
        "/{user_id:uuid}",
        guards=[requires_permission("users.read")],
        responses=error_responses(Unauthorized, Forbidden, NotFound),
        summary="One account (admin)",
    )
    async def get_user(self, db_session: AsyncSession, user_id: UUID) -> Envelope[UserOut]:
        return ok(user_out(await svc.get_user(db_session, user_id)))

    @patch(
        "/{user_id:uuid}",
        guards=[requires_permission("users.manage")],
        responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
        summary="Change an account, e.g. deactivate it (admin)",
    )
    async def update_user(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        user_id: UUID,
        data: AdminUserUpdateIn,
    ) -> Envelope[UserOut]:
        import msgspec

        user = await svc.get_user(db_session, user_id)
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        user = await svc.admin_update_user(
            _identity(request),
            db_session,
            user,
            changes=changes,
            actor_id=principal.user_id,
            client=_client(request),
        )
        return ok(user_out(user))

    @delete(
        "/{user_id:uuid}",
        status_code=200,
        guards=[requires_permission("users.manage")],
        responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
        summary="Delete an account (admin)",
    )
    async def delete_user(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, user_id: UUID
    ) -> Envelope[Done]:
        if user_id == principal.user_id:
            raise Conflict("Delete your own account with DELETE /api/v1/users/me")
        user = await svc.get_user(db_session, user_id)
        await svc.delete_user(
            _identity(request), db_session, user, actor_id=principal.user_id, client=_client(request)
        )
        return ok(Done(detail="account deleted"))

    @put(
        "/{user_id:uuid}/roles",
        guards=[requires_permission("roles.assign")],
        responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
        summary="Set an account's roles (admin)",
    )
    async def set_roles(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        user_id: UUID,
        data: RolesIn,
    ) -> Envelope[UserOut]:
        user = await svc.get_user(db_session, user_id)
        user = await svc.set_roles(
            _identity(request),
            db_session,
            user,
            data.roles,
            actor_id=principal.user_id,
            client=_client(request),
        )
        return ok(user_out(user))


class AuditController(Controller):
    path = "/api/v1/audit"
    tags = ["audit"]

    @get(
        "/",
        guards=[requires_permission("audit.read")],
        responses=error_responses(Unauthorized, Forbidden),
        summary="Security events (admin), newest first",
    )
    async def list_events(
        self,
        db_session: AsyncSession,
        event: Annotated[
            str | None, Parameter(max_length=50, description="Exact name, or a prefix with *")
        ] = None,
        user_id: UUID | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[AuditOut]:
        rows, total = await svc.list_audit(
            db_session, event=event, user_id=user_id, since=since, until=until, limit=limit, offset=offset
        )
        return page([_audit_out(e) for e in rows], total=total, limit=limit, offset=offset)


def _audit_out(e: AuditEvent) -> AuditOut:
    return AuditOut(
        id=e.id,
        event=e.event,
        user_id=e.user_id,
        actor_id=e.actor_id,
        email=e.email,
        ip=e.ip,
        details=e.details or {},
        created_at=e.created_at,
    )
