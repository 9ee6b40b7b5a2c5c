"""market services, one module per concept; everything a route or a flow calls is re-exported here.

- views: rows to response structs
- vendors: who sees and manages a shop
- sellers, products: a shop's people and catalogue
- chats: participants, the chat list, a chat's state
- messages, attachments: text and media messages, edits, deletes, read markers
- assistant: the shop assistant's settings and a chat's hand-off state

Everything here works on the request's session and never commits, and publishes nothing: functions
that change a chat return it with what changed, and `keel.apps.market.flows` publishes the events once
the transaction is committed.
"""

from keel.apps.market.services import assistant
from keel.apps.market.services.attachments import (
    MediaForm,
    clean_filename,
    media_of,
    parse_media_fields,
    prepare_media,
    store_media,
)
from keel.apps.market.services.chats import (
    CUSTOMER,
    OWNER,
    SELLER,
    assign_seller,
    chat_detail,
    list_chats,
    open_chat,
    participant_chat,
    participant_filter,
    participant_ids,
    recent_chats_of,
    rename_chat,
    role_in,
    set_archived,
    set_status,
    unassign_seller,
    upsert_member,
)
from keel.apps.market.services.messages import (
    Changed,
    ReadMarker,
    Sent,
    delete_message,
    edit_message,
    list_messages,
    mark_read,
    send_text,
)
from keel.apps.market.services.products import (
    PRODUCT_SORTS,
    ProductQuery,
    create_product,
    delete_product,
    get_product,
    list_products,
    update_product,
)
from keel.apps.market.services.sellers import (
    add_seller,
    is_vendor_staff,
    list_sellers,
    remove_seller,
    seller_of,
)
from keel.apps.market.services.vendors import (
    MANAGE_VENDORS,
    can_manage_vendor,
    check_vendor_unique,
    managed_vendor,
    now,
    slugify,
    visible_vendor,
)
from keel.apps.market.services.views import API, message_read, product_read, seller_read, vendor_read

__all__ = [
    "API",
    "CUSTOMER",
    "MANAGE_VENDORS",
    "OWNER",
    "PRODUCT_SORTS",
    "SELLER",
    "Changed",
    "MediaForm",
    "ProductQuery",
    "ReadMarker",
    "Sent",
    "add_seller",
    "assign_seller",
    "assistant",
    "can_manage_vendor",
    "chat_detail",
    "check_vendor_unique",
    "clean_filename",
    "create_product",
    "delete_message",
    "delete_product",
    "edit_message",
    "get_product",
    "is_vendor_staff",
    "list_chats",
    "list_messages",
    "list_products",
    "list_sellers",
    "managed_vendor",
    "mark_read",
    "media_of",
    "message_read",
    "now",
    "open_chat",
    "parse_media_fields",
    "participant_chat",
    "participant_filter",
    "participant_ids",
    "prepare_media",
    "product_read",
    "recent_chats_of",
    "remove_seller",
    "rename_chat",
    "role_in",
    "seller_of",
    "seller_read",
    "send_text",
    "set_archived",
    "set_status",
    "slugify",
    "store_media",
    "unassign_seller",
    "update_product",
    "upsert_member",
    "vendor_read",
    "visible_vendor",
]
