"""Request and response shapes of the identity API: `XCreate` / `XUpdate` / `XRead` for resources,
commands named for their action (`PasswordChange`, `TokenRefresh`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from keel.core.examples import example

Email = Annotated[str, Meta(min_length=3, max_length=320)]
# the policy (8..256) is enforced with a clear message by the service; this only bounds the body
Password = Annotated[str, Meta(min_length=1, max_length=1024)]
Name = Annotated[str, Meta(max_length=100)]
Transport = Literal["bearer", "cookie"]
Token = Annotated[str, Meta(min_length=1, max_length=512)]


@example({"email": "ada@example.com", "password": "correct horse battery staple", "name": "Ada Lovelace"})
class AccountCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    email: Email
    password: Password
    name: Name = ""
    transport: Transport | None = None


@example({"email": "ada@example.com", "password": "correct horse battery staple"})
class SessionCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    email: Email
    password: Password
    transport: Transport | None = None


class TokenRefresh(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    refresh_token: Token | None = None  # omitted with the cookie transport
    transport: Transport | None = None


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    current_password: Password
    new_password: Password


class PasswordResetRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    email: Email


class PasswordResetConfirm(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    token: Token
    new_password: Password


class EmailLinkConfirm(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    token: Token


class UserRead(msgspec.Struct, kw_only=True):
    id: UUID
    email: str
    name: str
    is_active: bool
    is_verified: bool
    roles: list[str]
    created_at: datetime
    last_login_at: datetime | None = None


class TokenRead(msgspec.Struct, kw_only=True):
    """Bearer transport: both tokens in the body. Cookie transport: tokens only in cookies, plus the CSRF
    token the client echoes in `X-CSRF-Token`."""

    transport: Transport
    token_type: str = "Bearer"  # noqa: S105 - the scheme name
    expires_in: int
    session_id: UUID
    user: UserRead
    access_token: str | None = None
    refresh_token: str | None = None
    csrf_token: str | None = None


class RegistrationPending(msgspec.Struct, kw_only=True):
    """Registration with AUTH_REQUIRE_VERIFIED_EMAIL: the same for a new and a taken address, no tokens."""

    email: str
    verification: str = "sent"


class SessionRead(msgspec.Struct, kw_only=True):
    id: UUID
    browser: str
    os: str
    device_type: str
    ip: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    current: bool


class AccountDelete(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    password: Password  # deleting an account re-asks for the password: a stolen token alone is not enough


class ProfileUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET


class UserUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    is_active: bool | msgspec.UnsetType = msgspec.UNSET
    is_verified: bool | msgspec.UnsetType = msgspec.UNSET


class RolesUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    roles: Annotated[list[Annotated[str, Meta(min_length=1, max_length=50)]], Meta(max_length=20)]


class AuditEventRead(msgspec.Struct, kw_only=True):
    id: UUID
    event: str
    user_id: UUID | None
    actor_id: UUID | None
    email: str | None
    ip: str | None
    details: dict[str, Any]
    created_at: datetime


class Done(msgspec.Struct, kw_only=True):
    detail: str


Scope = Annotated[str, Meta(min_length=1, max_length=100)]


@example({"name": "transcription client", "scopes": ["*"], "expires_at": "2027-12-31T23:59:59Z"})
class ApiKeyCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, Meta(min_length=1, max_length=100)]
    # permission names the key may use (each one of mine), or ["*"]: whatever I hold at each request
    scopes: Annotated[list[Scope], Meta(min_length=1, max_length=100)]
    expires_at: datetime | None = None  # none: until revoked


class ApiKeyRead(msgspec.Struct, kw_only=True):
    id: UUID
    name: str
    prefix: str  # the secret's first characters, to tell keys apart
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class ApiKeySecretRead(ApiKeyRead, kw_only=True):
    """Only in the answer to the creation: the secret is not stored and never shown again."""

    secret: str
