"""Administration of accounts: search, change, deactivate, roles; the last-admin rule."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from keel.core.errors import Conflict, ValidationFailed
from keel.core.query import contains
from keel.identity import rbac
from keel.identity.models import Role, User, user_role
from keel.identity.services.audit import audit
from keel.identity.services.machinery import (
    ClientInfo,
    Identity,
)
from keel.identity.services.sessions import revoke_user_sessions


async def keep_an_admin(db: AsyncSession, user_id: uuid.UUID) -> None:
    """Refuse (409) a change that would leave no active admin: nobody could manage accounts or roles again.
    Call before removing the user's admin role, deactivating or deleting them."""

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


async def list_users(
    db: AsyncSession, *, q: str | None, role: str | None, is_active: bool | None, limit: int, offset: int
) -> tuple[list[User], int]:
    conditions: list[Any] = []
    if q:
        conditions.append(contains([User.email, User.name], q))  # `50%` finds "50%", not everything
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
