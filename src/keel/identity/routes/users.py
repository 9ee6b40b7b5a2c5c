"""/api/v1/users: my account (`/me`) and the administration of accounts and roles."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, put
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed, error_responses
from keel.identity import services as svc
from keel.identity.guards import Principal, authenticate_connection, current_account, requires_permission
from keel.identity.routes.common import (
    NO_STORE,
    SECURITY,
    clear_cookies,
    client_info,
    durable,
    identity_of,
    user_read,
)
from keel.identity.schemas import AccountDelete, Done, ProfileUpdate, RolesUpdate, UserRead, UserUpdate


class MeController(Controller):
    path = "/api/v1/users/me"
    tags = ["users"]
    security = SECURITY

    @get("/", responses=error_responses(Unauthorized), summary="My account")
    async def me(self, request: Request[Any, Any, Any]) -> Response[Envelope[UserRead]]:
        # authenticated here rather than by the `principal` dependency: with no dependency to resolve
        # (neither the principal nor the database session it names) the request makes no session at
        # all; the guard's one statement already loaded the account, so there is no second read
        await authenticate_connection(request)
        return Response(ok(current_account(request)), headers=NO_STORE)

    @patch("/", responses=error_responses(Unauthorized, ValidationFailed), summary="Change my profile")
    async def update_me(
        self, db_session: AsyncSession, principal: Principal, data: ProfileUpdate
    ) -> Response[Envelope[UserRead]]:
        user = await svc.get_user(db_session, principal.user_id)
        if isinstance(data.name, str):
            user.name = data.name.strip()
        await db_session.flush()
        return Response(ok(user_read(user)), headers=NO_STORE)

    @delete(
        "/",
        status_code=200,
        responses=error_responses(Unauthorized, ValidationFailed, Conflict),
        summary="Delete my account (send my password again)",
    )
    async def delete_me(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        data: AccountDelete,
    ) -> Response[Envelope[Done]]:
        user = await svc.get_user(db_session, principal.user_id)
        await durable(
            db_session,
            svc.verify_password(
                identity_of(request),
                db_session,
                user,
                data.password,
                client=client_info(request),
                field="password",
            ),
        )
        await svc.delete_user(
            identity_of(request), db_session, user, actor_id=principal.user_id, client=client_info(request)
        )
        return clear_cookies(request, Response(ok(Done(detail="account deleted"))))


class UserController(Controller):
    """Administration: every operation needs a permission of the users/roles family."""

    path = "/api/v1/users"
    tags = ["users"]
    security = SECURITY

    @get(
        "/",
        guards=[requires_permission("users.read")],
        responses=error_responses(Unauthorized, Forbidden),
        summary="List accounts (admin)",
    )
    async def list_users(
        self,
        db_session: AsyncSession,
        q: Annotated[str | None, Parameter(max_length=100, description="Search email and name")] = None,
        role: Annotated[str | None, Parameter(max_length=50)] = None,
        is_active: bool | None = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[UserRead]:
        rows, total = await svc.list_users(
            db_session, q=q, role=role, is_active=is_active, limit=limit, offset=offset
        )
        return page([user_read(u) for u in rows], total=total, limit=limit, offset=offset)

    @get(
        "/{user_id:uuid}",
        guards=[requires_permission("users.read")],
        responses=error_responses(Unauthorized, Forbidden, NotFound),
        summary="One account (admin)",
    )
    async def get_user(self, db_session: AsyncSession, user_id: UUID) -> Envelope[UserRead]:
        return ok(user_read(await svc.get_user(db_session, user_id)))

    @patch(
        "/{user_id:uuid}",
        guards=[requires_permission("users.manage")],
        responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
        summary="Change an account, e.g. deactivate it (admin)",
    )
    async def update_user(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        user_id: UUID,
        data: UserUpdate,
    ) -> Envelope[UserRead]:
        user = await svc.get_user(db_session, user_id)
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        user = await svc.admin_update_user(
            identity_of(request),
            db_session,
            user,
            changes=changes,
            actor_id=principal.user_id,
            client=client_info(request),
        )
        return ok(user_read(user))

    @delete(
        "/{user_id:uuid}",
        status_code=200,
        guards=[requires_permission("users.manage")],
        responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
        summary="Delete an account (admin)",
    )
    async def delete_user(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, user_id: UUID
    ) -> Envelope[Done]:
        if user_id == principal.user_id:
            raise Conflict("Delete your own account with DELETE /api/v1/users/me")
        user = await svc.get_user(db_session, user_id)
        await svc.delete_user(
            identity_of(request), db_session, user, actor_id=principal.user_id, client=client_info(request)
        )
        return ok(Done(detail="account deleted"))

    @put(
        "/{user_id:uuid}/roles",
        guards=[requires_permission("roles.assign")],
        responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
        summary="Set an account's roles (admin)",
    )
    async def set_roles(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        user_id: UUID,
        data: RolesUpdate,
    ) -> Envelope[UserRead]:
        user = await svc.get_user(db_session, user_id)
        user = await svc.set_roles(
            identity_of(request),
            db_session,
            user,
            data.roles,
            actor_id=principal.user_id,
            client=client_info(request),
        )
        return ok(user_read(user))
