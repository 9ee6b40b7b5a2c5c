"""market routes under /api/v1/market: vendors, sellers, products, chats, messages, media, read markers.

Changes to a chat are published to every participant's `user:<id>:market` channel once the request's
transaction is committed (an `after_response` hook), so a listener never hears of a message it cannot
fetch yet.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Request, Response, delete, get, patch, post
from litestar.params import Parameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.market import services
from keel.apps.market.models import CLOSED, OPEN, Vendor
from keel.apps.market.schemas import (
    ChatAssign,
    ChatCreate,
    ChatRead,
    ChatUpdate,
    MemberRead,
    MessageEdit,
    MessageRead,
    MessageSend,
    MessageWindow,
    ProductCreate,
    ProductRead,
    ProductUpdate,
    ReadMark,
    SellerAdd,
    SellerRead,
    VendorCreate,
    VendorRead,
    VendorUpdate,
)
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    UnsupportedMediaType,
    ValidationFailed,
    error_responses,
)
from keel.core.realtime import publish, user_channel
from keel.core.resources import Resource, ResourceContext, ResourceHooks
from keel.core.storage import Storage, read_multipart
from keel.identity.guards import Principal

SECURITY = [{"BearerToken": []}]
TAG = ["market"]
# messages per user and route: a chat is conversational, a flood is not
SEND_RATE = "30/minute"
MEDIA_RATE = "10/minute"
FORM_OVERHEAD = 64 * 1024  # multipart framing and the text fields around the file


# --------------------------------------------------------------------------- realtime


def _publish_later(request: Request[Any, Any, Any], events: services.Events) -> None:
    """Called as a handler's last step, so a handler that fails publishes nothing."""
    request.state.market_events = events


async def publish_after_commit(request: Request[Any, Any, Any]) -> None:
    """after_response: the transaction is committed by now; a failed request published nothing."""
    events: services.Events | None = getattr(request.state, "market_events", None)
    if events is None:
        return
    for recipients, event in events.items:
        for user_id in recipients:
            try:
                await publish(request.app, user_channel(user_id, "market"), event)
            except Exception:  # a broken pub/sub must not turn a sent message into an error
                services.log.warning("market_publish_failed", event=event.get("type"), exc_info=True)


CHAT_ROUTE: dict[str, Any] = {"tags": TAG, "security": SECURITY, "after_response": publish_after_commit}


# --------------------------------------------------------------------------- vendors


async def _vendor_before_create(ctx: ResourceContext, values: dict[str, Any]) -> dict[str, Any]:
    return await services.check_vendor_unique(ctx.db_session, values)


async def _vendor_before_update(ctx: ResourceContext, row: Vendor, values: dict[str, Any]) -> dict[str, Any]:
    return await services.check_vendor_unique(ctx.db_session, values, exclude=row.id)


vendors = Resource(
    model=Vendor,
    path="/vendors",
    tag="market",
    name="Vendor",
    read=VendorRead,
    create=VendorCreate,
    update=VendorUpdate,
    owner_field="owner_id",
    public_filter=lambda: Vendor.is_active.is_(True),
    search_fields=("name", "description"),
    sort_fields=("name", "created_at"),
    default_sort="name",
    filter_fields={"owner_id": UUID},
    permissions={
        "read": services.MANAGE_VENDORS,
        "update": services.MANAGE_VENDORS,
    },
    actions=("list", "get", "create", "update"),
    hooks=ResourceHooks(
        before_create=_vendor_before_create,
        before_update=_vendor_before_update,
        to_read=lambda ctx, row: services.vendor_read(row),
    ),
)


# --------------------------------------------------------------------------- sellers


@get(
    "/vendors/{vendor_id:uuid}/sellers",
    tags=TAG,
    security=SECURITY,
    responses=error_responses(NotFound),
    summary="The shop's sellers (emails only for its owner)",
)
async def list_sellers(
    db_session: AsyncSession, principal: Principal, vendor_id: UUID, limit: Limit = 20, offset: Offset = 0
) -> Page[SellerRead]:
    items, total = await services.list_sellers(db_session, principal, vendor_id, limit, offset)
    return page(items, total=total, limit=limit, offset=offset)


@post(
    "/vendors/{vendor_id:uuid}/sellers",
    tags=TAG,
    security=SECURITY,
    status_code=HTTP_201_CREATED,
    responses=error_responses(NotFound, Forbidden, Conflict),
    summary="Add a seller to the shop by their account email (owner)",
)
async def add_seller(
    db_session: AsyncSession, principal: Principal, vendor_id: UUID, data: SellerAdd
) -> Envelope[SellerRead]:
    return ok(await services.add_seller(db_session, principal, vendor_id, data.email))


