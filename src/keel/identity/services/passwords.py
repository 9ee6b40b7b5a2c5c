"""Password change (with the current password) and reset by a mailed link."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.core.errors import Unauthorized, ValidationFailed
from keel.identity.models import User
from keel.identity.services.accounts import verify_password
from keel.identity.services.audit import audit
from keel.identity.services.email_links import Mail, consume_email_token, issue_email_token
from keel.identity.services.machinery import (
    RESET_TTL,
    ClientInfo,
    Identity,
    check_password,
    email_key,
    utcnow,
)
from keel.identity.services.sessions import revoke_user_sessions


async def change_password(
    identity: Identity,
    db: AsyncSession,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    current: str,
    new: str,
    client: ClientInfo,
) -> None:
    user = await db.get(User, user_id)
    if user is None:
        raise Unauthorized()
    await verify_password(
        identity, db, user, current, client=client, field="current_password", event="password.change_failed"
    )
    check_password(new, user.email, field="new_password")
    if new == current:
        raise ValidationFailed(details={"new_password": "must differ from the current password"})
    user.password_hash = await identity.passwords.hash(new)
    user.password_changed_at = utcnow()
    ended = await revoke_user_sessions(identity, db, user.id, reason="password_changed", keep=session_id)
    audit(
        db, "password.changed", client=client, user_id=user.id, actor_id=user.id, other_sessions_ended=ended
    )


async def request_password_reset(
    identity: Identity, db: AsyncSession, *, email: str, client: ClientInfo
) -> Mail | None:
    """The reset mail to send, or None (no such active account); the caller answers the same either way."""
    await identity.throttle(identity.email_ip_limit, "reset-ip", client.ip, "Too many requests; try later")
    await identity.throttle(
        identity.email_limit, "reset-email", email_key(email), "Too many requests; try later"
    )
    user = await db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.is_active:
        return None
    token = await issue_email_token(identity, db, user, "reset", RESET_TTL)
    audit(db, "password.reset_requested", client=client, user_id=user.id, email=user.email)
    link = f"{identity.settings.frontend_url.rstrip('/')}/reset-password?token={token}"
    body = (
        f"Reset your Keel password within an hour: {link}\n"
        "If you did not ask for this, ignore this message.\n"
    )
    return user.email, "Reset your password", body


async def confirm_password_reset(
    identity: Identity, db: AsyncSession, *, token: str, new_password: str, client: ClientInfo
) -> None:
    # the policy is checked first: a refused password must not burn the link
    check_password(new_password, field="new_password")
    user = await consume_email_token(identity, db, token, "reset")
    check_password(new_password, user.email, field="new_password")
    user.password_hash = await identity.passwords.hash(new_password)
    user.password_changed_at = utcnow()
    user.is_verified = True  # the link reached the address: that proves it as a verification link would
    ended = await revoke_user_sessions(identity, db, user.id, reason="password_reset")
    audit(db, "password.reset", client=client, user_id=user.id, actor_id=user.id, sessions_ended=ended)
