"""What every identity controller shares: the caller's client info, token responses and cookies."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from litestar import Request, Response, post
from litestar.background_tasks import BackgroundTask
from litestar.handlers import HTTPRouteHandler
from sqlalchemy.ext.asyncio import AsyncSession

from keel.core.envelope import Envelope, ok
from keel.core.errors import KeelError, Unauthorized, ValidationFailed, error_responses
from keel.core.mapping import to_read
from keel.identity.guards import CookieNames
from keel.identity.models import User
from keel.identity.schemas import Done, TokenRead, Transport, UserRead
from keel.identity.services import ClientInfo, DurableFailure, Identity, IssuedTokens

T = TypeVar("T")
REFRESH_PATH = "/api/v1/auth/refresh"
AUTH_RATE = {"rate_limit": "auth"}
SECURITY: list[dict[str, list[str]]] = [{"BearerToken": []}]
# personal answers (tokens, my account, my sessions and keys) must not sit in shared or browser caches
NO_STORE = {"Cache-Control": "no-store"}
TOKEN_ERRORS = error_responses(Unauthorized, ValidationFailed)


def identity_of(request: Request[Any, Any, Any]) -> Identity:
    identity: Identity = request.app.state.identity
    return identity


def client_info(request: Request[Any, Any, Any]) -> ClientInfo:
    ip = request.scope.get("state", {}).get("client_ip") or (
        request.client.host if request.client else "unknown"
    )
    return ClientInfo(ip=str(ip), user_agent=request.headers.get("user-agent", "")[:512])


async def durable(db: AsyncSession, work: Awaitable[T]) -> T:
    """Run a service call; on DurableFailure keep what it wrote (audit, revocations), then fail."""
    try:
        return await work
    except DurableFailure as failure:
        await db.commit()
        raise failure.error from None


def user_read(user: User, roles: list[str] | None = None) -> UserRead:
    return to_read(user, UserRead, roles=roles if roles is not None else sorted(r.name for r in user.roles))


def transport_of(request: Request[Any, Any, Any], chosen: Transport | None) -> Transport:
    if chosen:
        return chosen
    header = request.headers.get("x-auth-transport", "").strip().lower()
    return "cookie" if header == "cookie" else "bearer"


def cookie_names_of(request: Request[Any, Any, Any]) -> CookieNames:
    names: CookieNames = request.app.state.identity_cookies
    return names


def token_response(
    request: Request[Any, Any, Any], issued: IssuedTokens, transport: Transport, status_code: int = 200
) -> Response[Envelope[TokenRead]]:
    settings = identity_of(request).settings
    body = TokenRead(
        transport=transport,
        expires_in=issued.expires_in,
        session_id=issued.session_id,
        user=user_read(issued.user, issued.roles),
    )
    if transport == "bearer":
        body.access_token, body.refresh_token = issued.access_token, issued.refresh_token
        return Response(ok(body), status_code=status_code, headers=NO_STORE)
    names = cookie_names_of(request)
    csrf = secrets.token_urlsafe(32)
    body.csrf_token = csrf
    response = Response(ok(body), status_code=status_code, headers=NO_STORE)
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


def clear_cookies(request: Request[Any, Any, Any], response: Response[Any]) -> Response[Any]:
    names = cookie_names_of(request)
    secure = identity_of(request).settings.cookie_secure
    for name, path in ((names.access, "/"), (names.refresh, REFRESH_PATH), (names.csrf, "/")):
        response.set_cookie(
            name, "", max_age=0, path=path, secure=secure, httponly=name != names.csrf, samesite="lax"
        )
    return response


def mail_task(identity: Identity, to: str, subject: str, body: str) -> BackgroundTask:
    return BackgroundTask(identity.mailer.send, to, subject, body)


def accepted(identity: Identity, detail: str, mail: tuple[str, str, str] | None) -> Response[Envelope[Done]]:
    """202 with `detail` whether or not there is a mail (to, subject, body) to send after the answer:
    the caller cannot tell which, so the answer does not reveal whether an account exists."""
    response = Response(ok(Done(detail=detail)), status_code=202)
    if mail:
        response.background = mail_task(identity, *mail)
    return response


def mail_link_route(path: str, summary: str, *errors: type[KeelError], **kwargs: Any) -> HTTPRouteHandler:
    """`POST path` answering 202 whether or not a link is mailed (rate-limited like every auth route)."""
    responses = error_responses(*(errors or (ValidationFailed,)))
    return post(path, status_code=202, opt=AUTH_RATE, responses=responses, summary=summary, **kwargs)


def link_confirm_route(path: str, summary: str) -> HTTPRouteHandler:
    """`POST path` taking a mailed link's token: 200, or 400 for a bad or spent token."""
    return post(
        path, status_code=200, opt=AUTH_RATE, responses=error_responses(ValidationFailed), summary=summary
    )


def session_route(path: str, summary: str) -> HTTPRouteHandler:
    """`POST path` acting on the caller's login sessions (bearer or cookie)."""
    return post(
        path, status_code=200, security=SECURITY, responses=error_responses(Unauthorized), summary=summary
    )


async def mail_link(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    start: Callable[..., Awaitable[tuple[str, str, str] | None]],
    detail: str,
    **kwargs: Any,
) -> Response[Envelope[Done]]:
    """Run `start(identity, db, client=..., **kwargs)`, which may give a mail, and answer 202 `detail`."""
    identity = identity_of(request)
    return accepted(identity, detail, await start(identity, db, client=client_info(request), **kwargs))


async def link_confirmed(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    confirm: Callable[..., Awaitable[Any]],
    detail: str,
    **kwargs: Any,
) -> Envelope[Done]:
    """Run `confirm(identity, db, client=..., **kwargs)` with a link's token and answer `detail`."""
    await confirm(identity_of(request), db, client=client_info(request), **kwargs)
    return ok(Done(detail=detail))


def logged_out(request: Request[Any, Any, Any], detail: str) -> Response[Envelope[Done]]:
    """`detail`, with this client's auth cookies cleared."""
    return clear_cookies(request, Response(ok(Done(detail=detail))))
