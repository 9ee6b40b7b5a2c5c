"""Who is calling: `Principal`, the app-wide `principal` dependency, and route guards.

A request authenticates with `Authorization: Bearer <access token | personal API key>` or the access
cookie; with the cookie, unsafe methods also need `X-CSRF-Token` equal to the CSRF cookie (double
submit). An access token's signature, issuer, audience, type and lifetime are checked (once per
request: the verified claims are kept on the ASGI scope, shared with the rate limiter's `identify`),
then one statement loads the account, the session's validity, roles and permissions, and what
`/users/me` answers. That row is read on every request, so logout, revocation, deactivation and role
changes apply to the very next request in every instance.
"""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from sqlalchemy import and_, bindparam, select, update

from keel.core.driver_select import DriverSelect
from keel.core.errors import CsrfFailed, Forbidden, Unauthorized
from keel.identity.models import ApiKey, LoginSession, Permission, Role, User, role_permission, user_role
from keel.identity.schemas import UserRead
from keel.identity.services import LAST_SEEN_EVERY, Identity
from keel.identity.tokens import API_KEY_PREFIX, AccessClaims, InvalidToken, sha256_hex

if TYPE_CHECKING:
    from litestar import Request
    from litestar.handlers.base import BaseRouteHandler
    from sqlalchemy.ext.asyncio import AsyncSession

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SCOPE_KEY = "keel_principal"
_ACCOUNT_KEY = "keel_account"
_CLAIMS_KEY = "keel_access_claims"
API_KEY_LAST_USED_EVERY = 60  # seconds between last-use updates of a key


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    session_id: uuid.UUID  # the login session; for a personal API key, the key's id
    email: str
    roles: frozenset[str]
    permissions: frozenset[str]
    via_cookie: bool
    api_key_id: uuid.UUID | None = None  # set when a personal API key authenticated the request


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
            decoded: str = value.decode("latin-1")
            return decoded
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


def verified_claims(scope: Any, identity: Identity, token: str) -> AccessClaims | None:
    """The access token's verified claims, or None; decoded once per request (cached on the scope)."""
    state = scope.setdefault("state", {})
    cached = state.get(_CLAIMS_KEY)
    if cached is not None and cached[0] == token:
        known: AccessClaims | None = cached[1]
        return known
    try:
        claims: AccessClaims | None = identity.keys.decode_access(token)
    except InvalidToken:
        claims = None
    state[_CLAIMS_KEY] = (token, claims)
    return claims


def make_identify(identity: Identity, names: CookieNames):  # type: ignore[no-untyped-def]
    """`builder.state["identify"]`: the user id of a validly signed, unexpired access token, without I/O.
    (A personal API key gives None here: which user it belongs to is known only from the database.)"""

    def identify(scope: Any) -> str | None:
        token, _ = token_from_scope(scope, names)
        if not token or token.startswith(API_KEY_PREFIX):
            return None
        claims = verified_claims(scope, identity, token)
        return claims.sub if claims else None

    return identify


def _db(connection: ASGIConnection[Any, Any, Any, Any]) -> AsyncSession:
    state = connection.app.state
    session: AsyncSession = state.sa_config.provide_session(state, connection.scope)
    return session


_users, _sessions, _keys = User.__table__, LoginSession.__table__, ApiKey.__table__
_roles, _permissions = Role.__table__, Permission.__table__
_ACCOUNT_COLUMNS = (
    _users.c.id,
    _users.c.email,
    _users.c.name,
    _users.c.is_active,
    _users.c.is_verified,
    _users.c.created_at,
    _users.c.last_login_at,
    _roles.c.name.label("role"),
    _permissions.c.name.label("permission"),
)


def _with_grants(source: Any) -> Any:
    return (
        source.outerjoin(user_role, user_role.c.user_id == _users.c.id)
        .outerjoin(_roles, _roles.c.id == user_role.c.role_id)
        .outerjoin(role_permission, role_permission.c.role_id == _roles.c.id)
        .outerjoin(_permissions, _permissions.c.id == role_permission.c.permission_id)
    )


# Built once at import and run on the driver (keel.core.driver_select): no statement construction,
# cache key or ORM session work per request. One row per (role, permission) of the account; the account
# and session columns repeat on each.
PRINCIPAL_BY_SESSION = DriverSelect(
    select(*_ACCOUNT_COLUMNS, _sessions.c.revoked_at, _sessions.c.last_seen_at)
    .select_from(
        _with_grants(
            _users.join(
                _sessions,
                and_(_sessions.c.id == bindparam("session_id"), _sessions.c.user_id == _users.c.id),
            )
        )
    )
    .where(_users.c.id == bindparam("user_id"))
)
PRINCIPAL_BY_API_KEY = DriverSelect(
    select(
        *_ACCOUNT_COLUMNS,
        _keys.c.id.label("key_id"),
        _keys.c.scopes,
        _keys.c.expires_at,
        _keys.c.revoked_at,
        _keys.c.last_used_at,
    )
    .select_from(_with_grants(_keys.join(_users, _users.c.id == _keys.c.user_id)))
    .where(_keys.c.key_hash == bindparam("key_hash"))
)


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _account(rows: Sequence[dict[str, Any]]) -> UserRead:
    first = rows[0]
    return UserRead(
        id=first["id"],
        email=first["email"],
        name=first["name"],
        is_active=first["is_active"],
        is_verified=first["is_verified"],
        roles=sorted({r["role"] for r in rows if r["role"]}),
        created_at=_aware(first["created_at"]),  # type: ignore[arg-type]
        last_login_at=_aware(first["last_login_at"]),
    )


