"""Built-in roles and every registered permission, written idempotently."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.identity import rbac
from keel.identity.models import Permission, Role, role_permission
from keel.settings import Settings


async def seed(session: AsyncSession, settings: Settings) -> None:
    existing = {p.name: p for p in (await session.scalars(select(Permission))).all()}
    for name, description in rbac.PERMISSIONS.items():
        if name not in existing:
            existing[name] = Permission(name=name, description=description)
            session.add(existing[name])
        elif existing[name].description != description:
            existing[name].description = description
    roles = {r.name: r for r in (await session.scalars(select(Role))).all()}
    for name, description in rbac.ROLE_DESCRIPTIONS.items():
        if name not in roles:
            roles[name] = Role(name=name, description=description, builtin=name in rbac.BUILTIN_ROLES)
            session.add(roles[name])
    await session.flush()
    granted = {
        (r, p)
        for r, p in (
            await session.execute(select(role_permission.c.role_id, role_permission.c.permission_id))
        )
    }
    wanted = {
        (roles[role].id, existing[perm].id)
        for role, perms in rbac.ROLE_GRANTS.items()
        if role in roles
        for perm in perms
    }
    missing = wanted - granted
    if missing:
        await session.execute(
            insert(role_permission), [{"role_id": r, "permission_id": p} for r, p in missing]
        )
    # built-in roles mirror the registry exactly; app-defined roles keep grants an operator added
    for role_id, perm_id in granted - wanted:
        role = next((r for r in roles.values() if r.id == role_id), None)
        if role is not None and role.name in rbac.BUILTIN_ROLES:
            await session.execute(
                delete(role_permission).where(
                    role_permission.c.role_id == role_id, role_permission.c.permission_id == perm_id
                )
            )
