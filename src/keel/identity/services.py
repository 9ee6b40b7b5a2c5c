"""Identity logic: accounts, login sessions, token rotation, revocation, throttling, audit.

Routes stay thin and call these. Nothing here commits, except through `DurableFailure`: a failure
whose side effects (an audit row, a revoked family) must survive the rollback of the failed request;
the route commits them and then answers with the error.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from email_validator import EmailNotValidError, validate_email
from limits import RateLimitItem, RateLimitItemPerSecond, parse
from limits.aio.strategies import MovingWindowRateLimiter
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from keel.core.errors import Conflict, KeelError, NotFound, TooManyRequests, Unauthorized, ValidationFailed
from keel.core.ratelimit import limit_storage
from keel.identity import rbac
from keel.identity.mail import Mailer
from keel.identity.models import AuditEvent, EmailToken, LoginSession, RefreshToken, Role, User
from keel.identity.passwords import Passwords, password_problem
from keel.identity.tokens import (
    TokenKeys,
    email_token_signature_ok,
    new_email_token,
    new_refresh_token,
    seal_for,
    sha256_hex,
    unseal_for,
)
from keel.settings import SettingsError

if TYPE_CHECKING:
    from keel.core.stores import Stores
    from keel.settings import Settings

log = structlog.get_logger("keel.identity")
INVALID_CREDENTIALS = "Invalid email or password"
RESET_TTL = 3600
VERIFY_TTL = 2 * 24 * 3600
LAST_SEEN_EVERY = 60  # seconds between last-seen updates of a session


class DurableFailure(Exception):
    """Raise `error` after committing what the service wrote (audit rows, revocations)."""

    def __init__(self, error: KeelError) -> None:
        self.error = error
        super().__init__(error.message)


def _limit(settings: Settings, name: str) -> RateLimitItem:
    value = getattr(settings, name)
    try:
        return parse(value)
    except ValueError as exc:
        raise SettingsError(f"{name.upper()}={value!r} is not a rate limit such as '30/minute'") from exc


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ClientInfo:
    ip: str
    user_agent: str


@dataclass
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str
    session_id: uuid.UUID
    user: User
    roles: list[str]


class Identity:
    """Per-app identity machinery: `app.state.identity`."""

    def __init__(self, settings: Settings, stores: Stores) -> None:
        self.settings = settings
        self.keys = TokenKeys(settings)
        self.passwords = Passwords(settings)
        self.mailer = Mailer(settings)
        self.revoked = stores.get("revoked")
        self.kv = stores.get("identity")
        # Redis when set, counting locally while it is unreachable (core.ratelimit.FallbackLimitStorage)
        self.limit_storage = limit_storage(settings, "keel:identity-limits", "identity-limits")
        self.window = MovingWindowRateLimiter(self.limit_storage)
        # throttles (moving windows), from settings; tests may replace them on the instance
        self.login_ip_limit: RateLimitItem = _limit(settings, "login_ip_limit")
        self.login_failures: RateLimitItem = RateLimitItemPerSecond(max(1, settings.login_max_failures), 900)
        self.register_limit: RateLimitItem = _limit(settings, "register_limit")
        self.email_limit: RateLimitItem = _limit(settings, "email_limit")
        self.email_ip_limit: RateLimitItem = _limit(settings, "email_ip_limit")

    # --- throttling ---

    async def throttle(self, item: RateLimitItem, bucket: str, key: str, message: str) -> None:
        try:
            allowed = await self.window.hit(item, bucket, key)
            if allowed:
                return
            reset, _ = await self.window.get_window_stats(item, bucket, key)
        except Exception as exc:  # a limiter outage must not lock everybody out
            log.warning("identity_throttle_unavailable", error=f"{type(exc).__name__}: {exc}"[:200])
            return
        raise TooManyRequests(message, retry_after=max(1, math.ceil(reset - time.time())))

    async def lockout_remaining(self, email_key: str) -> int:
        until = await self.kv.get(f"lock:{email_key}")
        if until is None:
            return 0
        return max(0, math.ceil(float(until) - time.time()))

    async def record_login_failure(self, email_key: str) -> int:
        """Count one failure; return the lockout (seconds) it starts, or 0."""
        await self.window.hit(self.login_failures, "login-fail", email_key)
        if await self.window.test(self.login_failures, "login-fail", email_key):
            return 0
        level = int(await self.kv.get(f"lock-level:{email_key}") or 0) + 1
        await self.kv.set(f"lock-level:{email_key}", str(level), expires_in=24 * 3600)
        seconds = min(24 * 3600, self.settings.login_lockout_base * 2 ** (level - 1))
        await self.kv.set(f"lock:{email_key}", str(time.time() + seconds), expires_in=seconds)
        await self.limit_storage.clear(self.login_failures.key_for("login-fail", email_key))
        return seconds

    async def clear_login_failures(self, email_key: str) -> None:
        await self.limit_storage.clear(self.login_failures.key_for("login-fail", email_key))
        await self.kv.delete(f"lock-level:{email_key}")

    # --- revocation markers, shared by every instance through the store ---

    async def mark_revoked(self, session_ids: list[uuid.UUID]) -> None:
        ttl = self.settings.jwt_expires_in + 60
        for sid in session_ids:
            await self.revoked.set(str(sid), "1", expires_in=ttl)

    async def is_revoked(self, session_id: str) -> bool:
        return await self.revoked.exists(session_id)


# --- helpers ---


def normalize_email(raw: str) -> str:
    """Validated, normalized, lower case; ValidationFailed otherwise."""
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(details={"email": str(exc)}) from exc
    return result.normalized.lower()


def email_key(raw: str) -> str:
    """The throttling key of a typed email (valid or not): nothing personal stored in the limiter."""
    return hashlib.sha256(raw.strip().lower().encode()).hexdigest()[:32]


def check_password(password: str, email: str | None = None, field: str = "password") -> None:
    problem = password_problem(password, email=email)
    if problem:
        raise ValidationFailed(details={field: problem})


def audit(
    db: AsyncSession,
    event: str,
    *,
    client: ClientInfo | None = None,
    user_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    email: str | None = None,
    **details: Any,
) -> None:
    db.add(
        AuditEvent(
            event=event,
            user_id=user_id,
            actor_id=actor_id,
            email=email,
            ip=client.ip if client else None,
            user_agent=(client.user_agent[:512] if client else None),
            details={k: v for k, v in details.items() if v is not None},
        )
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
    from keel.identity.models import user_role

    rows = await db.scalars(
        select(Role.name)
        .join(user_role, user_role.c.role_id == Role.id)
        .where(user_role.c.user_id == user_id)
    )
    return sorted(rows.all())


async def get_user(db: AsyncSession, user_id: uuid.UUID) -> User:
    user = await db.scalar(select(User).options(selectinload(User.roles)).where(User.id == user_id))
    if user is None:
        raise NotFound("No such user")
    return user


async def lock_user(db: AsyncSession, user_id: uuid.UUID) -> None:
    """Serialise this user's concurrent writers until the transaction ends (check-then-insert quotas).

    A no-op UPDATE of the user's row: PostgreSQL holds the row lock until commit, so a second request
    for the same user waits and then sees the first one's rows; SQLite takes its single write lock here,
    before the check's reads, instead of at the first INSERT after them.
    """
    await db.execute(update(User).where(User.id == user_id).values(id=User.id, updated_at=User.updated_at))


async def ensure_builtin_roles(db: AsyncSession, settings: Settings) -> None:
    if await db.scalar(select(func.count()).select_from(Role).where(Role.name == rbac.USER)):
        return
    from keel.identity.seed import seed

    await seed(db, settings)


async def _role(db: AsyncSession, settings: Settings, name: str) -> Role:
    role = await db.scalar(select(Role).where(Role.name == name))
    if role is None:
        await ensure_builtin_roles(db, settings)
        role = await db.scalar(select(Role).where(Role.name == name))
    if role is None:
        raise ValidationFailed(details={"roles": f"unknown role {name!r}"})
    return role


# --- accounts ---


async def create_user(
    identity: Identity,
    db: AsyncSession,
    *,
    email: str,
    password: str,
    name: str = "",
    roles: tuple[str, ...] = (rbac.USER,),
    verified: bool = False,
) -> User:
    email = normalize_email(email)
    check_password(password, email)
    if await db.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("An account with this email already exists", details={"email": "already registered"})
    user = User(
        email=email,
        name=name.strip(),
        password_hash=await identity.passwords.hash(password),
        is_active=True,
        is_verified=verified,
        password_changed_at=utcnow(),
    )
    user.roles = [await _role(db, identity.settings, r) for r in roles]
    db.add(user)
    try:
        await db.flush()
    except IntegrityError as exc:  # a concurrent registration of the same address
        raise Conflict(
            "An account with this email already exists", details={"email": "already registered"}
        ) from exc
    return user


async def register(
    identity: Identity, db: AsyncSession, *, email: str, password: str, name: str, client: ClientInfo
) -> IssuedTokens:
    await identity.throttle(
        identity.register_limit, "register", client.ip, "Too many registrations; try later"
    )
    user = await create_user(identity, db, email=email, password=password, name=name)
    audit(db, "user.registered", client=client, user_id=user.id, actor_id=user.id, email=user.email)
    return await start_session(identity, db, user, client)


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
    if not valid or user is None or not user.is_active:
        lock = await identity.record_login_failure(key)
        reason = "unknown_email" if user is None else ("inactive" if valid else "wrong_password")
        audit(
            db,
            "login.failure",
            client=client,
            user_id=user.id if user else None,
            email=typed[:320],
            reason=reason,
            lockout_seconds=lock or None,
        )
        raise DurableFailure(Unauthorized(INVALID_CREDENTIALS))
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
    expires = min(now + timedelta(seconds=identity.settings.refresh_idle_ttl), _aware(session.expires_at))
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
    if session is None or session.revoked_at is not None or _aware(session.expires_at) <= now:
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
    age = (now - _aware(row.used_at)).total_seconds()
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
        await identity.mark_revoked(ids)
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


async def list_sessions(
    db: AsyncSession, user_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[LoginSession], int]:
    live = (
        LoginSession.user_id == user_id,
        LoginSession.revoked_at.is_(None),
        LoginSession.expires_at > utcnow(),
    )
    total = await db.scalar(select(func.count()).select_from(LoginSession).where(*live)) or 0
    rows = await db.scalars(
        select(LoginSession)
        .where(*live)
        .order_by(LoginSession.last_seen_at.desc(), LoginSession.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all()), total


async def revoke_own_session(
    identity: Identity, db: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID, client: ClientInfo
) -> None:
    session = await db.get(LoginSession, session_id)
    if session is None or session.user_id != user_id or session.revoked_at is not None:
        raise NotFound("No such session")
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


# --- passwords ---


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


async def _email_token(identity: Identity, db: AsyncSession, user: User, purpose: str, ttl: int) -> str:
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


async def _consume_email_token(identity: Identity, db: AsyncSession, token: str, purpose: str) -> User:
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


async def request_password_reset(
    identity: Identity, db: AsyncSession, *, email: str, client: ClientInfo
) -> tuple[str, str] | None:
    """(address, link) to mail, or None; the caller answers the same either way."""
    await identity.throttle(identity.email_ip_limit, "reset-ip", client.ip, "Too many requests; try later")
    await identity.throttle(
        identity.email_limit, "reset-email", email_key(email), "Too many requests; try later"
    )
    user = await db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.is_active:
        return None
    token = await _email_token(identity, db, user, "reset", RESET_TTL)
    audit(db, "password.reset_requested", client=client, user_id=user.id, email=user.email)
    return user.email, f"{identity.settings.frontend_url.rstrip('/')}/reset-password?token={token}"


async def confirm_password_reset(
    identity: Identity, db: AsyncSession, *, token: str, new_password: str, client: ClientInfo
) -> None:
    # the policy is checked first: a refused password must not burn the link
    check_password(new_password, field="new_password")
    user = await _consume_email_token(identity, db, token, "reset")
    check_password(new_password, user.email, field="new_password")
    user.password_hash = await identity.passwords.hash(new_password)
    user.password_changed_at = utcnow()
    ended = await revoke_user_sessions(identity, db, user.id, reason="password_reset")
    audit(db, "password.reset", client=client, user_id=user.id, actor_id=user.id, sessions_ended=ended)


async def request_verification(
    identity: Identity, db: AsyncSession, *, user_id: uuid.UUID, client: ClientInfo
) -> tuple[str, str] | None:
    await identity.throttle(identity.email_limit, "verify-user", str(user_id), "Too many requests; try later")
    user = await db.get(User, user_id)
    if user is None or user.is_verified:
        return None
    token = await _email_token(identity, db, user, "verify", VERIFY_TTL)
    return user.email, f"{identity.settings.frontend_url.rstrip('/')}/verify-email?token={token}"


async def confirm_verification(
    identity: Identity, db: AsyncSession, *, token: str, client: ClientInfo
) -> User:
    user = await _consume_email_token(identity, db, token, "verify")
    user.is_verified = True
    audit(db, "email.verified", client=client, user_id=user.id, actor_id=user.id, email=user.email)
    return user


# --- users (self and admin) ---


async def keep_an_admin(db: AsyncSession, user_id: uuid.UUID) -> None:
    """Refuse (409) a change that would leave no active admin: nobody could manage accounts or roles again.
    Call before removing the user's admin role, deactivating or deleting them."""
    from keel.identity.models import user_role

    def admins(*conditions: Any) -> Any:
        return (
            select(func.count())
            .select_from(User)
            .join(user_role, user_role.c.user_id == User.id)
            .join(Role, Role.id == user_role.c.role_id)
            .where(Role.name == rbac.ADMIN, *conditions)
        )

    if not await db.scalar(admins(User.id == user_id)):
        return  # not an admin: nothing to keep
    if not await db.scalar(admins(User.is_active.is_(True), User.id != user_id)):
        raise Conflict("This is the last active admin; make another account admin first")


