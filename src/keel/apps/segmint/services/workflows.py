"""Approval workflows of a workspace: who approves, how many approvals are needed.

Any member reads them; `workflows.manage` (owner, admin) changes them. In a shared workspace the approvers
are members whose role approves; a personal workspace's owner names any other account."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from keel.apps.segmint.models import (
    IN_REVIEW,
    Content,
    Workflow,
    WorkflowApprover,
    WorkspaceMember,
)
from keel.apps.segmint.paging import paged
from keel.apps.segmint.schemas import (
    ApproverRead,
    WorkflowCreate,
    WorkflowRead,
    WorkflowUpdate,
)
from keel.apps.segmint.teams import Seat
from keel.apps.segmint.teams import roles as team_roles
from keel.core.errors import Conflict, NotFound, ValidationFailed
from keel.identity import UserSummary, find_users

# --------------------------------------------------------------------------- workflows


def workflow_read(row: Workflow) -> WorkflowRead:
    return WorkflowRead(
        id=row.id,
        name=row.name,
        required_approvals=row.required_approvals,
        approvers=[ApproverRead(user_id=a.user_id, email=a.email) for a in row.approvers],
        created_at=row.created_at,
    )


async def _approvers(
    db: AsyncSession, seat: Seat, emails: Iterable[str], required: int
) -> dict[str, UserSummary]:
    """The accounts behind the emails, refusing unknown ones, the personal workspace's owner, members of a
    shared workspace whose role does not approve, or more approvals than approvers."""
    wanted = sorted({e.strip().lower() for e in emails})
    users = await find_users(db, wanted, active_only=True)
    unknown = [e for e in wanted if e not in users]
    if unknown:
        raise ValidationFailed(details={"approver_emails": f"No account for: {', '.join(unknown)}"})
    if seat.personal and any(u.id == seat.user_id for u in users.values()):
        raise ValidationFailed(details={"approver_emails": "You cannot approve your own content"})
    if not seat.personal and users:
        approving = await team_roles.roles_granting(db, team_roles.APPROVE)
        can_approve = set(
            await db.scalars(
                select(WorkspaceMember.user_id).where(
                    WorkspaceMember.workspace_id == seat.workspace_id,
                    WorkspaceMember.user_id.in_([u.id for u in users.values()]),
                    WorkspaceMember.role.in_(approving),
                )
            )
        )
        refused = [e for e, u in users.items() if u.id not in can_approve]
        if refused:
            raise ValidationFailed(
                details={
                    "approver_emails": "Not a member of this workspace with a role that approves "
                    f"({', '.join(approving)}): {', '.join(refused)}"
                }
            )
    if required > len(wanted):
        raise ValidationFailed(
            details={"required_approvals": f"Needs {required} approvals but names {len(wanted)} approvers"}
        )
    return users


async def _name_free(db: AsyncSession, workspace_id: UUID, name: str, but: UUID | None = None) -> None:
    statement = select(Workflow.id).where(Workflow.workspace_id == workspace_id, Workflow.name == name)
    if but is not None:
        statement = statement.where(Workflow.id != but)
    if await db.scalar(statement):
        raise Conflict(
            f"This workspace already has a workflow named {name!r}", details={"name": "already used"}
        )


async def create_workflow(db: AsyncSession, seat: Seat, data: WorkflowCreate) -> Workflow:
    seat.require(team_roles.MANAGE_WORKFLOWS, "define workflows")
    users = await _approvers(db, seat, data.approver_emails, data.required_approvals)
    await _name_free(db, seat.workspace_id, data.name)
    row = Workflow(
        owner_id=seat.user_id,
        workspace_id=seat.workspace_id,
        name=data.name,
        required_approvals=data.required_approvals,
        approvers=[WorkflowApprover(user_id=u.id, email=e) for e, u in sorted(users.items())],
    )
    db.add(row)
    await db.flush()
    return row


async def _in_review(db: AsyncSession, workflow_id: UUID) -> int:
    return (
        await db.scalar(
            select(func.count())
            .select_from(Content)
            .where(Content.workflow_id == workflow_id, Content.status == IN_REVIEW)
        )
        or 0
    )


async def update_workflow(db: AsyncSession, seat: Seat, workflow_id: UUID, data: WorkflowUpdate) -> Workflow:
    """Rename any time; approvers and approvals needed only while nothing is in review with it (the rules
    of a running review do not change under it)."""
    row = await get_workflow(db, seat, workflow_id)
    seat.require(team_roles.MANAGE_WORKFLOWS, "change workflows")
    if isinstance(data.name, str):
        await _name_free(db, seat.workspace_id, data.name, but=row.id)
        row.name = data.name
    emails = (
        data.approver_emails if isinstance(data.approver_emails, list) else [a.email for a in row.approvers]
    )
    required = data.required_approvals if isinstance(data.required_approvals, int) else row.required_approvals
    if not isinstance(data.approver_emails, list) and not isinstance(data.required_approvals, int):
        await db.flush()
        return row
    busy = await _in_review(db, row.id)
    if busy:
        raise Conflict(
            f"{busy} content item(s) are in review with this workflow; decide or withdraw them first"
        )
    users = await _approvers(db, seat, emails, required)
    current = {a.email: a for a in row.approvers}
    row.approvers = [
        current.get(e) or WorkflowApprover(user_id=u.id, email=e) for e, u in sorted(users.items())
    ]
    row.required_approvals = required
    await db.flush()
    return row


async def get_workflow(db: AsyncSession, seat: Seat, workflow_id: UUID) -> Workflow:
    row = await db.scalar(
        select(Workflow)
        .where(Workflow.id == workflow_id, Workflow.workspace_id == seat.workspace_id)
        .options(selectinload(Workflow.approvers))
    )
    if row is None:
        raise NotFound("Workflow not found")
    return row


async def list_workflows(
    db: AsyncSession, seat: Seat, *, limit: int, offset: int
) -> tuple[Sequence[Workflow], int]:
    query = select(Workflow).options(selectinload(Workflow.approvers))
    order = (Workflow.created_at.desc(), Workflow.id)
    conditions = [Workflow.workspace_id == seat.workspace_id]
    return await paged(db, Workflow, conditions, query, order_by=order, limit=limit, offset=offset)


async def delete_workflow(db: AsyncSession, seat: Seat, workflow_id: UUID) -> None:
    row = await get_workflow(db, seat, workflow_id)
    seat.require(team_roles.MANAGE_WORKFLOWS, "delete workflows")
    busy = await db.scalar(
        select(func.count())
        .select_from(Content)
        .where(Content.workflow_id == row.id, Content.status == IN_REVIEW)
    )
    if busy:
        raise Conflict(
            f"{busy} content item(s) are in review with this workflow; decide or withdraw them first"
        )
    await db.delete(row)
    await db.flush()
