"""market routes under /api/v1/market, one Controller per concept: shops (with sellers), products,
chats, messages, the shop assistant. Every operation is tagged `market` and needs a bearer token
(declared once per Controller); Controllers that change chats deliver their events after the commit."""

from keel.apps.market.routes.assistant import AssistantController
from keel.apps.market.routes.chats import ChatController
from keel.apps.market.routes.messages import MessageController
from keel.apps.market.routes.products import ProductController
from keel.apps.market.routes.vendors import SellerController, vendors

route_handlers = [
    *vendors.handlers(),
    SellerController,
    ProductController,
    ChatController,
    MessageController,
    AssistantController,
]

__all__ = ["route_handlers", "vendors"]
