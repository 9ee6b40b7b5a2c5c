"""Personal API keys: long-lived bearer secrets for scripts and SDKs, limited to scopes.

The secret (`keel_` + 32 random bytes) is shown once, at creation; the database keeps its sha256 and a
short prefix for display. A key acts for its owner with the permissions in its scopes that the owner
still holds ("*": all of them), checked on every request, so a role change, a deactivation or a
revocation applies at the next request.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from keel.core.driver_select import DriverSelect
from keel.core.errors import Conflict, NotFound, ValidationFailed
from keel.core.query import page_with_total, plain, total_column
from keel.identity.models import ApiKey, AuditEvent
from keel.identity.services.audit import audit
from keel.identity.services.machinery import ClientInfo, utcnow
from keel.identity.tokens import new_api_key, sha256_hex

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection

log = structlog.get_logger("keel.identity")
ALL_SCOPES = "*"
MAX_ACTIVE_KEYS = (
    50  # per account: enough for every script, bounded so a stolen session cannot mint thousands
)
MAX_LIFETIME = timedelta(days=3650)
PREFIX_LENGTH = 12  # "keel_" and 7 characters of the secret: tells keys apart, gives nothing away


def _check_scopes(scopes: list[str], held: frozenset[str]) -> list[str]:
    wanted = sorted(set(scopes))
    if ALL_SCOPES in wanted:
        if len(wanted) > 1:
            raise ValidationFailed(details={"scopes": 'use "*" alone, or name permissions'})
        return wanted
    missing = [s for s in wanted if s not in held]
    if missing:
        raise ValidationFailed(details={"scopes": f"not among your permissions: {', '.join(missing)}"})
    return wanted


async def create_api_key(
    db: AsyncSession,
    *,
    user_id: uuid.UUID,
    permissions: frozenset[str],
    name: str,
    scopes: list[str],
    expires_at: datetime | None,
    client: ClientInfo,
) -> tuple[ApiKey, str]:
    """(the stored key, its secret): the secret exists only in this return value."""
    name = name.strip()
    if not name or "\x00" in name:
        raise ValidationFailed(details={"name": "must not be blank or hold NUL characters"})
    wanted = _check_scopes(scopes, permissions)
    now = utcnow()
    if expires_at is not None:
        expires_at = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
        if expires_at <= now:
            raise ValidationFailed(details={"expires_at": "must be in the future"})
        if expires_at > now + MAX_LIFETIME:
            raise ValidationFailed(details={"expires_at": "at most ten years ahead"})
    active = await db.scalar(
        select(func.count()).select_from(ApiKey).where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
    )
    if (active or 0) >= MAX_ACTIVE_KEYS:
        raise Conflict(f"At most {MAX_ACTIVE_KEYS} active API keys; revoke one first")
    secret = new_api_key()
    key = ApiKey(
        user_id=user_id,
        name=name,
        prefix=secret[:PREFIX_LENGTH],
        key_hash=sha256_hex(secret),
        scopes=wanted,
        expires_at=expires_at,
    )
    db.add(key)
    await db.flush()
    audit(
        db, "api_key.created", client=client, user_id=user_id, actor_id=user_id,
        api_key_id=str(key.id), name=name, scopes=wanted,
    )  # fmt: skip
    return key, secret


_key_table = ApiKey.__table__
_MY_LIVE_KEYS = (_key_table.c.user_id == bindparam("user_id"), _key_table.c.revoked_at.is_(None))
MY_KEYS_COUNT = select(func.count()).select_from(_key_table).where(*_MY_LIVE_KEYS)
# a page of my keys with their total in one statement, built once and read on the driver
MY_KEYS_PAGE = DriverSelect(
    select(
        plain(_key_table.c.id),
        _key_table.c.name,
        _key_table.c.prefix,
        _key_table.c.scopes,  # JSON: decoded by its type (a NULL is an empty list in the route)
        plain(_key_table.c.created_at),
        plain(_key_table.c.expires_at),
        plain(_key_table.c.last_used_at),
        total_column(MY_KEYS_COUNT),
    )
    .where(*_MY_LIVE_KEYS)
    .order_by(_key_table.c.created_at.desc(), _key_table.c.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)


async def list_api_keys(
    db: AsyncSession | AsyncEngine, user_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[dict[str, Any]], int]:
    """My keys that are not revoked (expired ones included: their owner sees why a script stopped), as
    plain rows with the columns of `ApiKeyRead`, and their total."""
    params = {"user_id": user_id, "limit": limit, "offset": offset}
    return await page_with_total(db, MY_KEYS_PAGE, MY_KEYS_COUNT, params, offset=offset)


async def revoke_api_key(
    db: AsyncSession, *, user_id: uuid.UUID, key_id: uuid.UUID, client: ClientInfo
) -> None:
    revoked = (
        await db.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .returning(ApiKey.id)
        )
    ).first()
    if revoked is None:  # someone else's, unknown or already revoked: the same answer
        raise NotFound("API key not found")
    audit(db, "api_key.revoked", client=client, user_id=user_id, actor_id=user_id, api_key_id=str(key_id))


async def audit_revoked_key_use(
    connection: ASGIConnection[Any, Any, Any, Any], key_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Record the use of a revoked key in a transaction of its own: the request itself fails (401) and
    rolls back, the trail must keep it (a leaked key being tried is what the owner wants to know)."""
    state = connection.scope.get("state", {})
    ip = state.get("client_ip") or (connection.client.host if connection.client else None)
    agent = connection.headers.get("user-agent", "")[:512]
    try:
        async with connection.app.state.sa_config.get_session() as session:
            session.add(
                AuditEvent(
                    event="api_key.revoked_used",
                    user_id=user_id,
                    ip=str(ip)[:64] if ip else None,
                    user_agent=agent,
                    details={"api_key_id": str(key_id)},
                )
            )
            await session.commit()
    except Exception as exc:  # the refusal matters more than its record
        log.warning("api_key_audit_failed", error=f"{type(exc).__name__}: {exc}"[:200])
