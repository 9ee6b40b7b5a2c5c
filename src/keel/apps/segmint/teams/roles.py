"""Workspace roles and what each may do. The grants live in the `segmint_workspace_role` table (so an
operator can change them there); these defaults fill it when a role is missing, at start-up and in the
migration. Checked per request against a per-process copy refreshed every minute."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy import select

from keel.apps.segmint.models import WorkspaceRole

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

OWNER, ADMIN, EDITOR, APPROVER, VIEWER = "owner", "admin", "editor", "approver", "viewer"

# permissions
MANAGE_WORKSPACE = "workspace.manage"  # rename or delete the workspace
MANAGE_MEMBERS = "members.manage"  # invite, revoke invitations, change roles, remove members
READ = "content.read"  # everything in the workspace, read-only
WRITE = "content.write"  # create, edit, delete, submit, reopen, generate, rewrite content
APPROVE = "content.approve"  # decide on content submitted to a workflow naming you
SCHEDULE = "content.schedule"  # schedule approved content, cancel schedules
MANAGE_WORKFLOWS = "workflows.manage"
MANAGE_INTEGRATIONS = "integrations.manage"
WRITE_IDEAS = "ideas.write"  # ask for ideas, accept or dismiss them

PERMISSIONS = (
    MANAGE_WORKSPACE,
    MANAGE_MEMBERS,
    READ,
    WRITE,
    APPROVE,
    SCHEDULE,
    MANAGE_WORKFLOWS,
    MANAGE_INTEGRATIONS,
    WRITE_IDEAS,
)
# name -> (rank: lower is more powerful, permissions)
DEFAULT_ROLES: dict[str, tuple[int, tuple[str, ...]]] = {
    OWNER: (0, PERMISSIONS),
    ADMIN: (1, tuple(p for p in PERMISSIONS if p != MANAGE_WORKSPACE)),
    EDITOR: (2, (READ, WRITE, SCHEDULE, WRITE_IDEAS)),
    APPROVER: (3, (READ, APPROVE)),
    VIEWER: (4, (READ,)),
}
ROLE_NAMES = tuple(DEFAULT_ROLES)
REFRESH_SECONDS = 60.0

_cache: dict[str, frozenset[str]] = {}
_loaded_at = 0.0


async def ensure_roles(db: AsyncSession) -> None:
    """Add the default roles that are missing (existing rows, possibly edited, are kept)."""
    present = set(await db.scalars(select(WorkspaceRole.name)))
    for name, (rank, permissions) in DEFAULT_ROLES.items():
        if name not in present:
            db.add(WorkspaceRole(name=name, rank=rank, permissions=list(permissions)))
    await db.flush()
    await load(db)


async def load(db: AsyncSession) -> dict[str, frozenset[str]]:
    global _cache, _loaded_at
    rows = (await db.execute(select(WorkspaceRole.name, WorkspaceRole.permissions))).all()
    loaded = {name: frozenset(permissions or ()) for name, permissions in rows}
    _cache = loaded or {name: frozenset(p) for name, (_, p) in DEFAULT_ROLES.items()}
    _loaded_at = time.monotonic()
    return _cache


async def grants(db: AsyncSession) -> dict[str, frozenset[str]]:
    """Role name -> permissions, from the database at most a minute old."""
    if not _cache or time.monotonic() - _loaded_at > REFRESH_SECONDS:
        return await load(db)
    return _cache


async def roles_granting(db: AsyncSession, permission: str) -> list[str]:
    return sorted(name for name, permissions in (await grants(db)).items() if permission in permissions)


def rank(role: str) -> int:
    return DEFAULT_ROLES.get(role, (len(DEFAULT_ROLES), ()))[0]