@delete(
    "/vendors/{vendor_id:uuid}/sellers/{seller_id:uuid}",
    tags=TAG,
    security=SECURITY,
    status_code=HTTP_204_NO_CONTENT,
    responses=error_responses(NotFound, Forbidden),
    summary="Remove a seller (owner); their products stay with the shop, their chat assignments end",
)
async def remove_seller(
    db_session: AsyncSession, principal: Principal, vendor_id: UUID, seller_id: UUID
) -> None:
    await services.remove_seller(db_session, principal, vendor_id, seller_id)


# --------------------------------------------------------------------------- products

ProductSort = Annotated[
    str,
    Parameter(
        max_length=100,
        description="name, price_minor, created_at, stock; prefix - for descending, comma-separate several",
    ),
]


@get(
    "/vendors/{vendor_id:uuid}/products",
    tags=TAG,
    security=SECURITY,
    responses=error_responses(NotFound),
    summary="The shop's products: `q` searches name, SKU and description; filters and sorting",
)
async def list_products(
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
    tags=TAG,
    security=SECURITY,
    status_code=HTTP_201_CREATED,
    responses=error_responses(NotFound, Forbidden, Conflict),
    summary="Add a product (a seller of the shop, or its owner)",
)
async def create_product(
    db_session: AsyncSession, principal: Principal, vendor_id: UUID, data: ProductCreate
) -> Envelope[ProductRead]:
    return ok(await services.create_product(db_session, principal, vendor_id, data))


@get("/products/{product_id:uuid}", tags=TAG, security=SECURITY, responses=error_responses(NotFound))
async def get_product(
    db_session: AsyncSession, principal: Principal, product_id: UUID
) -> Envelope[ProductRead]:
    return ok(await services.get_product(db_session, principal, product_id))


@patch(
    "/products/{product_id:uuid}",
    tags=TAG,
    security=SECURITY,
    responses=error_responses(NotFound, Forbidden, Conflict),
    summary="Change a product (its seller or the shop's owner)",
)
async def update_product(
    db_session: AsyncSession, principal: Principal, product_id: UUID, data: ProductUpdate
) -> Envelope[ProductRead]:
    return ok(await services.update_product(db_session, principal, product_id, data))


@delete(
    "/products/{product_id:uuid}",
    tags=TAG,
    security=SECURITY,
    status_code=HTTP_204_NO_CONTENT,
    responses=error_responses(NotFound, Forbidden),
    summary="Delete a product (messages that shared it lose the card)",
)
async def delete_product(db_session: AsyncSession, principal: Principal, product_id: UUID) -> None:
    await services.delete_product(db_session, principal, product_id)


# --------------------------------------------------------------------------- chats


@post(
    "/chats",
    **CHAT_ROUTE,
    status_code=HTTP_201_CREATED,
    responses=error_responses(Conflict),
    summary="Open a chat with a shop (optionally with a first message)",
)
async def open_chat(
    request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, data: ChatCreate
) -> Envelope[ChatRead]:
    events = services.Events()
    chat = await services.open_chat(db_session, principal, data, events)
    _publish_later(request, events)
    return ok(await services.chat_detail(db_session, principal, chat))


@get(
    "/chats",
    tags=TAG,
    security=SECURITY,
    summary="My chats (as customer, shop owner or seller), latest activity first, with the last message "
    "and my unread count",
)
async def list_chats(
    db_session: AsyncSession,
    principal: Principal,
    limit: Limit = 20,
    offset: Offset = 0,
    status: Literal["open", "closed"] | None = None,
    archived: bool = False,
    role: Literal["customer", "owner", "seller"] | None = None,
    vendor_id: UUID | None = None,
) -> Page[ChatRead]:
    items, total = await services.list_chats(
        db_session,
        principal,
        status=status,
        archived=archived,
        role=role,
        vendor_id=vendor_id,
        limit=limit,
        offset=offset,
    )
    return page(items, total=total, limit=limit, offset=offset)


@get("/chats/{chat_id:uuid}", tags=TAG, security=SECURITY, responses=error_responses(NotFound))
async def get_chat(db_session: AsyncSession, principal: Principal, chat_id: UUID) -> Envelope[ChatRead]:
    chat = await services.participant_chat(db_session, principal, chat_id)
    return ok(await services.chat_detail(db_session, principal, chat))


@patch(
    "/chats/{chat_id:uuid}",
    tags=TAG,
    security=SECURITY,
    responses=error_responses(NotFound),
    summary="Rename a chat",
)
async def rename_chat(
    db_session: AsyncSession, principal: Principal, chat_id: UUID, data: ChatUpdate
) -> Envelope[ChatRead]:
    chat = await services.rename_chat(db_session, principal, chat_id, data.title)
    return ok(await services.chat_detail(db_session, principal, chat))


