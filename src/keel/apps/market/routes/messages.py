"""A chat's messages: the cursor window, text and media sends, downloads, edits, deletes, read markers."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import Parameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.market import flows, services
from keel.apps.market.routes.common import SECURITY, TAGS, run_flow
from keel.apps.market.schemas import (
    MemberRead,
    MessageEdit,
    MessageRead,
    MessageSend,
    MessageWindow,
    ReadMark,
)
from keel.core.envelope import Envelope, ok
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
from keel.core.storage import Storage, read_multipart
from keel.core.uploads import upload_operation
from keel.identity import Principal

# messages per user and route: a chat is conversational, a flood is not
SEND_RATE = "30/minute"
MEDIA_RATE = "10/minute"
FORM_OVERHEAD = 64 * 1024  # multipart framing and the text fields around the file


class MessageController(Controller):
    path = "/chats/{chat_id:uuid}"
    tags = TAGS
    security = SECURITY
    after_response = flows.deliver_after_commit

    @get(
        "/messages",
        responses=error_responses(NotFound),
        summary="Messages in time order: the latest `limit`, or those just `before` / `after` a message id",
    )
    async def list_messages(
        self,
        db_session: AsyncSession,
        principal: Principal,
        chat_id: UUID,
        before: UUID | None = None,
        after: UUID | None = None,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 50,
    ) -> Envelope[MessageWindow]:
        window = await services.list_messages(
            db_session, principal, chat_id, before=before, after=after, limit=limit
        )
        return ok(window)

    @post(
        "/messages",
        status_code=HTTP_201_CREATED,
        opt={"rate_limit": SEND_RATE},
        responses=error_responses(NotFound, Conflict, TooManyRequests),
        summary="Send a text message (201; a retry with the same client_id answers 200 with the same "
        "message)",
    )
    async def send_message(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        chat_id: UUID,
        data: MessageSend,
    ) -> Response[Envelope[MessageRead]]:
        from keel.apps.market.assistant.writer import writer_of

        # the assistant's writer holds back while a customer's message is on its way to a first token
        writer = writer_of(request.app)
        expected = writer.expect()

        def send(outbox: flows.Outbox) -> Awaitable[services.Sent]:
            outbox.expected = expected  # taken over by the assistant's turn, if one follows
            return flows.send_text(db_session, principal, chat_id, data, outbox)

        try:
            sent = await run_flow(request, send)
        finally:
            outbox = getattr(request.state, "market_outbox", None)
            if outbox is None or outbox.expected is not None:  # failed, or no turn follows
                writer.arrived(expected)
        return Response(ok(sent.message), status_code=HTTP_201_CREATED if sent.created else HTTP_200_OK)

    @post(
        "/media",
        status_code=HTTP_201_CREATED,
        request_max_body_size=None,
        opt={"rate_limit": MEDIA_RATE},
        operation_class=upload_operation(
            fields={"client_id": "string", "body": "string", "product_id": "string"}, required=("client_id",)
        ),
        responses=error_responses(NotFound, Conflict, PayloadTooLarge, UnsupportedMediaType, TooManyRequests),
        summary="Send an image, audio, video or PDF (multipart: `client_id`, optional `body` and "
        "`product_id` fields first, then `file`)",
    )
    async def send_media(
        self,
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
        outbox = flows.Outbox()
        sent = await flows.send_media(
            db_session, storage, principal, chat, form, upload.chunks, upload.filename, max_size, outbox
        )
        late = sorted(set(upload.fields) - {"client_id", "body", "product_id"})
        if late:  # unknown fields after the file: refused like those before it (the row rolls back)
            await storage.delete(sent.storage_key)
            raise ValidationFailed(details=dict.fromkeys(late, "unknown field"))
        flows.deliver_later(request, outbox)
        return Response(ok(sent.message), status_code=HTTP_201_CREATED)

    @get(
        "/messages/{message_id:uuid}/media",
        opt={"skip_compression": True},
        responses=error_responses(NotFound),
        summary="Download a message's file (streamed, with its real type)",
    )
    async def download_media(
        self,
        db_session: AsyncSession,
        principal: Principal,
        storage: Storage,
        chat_id: UUID,
        message_id: UUID,
    ) -> Stream:
        row = await services.media_of(db_session, principal, chat_id, message_id)
        assert row.media_key is not None
        return await storage.download_response(
            row.media_key, row.media_name or "attachment", row.media_type, inline=True
        )

    @patch(
        "/messages/{message_id:uuid}",
        responses=error_responses(NotFound, Forbidden, Conflict),
        summary="Edit my message's text (or a file's caption)",
    )
    async def edit_message(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        chat_id: UUID,
        message_id: UUID,
        data: MessageEdit,
    ) -> Envelope[MessageRead]:
        edited = await run_flow(
            request,
            lambda outbox: flows.edit_message(db_session, principal, chat_id, message_id, data.body, outbox),
        )
        return ok(edited)

    @delete(
        "/messages/{message_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        responses=error_responses(NotFound, Forbidden, Conflict),
        summary="Delete my message: it stays in the history as deleted, its text and file are gone",
    )
    async def delete_message(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        storage: Storage,
        chat_id: UUID,
        message_id: UUID,
    ) -> None:
        await run_flow(
            request,
            lambda outbox: flows.delete_message(db_session, storage, principal, chat_id, message_id, outbox),
        )

    @post(
        "/read",
        status_code=HTTP_200_OK,
        responses=error_responses(NotFound),
        summary="Mark the chat read up to a message (markers only move forward)",
    )
    async def mark_read(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        chat_id: UUID,
        data: ReadMark,
    ) -> Envelope[MemberRead]:
        marker = await run_flow(
            request, lambda outbox: flows.mark_read(db_session, principal, chat_id, data.message_id, outbox)
        )
        return ok(marker)
