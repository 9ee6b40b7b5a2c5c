"""/api/v1/audit: the security trail (admin), newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar import Controller, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from keel.core.envelope import Limit, Offset, Page, page
from keel.core.errors import Forbidden, Unauthorized, error_responses
from keel.core.mapping import to_read
from keel.identity import services as svc
from keel.identity.guards import requires_permission
from keel.identity.models import AuditEvent
from keel.identity.routes.common import SECURITY
from keel.identity.schemas import AuditEventRead


def audit_event_read(e: AuditEvent) -> AuditEventRead:
    return to_read(e, AuditEventRead, details=e.details or {})


class AuditController(Controller):
    path = "/api/v1/audit"
    tags = ["audit"]
    security = SECURITY

    @get(
        "/",
        guards=[requires_permission("audit.read")],
        responses=error_responses(Unauthorized, Forbidden),
        summary="Security events (admin), newest first",
    )
    async def list_events(
        self,
        db_session: AsyncSession,
        event: Annotated[
            str | None, Parameter(max_length=50, description="Exact name, or a prefix with *")
        ] = None,
        user_id: UUID | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[AuditEventRead]:
        rows, total = await svc.list_audit(
            db_session, event=event, user_id=user_id, since=since, until=until, limit=limit, offset=offset
        )
        return page([audit_event_read(e) for e in rows], total=total, limit=limit, offset=offset)
