"""The per-app identity machinery (`app.state.identity`: keys, hashing, mail, throttles, revocation
markers) and what every identity service shares: client info, issued tokens, input checks."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog
from limits import RateLimitItem, RateLimitItemPerSecond, parse
from limits.aio.strategies import MovingWindowRateLimiter

from keel.core.errors import KeelError, TooManyRequests, ValidationFailed
from keel.core.ratelimit import limit_storage
from keel.identity.mail import Mailer
from keel.identity.models import User
from keel.identity.passwords import Passwords, password_problem
from keel.identity.tokens import (
    TokenKeys,
)
from keel.settings import SettingsError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.core.stores import Stores
    from keel.settings import Settings

log = structlog.get_logger("keel.identity")


INVALID_CREDENTIALS = "Invalid email or password"
UNVERIFIED_HINT = "; or, if you just registered, open the link we mailed you"
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


def invalid_credentials(settings: Settings) -> str:
    """What a failed login says: with `require_verified_email` the same for an unverified address."""
    return INVALID_CREDENTIALS + (UNVERIFIED_HINT if settings.require_verified_email else "")


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware_utc(value: datetime) -> datetime:
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


AccountDeletionHook = Callable[["AsyncSession", uuid.UUID], Awaitable[None]]


class Identity:
    """Per-app identity machinery: `app.state.identity`."""

    def __init__(self, settings: Settings, stores: Stores) -> None:
        self.settings = settings
        self.keys = TokenKeys(settings)
        self.passwords = Passwords(settings)
        self.mailer = Mailer(settings)
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
        # apps' clean-up for a deleted account (`keel.identity.on_account_deletion`), in order
        self.account_deletion_hooks: list[AccountDeletionHook] = []

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
        return int(seconds)

    async def clear_login_failures(self, email_key: str) -> None:
        await self.limit_storage.clear(self.login_failures.key_for("login-fail", email_key))
        await self.kv.delete(f"lock-level:{email_key}")


# --- helpers ---


def normalize_email(raw: str) -> str:
    """Validated, normalized, lower case; ValidationFailed otherwise."""
    # email-validator (and its ~100 regexes) loads with the first address, not at every start-up
    from email_validator import EmailNotValidError, validate_email

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


async def send_mail_later(identity: Identity, to: str, subject: str, body: str) -> None:
    await asyncio.shield(identity.mailer.send(to, subject, body))