async def _status(db: AsyncSession, principal: Principal, chat_id: UUID, status: str) -> Envelope[ChatRead]:
    chat = await services.set_status(db, principal, chat_id, status)
    return ok(await services.chat_detail(db, principal, chat))


@post(
    "/chats/{chat_id:uuid}/close",
    tags=TAG,
    security=SECURITY,
    status_code=HTTP_200_OK,
    responses=error_responses(NotFound, Conflict),
    summary="Close a chat: no more messages until it is reopened",
)
async def close_chat(db_session: AsyncSession, principal: Principal, chat_id: UUID) -> Envelope[ChatRead]:
    return await _status(db_session, principal, chat_id, CLOSED)


@post(
    "/chats/{chat_id:uuid}/reopen",
    tags=TAG,
    security=SECURITY,
    status_code=HTTP_200_OK,
    responses=error_responses(NotFound, Conflict),
)
async def reopen_chat(db_session: AsyncSession, principal: Principal, chat_id: UUID) -> Envelope[ChatRead]:
    return await _status(db_session, principal, chat_id, OPEN)


async def _archive(
    db: AsyncSession, principal: Principal, chat_id: UUID, archived: bool
) -> Envelope[ChatRead]:
    chat = await services.set_archived(db, principal, chat_id, archived)
    return ok(await services.chat_detail(db, principal, chat))


@post(
    "/chats/{chat_id:uuid}/archive",
    tags=TAG,
    security=SECURITY,
    status_code=HTTP_200_OK,
    responses=error_responses(NotFound),
    summary="Archive a chat for myself (hidden from my list unless ?archived=true)",
)
async def archive_chat(db_session: AsyncSession, principal: Principal, chat_id: UUID) -> Envelope[ChatRead]:
    return await _archive(db_session, principal, chat_id, True)


@post(
    "/chats/{chat_id:uuid}/unarchive",
    tags=TAG,
    security=SECURITY,
    status_code=HTTP_200_OK,
    responses=error_responses(NotFound),
)
async def unarchive_chat(db_session: AsyncSession, principal: Principal, chat_id: UUID) -> Envelope[ChatRead]:
    return await _archive(db_session, principal, chat_id, False)


@post(
    "/chats/{chat_id:uuid}/sellers",
    tags=TAG,
    security=SECURITY,
    status_code=HTTP_201_CREATED,
    responses=error_responses(NotFound, Forbidden, Conflict),
    summary="Assign one of the shop's sellers to the chat (shop owner)",
)
async def assign_seller(
    db_session: AsyncSession, principal: Principal, chat_id: UUID, data: ChatAssign
) -> Envelope[ChatRead]:
    chat = await services.assign_seller(db_session, principal, chat_id, data.seller_id)
    return ok(await services.chat_detail(db_session, principal, chat))


@delete(
    "/chats/{chat_id:uuid}/sellers/{seller_id:uuid}",
    tags=TAG,
    security=SECURITY,
    status_code=HTTP_204_NO_CONTENT,
    responses=error_responses(NotFound, Forbidden),
    summary="Unassign a seller from the chat (shop owner)",
)
async def unassign_seller(
    db_session: AsyncSession, principal: Principal, chat_id: UUID, seller_id: UUID
) -> None:
    await services.unassign_seller(db_session, principal, chat_id, seller_id)


# --------------------------------------------------------------------------- messages


@get(
    "/chats/{chat_id:uuid}/messages",
    tags=TAG,
    security=SECURITY,
    responses=error_responses(NotFound),
    summary="Messages in time order: the latest `limit`, or those just `before` / `after` a message id",
)
async def list_messages(
    db_session: AsyncSession,
    principal: Principal,
    chat_id: UUID,
    before: UUID | None = None,
    after: UUID | None = None,
    limit: Annotated[int, Parameter(ge=1, le=100, default=50)] = 50,
) -> Envelope[MessageWindow]:
    return ok(
        await services.list_messages(db_session, principal, chat_id, before=before, after=after, limit=limit)
    )


@post(
    "/chats/{chat_id:uuid}/messages",
    **CHAT_ROUTE,
    status_code=HTTP_201_CREATED,
    opt={"rate_limit": SEND_RATE},
    responses=error_responses(NotFound, Conflict, TooManyRequests),
    summary="Send a text message (201; a retry with the same client_id answers 200 with the same message)",
)
async def send_message(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    principal: Principal,
    chat_id: UUID,
    data: MessageSend,
) -> Response[Envelope[MessageRead]]:
    events = services.Events()
    sent = await services.send_text(db_session, principal, chat_id, data, events)
    _publish_later(request, events)
    return Response(ok(sent.message), status_code=HTTP_201_CREATED if sent.created else HTTP_200_OK)


