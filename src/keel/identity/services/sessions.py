"""Login sessions: log in, issue and rotate tokens, revoke, list, log out."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from keel.core.driver_select import DriverSelect
from keel.core.errors import NotFound, TooManyRequests, Unauthorized
from keel.core.query import page_with_total, plain, total_column
from keel.identity.models import LoginSession, RefreshToken, Role, User, user_role
from keel.identity.services.audit import audit
from keel.identity.services.machinery import (
    ClientInfo,
    DurableFailure,
    Identity,
    IssuedTokens,
    aware_utc,
    email_key,
    invalid_credentials,
    log,
    utcnow,
)
from keel.identity.tokens import (
    new_refresh_token,
    seal_for,
    sha256_hex,
    unseal_for,
)


def parse_device(user_agent: str) -> tuple[str, str, str]:
    """(browser, OS, device type) from a User-Agent."""
    if not user_agent:
        return "", "", "unknown"
    from ua_parser import parse

    try:
        result = parse(user_agent[:512])
    except Exception:
        return "", "", "unknown"
    browser = result.user_agent.family if result.user_agent else ""
    os_name = result.os.family if result.os else ""
    device = result.device.family if result.device else ""
    if device == "Spider":
        kind = "bot"
    elif "iPad" in device or "Tablet" in user_agent or (os_name == "Android" and "Mobile" not in user_agent):
        kind = "tablet"
    elif os_name in ("iOS", "Android") or "Mobile" in user_agent:
        kind = "mobile"
    elif browser and browser != "Other":
        kind = "desktop"
    else:
        kind = "unknown"
    return (browser if browser != "Other" else ""), (os_name if os_name != "Other" else ""), kind


async def role_names(db: AsyncSession, user_id: uuid.UUID) -> list[str]:
    rows = await db.scalars(
        select(Role.name)
        .join(user_role, user_role.c.role_id == Role.id)
        .where(user_role.c.user_id == user_id)
    )
    return sorted(rows.all())


async def login(
    identity: Identity, db: AsyncSession, *, email: str, password: str, client: ClientInfo
) -> IssuedTokens:
    key = email_key(email)
    locked = await identity.lockout_remaining(key)
    if locked:
        raise TooManyRequests("Too many failed logins; try again later", retry_after=locked)
    await identity.throttle(
        identity.login_ip_limit, "login-ip", client.ip, "Too many login attempts; try later"
    )
    typed = email.strip().lower()
    user = await db.scalar(select(User).where(User.email == typed))
    if user is None:
        await identity.passwords.dummy_verify(password)
        valid, new_hash = False, None
    else:
        valid, new_hash = await identity.passwords.verify_and_update(password, user.password_hash)
    unverified = user is not None and not user.is_verified and identity.settings.require_verified_email
    if not valid or user is None or not user.is_active or unverified:
        # an unverified address answers exactly as a wrong password, lockout included
        lock = await identity.record_login_failure(key)
        if user is None:
            reason = "unknown_email"
        else:
            reason = "wrong_password" if not valid else ("inactive" if not user.is_active else "unverified")
        audit(
            db,
            "login.failure",
            client=client,
            user_id=user.id if user else None,
            email=typed[:320],
            reason=reason,
            lockout_seconds=lock or None,
        )
        raise DurableFailure(Unauthorized(invalid_credentials(identity.settings)))
    await identity.clear_login_failures(key)
    if new_hash:
        user.password_hash = new_hash
    user.last_login_at = utcnow()
    audit(
        db,
        "login.success",
        client=client,
        user_id=user.id,
        actor_id=user.id,
        email=user.email,
        rehashed=bool(new_hash) or None,
    )
    return await start_session(identity, db, user, client)


async def start_session(identity: Identity, db: AsyncSession, user: User, client: ClientInfo) -> IssuedTokens:
    now = utcnow()
    browser, os_name, kind = parse_device(client.user_agent)
    session = LoginSession(
        user_id=user.id,
        user_agent=client.user_agent[:512],
        browser=browser[:100],
        os=os_name[:100],
        device_type=kind,
        ip=client.ip[:64],
        last_seen_at=now,
        expires_at=now + timedelta(seconds=identity.settings.refresh_absolute_ttl),
    )
    db.add(session)
    await db.flush()
    return await _issue(identity, db, user, session, parent_id=None)


async def _issue(
    identity: Identity, db: AsyncSession, user: User, session: LoginSession, parent_id: uuid.UUID | None
) -> IssuedTokens:
    now = utcnow()
    refresh = new_refresh_token()
    expires = min(now + timedelta(seconds=identity.settings.refresh_idle_ttl), aware_utc(session.expires_at))
    db.add(
        RefreshToken(
            session_id=session.id, parent_id=parent_id, token_hash=sha256_hex(refresh), expires_at=expires
        )
    )
    roles = await role_names(db, user.id)
    access, _exp = identity.keys.issue_access(user_id=user.id, session_id=session.id, roles=roles)
    await db.flush()
    return IssuedTokens(
        access_token=access,
        expires_in=identity.settings.jwt_expires_in,
        refresh_token=refresh,
        session_id=session.id,
        user=user,
        roles=roles,
    )


async def refresh(identity: Identity, db: AsyncSession, *, token: str, client: ClientInfo) -> IssuedTokens:
    """Rotate: consume the presented token atomically, issue a child in the same family."""
    now = utcnow()
    token_hash = sha256_hex(token)
    consumed = (
        await db.execute(
            update(RefreshToken)
            .where(
                RefreshToken.token_hash == token_hash,
                RefreshToken.used_at.is_(None),
                RefreshToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(RefreshToken.id, RefreshToken.session_id)
        )
    ).first()
    if consumed is None:
        return await _refresh_refused(identity, db, token, token_hash, now, client)
    token_id, session_id = consumed
    session = await db.get(LoginSession, session_id)
    if session is None or session.revoked_at is not None or aware_utc(session.expires_at) <= now:
        raise Unauthorized("Session expired or revoked")
    user = await db.get(User, session.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("Session expired or revoked")
    session.last_seen_at = now
    issued = await _issue(identity, db, user, session, parent_id=token_id)
    grace = identity.settings.refresh_reuse_grace
    if grace > 0:  # the pair, sealed with the parent token: two tabs refreshing at once both get it
        sealed = seal_for(token, {"access_token": issued.access_token, "refresh_token": issued.refresh_token})
        await identity.kv.set(f"grace:{token_hash}", sealed, expires_in=max(1, math.ceil(grace)))
    return issued


async def _refresh_refused(
    identity: Identity, db: AsyncSession, token: str, token_hash: str, now: datetime, client: ClientInfo
) -> IssuedTokens:
    row = await db.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))
    if row is None or row.used_at is None:  # unknown, or expired unused
        raise Unauthorized("Invalid or expired refresh token")
    session = await db.get(LoginSession, row.session_id)
    if session is None or session.revoked_at is not None:
        raise Unauthorized("Session expired or revoked")
    age = (now - aware_utc(row.used_at)).total_seconds()
    if age <= identity.settings.refresh_reuse_grace:
        sealed = await identity.kv.get(f"grace:{token_hash}")
        pair = unseal_for(token, sealed) if sealed else None
        user = await db.get(User, session.user_id)
        if pair and user is not None and user.is_active:
            return IssuedTokens(
                access_token=pair["access_token"],
                expires_in=identity.settings.jwt_expires_in,
                refresh_token=pair["refresh_token"],
                session_id=session.id,
                user=user,
                roles=await role_names(db, user.id),
            )
        raise Unauthorized("Refresh token already used")
    await revoke_sessions(identity, db, [session], reason="refresh_reuse")
    audit(
        db,
        "refresh.reuse",
        client=client,
        user_id=session.user_id,
        session_id=str(session.id),
        seconds_since_use=round(age, 1),
    )
    log.warning("refresh_token_reuse", user_id=str(session.user_id), session_id=str(session.id))
    raise DurableFailure(Unauthorized("Refresh token reuse detected; the session was revoked"))


async def revoke_sessions(
    identity: Identity, db: AsyncSession, sessions: list[LoginSession], *, reason: str
) -> None:
    now = utcnow()
    live = [s for s in sessions if s.revoked_at is None]
    for s in live:
        s.revoked_at = now
        s.revoked_reason = reason
    if live:
        ids = [s.id for s in live]
        await db.execute(
            update(RefreshToken)
            .where(RefreshToken.session_id.in_(ids), RefreshToken.used_at.is_(None))
            .values(used_at=now)
        )
    await db.flush()


async def revoke_user_sessions(
    identity: Identity, db: AsyncSession, user_id: uuid.UUID, *, reason: str, keep: uuid.UUID | None = None
) -> int:
    query = select(LoginSession).where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(LoginSession.id != keep)
    sessions = list((await db.scalars(query)).all())
    await revoke_sessions(identity, db, sessions, reason=reason)
    return len(sessions)


_session_table = LoginSession.__table__
_LIVE_SESSIONS = (
    _session_table.c.user_id == bindparam("user_id"),
    _session_table.c.revoked_at.is_(None),
    _session_table.c.expires_at > bindparam("now"),
)
LIVE_SESSIONS_COUNT = select(func.count()).select_from(_session_table).where(*_LIVE_SESSIONS)
# one page of my live sessions and their total in one statement, built once, read on the driver
LIVE_SESSIONS_PAGE = DriverSelect(
    select(
        plain(_session_table.c.id),
        _session_table.c.browser,
        _session_table.c.os,
        _session_table.c.device_type,
        _session_table.c.ip,
        plain(_session_table.c.created_at),
        plain(_session_table.c.last_seen_at),
        plain(_session_table.c.expires_at),
        # the caller's own session is flagged by the database, so the page converts in one pass
        (_session_table.c.id == bindparam("current_session")).label("current"),
        total_column(LIVE_SESSIONS_COUNT),
    )
    .where(*_LIVE_SESSIONS)
    .order_by(_session_table.c.last_seen_at.desc(), _session_table.c.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)


async def list_sessions(
    db: AsyncSession | AsyncEngine,
    user_id: uuid.UUID,
    *,
    limit: int,
    offset: int,
    current_session: uuid.UUID,
) -> tuple[Sequence[Any], int]:
    """(rows with the columns of a session and `current`, total): plain rows, one round trip for a page
    that has rows. `current` is true on the row of `current_session` (the caller's own)."""
    params = {
        "user_id": user_id,
        "now": utcnow(),
        "limit": limit,
        "offset": offset,
        "current_session": current_session,
    }
    return await page_with_total(db, LIVE_SESSIONS_PAGE, LIVE_SESSIONS_COUNT, params, offset=offset)


async def revoke_own_session(
    identity: Identity, db: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID, client: ClientInfo
) -> None:
    session = await db.get(LoginSession, session_id)
    if session is None or session.user_id != user_id or session.revoked_at is not None:
        raise NotFound("Session not found")
    await revoke_sessions(identity, db, [session], reason="revoked_by_user")
    audit(db, "session.revoked", client=client, user_id=user_id, actor_id=user_id, session_id=str(session_id))


async def logout(
    identity: Identity, db: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID, client: ClientInfo
) -> None:
    session = await db.get(LoginSession, session_id)
    if session is not None and session.user_id == user_id:
        await revoke_sessions(identity, db, [session], reason="logout")
    audit(db, "logout", client=client, user_id=user_id, actor_id=user_id, session_id=str(session_id))


async def logout_all(identity: Identity, db: AsyncSession, user_id: uuid.UUID, client: ClientInfo) -> int:
    count = await revoke_user_sessions(identity, db, user_id, reason="logout_all")
    audit(db, "logout.all", client=client, user_id=user_id, actor_id=user_id, sessions=count)
    return count
