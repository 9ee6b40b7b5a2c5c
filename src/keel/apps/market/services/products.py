"""A shop's products.

A product is visible while it and its vendor are active, always to the vendor's people; its seller, the
vendor owner (or an admin) change it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import func, select

from keel.apps.market.models import (
    Product,
    Seller,
    Vendor,
)
from keel.apps.market.schemas import (
    ProductCreate,
    ProductRead,
    ProductUpdate,
)
from keel.apps.market.services.sellers import is_vendor_staff, seller_of
from keel.apps.market.services.vendors import can_manage_vendor, visible_vendor
from keel.apps.market.services.views import product_read
from keel.core.errors import Conflict, Forbidden, NotFound, Unprocessable, ValidationFailed
from keel.core.query import contains, parse_sort

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.identity import Principal


PRODUCT_SORTS = {
    "name": Product.name,
    "price_minor": Product.price_minor,
    "created_at": Product.created_at,
    "stock": Product.stock,
}


def check_currency(code: str | None, field: str = "currency") -> None:
    """A code of today's ISO 4217 list (pycountry's copy of it): the schema already checked the shape
    (three capitals), so an unknown code is a 422 naming the field."""
    import pycountry

    if code is not None and pycountry.currencies.get(alpha_3=code) is None:
        raise Unprocessable(
            f"{code} is not an ISO 4217 currency code", details={field: "not an ISO 4217 currency code"}
        )


@dataclass
class ProductQuery:
    q: str | None = None
    seller_id: uuid.UUID | None = None
    currency: str | None = None
    active: bool | None = None
    in_stock: bool | None = None
    min_price: int | None = None
    max_price: int | None = None
    sort: str = "name"


def _product_order(sort: str) -> list[Any]:
    return [*parse_sort(sort, PRODUCT_SORTS, default="name"), Product.id.asc()]


async def list_products(
    db: AsyncSession, principal: Principal, vendor_id: uuid.UUID, query: ProductQuery, limit: int, offset: int
) -> tuple[list[ProductRead], int]:
    vendor = await visible_vendor(db, principal, vendor_id)
    if query.min_price is not None and query.max_price is not None and query.min_price > query.max_price:
        raise ValidationFailed(details={"min_price": "must not be above max_price"})
    check_currency(query.currency)
    conditions: list[Any] = [Product.vendor_id == vendor_id]
    if not await is_vendor_staff(db, principal, vendor):
        conditions.append(Product.is_active.is_(True))  # customers never see withdrawn products
    if query.active is not None:
        conditions.append(Product.is_active.is_(query.active))
    if query.q:
        conditions.append(contains([Product.name, Product.sku, Product.description], query.q))
    if query.seller_id is not None:
        conditions.append(Product.seller_id == query.seller_id)
    if query.currency is not None:
        conditions.append(Product.currency == query.currency)
    if query.in_stock is not None:
        conditions.append(Product.stock > 0 if query.in_stock else Product.stock == 0)
    if query.min_price is not None:
        conditions.append(Product.price_minor >= query.min_price)
    if query.max_price is not None:
        conditions.append(Product.price_minor <= query.max_price)
    order = _product_order(query.sort)
    total = await db.scalar(select(func.count()).select_from(Product).where(*conditions)) or 0
    rows = await db.scalars(select(Product).where(*conditions).order_by(*order).limit(limit).offset(offset))
    return [product_read(r) for r in rows], total


async def _check_sku(
    db: AsyncSession, vendor_id: uuid.UUID, sku: str, exclude: uuid.UUID | None = None
) -> None:
    statement = select(Product.id).where(Product.vendor_id == vendor_id, Product.sku == sku)
    if exclude is not None:
        statement = statement.where(Product.id != exclude)
    if await db.scalar(statement.limit(1)) is not None:
        raise Conflict(
            "The shop already has a product with this SKU", details={"sku": "already used in this shop"}
        )


async def create_product(
    db: AsyncSession, principal: Principal, vendor_id: uuid.UUID, data: ProductCreate
) -> ProductRead:
    vendor = await visible_vendor(db, principal, vendor_id)
    own_seller = await seller_of(db, vendor_id, principal.user_id)
    manager = can_manage_vendor(principal, vendor)
    if own_seller is None and not manager:
        raise Forbidden("Only the shop's sellers and owner add products")
    seller_id = own_seller.id if own_seller is not None else None
    if data.seller_id is not None and data.seller_id != seller_id:
        if not manager:
            raise Forbidden("Sellers add products under their own name")
        target = await db.scalar(
            select(Seller.id).where(Seller.id == data.seller_id, Seller.vendor_id == vendor_id)
        )
        if target is None:
            raise ValidationFailed(details={"seller_id": "not a seller of this shop"})
        seller_id = target
    check_currency(data.currency)
    await _check_sku(db, vendor_id, data.sku)
    row = Product(
        vendor_id=vendor_id,
        seller_id=seller_id,
        name=data.name.strip() or data.name,
        sku=data.sku,
        description=data.description,
        price_minor=data.price_minor,
        currency=data.currency,
        stock=data.stock,
        is_active=data.is_active,
    )
    db.add(row)
    await db.flush()
    return product_read(row)


async def _product_with_vendor(db: AsyncSession, product_id: uuid.UUID) -> tuple[Product, Vendor] | None:
    found = (
        await db.execute(
            select(Product, Vendor)
            .join(Vendor, Vendor.id == Product.vendor_id)
            .where(Product.id == product_id)
        )
    ).first()
    return (found[0], found[1]) if found else None


async def get_product(db: AsyncSession, principal: Principal, product_id: uuid.UUID) -> ProductRead:
    found = await _product_with_vendor(db, product_id)
    if found is None:
        raise NotFound("Product not found")
    product, vendor = found
    if not (product.is_active and vendor.is_active) and not await is_vendor_staff(db, principal, vendor):
        raise NotFound("Product not found")
    return product_read(product)


async def _managed_product(db: AsyncSession, principal: Principal, product_id: uuid.UUID) -> Product:
    found = await _product_with_vendor(db, product_id)
    if found is None:
        raise NotFound("Product not found")
    product, vendor = found
    if can_manage_vendor(principal, vendor):
        return product
    own = await seller_of(db, vendor.id, principal.user_id)
    if own is not None and product.seller_id == own.id:
        return product
    if own is not None or (product.is_active and vendor.is_active):
        raise Forbidden("Only the product's seller or the shop's owner can change it")
    raise NotFound("Product not found")


async def update_product(
    db: AsyncSession, principal: Principal, product_id: uuid.UUID, data: ProductUpdate
) -> ProductRead:
    product = await _managed_product(db, principal, product_id)
    values = {f: v for f in data.__struct_fields__ if (v := getattr(data, f)) is not msgspec.UNSET}
    check_currency(values.get("currency"))
    if "sku" in values and values["sku"] != product.sku:
        await _check_sku(db, product.vendor_id, values["sku"], exclude=product.id)
    for key, value in values.items():
        setattr(product, key, value)
    await db.flush()
    await db.refresh(product)
    return product_read(product)


async def delete_product(db: AsyncSession, principal: Principal, product_id: uuid.UUID) -> None:
    product = await _managed_product(db, principal, product_id)
    await db.delete(product)  # messages that shared it keep their text; the card goes (SET NULL)
    await db.flush()
