"""Shops (a core `Resource`: list, get, create, update) and their sellers."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, delete, get, post
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.market import services
from keel.apps.market.models import Vendor
from keel.apps.market.routes.common import SECURITY, TAGS
from keel.apps.market.schemas import SellerAdd, SellerRead, VendorCreate, VendorRead, VendorUpdate
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.errors import Conflict, Forbidden, NotFound, error_responses
from keel.core.resources import Resource, ResourceContext, ResourceHooks
from keel.identity import Principal


async def _vendor_before_create(ctx: ResourceContext, values: dict[str, Any]) -> dict[str, Any]:
    return await services.check_vendor_unique(ctx.db_session, values)


async def _vendor_before_update(ctx: ResourceContext, row: Vendor, values: dict[str, Any]) -> dict[str, Any]:
    return await services.check_vendor_unique(ctx.db_session, values, exclude=row.id)


vendors = Resource(
    model=Vendor,
    path="/vendors",
    tag="market",
    name="Vendor",
    read=VendorRead,
    create=VendorCreate,
    update=VendorUpdate,
    owner_field="owner_id",
    public_filter=lambda: Vendor.is_active.is_(True),
    search_fields=("name", "description"),
    sort_fields=("name", "created_at"),
    default_sort="name",
    filter_fields={"owner_id": UUID},
    permissions={
        "read": services.MANAGE_VENDORS,
        "update": services.MANAGE_VENDORS,
    },
    actions=("list", "get", "create", "update"),
    hooks=ResourceHooks(
        before_create=_vendor_before_create,
        before_update=_vendor_before_update,
        to_read=lambda ctx, row: services.vendor_read(row),
    ),
)


class SellerController(Controller):
    path = "/vendors/{vendor_id:uuid}/sellers"
    tags = TAGS
    security = SECURITY

    @get(
        "/",
        responses=error_responses(NotFound),
        summary="The shop's sellers (emails only for its owner)",
    )
    async def list_sellers(
        self,
        db_session: AsyncSession,
        principal: Principal,
        vendor_id: UUID,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[SellerRead]:
        items, total = await services.list_sellers(db_session, principal, vendor_id, limit, offset)
        return page(items, total=total, limit=limit, offset=offset)

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        responses=error_responses(NotFound, Forbidden, Conflict),
        summary="Add a seller to the shop by their account email (owner)",
    )
    async def add_seller(
        self, db_session: AsyncSession, principal: Principal, vendor_id: UUID, data: SellerAdd
    ) -> Envelope[SellerRead]:
        return ok(await services.add_seller(db_session, principal, vendor_id, data.email))

    @delete(
        "/{seller_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        responses=error_responses(NotFound, Forbidden),
        summary="Remove a seller (owner); their products stay with the shop, their chat assignments end",
    )
    async def remove_seller(
        self, db_session: AsyncSession, principal: Principal, vendor_id: UUID, seller_id: UUID
    ) -> None:
        await services.remove_seller(db_session, principal, vendor_id, seller_id)
