"""Who is calling: `Principal`, the app-wide `principal` dependency, and route guards.

A request authenticates with `Authorization: Bearer <access token>` or the access cookie; with the
cookie, unsafe methods also need `X-CSRF-Token` equal to the CSRF cookie (double submit). The token's
signature, issuer, audience, type and lifetime are checked, then the session's revocation marker in the
shared store, then the account and session rows (inactive, deleted or revoked → 401).
"""

from __future__ import annotations

import hmac
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from litestar.connection import ASGIConnection
from sqlalchemy import select, update

from keel.core.errors import CsrfFailed, Forbidden, Unauthorized
from keel.identity.models import LoginSession, Permission, Role, User, role_permission, user_role
from keel.identity.services import LAST_SEEN_EVERY, Identity
from keel.identity.tokens import InvalidToken

if TYPE_CHECKING:
    from litestar import Request
    from litestar.handlers.base import BaseRouteHandler
    from sqlalchemy.ext.asyncio import AsyncSession

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SCOPE_KEY = "keel_principal"


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    session_id: uuid.UUID
    email: str
    roles: frozenset[str]
    permissions: frozenset[str]
    via_cookie: bool


@dataclass(frozen=True)
class CookieNames:
    access: str
    refresh: str
    csrf: str


def cookie_names(production: bool) -> CookieNames:
    if production:  # __Host-: Secure, Path=/, no Domain; the refresh cookie has a narrower path
        return CookieNames("__Host-keel_access", "__Secure-keel_refresh", "__Host-keel_csrf")
    return CookieNames("keel_access", "keel_refresh", "keel_csrf")


def _header(scope: Any, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _cookies(scope: Any) -> dict[str, str]:
    raw = _header(scope, b"cookie")
    if not raw:
        return {}
    jar: dict[str, str] = {}
    for part in raw.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep:
            jar.setdefault(key, value.strip('"'))
    return jar


def token_from_scope(scope: Any, names: CookieNames, *, allow_query: bool = False) -> tuple[str | None, bool]:
    """(access token, via cookie) from the bearer header, the access cookie or (WebSockets) ?access_token=."""
    auth = _header(scope, b"authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip(), False
        return None, False
    cookie = _cookies(scope).get(names.access)
    if cookie:
        return cookie, True
    if allow_query:
        from urllib.parse import parse_qs

        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("access_token")
        if values:
            return values[0], False
    return None, False


def make_identify(identity: Identity, names: CookieNames):  # type: ignore[no-untyped-def]
    """`builder.state["identify"]`: the user id of a validly signed, unexpired access token, without I/O."""

    def identify(scope: Any) -> str | None:
        token, _ = token_from_scope(scope, names)
        if not token:
            return None
        try:
            return identity.keys.decode_access(token).sub
        except InvalidToken:
            return None

    return identify


def _db(connection: ASGIConnection[Any, Any, Any, Any]) -> AsyncSession:
    state = connection.app.state
    return state.sa_config.provide_session(state, connection.scope)


async def authenticate_connection(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The caller, or Unauthorized; cached on the connection so guards and handlers share one check."""
    cached = connection.scope.get("state", {}).get(_SCOPE_KEY)
    if cached is not None:
        return cached
    identity: Identity = connection.app.state.identity
    names: CookieNames = connection.app.state.identity_cookies
    is_ws = connection.scope["type"] == "websocket"
    token, via_cookie = token_from_scope(connection.scope, names, allow_query=is_ws)
    if not token:
        raise Unauthorized()
    try:
        claims = identity.keys.decode_access(token)
    except InvalidToken as exc:
        raise Unauthorized("Invalid or expired access token") from exc
    method = connection.scope.get("method", "GET")
    if via_cookie and not is_ws and method not in SAFE_METHODS:
        sent = _header(connection.scope, b"x-csrf-token") or ""
        expected = _cookies(connection.scope).get(names.csrf) or ""
        if not sent or not expected or not hmac.compare_digest(sent, expected):
            raise CsrfFailed()
    if await identity.is_revoked(claims.sid):
        raise Unauthorized("Session revoked")
    user_id, session_id = uuid.UUID(claims.sub), uuid.UUID(claims.sid)
    db = _db(connection)
    rows = (
        await db.execute(
            select(
                User.email,
                User.is_active,
                LoginSession.revoked_at,
                LoginSession.last_seen_at,
                Role.name,
                Permission.name,
            )
            .join(LoginSession, (LoginSession.id == session_id) & (LoginSession.user_id == User.id))
            .outerjoin(user_role, user_role.c.user_id == User.id)
            .outerjoin(Role, Role.id == user_role.c.role_id)
            .outerjoin(role_permission, role_permission.c.role_id == Role.id)
            .outerjoin(Permission, Permission.id == role_permission.c.permission_id)
            .where(User.id == user_id)
        )
    ).all()
    if not rows or not rows[0][1] or rows[0][2] is not None:
        raise Unauthorized("Session revoked or account inactive")
    last_seen = rows[0][3]
    last_seen = last_seen if last_seen.tzinfo else last_seen.replace(tzinfo=UTC)
    now = datetime.now(UTC)
    if (now - last_seen).total_seconds() >= LAST_SEEN_EVERY:
        await db.execute(update(LoginSession).where(LoginSession.id == session_id).values(last_seen_at=now))
    principal = Principal(
        user_id=user_id,
        session_id=session_id,
        email=rows[0][0],
        roles=frozenset(r[4] for r in rows if r[4]),
        permissions=frozenset(r[5] for r in rows if r[5]),
        via_cookie=via_cookie,
    )
    state = connection.scope.setdefault("state", {})  # type: ignore[typeddict-item]
    state[_SCOPE_KEY] = principal
    state["user_id"] = str(user_id)
    state["auth_checked_at"] = time.time()
    return principal


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    return await authenticate_connection(request)


def requires_permission(*permissions: str):  # type: ignore[no-untyped-def]
    """A Litestar guard: 401 without a valid token, 403 without every named permission."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = await authenticate_connection(connection)
        if not set(permissions) <= principal.permissions:
            raise Forbidden()

    guard.__name__ = f"requires_permission({', '.join(permissions)})"
    return guard


def requires_role(*roles: str):  # type: ignore[no-untyped-def]
    """A Litestar guard: 401 without a valid token, 403 unless the caller holds one of the roles."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = await authenticate_connection(connection)
        if not set(roles) & principal.roles:
            raise Forbidden()

    guard.__name__ = f"requires_role({', '.join(roles)})"
    return guard
