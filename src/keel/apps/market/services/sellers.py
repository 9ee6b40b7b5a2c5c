"""A shop's sellers: listed by anyone who sees the shop (emails for its managers), added and removed by
its owner.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from keel.apps.market.models import (
    Seller,
    Vendor,
)
from keel.apps.market.schemas import (
    SellerRead,
)
from keel.apps.market.services.vendors import can_manage_vendor, managed_vendor, visible_vendor
from keel.apps.market.services.views import seller_read
from keel.core.errors import Conflict, NotFound, ValidationFailed
from keel.identity import find_user, user_summaries

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.identity import Principal


async def list_sellers(
    db: AsyncSession, principal: Principal, vendor_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[SellerRead], int]:
    vendor = await visible_vendor(db, principal, vendor_id)
    show_email = can_manage_vendor(principal, vendor)
    total = (
        await db.scalar(select(func.count()).select_from(Seller).where(Seller.vendor_id == vendor_id)) or 0
    )
    rows = list(
        await db.scalars(
            select(Seller)
            .where(Seller.vendor_id == vendor_id)
            .order_by(Seller.created_at, Seller.id)
            .limit(limit)
            .offset(offset)
        )
    )
    people = await user_summaries(db, [seller.user_id for seller in rows])
    items = []
    for seller in rows:
        person = people.get(seller.user_id)
        name, email = (person.name, person.email) if person else ("", "")
        items.append(seller_read(seller, name, email if show_email else None))
    return items, total


async def add_seller(db: AsyncSession, principal: Principal, vendor_id: uuid.UUID, email: str) -> SellerRead:
    await managed_vendor(db, principal, vendor_id)
    user = await find_user(db, email, active_only=True)
    if user is None:
        raise ValidationFailed(details={"email": "no active account has this email"})
    exists = await db.scalar(
        select(Seller.id).where(Seller.vendor_id == vendor_id, Seller.user_id == user.id)
    )
    if exists is not None:
        raise Conflict("This account already sells for the shop", details={"email": "already a seller"})
    seller = Seller(vendor_id=vendor_id, user_id=user.id)
    db.add(seller)
    await db.flush()
    return seller_read(seller, user.name, user.email)


async def remove_seller(
    db: AsyncSession, principal: Principal, vendor_id: uuid.UUID, seller_id: uuid.UUID
) -> None:
    await managed_vendor(db, principal, vendor_id)
    seller = await db.scalar(select(Seller).where(Seller.id == seller_id, Seller.vendor_id == vendor_id))
    if seller is None:
        raise NotFound("Seller not found")
    # the database drops the seller's chat assignments and hands their products to the shop
    await db.delete(seller)
    await db.flush()


async def seller_of(db: AsyncSession, vendor_id: uuid.UUID, user_id: uuid.UUID) -> Seller | None:
    return await db.scalar(select(Seller).where(Seller.vendor_id == vendor_id, Seller.user_id == user_id))


async def is_vendor_staff(db: AsyncSession, principal: Principal, vendor: Vendor) -> bool:
    return (
        can_manage_vendor(principal, vendor) or await seller_of(db, vendor.id, principal.user_id) is not None
    )