@post(
    "/chats/{chat_id:uuid}/media",
    **CHAT_ROUTE,
    status_code=HTTP_201_CREATED,
    request_max_body_size=None,
    opt={"rate_limit": MEDIA_RATE},
    responses=error_responses(NotFound, Conflict, PayloadTooLarge, UnsupportedMediaType, TooManyRequests),
    summary="Send an image, audio, video or PDF (multipart: `client_id`, optional `body` and `product_id` "
    "fields first, then `file`)",
)
async def send_media(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    principal: Principal,
    storage: Storage,
    chat_id: UUID,
) -> Response[Envelope[MessageRead]]:
    max_size = request.app.state.settings.market_max_media_size
    upload = await read_multipart(request, file_field="file", max_size=max_size + FORM_OVERHEAD)
    form = services.parse_media_fields(upload.fields)
    chat, replay = await services.prepare_media(db_session, principal, chat_id, form)
    if replay is not None:
        return Response(ok(replay.message), status_code=HTTP_200_OK)
    events = services.Events()
    sent = await services.store_media(
        db_session, storage, principal, chat, form, upload.chunks, upload.filename, max_size, events
    )
    late = sorted(set(upload.fields) - {"client_id", "body", "product_id"})
    if late:  # unknown fields after the file: refused like those before it (the row rolls back)
        await storage.delete(sent.storage_key)
        raise ValidationFailed(details=dict.fromkeys(late, "unknown field"))
    _publish_later(request, events)
    return Response(ok(sent.message), status_code=HTTP_201_CREATED)


@get(
    "/chats/{chat_id:uuid}/messages/{message_id:uuid}/media",
    tags=TAG,
    security=SECURITY,
    opt={"skip_compression": True},
    responses=error_responses(NotFound),
    summary="Download a message's file (streamed, with its real type)",
)
async def download_media(
    db_session: AsyncSession, principal: Principal, storage: Storage, chat_id: UUID, message_id: UUID
) -> Stream:
    row = await services.media_of(db_session, principal, chat_id, message_id)
    assert row.media_key is not None
    return await storage.download_response(
        row.media_key, row.media_name or "attachment", row.media_type, inline=True
    )


@patch(
    "/chats/{chat_id:uuid}/messages/{message_id:uuid}",
    **CHAT_ROUTE,
    responses=error_responses(NotFound, Forbidden, Conflict),
    summary="Edit my message's text (or a file's caption)",
)
async def edit_message(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    principal: Principal,
    chat_id: UUID,
    message_id: UUID,
    data: MessageEdit,
) -> Envelope[MessageRead]:
    events = services.Events()
    edited = await services.edit_message(db_session, principal, chat_id, message_id, data.body, events)
    _publish_later(request, events)
    return ok(edited)


@delete(
    "/chats/{chat_id:uuid}/messages/{message_id:uuid}",
    **CHAT_ROUTE,
    status_code=HTTP_204_NO_CONTENT,
    responses=error_responses(NotFound, Forbidden, Conflict),
    summary="Delete my message: it stays in the history as deleted, its text and file are gone",
)
async def delete_message(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    principal: Principal,
    storage: Storage,
    chat_id: UUID,
    message_id: UUID,
) -> None:
    events = services.Events()
    await services.delete_message(db_session, storage, principal, chat_id, message_id, events)
    _publish_later(request, events)


@post(
    "/chats/{chat_id:uuid}/read",
    **CHAT_ROUTE,
    status_code=HTTP_200_OK,
    responses=error_responses(NotFound),
    summary="Mark the chat read up to a message (markers only move forward)",
)
async def mark_read(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    principal: Principal,
    chat_id: UUID,
    data: ReadMark,
) -> Envelope[MemberRead]:
    events = services.Events()
    marker = await services.mark_read(db_session, principal, chat_id, data.message_id, events)
    _publish_later(request, events)
    return ok(marker)


route_handlers = [
    *vendors.handlers(),
    list_sellers,
    add_seller,
    remove_seller,
    list_products,
    create_product,
    get_product,
    update_product,
    delete_product,
    open_chat,
    list_chats,
    get_chat,
    rename_chat,
    close_chat,
    reopen_chat,
    archive_chat,
    unarchive_chat,
    assign_seller,
    unassign_seller,
    list_messages,
    send_message,
    send_media,
    download_media,
    edit_message,
    delete_message,
    mark_read,
]
