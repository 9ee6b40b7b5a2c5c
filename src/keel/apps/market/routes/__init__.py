"""market routes under /api/v1/market, one Controller per concept: shops (with sellers), products,
chats, messages. Every operation is tagged `market` and needs a bearer token (declared once per
Controller); the chat and message Controllers deliver their realtime events after the commit."""

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
]

__all__ = ["route_handlers", "vendors"]
