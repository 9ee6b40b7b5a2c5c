"""A shop's products: listed and added under the shop, read and changed by id."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, delete, get, patch, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.market import services
from keel.apps.market.routes.common import SECURITY, TAGS
from keel.apps.market.schemas import ProductCreate, ProductRead, ProductUpdate
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.errors import Conflict, Forbidden, NotFound, Unprocessable, error_responses
from keel.identity import Principal

ProductSort = Annotated[
    str,
    Parameter(
        max_length=100,
        description="name, price_minor, created_at, stock; prefix - for descending, comma-separate several",
    ),
]


class ProductController(Controller):
    path = "/"
    tags = TAGS
    security = SECURITY

    @get(
        "/vendors/{vendor_id:uuid}/products",
        responses=error_responses(NotFound, Unprocessable),
        summary="The shop's products: `q` searches name, SKU and description; filters and sorting",
    )
    async def list_products(
        self,
        db_session: AsyncSession,
        principal: Principal,
        vendor_id: UUID,
        limit: Limit = 20,
        offset: Offset = 0,
        q: Annotated[str | None, Parameter(max_length=100)] = None,
        seller_id: UUID | None = None,
        currency: Annotated[str | None, Parameter(pattern=r"^[A-Z]{3}$")] = None,
        active: bool | None = None,
        in_stock: bool | None = None,
        min_price: Annotated[int | None, Parameter(ge=0)] = None,
        max_price: Annotated[int | None, Parameter(ge=0)] = None,
        sort: ProductSort = "name",
    ) -> Page[ProductRead]:
        query = services.ProductQuery(
            q=q,
            seller_id=seller_id,
            currency=currency,
            active=active,
            in_stock=in_stock,
            min_price=min_price,
            max_price=max_price,
            sort=sort,
        )
        items, total = await services.list_products(db_session, principal, vendor_id, query, limit, offset)
        return page(items, total=total, limit=limit, offset=offset)

    @post(
        "/vendors/{vendor_id:uuid}/products",
        status_code=HTTP_201_CREATED,
        responses=error_responses(NotFound, Forbidden, Conflict, Unprocessable),
        summary="Add a product (a seller of the shop, or its owner)",
    )
    async def create_product(
        self, db_session: AsyncSession, principal: Principal, vendor_id: UUID, data: ProductCreate
    ) -> Envelope[ProductRead]:
        return ok(await services.create_product(db_session, principal, vendor_id, data))

    @get("/products/{product_id:uuid}", responses=error_responses(NotFound))
    async def get_product(
        self, db_session: AsyncSession, principal: Principal, product_id: UUID
    ) -> Envelope[ProductRead]:
        return ok(await services.get_product(db_session, principal, product_id))

    @patch(
        "/products/{product_id:uuid}",
        responses=error_responses(NotFound, Forbidden, Conflict, Unprocessable),
        summary="Change a product (its seller or the shop's owner)",
    )
    async def update_product(
        self, db_session: AsyncSession, principal: Principal, product_id: UUID, data: ProductUpdate
    ) -> Envelope[ProductRead]:
        return ok(await services.update_product(db_session, principal, product_id, data))

    @delete(
        "/products/{product_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        responses=error_responses(NotFound, Forbidden),
        summary="Delete a product (messages that shared it lose the card)",
    )
    async def delete_product(self, db_session: AsyncSession, principal: Principal, product_id: UUID) -> None:
        await services.delete_product(db_session, principal, product_id)