async def _from_access_token(
    connection: ASGIConnection[Any, Any, Any, Any], identity: Identity, token: str, via_cookie: bool
) -> tuple[Principal, UserRead]:
    claims = verified_claims(connection.scope, identity, token)
    if claims is None:
        raise Unauthorized("Invalid or expired access token")
    user_id, session_id = uuid.UUID(claims.sub), uuid.UUID(claims.sid)
    rows = await PRINCIPAL_BY_SESSION.rows(
        connection.app.state.sa_config.reader(connection.scope),
        {"user_id": user_id, "session_id": session_id},
    )
    if not rows or not rows[0]["is_active"] or rows[0]["revoked_at"] is not None:
        raise Unauthorized("Session revoked or account inactive")
    now = datetime.now(UTC)
    last_seen = _aware(rows[0]["last_seen_at"])
    if last_seen is None or (now - last_seen).total_seconds() >= LAST_SEEN_EVERY:
        await _db(connection).execute(
            update(LoginSession).where(LoginSession.id == session_id).values(last_seen_at=now)
        )
    account = _account(rows)
    principal = Principal(
        user_id=user_id,
        session_id=session_id,
        email=account.email,
        roles=frozenset(account.roles),
        permissions=frozenset(r["permission"] for r in rows if r["permission"]),
        via_cookie=via_cookie,
    )
    return principal, account


async def _from_api_key(
    connection: ASGIConnection[Any, Any, Any, Any], identity: Identity, secret: str
) -> tuple[Principal, UserRead]:
    key_hash = sha256_hex(secret)
    rows = await PRINCIPAL_BY_API_KEY.rows(
        connection.app.state.sa_config.reader(connection.scope), {"key_hash": key_hash}
    )
    if not rows:
        raise Unauthorized("Invalid API key")
    first, now = rows[0], datetime.now(UTC)
    key_id: uuid.UUID = first["key_id"]
    if first["revoked_at"] is not None:
        from keel.identity.services.api_keys import audit_revoked_key_use

        await audit_revoked_key_use(connection, key_id, first["id"])
        raise Unauthorized("API key revoked")
    expires_at = _aware(first["expires_at"])
    if expires_at is not None and expires_at <= now:
        raise Unauthorized("API key expired")
    if not first["is_active"]:
        raise Unauthorized("Session revoked or account inactive")
    last_used = _aware(first["last_used_at"])
    if last_used is None or (now - last_used).total_seconds() >= API_KEY_LAST_USED_EVERY:
        await _db(connection).execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
    granted = frozenset(r["permission"] for r in rows if r["permission"])
    scopes = first["scopes"] or []
    account = _account(rows)
    principal = Principal(
        user_id=first["id"],
        session_id=key_id,
        email=account.email,
        roles=frozenset(account.roles),
        # the key's scopes, never more than the account holds today ("*": all of them)
        permissions=granted if "*" in scopes else granted & frozenset(scopes),
        via_cookie=False,
        api_key_id=key_id,
    )
    return principal, account


async def authenticate_connection(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The caller, or Unauthorized; cached on the connection so guards and handlers share one check."""
    state = connection.scope.setdefault("state", {})
    cached: Principal | None = state.get(_SCOPE_KEY)
    if cached is not None:
        return cached
    identity: Identity = connection.app.state.identity
    names: CookieNames = connection.app.state.identity_cookies
    is_ws = connection.scope["type"] == ScopeType.WEBSOCKET
    token, via_cookie = token_from_scope(connection.scope, names, allow_query=is_ws)
    if not token:
        raise Unauthorized()
    if via_cookie and not is_ws and connection.scope.get("method", "GET") not in SAFE_METHODS:
        sent = _header(connection.scope, b"x-csrf-token") or ""
        expected = _cookies(connection.scope).get(names.csrf) or ""
        if not sent or not expected or not hmac.compare_digest(sent, expected):
            # a forged cross-site request is refused before any database work; a bad token is still a 401
            if verified_claims(connection.scope, identity, token) is None:
                raise Unauthorized("Invalid or expired access token")
            raise CsrfFailed()
    if token.startswith(API_KEY_PREFIX) and not via_cookie:
        principal, account = await _from_api_key(connection, identity, token)
    else:
        principal, account = await _from_access_token(connection, identity, token, via_cookie)
    state[_SCOPE_KEY] = principal
    state[_ACCOUNT_KEY] = account
    state["user_id"] = str(principal.user_id)
    state["auth_checked_at"] = time.time()
    return principal


def current_account(connection: ASGIConnection[Any, Any, Any, Any]) -> UserRead:
    """What `/users/me` answers, as the guard loaded it for this request (authenticate first)."""
    account: UserRead = connection.scope["state"][_ACCOUNT_KEY]
    return account


async def provide_principal(request: Request[Any, Any, Any], db_session: AsyncSession) -> Principal:
    """The `principal` dependency. It names `db_session` (the request's one session, which the guard
    uses too) so Litestar resolves the two in sequence instead of in a task group of their own on every
    request (its batches of independent dependencies each start one); a session is not for concurrent use
    anyway."""
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
