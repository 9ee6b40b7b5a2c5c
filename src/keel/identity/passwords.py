"""Password policy and hashing: argon2id (pwdlib) off the event loop, bounded in concurrency.

Policy (ASVS V2.1): 8 to 256 characters, no composition rules, no truncation (argon2 hashes every
byte), common and breached passwords refused from the bundled list. Old bcrypt hashes still verify and
are re-hashed with argon2id at the next successful login.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from pathlib import Path

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from keel.settings import Settings

MIN_LENGTH = 8
MAX_LENGTH = 256
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "data" / "common-passwords.txt"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with COMMON_PASSWORDS_FILE.open(encoding="utf-8") as fh:
        return frozenset(line.strip().lower() for line in fh if line.strip())


def password_problem(password: str, *, email: str | None = None) -> str | None:
    """Why a new password is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters"
    if password.lower() in common_passwords():
        return "This password is too common; it appears in lists of breached passwords"
    if email and password.lower() == email.lower():
        return "The password must not be your email address"
    return None


class Passwords:
    """One per app: the pwdlib context and the semaphore bounding concurrent hashes."""

    def __init__(self, settings: Settings) -> None:
        self.argon2 = Argon2Hasher(
            time_cost=settings.password_hash_time_cost,
            memory_cost=settings.password_hash_memory_kib,
            parallelism=settings.password_hash_parallelism,
        )
        self.context = PasswordHash((self.argon2, BcryptHasher()))
        self.limit = max(1, settings.password_hash_concurrency)
        self._semaphore: asyncio.Semaphore | None = None
        self._dummy: str | None = None

    @property
    def semaphore(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.limit)
        return self._semaphore

    async def hash(self, password: str) -> str:
        async with self.semaphore:
            return await asyncio.to_thread(self.context.hash, password)

    async def verify_and_update(self, password: str, hashed: str) -> tuple[bool, str | None]:
        """(valid, new hash when the stored one should be upgraded)."""
        async with self.semaphore:
            try:
                return await asyncio.to_thread(self.context.verify_and_update, password, hashed)
            except Exception:  # an unknown or corrupt hash never matches
                return False, None

    async def dummy_verify(self, password: str) -> None:
        """Spend the time of a real verification, so unknown accounts answer as slowly as known ones."""
        if self._dummy is None:
            self._dummy = await self.hash("keel-dummy-password-for-timing")
        await self.verify_and_update(password, self._dummy)
