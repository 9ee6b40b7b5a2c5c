"""Demo marketplace: two shops with an owner, sellers and products (idempotent: shops are found by slug,
accounts by email, products by SKU; nothing that exists is changed). Skipped in production.

The demo accounts come from identity's `ensure_user`, without a usable password: sign-in needs a password
reset, so seeding never creates an account anyone can log into with a published password.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from keel.apps.market.models import Product, Seller, Vendor
from keel.identity import ensure_user

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.settings import Settings

# slug -> (name, description, owner email, seller emails, [(sku, name, price_minor, currency, stock, seller)])
DEMO_SHOPS = {
    "corner-bikes": (
        "Corner Bikes",
        "City and touring bicycles, repairs and parts.",
        "owner@corner-bikes.example",
        ["ana@corner-bikes.example", "tom@corner-bikes.example"],
        [
            ("CB-CITY-01", "City bike, 7 gears", 54900, "EUR", 4, "ana@corner-bikes.example"),
            ("CB-TOUR-02", "Touring bike, steel frame", 129900, "EUR", 2, "tom@corner-bikes.example"),
            ("CB-LOCK-10", "U-lock with bracket", 3990, "EUR", 25, "ana@corner-bikes.example"),
        ],
    ),
    "paper-and-ink": (
        "Paper & Ink",
        "Notebooks, fountain pens and ink.",
        "owner@paper-ink.example",
        ["lea@paper-ink.example"],
        [
            ("PI-NB-A5", "A5 dotted notebook", 1450, "GBP", 60, "lea@paper-ink.example"),
            ("PI-FP-M", "Fountain pen, medium nib", 3800, "GBP", 12, "lea@paper-ink.example"),
        ],
    ),
}


async def seed(session: AsyncSession, settings: Settings | None = None) -> None:
    if settings is not None and settings.is_production:
        return  # demo shops and accounts have no place in a real marketplace
    for slug, (name, description, owner_email, seller_emails, products) in DEMO_SHOPS.items():
        vendor = await session.scalar(select(Vendor).where(Vendor.slug == slug))
        if vendor is None:
            owner_id = await ensure_user(session, email=owner_email, name=f"{name} owner", settings=settings)
            vendor = Vendor(
                owner_id=owner_id,
                name=name,
                name_key=name.lower(),
                slug=slug,
                description=description,
                contact_email=owner_email,
            )
            session.add(vendor)
            await session.flush()
        sellers: dict[str, Seller] = {}
        for email in seller_emails:
            user_id = await ensure_user(
                session, email=email, name=email.split("@")[0].title(), settings=settings
            )
            seller = await session.scalar(
                select(Seller).where(Seller.vendor_id == vendor.id, Seller.user_id == user_id)
            )
            if seller is None:
                seller = Seller(vendor_id=vendor.id, user_id=user_id)
                session.add(seller)
                await session.flush()
            sellers[email] = seller
        skus = set(await session.scalars(select(Product.sku).where(Product.vendor_id == vendor.id)))
        for sku, product_name, price, currency, stock, seller_email in products:
            if sku in skus:
                continue
            session.add(
                Product(
                    vendor_id=vendor.id,
                    seller_id=sellers[seller_email].id,
                    name=product_name,
                    sku=sku,
                    price_minor=price,
                    currency=currency,
                    stock=stock,
                )
            )
    await session.flush()
