"""Rows to the response structs every market service returns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel.apps.market.models import (
    MEDIA,
    Message,
    Product,
    Seller,
    Vendor,
)
from keel.apps.market.schemas import (
    MessageRead,
    ProductCard,
    ProductRead,
    SellerRead,
    VendorRead,
)

if TYPE_CHECKING:
    pass


API = "/api/v1/market"


def vendor_read(row: Vendor) -> VendorRead:
    return VendorRead(
        id=row.id,
        name=row.name,
        slug=row.slug,
        description=row.description,
        contact_email=row.contact_email,
        owner_id=row.owner_id,
        is_active=row.is_active,
        created_at=row.created_at,
    )


def seller_read(seller: Seller, name: str, email: str | None) -> SellerRead:
    return SellerRead(
        id=seller.id,
        vendor_id=seller.vendor_id,
        user_id=seller.user_id,
        name=name,
        email=email,
        created_at=seller.created_at,
    )


def product_read(row: Product) -> ProductRead:
    return ProductRead(
        id=row.id,
        vendor_id=row.vendor_id,
        seller_id=row.seller_id,
        name=row.name,
        sku=row.sku,
        description=row.description,
        price_minor=row.price_minor,
        currency=row.currency,
        stock=row.stock,
        is_active=row.is_active,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def message_read(row: Message) -> MessageRead:
    deleted = row.deleted_at is not None
    product = row.product if not deleted else None
    has_media = row.kind == MEDIA and not deleted
    return MessageRead(
        id=row.id,
        chat_id=row.chat_id,
        sender_id=row.sender_id,
        author=row.author or "user",  # type: ignore[arg-type]
        engine=row.engine,
        client_id=row.client_id,
        kind=row.kind,  # type: ignore[arg-type]
        body=None if deleted else row.body,
        product=ProductCard(
            id=product.id,
            name=product.name,
            sku=product.sku,
            price_minor=product.price_minor,
            currency=product.currency,
            is_active=product.is_active,
        )
        if product is not None
        else None,
        media_type=row.media_type if has_media else None,
        media_size=row.media_size if has_media else None,
        media_name=row.media_name if has_media else None,
        media_url=f"{API}/chats/{row.chat_id}/messages/{row.id}/media" if has_media else None,
        created_at=row.created_at,
        edited_at=row.edited_at,
        deleted=deleted,
    )
