"""Integration routes: connect, list, read, change, disconnect and check publishing targets."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, delete, get, patch, post
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.segmint import publishing
from keel.apps.segmint.routes.common import (
    READ_ERRORS,
    WRITE_ERRORS,
    SegmintController,
    app_settings,
)
from keel.apps.segmint.schemas import IntegrationCheck, IntegrationCreate, IntegrationRead, IntegrationUpdate
from keel.apps.segmint.teams import Seat
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.errors import Conflict, Forbidden, NotFound, Unprocessable, ValidationFailed, error_responses

# 422: a network that connects through its own flow (OAuth, Bluesky app password)
CREATE_ERRORS = error_responses(NotFound, Forbidden, Conflict, ValidationFailed, Unprocessable)


class IntegrationController(SegmintController):
    # integrations belong to the workspace the request acts in (X-Workspace); managing them is a role's right
    path = "/integration"

    @post(status_code=201, summary="Connect a publishing target", responses=CREATE_ERRORS)
    async def create_integration(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        seat: Seat,
        data: IntegrationCreate,
    ) -> Envelope[IntegrationRead]:
        row, generated = await publishing.create_integration(db_session, app_settings(request), seat, data)
        return ok(publishing.integration_read(row, signing_secret=generated))

    @get(summary="The workspace's integrations (credentials masked)", responses=READ_ERRORS)
    async def list_integrations(
        self, db_session: AsyncSession, seat: Seat, limit: Limit = 20, offset: Offset = 0
    ) -> Page[IntegrationRead]:
        rows, total = await publishing.list_integrations(db_session, seat, limit=limit, offset=offset)
        links = await publishing.connections_of(db_session, rows)
        items = [publishing.integration_read(r, links.get(r.id)) for r in rows]
        return page(items, total=total, limit=limit, offset=offset)

    @get("/{integration_id:uuid}", summary="One integration", responses=READ_ERRORS)
    async def get_integration(
        self, db_session: AsyncSession, seat: Seat, integration_id: UUID
    ) -> Envelope[IntegrationRead]:
        row = await publishing.get_integration(db_session, seat, integration_id)
        return ok(publishing.integration_read(row))

    @patch("/{integration_id:uuid}", summary="Rename, move or re-key an integration", responses=WRITE_ERRORS)
    async def update_integration(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        seat: Seat,
        integration_id: UUID,
        data: IntegrationUpdate,
    ) -> Envelope[IntegrationRead]:
        row = await publishing.update_integration(
            db_session, app_settings(request), seat, integration_id, data
        )
        return ok(publishing.integration_read(row))

    @delete(
        "/{integration_id:uuid}", status_code=204, summary="Disconnect an integration", responses=WRITE_ERRORS
    )
    async def delete_integration(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        seat: Seat,
        integration_id: UUID,
    ) -> None:
        await publishing.delete_integration(db_session, app_settings(request), seat, integration_id)

    @post(
        "/{integration_id:uuid}/test",
        status_code=200,
        summary="Check an integration without publishing (signed ping / Mastodon verify_credentials)",
        responses=READ_ERRORS,
        opt={"rate_limit": "10/minute"},
    )
    async def verify_integration(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        seat: Seat,
        integration_id: UUID,
    ) -> Envelope[IntegrationCheck]:
        settings = app_settings(request)
        return ok(await publishing.check_integration(db_session, settings, seat, integration_id))
