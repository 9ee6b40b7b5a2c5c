"""Accounts: create and register, look up, re-authenticate, delete; `ensure_user` for seeds and the CLI."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from keel.core.errors import Conflict, NotFound, ValidationFailed
from keel.identity import rbac
from keel.identity.models import Role, User
from keel.identity.services.admin import keep_an_admin
from keel.identity.services.audit import audit
from keel.identity.services.email_links import Mail, request_verification
from keel.identity.services.machinery import (
    ClientInfo,
    DurableFailure,
    Identity,
    IssuedTokens,
    check_password,
    normalize_email,
    utcnow,
)
from keel.identity.services.sessions import start_session
from keel.identity.tokens import new_refresh_token

if TYPE_CHECKING:
    from litestar import Litestar

    from keel.identity.services.machinery import AccountDeletionHook
    from keel.settings import Settings

UNUSABLE_PASSWORD = "!no-login"  # noqa: S105 - not a hash any verifier accepts: the account cannot log in


@dataclass(frozen=True)
class UserSummary:
    """Who someone is, as apps show it: never the password hash, roles or tokens."""

    id: uuid.UUID
    name: str
    email: str
    is_active: bool = True


async def get_user(db: AsyncSession, user_id: uuid.UUID) -> User:
    user = await db.scalar(select(User).options(selectinload(User.roles)).where(User.id == user_id))
    if user is None:
        raise NotFound("User not found")
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


async def role_by_name(db: AsyncSession, settings: Settings, name: str) -> Role:
    role = await db.scalar(select(Role).where(Role.name == name))
    if role is None:
        await ensure_builtin_roles(db, settings)
        role = await db.scalar(select(Role).where(Role.name == name))
    if role is None:
        raise ValidationFailed(details={"roles": f"unknown role {name!r}"})
    return role


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
    user.roles = [await role_by_name(db, identity.settings, r) for r in roles]
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
) -> tuple[IssuedTokens | None, Mail | None]:
    """(tokens, the mail to send). An address that already has an account answers alike (same status
    and shape, about the same time: the password is hashed all the same) and its owner gets a mail
    instead, so registration does not tell who has an account. With `require_verified_email` nobody is
    signed in (tokens None, for a new and a taken address alike) until the mailed link proves the address."""
    await identity.throttle(
        identity.register_limit, "register", client.ip, "Too many registrations; try later"
    )
    normalized = normalize_email(email)
    check_password(password, normalized)
    existing = await db.scalar(select(User).where(User.email == normalized))
    if existing is not None:
        return await _register_taken(identity, db, existing, password=password, name=name, client=client)
    # (two registrations of one new address racing each other: the loser still gets create_user's 409)
    user = await create_user(identity, db, email=normalized, password=password, name=name)
    audit(db, "user.registered", client=client, user_id=user.id, actor_id=user.id, email=user.email)
    issued = None
    if not identity.settings.require_verified_email:
        issued = await start_session(identity, db, user, client)
    return issued, await request_verification(identity, db, user_id=user.id, client=client)


async def _register_taken(
    identity: Identity, db: AsyncSession, owner: User, *, password: str, name: str, client: ClientInfo
) -> tuple[IssuedTokens | None, Mail | None]:
    await identity.passwords.hash(password)  # the time a new account's hash takes
    audit(db, "user.register_existing", client=client, user_id=owner.id, email=owner.email)
    base = identity.settings.frontend_url.rstrip("/")
    mail = (
        owner.email,
        "Someone tried to register with your address",
        "Someone (maybe you) tried to create a Keel account with this address, which already has one.\n"
        f"If it was you, log in; if you forgot your password, reset it: {base}/reset-password\n"
        "If it was not you, you need not do anything: your account is unchanged.\n",
    )
    if identity.settings.require_verified_email:
        return None, mail
    return _phantom_tokens(identity, owner.email, name), mail


def _phantom_tokens(identity: Identity, email: str, name: str) -> IssuedTokens:
    """The shape of a new account's answer; these ids exist nowhere, so the tokens open nothing."""
    from advanced_alchemy.mixins.uuid import uuid7  # type: ignore[attr-defined]

    now = utcnow()
    phantom = User(
        id=uuid7(),
        email=email,
        name=name.strip(),
        password_hash=UNUSABLE_PASSWORD,
        is_active=True,
        is_verified=False,
        created_at=now,
        updated_at=now,
    )
    session_id = uuid7()
    access, _ = identity.keys.issue_access(user_id=phantom.id, session_id=session_id, roles=[rbac.USER])
    return IssuedTokens(
        access_token=access,
        expires_in=identity.settings.jwt_expires_in,
        refresh_token=new_refresh_token(),
        session_id=session_id,
        user=phantom,
        roles=[rbac.USER],
    )


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
    for hook in identity.account_deletion_hooks:  # apps collect what the cascade leaves outside the db
        await hook(db, user.id)
    audit(db, "user.deleted", client=client, user_id=user.id, actor_id=actor_id, email=user.email)
    await db.execute(delete(User).where(User.id == user.id))  # sessions, tokens, role links cascade
    db.expunge(user)