async def verify_password(
    identity: Identity,
    db: AsyncSession,
    user: User,
    password: str,
    *,
    client: ClientInfo,
    field: str,
    event: str = "reauth.failed",
) -> None:
    """Re-authentication for a sensitive change; a wrong password is audited even though the request fails."""
    valid, _ = await identity.passwords.verify_and_update(password, user.password_hash)
    if not valid:
        audit(db, event, client=client, user_id=user.id, actor_id=user.id)
        raise DurableFailure(ValidationFailed("The password is wrong", details={field: "does not match"}))


async def delete_user(
    identity: Identity, db: AsyncSession, user: User, *, actor_id: uuid.UUID, client: ClientInfo
) -> None:
    await keep_an_admin(db, user.id)
    ids = list(
        (
            await db.scalars(
                select(LoginSession.id).where(
                    LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None)
                )
            )
        ).all()
    )
    await identity.mark_revoked(ids)
    audit(db, "user.deleted", client=client, user_id=user.id, actor_id=actor_id, email=user.email)
    await db.execute(delete(User).where(User.id == user.id))  # sessions, tokens, role links cascade
    db.expunge(user)


async def list_users(
    db: AsyncSession, *, q: str | None, role: str | None, is_active: bool | None, limit: int, offset: int
) -> tuple[list[User], int]:
    from keel.identity.models import user_role

    conditions: list[Any] = []
    if q:
        like = f"%{q.strip().lower().replace('%', '').replace('_', '')}%"
        conditions.append(or_(User.email.like(like), func.lower(User.name).like(like)))
    if is_active is not None:
        conditions.append(User.is_active.is_(is_active))
    if role:
        conditions.append(
            User.id.in_(
                select(user_role.c.user_id)
                .join(Role, Role.id == user_role.c.role_id)
                .where(Role.name == role)
            )
        )
    total = await db.scalar(select(func.count()).select_from(User).where(*conditions)) or 0
    rows = await db.scalars(
        select(User)
        .options(selectinload(User.roles))
        .where(*conditions)
        .order_by(User.created_at.desc(), User.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all()), total


async def admin_update_user(
    identity: Identity,
    db: AsyncSession,
    user: User,
    *,
    changes: dict[str, Any],
    actor_id: uuid.UUID,
    client: ClientInfo,
) -> User:
    if "is_active" in changes and user.id == actor_id and not changes["is_active"]:
        raise Conflict("You cannot deactivate your own account here")
    if changes.get("is_active") is False and user.is_active:
        await keep_an_admin(db, user.id)
    for key, value in changes.items():
        setattr(user, key, value.strip() if isinstance(value, str) else value)
    if changes.get("is_active") is False:
        ended = await revoke_user_sessions(identity, db, user.id, reason="deactivated")
        audit(db, "user.deactivated", client=client, user_id=user.id, actor_id=actor_id, sessions_ended=ended)
    elif changes.get("is_active") is True:
        audit(db, "user.activated", client=client, user_id=user.id, actor_id=actor_id)
    await db.flush()
    return user


async def set_roles(
    identity: Identity,
    db: AsyncSession,
    user: User,
    roles: list[str],
    *,
    actor_id: uuid.UUID,
    client: ClientInfo,
) -> User:
    wanted = sorted(set(roles))
    found = {r.name: r for r in (await db.scalars(select(Role).where(Role.name.in_(wanted)))).all()}
    unknown = [r for r in wanted if r not in found]
    if unknown:
        raise ValidationFailed(details={"roles": f"unknown roles: {', '.join(unknown)}"})
    if user.id == actor_id and rbac.ADMIN not in found:
        raise Conflict("You cannot remove your own admin role")
    if rbac.ADMIN not in found and user.is_active:
        await keep_an_admin(db, user.id)
    before = sorted(r.name for r in user.roles)
    user.roles = [found[name] for name in wanted]
    await db.flush()
    audit(db, "role.changed", client=client, user_id=user.id, actor_id=actor_id, before=before, after=wanted)
    return user


async def list_audit(
    db: AsyncSession,
    *,
    event: str | None,
    user_id: uuid.UUID | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[AuditEvent], int]:
    conditions: list[Any] = []
    if event:
        conditions.append(
            AuditEvent.event.like(event.replace("*", "%")) if "*" in event else AuditEvent.event == event
        )
    if user_id:
        conditions.append(or_(AuditEvent.user_id == user_id, AuditEvent.actor_id == user_id))
    if since:
        conditions.append(AuditEvent.created_at >= since)
    if until:
        conditions.append(AuditEvent.created_at < until)
    total = await db.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0
    rows = await db.scalars(
        select(AuditEvent)
        .where(*conditions)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all()), total


# --- the CLI ---


async def create_admin(settings: Settings, *, email: str, name: str, password: str) -> None:
    """`keel createadmin`: create an administrator, or grant the admin role to an existing account."""
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from keel.core.stores import Stores

    engine = create_async_engine(settings.database_url)
    stores = Stores(settings)
    try:
        identity = Identity(settings, stores)
        async with async_sessionmaker(engine, expire_on_commit=False)() as db, db.begin():
            await ensure_builtin_roles(db, settings)
            normalized = normalize_email(email)
            user = await db.scalar(
                select(User).options(selectinload(User.roles)).where(User.email == normalized)
            )
            if user is None:
                user = await create_user(
                    identity,
                    db,
                    email=normalized,
                    password=password,
                    name=name,
                    roles=(rbac.ADMIN, rbac.USER),
                    verified=True,
                )
            else:
                admin = await _role(db, settings, rbac.ADMIN)
                if admin not in user.roles:
                    user.roles = [*user.roles, admin]
                user.is_active = True
            audit(db, "role.changed", user_id=user.id, email=user.email, after=[rbac.ADMIN], via="cli")
    finally:
        await stores.close()
        await engine.dispose()


async def send_mail_later(identity: Identity, to: str, subject: str, body: str) -> None:
    await asyncio.shield(identity.mailer.send(to, subject, body))
