"""Shops: who sees and manages one, and the checks on its name and slug.

A vendor is visible to everyone while active, always to its owner and to holders of MANAGE_VENDORS;
its owner (or such an admin) edits it and adds or removes its sellers.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from keel.apps.market.models import (
    Vendor,
)
from keel.core.errors import Conflict, Forbidden, NotFound, ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.identity import Principal


MANAGE_VENDORS = "market.vendors.manage"


def now() -> datetime:
    return datetime.now(UTC)


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80].strip("-")


async def check_vendor_unique(
    db: AsyncSession, values: dict[str, Any], exclude: uuid.UUID | None = None
) -> dict[str, Any]:
    """Normalise name and slug and answer 409 naming the field when another shop has either (the unique
    constraints still decide a race)."""
    if "name" in values:
        values["name"] = values["name"].strip()
        if not values["name"]:
            raise ValidationFailed(details={"name": "must not be blank"})
        values["name_key"] = values["name"].lower()
        if not values.get("slug") and exclude is None:
            values["slug"] = slugify(values["name"]) or f"shop-{uuid.uuid4().hex[:8]}"
    taken: dict[str, str] = {}
    for column, key in (("name_key", "name"), ("slug", "slug")):
        if column not in values:
            continue
        statement = select(Vendor.id).where(getattr(Vendor, column) == values[column])
        if exclude is not None:
            statement = statement.where(Vendor.id != exclude)
        if await db.scalar(statement.limit(1)) is not None:
            taken[key] = "another shop already uses this " + key
    if taken:
        raise Conflict("A shop with this name or slug already exists", details=taken)
    return values


def can_manage_vendor(principal: Principal, vendor: Vendor) -> bool:
    return vendor.owner_id == principal.user_id or MANAGE_VENDORS in principal.permissions


async def visible_vendor(db: AsyncSession, principal: Principal, vendor_id: uuid.UUID) -> Vendor:
    vendor = await db.get(Vendor, vendor_id)
    if vendor is None or not (vendor.is_active or can_manage_vendor(principal, vendor)):
        raise NotFound("Shop not found")
    return vendor


async def managed_vendor(db: AsyncSession, principal: Principal, vendor_id: uuid.UUID) -> Vendor:
    vendor = await visible_vendor(db, principal, vendor_id)
    if not can_manage_vendor(principal, vendor):
        raise Forbidden("Only the shop's owner can do this")
    return vendor
