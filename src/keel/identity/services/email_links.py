"""Single-use mailed links (reset, verification): issue and consume; email verification."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.core.errors import ValidationFailed
from keel.identity.models import EmailToken, User
from keel.identity.services.audit import audit
from keel.identity.services.machinery import (
    VERIFY_TTL,
    ClientInfo,
    Identity,
    utcnow,
)
from keel.identity.tokens import (
    email_token_signature_ok,
    new_email_token,
    sha256_hex,
)


async def issue_email_token(identity: Identity, db: AsyncSession, user: User, purpose: str, ttl: int) -> str:
    token = new_email_token(identity.settings.jwt_secret, purpose)
    db.add(
        EmailToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=sha256_hex(token),
            expires_at=utcnow() + timedelta(seconds=ttl),
        )
    )
    await db.flush()
    return token


async def consume_email_token(identity: Identity, db: AsyncSession, token: str, purpose: str) -> User:
    invalid = ValidationFailed(
        "The link is invalid, expired or already used", details={"token": "invalid or expired"}
    )
    if not email_token_signature_ok(identity.settings.jwt_secret, purpose, token):
        raise invalid
    now = utcnow()
    consumed = (
        await db.execute(
            update(EmailToken)
            .where(
                EmailToken.token_hash == sha256_hex(token),
                EmailToken.purpose == purpose,
                EmailToken.used_at.is_(None),
                EmailToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(EmailToken.user_id)
        )
    ).first()
    if consumed is None:
        raise invalid
    user = await db.get(User, consumed[0])
    if user is None or not user.is_active:
        raise invalid
    return user


Mail = tuple[str, str, str]  # (to, subject, body): sent by the route after it answers


async def request_verification(
    identity: Identity, db: AsyncSession, *, user_id: uuid.UUID, client: ClientInfo
) -> Mail | None:
    """The verification mail to send, or None when the address is verified already."""
    await identity.throttle(identity.email_limit, "verify-user", str(user_id), "Too many requests; try later")
    user = await db.get(User, user_id)
    if user is None or user.is_verified:
        return None
    token = await issue_email_token(identity, db, user, "verify", VERIFY_TTL)
    link = f"{identity.settings.frontend_url.rstrip('/')}/verify-email?token={token}"
    return user.email, "Confirm your email address", f"Confirm your address for Keel: {link}\n"


async def confirm_verification(
    identity: Identity, db: AsyncSession, *, token: str, client: ClientInfo
) -> User:
    user = await consume_email_token(identity, db, token, "verify")
    user.is_verified = True
    audit(db, "email.verified", client=client, user_id=user.id, actor_id=user.id, email=user.email)
    return user
