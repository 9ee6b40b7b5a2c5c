"""market: shops with sellers and products, and chats between customers and a shop's people."""

from __future__ import annotations

from keel.apps.market.presence import install
from keel.apps.market.routes import route_handlers
from keel.apps.market.seed import seed
from keel.apps.market.services import MANAGE_VENDORS
from keel.core.components import AppSpec

spec = AppSpec(
    name="market",
    description="Marketplace chat: shops, sellers, products; customers chat with a shop and its sellers "
    "(text, media, product cards, read markers, live events)",
    route_handlers=route_handlers,
    seed=seed,
    install=install,
    permissions={MANAGE_VENDORS: "Change any shop of the marketplace, its sellers and products"},
)
