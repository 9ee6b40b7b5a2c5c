"""Which workspace a request acts in, and the caller's role there (their "seat").

The client picks the workspace with the `X-Workspace` header (a workspace id); without it the request acts
in the caller's personal workspace, whose id is the caller's user id and which is created on first use.
A workspace the caller is not a member of answers 404, like any other row they cannot see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Protocol
from uuid import UUID

from litestar import Request
from litestar.params import HeaderParameter
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.segmint.models import Workspace, WorkspaceMember
from keel.apps.segmint.teams import roles
from keel.core.errors import Forbidden, NotFound
from keel.identity import Principal

HEADER = "X-Workspace"
# built once: every segmint request runs it, and building it (operators, coercions) cost more than running it
_SEAT = (
    select(WorkspaceMember.role, Workspace.personal)
    .join(Workspace, Workspace.id == WorkspaceMember.workspace_id)
    .where(
        WorkspaceMember.workspace_id == bindparam("workspace_id"),
        WorkspaceMember.user_id == bindparam("user_id"),
    )
)
PERSONAL_NAME = "Personal"
# the header every seat-taking route documents (the seat's dependency, and the routes that take the seat
# themselves, in their own statement)
WorkspaceHeader = Annotated[
    UUID | None,
    HeaderParameter(
        name=HEADER,
        required=False,
        description="The workspace to act in (its id); omitted: your personal workspace",
    ),
]


@dataclass(frozen=True)
class Seat:
    workspace_id: UUID
    user_id: UUID
    email: str
    role: str
    permissions: frozenset[str]
    personal: bool

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str, doing: str) -> None:
        """403 naming the role and what it cannot do (the caller can see the workspace, so no 404)."""
        if permission not in self.permissions:
            raise Forbidden(
                f"Your role in this workspace ({self.role}) cannot {doing}",
                details={"role": self.role, "needs": permission},
            )


class Who(Protocol):
    """Whoever acts: a request's principal, or a seat already taken (its user in another workspace)."""

    @property
    def user_id(self) -> UUID: ...

    @property
    def email(self) -> str: ...


def personal_seat(user_id: UUID, email: str = "") -> Seat:
    """The owner's seat in their personal workspace, for code paths acting for a user without a request
    (seed data, jobs, callers that still pass a user id)."""
    return Seat(user_id, user_id, email, roles.OWNER, frozenset(roles.PERMISSIONS), True)


async def ensure_personal(db: AsyncSession, user_id: UUID) -> None:
    """The user's personal workspace (id = user id) and their owner membership, created when missing.
    Insert-or-nothing rather than a savepoint: a first GET on PostgreSQL runs on an AUTOCOMMIT connection
    (no transaction to nest in), and two first requests at once both succeed."""
    if db.get_bind().dialect.name == "sqlite":  # the embedded database's dialect, imported when used
        from sqlalchemy.dialects.sqlite import insert
    else:
        insert = pg_insert
    await db.execute(
        insert(Workspace)
        .values(
            id=user_id,
            name=PERSONAL_NAME,
            personal=True,
            created_by=user_id,
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )
    await db.execute(
        insert(WorkspaceMember)
        .values(workspace_id=user_id, user_id=user_id, role=roles.OWNER)
        .on_conflict_do_nothing(index_elements=["workspace_id", "user_id"])
    )


async def seat_for(db: AsyncSession, principal: Who, workspace_id: UUID | None) -> Seat:
    wanted = workspace_id or principal.user_id
    found = (await db.execute(_SEAT, {"workspace_id": wanted, "user_id": principal.user_id})).one_or_none()
    if found is None:
        if wanted != principal.user_id:
            raise NotFound("Workspace not found", details={HEADER: str(wanted)})
        await ensure_personal(db, principal.user_id)
        return personal_seat(principal.user_id, principal.email)
    role, personal = found
    permissions = (await roles.grants(db)).get(role, frozenset())
    return Seat(wanted, principal.user_id, principal.email, role, permissions, bool(personal))


async def provide_seat(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    principal: Principal,
    workspace: WorkspaceHeader = None,
) -> Seat:
    db_session.info["segmint_settings"] = request.app.state.settings  # notifications mail after commit
    return await seat_for(db_session, principal, workspace)