def on_account_deletion(app: Litestar, hook: AccountDeletionHook) -> None:
    """Run `await hook(db, user_id)` whenever an account is deleted, in the deleting transaction, before
    the account's row goes (the database then cascades the app's rows): an app collects what lives
    outside the database (files in storage) and removes it after the commit. A hook that raises fails
    the deletion; registering the same hook twice runs it once."""
    hooks = app.state.identity.account_deletion_hooks
    if hook not in hooks:
        hooks.append(hook)


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
                admin = await role_by_name(db, settings, rbac.ADMIN)
                if admin not in user.roles:
                    user.roles = [*user.roles, admin]
                user.is_active = True
                user.is_verified = True  # the operator vouches for the address they typed
            audit(db, "role.changed", user_id=user.id, email=user.email, after=[rbac.ADMIN], via="cli")
    finally:
        await stores.close()
        await engine.dispose()


async def ensure_user(
    db: AsyncSession,
    *,
    email: str,
    name: str = "",
    roles: tuple[str, ...] = (rbac.USER,),
    settings: Settings | None = None,
) -> uuid.UUID:
    """The id of the account with this address, created without a usable password when missing (seeds,
    demo data). It holds `roles` afterwards, like any registered account; existing roles are kept."""
    normalized = normalize_email(email)
    user = await db.scalar(select(User).options(selectinload(User.roles)).where(User.email == normalized))
    if user is None:
        user = User(
            email=normalized,
            name=name.strip(),
            password_hash=UNUSABLE_PASSWORD,
            is_active=True,
            is_verified=True,
        )
        user.roles = []
        db.add(user)
    if settings is None:
        from keel.settings import get_settings

        settings = get_settings()
    have = {r.name for r in user.roles}
    missing = [r for r in roles if r not in have]
    if missing:
        user.roles = [*user.roles, *[await role_by_name(db, settings, r) for r in missing]]
    await db.flush()
    return user.id


async def user_names(db: AsyncSession, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Display names by account id (ids without an account are absent): one query for a whole page."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    rows = await db.execute(select(User.id, User.name).where(User.id.in_(wanted)))
    return {row[0]: row[1] for row in rows}


async def user_summaries(
    db: AsyncSession, user_ids: Iterable[uuid.UUID], *, active_only: bool = False
) -> dict[uuid.UUID, UserSummary]:
    """Id, name and address by account id, for screens that show who someone is (one query);
    `active_only` leaves deactivated accounts out (whom to notify)."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    statement = select(User.id, User.name, User.email, User.is_active).where(User.id.in_(wanted))
    if active_only:
        statement = statement.where(User.is_active.is_(True))
    rows = await db.execute(statement)
    return {row[0]: UserSummary(id=row[0], name=row[1], email=row[2], is_active=row[3]) for row in rows}


def _stored_form(email: str) -> str:
    """The address as accounts store it; one that does not validate cannot match any account."""
    try:
        return normalize_email(email)
    except ValidationFailed:
        return email.strip().lower()


async def find_user_id(db: AsyncSession, email: str) -> uuid.UUID | None:
    """The id of the account with this address (compared normalized, lower case), or None."""
    return await db.scalar(select(User.id).where(User.email == _stored_form(email)))


async def find_user(db: AsyncSession, email: str, *, active_only: bool = False) -> UserSummary | None:
    """The account with this address (compared normalized), or None; `active_only` treats a
    deactivated account as absent (adding someone to a shop or a workflow)."""
    found = await find_users(db, [email], active_only=active_only)
    return next(iter(found.values()), None)


async def find_users(
    db: AsyncSession, emails: Iterable[str], *, active_only: bool = False
) -> dict[str, UserSummary]:
    """The accounts with these addresses (one query), keyed by each address as given, stripped and
    lower-cased; an address without an account is absent."""
    stored = {email.strip().lower(): _stored_form(email) for email in emails}
    if not stored:
        return {}
    statement = select(User.id, User.name, User.email, User.is_active).where(
        User.email.in_(set(stored.values()))
    )
    if active_only:
        statement = statement.where(User.is_active.is_(True))
    by_email = {
        row[2]: UserSummary(id=row[0], name=row[1], email=row[2], is_active=row[3])
        for row in await db.execute(statement)
    }
    return {given: by_email[form] for given, form in stored.items() if form in by_email}
