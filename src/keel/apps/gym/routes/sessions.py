"""Session and set routes: start, list, detail, finish, delete; log, change and delete sets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Request, Response, delete, get, patch, post, put
from litestar.di import Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.gym import services
from keel.apps.gym.routes.common import (
    READ_ERRORS,
    WRITE_ERRORS,
    GymController,
    SetUpdate,
    app_settings,
    list_route,
)
from keel.apps.gym.schemas import (
    LoggedSetRead,
    SessionDetailRead,
    SessionFinish,
    SessionRead,
    SessionStart,
    SetCreate,
    SetRead,
)
from keel.core.db import reader_of
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.errors import ValidationFailed
from keel.core.resources import struct_values
from keel.identity import Principal, authenticate_connection

SET = "/{session_id:uuid}/sets/{set_id:uuid}"


@dataclass
class SetTarget:
    """One set of one of the caller's sessions, and how long after the session sets may change."""

    db: AsyncSession
    principal: Principal
    session_id: UUID
    set_id: UUID
    window_hours: int

    async def update(self, values: dict[str, Any]) -> Envelope[SetRead]:
        return ok(
            await services.update_set(
                self.db, self.principal, self.session_id, self.set_id, values, window_hours=self.window_hours
            )
        )

    async def delete(self) -> None:
        await services.delete_set(
            self.db, self.principal, self.session_id, self.set_id, window_hours=self.window_hours
        )


async def provide_set_target(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    principal: Principal,
    session_id: UUID,
    set_id: UUID,
) -> SetTarget:
    window = app_settings(request).gym_edit_window_hours
    return SetTarget(db_session, principal, session_id, set_id, window)


SET_TARGET = {"target": Provide(provide_set_target)}


class SessionController(GymController):
    path = "/sessions"

    @list_route(
        "Your sessions, newest first; filter by date range, plan, exercise",
    )
    async def list_sessions(
        self,
        request: Request[Any, Any, Any],
        limit: Limit = 20,
        offset: Offset = 0,
        date_from: Annotated[
            datetime | None, QueryParameter(name="from", description="started at or after")
        ] = (None),
        date_to: Annotated[datetime | None, QueryParameter(name="to", description="started before")] = None,
        plan_id: UUID | None = None,
        exercise_id: UUID | None = None,
    ) -> Page[SessionRead]:
        principal = await authenticate_connection(request)  # a hot list: no dependency, no session
        items, total = await services.list_sessions(
            reader_of(request),
            principal,
            date_from=date_from,
            date_to=date_to,
            plan_id=plan_id,
            exercise_id=exercise_id,
            limit=limit,
            offset=offset,
        )
        return page(items, total=total, limit=limit, offset=offset)

    @post(
        status_code=201,
        responses=WRITE_ERRORS,
        summary="Start a session, empty or from a plan day",
    )
    async def start_session(
        self, db_session: AsyncSession, principal: Principal, data: SessionStart
    ) -> Envelope[SessionDetailRead]:
        return ok(await services.start_session(db_session, principal, data))

    @get(
        "/{session_id:uuid}",
        responses=READ_ERRORS,
        summary="A session with its sets and the planned exercises",
    )
    async def get_session(
        self, db_session: AsyncSession, principal: Principal, session_id: UUID
    ) -> Envelope[SessionDetailRead]:
        return ok(await services.session_detail(db_session, principal, session_id))

    @delete(
        "/{session_id:uuid}",
        status_code=204,
        responses=WRITE_ERRORS,
        summary="Delete a session and its sets",
    )
    async def delete_session(self, db_session: AsyncSession, principal: Principal, session_id: UUID) -> None:
        await services.delete_session(db_session, principal, session_id)

    @post(
        "/{session_id:uuid}/finish",
        status_code=200,
        responses=WRITE_ERRORS,
        summary="Finish a session (duration in seconds, or computed from the start)",
    )
    async def finish_session(
        self,
        db_session: AsyncSession,
        principal: Principal,
        session_id: UUID,
        data: SessionFinish | None = None,
    ) -> Envelope[SessionDetailRead]:
        return ok(await services.finish_session(db_session, principal, session_id, data or SessionFinish()))

    @post(
        "/{session_id:uuid}/sets",
        status_code=201,
        responses={
            **WRITE_ERRORS,
            200: ResponseSpec(
                data_container=Envelope[LoggedSetRead], description="A retry: the set logged before"
            ),
        },
        summary="Log a set (idempotent on client_id or Idempotency-Key: a retry answers 200, the same set)",
    )
    async def log_set(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        session_id: UUID,
        data: SetCreate,
    ) -> Response[Envelope[LoggedSetRead]]:
        key = request.headers.get("idempotency-key")
        if key is not None and not (1 <= len(key) <= 100):
            raise ValidationFailed(details={"Idempotency-Key": "must be 1-100 characters"})
        logged, created = await services.log_set(
            db_session,
            principal,
            session_id,
            data,
            idempotency_key=key,
            window_hours=app_settings(request).gym_edit_window_hours,
        )
        return Response(content=ok(logged), status_code=201 if created else 200)

    @patch(SET, dependencies=SET_TARGET, responses=WRITE_ERRORS, summary="Change some fields of a set")
    async def patch_set(self, target: SetTarget, data: SetUpdate) -> Envelope[SetRead]:  # type: ignore[valid-type]
        return await target.update(struct_values(data))

    @put(SET, dependencies=SET_TARGET, responses=WRITE_ERRORS, summary="Replace a set")
    async def put_set(self, target: SetTarget, data: SetCreate) -> Envelope[SetRead]:
        return await target.update({f: getattr(data, f) for f in data.__struct_fields__})

    @delete(SET, dependencies=SET_TARGET, status_code=204, responses=WRITE_ERRORS, summary="Delete a set")
    async def delete_set(self, target: SetTarget) -> None:
        await target.delete()
