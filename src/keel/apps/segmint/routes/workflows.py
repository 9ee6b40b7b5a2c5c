"""Approval workflow routes: define workflows, and the approver's side (pending reviews, decisions)."""

from __future__ import annotations

from uuid import UUID

from litestar import delete, get, patch, post
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.segmint import services
from keel.apps.segmint.routes.common import READ_ERRORS, WRITE_ERRORS, SegmintController
from keel.apps.segmint.schemas import DecisionBody, ReviewRead, WorkflowCreate, WorkflowRead, WorkflowUpdate
from keel.apps.segmint.teams import Seat
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.identity import Principal


class WorkflowController(SegmintController):
    path = "/workflow"

    @post(status_code=201, summary="Define an approval workflow", responses=WRITE_ERRORS)
    async def create_workflow(
        self, db_session: AsyncSession, seat: Seat, data: WorkflowCreate
    ) -> Envelope[WorkflowRead]:
        row = await services.create_workflow(db_session, seat, data)
        return ok(services.workflow_read(await services.get_workflow(db_session, seat, row.id)))

    @get(summary="Your workflows")
    async def list_workflows(
        self, db_session: AsyncSession, seat: Seat, limit: Limit = 20, offset: Offset = 0
    ) -> Page[WorkflowRead]:
        rows, total = await services.list_workflows(db_session, seat, limit=limit, offset=offset)
        return page([services.workflow_read(r) for r in rows], total=total, limit=limit, offset=offset)

    @get("/{workflow_id:uuid}", summary="One of your workflows", responses=READ_ERRORS)
    async def get_workflow(
        self, db_session: AsyncSession, seat: Seat, workflow_id: UUID
    ) -> Envelope[WorkflowRead]:
        row = await services.get_workflow(db_session, seat, workflow_id)
        return ok(services.workflow_read(row))

    @patch(
        "/{workflow_id:uuid}",
        summary="Rename a workflow, or change its approvers / approvals needed "
        "(not while content is in review)",
        responses=WRITE_ERRORS,
    )
    async def update_workflow(
        self, db_session: AsyncSession, seat: Seat, workflow_id: UUID, data: WorkflowUpdate
    ) -> Envelope[WorkflowRead]:
        await services.update_workflow(db_session, seat, workflow_id, data)
        row = await services.get_workflow(db_session, seat, workflow_id)
        return ok(services.workflow_read(row))

    @delete("/{workflow_id:uuid}", status_code=204, summary="Delete a workflow", responses=WRITE_ERRORS)
    async def delete_workflow(self, db_session: AsyncSession, seat: Seat, workflow_id: UUID) -> None:
        await services.delete_workflow(db_session, seat, workflow_id)

    @get("/reviews", summary="Content awaiting your decision as an approver")
    async def pending_reviews(
        self, db_session: AsyncSession, principal: Principal, limit: Limit = 20, offset: Offset = 0
    ) -> Page[ReviewRead]:
        rows, total = await services.pending_reviews(
            db_session, principal.user_id, limit=limit, offset=offset
        )
        return page(rows, total=total, limit=limit, offset=offset)

    @get(
        "/reviews/{content_id:uuid}",
        summary="Content you review (read-only) with the approvals so far",
        responses=READ_ERRORS,
    )
    async def get_review(
        self, db_session: AsyncSession, principal: Principal, content_id: UUID
    ) -> Envelope[ReviewRead]:
        return ok(await services.get_review(db_session, principal.user_id, content_id))

    @post(
        "/reviews/{content_id:uuid}/decision",
        status_code=200,
        summary="Approve or reject (with a comment) content you review",
        responses=WRITE_ERRORS,
    )
    async def decide(
        self,
        db_session: AsyncSession,
        principal: Principal,
        seat: Seat,  # unused: resolving it hands the app's settings to the notification mailer
        content_id: UUID,
        data: DecisionBody,
    ) -> Envelope[ReviewRead]:
        review = await services.decide(
            db_session, principal.user_id, principal.email, content_id, data.decision, data.comment
        )
        return ok(review)
